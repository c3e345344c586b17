"""The equipment monitor in a real browser, served by Voila the way ``quant apps`` serves it.

The expected figures come from :func:`equipment_health` computed here (while Voila heats its
kernel) on the scale-1 mixed-trades company: the page must list every unit's health, lowest
first, and after a unit is picked, show that unit's health, its survival curve and its
maintenance history. Voila serves a folder holding only this app.
"""

from __future__ import annotations

import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app
from tests.conftest import build_lake

APP = "equipment_monitor.ipynb"


@pytest.mark.slow  # Voila start and the kernel fitting equipment health (~4 s) dominate
@needs_chromium
def test_equipment_monitor_in_browser(mixed_company, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.maintenance.health import equipment_health

    lake = build_lake(mixed_company, tmp_path / "fleet")
    with serve_app(APP, lake, tmp_path) as server:
        # The engine, independently of the app's kernel.
        fleet = equipment_health(lake)
        units = fleet.units
        first = units.iloc[0]
        picked = units.iloc[len(units) // 2]
        label = f"{picked.equipment_id} {picked['name']} ({picked.health:.0%})"
        survival_90 = float(fleet.model.survival_at(
            fleet.state[fleet.state["equipment_id"] == picked.equipment_id], [90])[0, 0])
        events = int((fleet.events["equipment_id"] == picked.equipment_id).sum())

        with browser_page(playwright_api, server, height=1600) as page:
            page.goto(server.app_url(APP), timeout=180_000)
            page.wait_for_selector(f".em-unit[data-unit='{first.equipment_id}']", timeout=120_000)
            shown = page.locator(".em-unit")
            assert float(shown.get_attribute("data-health")) == pytest.approx(first.health, abs=1e-6)
            rows = page.locator(".em-fleet-table tbody tr")
            assert rows.count() == len(units)
            assert [rows.nth(i).get_attribute("data-unit") for i in range(len(units))] == list(units["equipment_id"])
            assert page.locator(".em-fleet-chart svg").count() == 1

            page.locator(".em-unit-picker select").select_option(label=label)
            # The history is filled last: once it is this unit's, every panel is.
            page.wait_for_selector(f".em-events[data-unit='{picked.equipment_id}']", timeout=30_000)
            assert float(shown.get_attribute("data-health")) == pytest.approx(picked.health, abs=1e-6)
            assert f"{picked.health:.1%}" in shown.inner_text()
            assert float(shown.get_attribute("data-survival-90")) == pytest.approx(survival_90, abs=1e-6)
            assert page.locator(".em-events-table tbody tr").count() == events
            for panel in ("em-readings", "em-signals", "em-survival"):
                assert page.locator(f".{panel} svg").count() == 1
            assert page.locator(".em-upcoming").get_attribute("data-source") in ("store", "planned")
            body = page.inner_text("body")
            assert "Traceback" not in body and "Could not show" not in body
            page.screenshot(path=str(tmp_path / "equipment_monitor.png"), full_page=True)
    assert server.process.poll() is not None
