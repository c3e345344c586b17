"""The chart builder in a real browser, served by Voila as ``quant apps`` does: a template draws, the
shelves change the chart (by drag and drop and by dropdown), a chart is saved as YAML, reopens identically
and another team member can open it."""

from __future__ import annotations

import os

import pytest
import yaml

from tests.apps.helpers import browser_page, needs_chromium, serve_app


@pytest.mark.slow  # Voila start and the kernel executing the app dominate
@needs_chromium
def test_build_and_save_a_chart_in_the_browser(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.viz.builder import query
    from quantlib.viz.saved import load_chart

    teams = tmp_path / "teams.yaml"
    teams.write_text("teams:\n  operations: [ana, ben]\n  finance: [cy]\n")
    folder = tmp_path / "dashboards"
    env = {**os.environ, "QUANT_USER": "ana", "QUANT_TEAMS": str(teams), "QUANT_DASHBOARDS_DIR": str(folder)}
    with serve_app("chart_builder.ipynb", demo_lake, tmp_path, env=env) as server:
        with browser_page(playwright_api, server, height=1400) as page:
            page.goto(server.app_url("chart_builder.ipynb"), timeout=90_000)
            page.wait_for_selector(".cb-status[data-rows]", timeout=90_000)
            assert page.locator(".cb-chart-area svg").count() == 1
            # Drag and drop: the region chip onto the colour shelf colours the ranking by region.
            page.locator('.qs-source[data-field="region"]').drag_to(page.locator('.qs-shelf[data-shelf="color"]'))
            page.wait_for_function("() => document.querySelector('.cb-color select').value === 'region'",
                                   timeout=30_000)
            page.wait_for_selector('.qs-shelf[data-shelf="color"] .qs-placed[data-field="region"]', timeout=30_000)
            page.wait_for_function("() => document.querySelector('.cb-chart-area').textContent.includes('Region')",
                                   timeout=30_000)
            # A measure is not a colour: the drop is refused and the shelf keeps region.
            page.locator('.qs-source[data-field="revenue"]').drag_to(page.locator('.qs-shelf[data-shelf="color"]'))
            assert page.locator(".cb-color select").input_value() == "region"
            page.locator('.qs-shelf[data-shelf="color"] .qs-remove').click()
            page.wait_for_function("() => document.querySelector('.cb-color select').value === '(none)'",
                                   timeout=30_000)
            page.locator(".cb-source select").select_option(label="Financials")
            page.locator(".cb-x select").select_option("month")
            page.locator(".cb-y select").select_option("gross_profit")
            page.locator(".cb-chart select").select_option("line")
            page.wait_for_function("() => document.querySelector('.cb-chart-area svg') && "
                                   "document.querySelector('.cb-chart-area').textContent.includes('Gross profit')",
                                   timeout=30_000)
            page.fill(".cb-name input", "gp-by-month")
            page.locator(".cb-team select").select_option("operations")
            page.locator(".cb-save").click()
            page.wait_for_selector(".cb-saved-note", timeout=30_000)
            saved_svg = page.inner_html(".cb-chart-area")
            # Something else on screen, then the saved chart reopened: the same chart, the same widgets.
            page.locator(".cb-source select").select_option(label="Equipment")
            page.wait_for_function("() => document.querySelector('.cb-x select').value === 'kind'", timeout=30_000)
            page.locator(".cb-saved select").select_option(label="gp-by-month (ana)")
            page.locator(".cb-open").click()
            page.wait_for_function("() => document.querySelector('.cb-source select').value === 'Financials'",
                                   timeout=30_000)
            page.wait_for_function(
                "() => document.querySelector('.cb-chart-area').textContent.includes('Gross profit')", timeout=30_000)
            assert page.inner_html(".cb-chart-area") == saved_svg
            assert [page.locator(f".cb-{hook} select").input_value() for hook in ("x", "y", "chart")] == [
                "month", "gross_profit", "line"]
            body = page.inner_text("body")
            assert "Traceback" not in body
    saved = load_chart("gp-by-month", "ben", {"operations": {"ana", "ben"}}, folder)
    assert (saved.owner, saved.team, saved.spec.source, saved.spec.y, saved.spec.chart) == (
        "ana", "operations", "financials", "gross_profit", "line")
    assert yaml.safe_load((folder / "charts" / "gp-by-month.yaml").read_text())["spec"]["x"] == "month"
    assert len(query(demo_lake.gold, saved.spec)) > 12
