"""The forecast explorer in a real browser, served by Voila the way ``quant apps`` serves it.

The engines are fitted here once (into the cache folder the app's kernel reads, shared with
tests/forecast/test_explorer.py), the expected figures are computed from the engines'
own predictions with plain pandas, and the page must show exactly those, formatted by the
app's formatter, after each change of service line, horizon and scenario. Voila serves a
folder holding only this app's notebook, so the other apps' preheated kernels do not
compete with it for the CPU.
"""

from __future__ import annotations

import os

import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app

APP = "forecast_explorer.ipynb"


def value_js(name: str) -> str:
    return f"document.querySelector('span.fe-value[data-value=\"{name}\"]')"


@pytest.mark.slow  # Voila start and the app's kernel dominate; the engines' fit is paid once per session
@needs_chromium
def test_explorer_in_browser(demo_lake, tmp_path, tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.apps.forecast_explorer import SCENARIOS, ForecastExplorer, weeks_for
    from quantlib.views.formatting import format_kpi_value

    cache = tmp_path_factory.getbasetemp() / "forecast_explorer_cache"
    fx = ForecastExplorer(demo_lake.gold, cache_dir=cache).fit()
    line = fx.service_lines_[0]

    def jobs(horizon_days, service_line=None, scenario=None):
        p = fx.demand_.predict(weeks_for(horizon_days), level=(80,), scenario=scenario)
        if service_line:
            p = p[p["series_id"].str.split("/").str[0] == service_line]
        return format_kpi_value(float(p["yhat"].sum()), "count")

    revenue = fx.revenue_.forecast(level=(80,)).set_index("horizon")

    def money(horizon_days, case):
        return format_kpi_value(float(revenue.loc[horizon_days, case]), "currency")

    expected_all = jobs(90)
    expected_line = jobs(90, line)
    expected_line_30 = jobs(30, line)
    # The app shows the engine's scenario figure; the engine moves a line only where the
    # confidence effect differs from zero (DemandForecaster.effect_level), which the small
    # demo company may not show: then the scenario leaves the figure as it is.
    expected_down = jobs(30, line, {"consumer_confidence": -fx.confidence_shift})
    assert len({expected_all, expected_line, expected_line_30}) == 3
    assert money(90, "likely") != money(30, "likely")

    env = {**os.environ, "QUANT_FORECAST_CACHE": str(cache)}
    with serve_app(APP, demo_lake, tmp_path, env=env) as server:
        with browser_page(playwright_api, server) as page:
            page.goto(server.app_url(APP), timeout=180_000)
            page.wait_for_selector("span.fe-value[data-value='jobs']", timeout=60_000)

            def shown(name):
                return page.inner_text(f"span.fe-value[data-value='{name}']")

            def wait_for(name, text):
                page.wait_for_function(f"{value_js(name)} && {value_js(name)}.textContent === {text!r}",
                                       timeout=60_000)

            assert shown("jobs") == expected_all
            for case in ("worst", "likely", "best"):
                assert shown(f"revenue_{case}") == money(90, case)
            assert page.locator(".fe-weeks tbody tr").count() == weeks_for(90)

            page.locator(".fe-service-line select").select_option(line)
            wait_for("jobs", expected_line)
            assert shown("revenue_likely") == money(90, "likely")  # company revenue: not sliced

            page.locator(".fe-horizon select").select_option(label="30 days")
            wait_for("revenue_likely", money(30, "likely"))
            assert shown("jobs") == expected_line_30
            assert shown("revenue_worst") == money(30, "worst") and shown("revenue_best") == money(30, "best")
            # Cards, charts and table are separate widgets: the table may arrive a moment later.
            page.wait_for_function(f"document.querySelectorAll('.fe-weeks tbody tr').length === {weeks_for(30)}",
                                   timeout=60_000)

            page.locator(".fe-scenario select").select_option(label=SCENARIOS["confidence_down"])
            # Wait for the scenario to be applied (the figure may not move), then check it.
            page.wait_for_function("document.querySelector('.fe-scenario-text') && document.querySelector("
                                   "'.fe-scenario-text').textContent.includes('consumer confidence -')",
                                   timeout=60_000)
            wait_for("jobs", expected_down)
            assert page.locator(".fe-change[data-value='jobs_change']").count() == 1
            assert "consumer confidence -" in page.inner_text(".fe-scenario-text")

            assert page.locator(".qd-panel svg").count() == 2  # jobs and revenue charts, as SVG
            body = page.inner_text("body")
            assert "Traceback" not in body and "Error" not in body and "Could not update" not in body
            page.screenshot(path=str(tmp_path / "forecast_explorer.png"), full_page=True)
    assert server.process.poll() is not None
