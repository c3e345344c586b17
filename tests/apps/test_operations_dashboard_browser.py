"""The operations dashboard in a real browser, served by Voila the way ``quant apps`` serves it: the
twelve cards, a region filter, the equipment table, numbers equal to the KPI registry's."""

from __future__ import annotations

import duckdb
import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app

APP = "operations_dashboard.ipynb"


def value_js(name: str) -> str:
    return f"document.querySelector('span.kpi-value[data-kpi=\"{name}\"]')"


@pytest.mark.slow  # Voila start and the kernel executing the app dominate
@needs_chromium
def test_operations_dashboard_in_browser(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.kpi import Filters, get_kpi
    from quantlib.views.formatting import format_kpi_value

    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
        region = con.execute("SELECT min(region) FROM equipment").fetchone()[0]

        def shown(name, filters=Filters()):
            return format_kpi_value(get_kpi(name).compute(con, as_of, window=30, filters=filters),
                                    get_kpi(name).unit)

        retention_all = shown("customer_retention")
        retention_region = shown("customer_retention", Filters(region=region))
        downtime_region = shown("equipment_downtime_hours", Filters(region=region))
        units_region = con.execute("SELECT count(*) FROM equipment_kpis_between(?::DATE - 29, ?::DATE, reg := ?)",
                                   [as_of, as_of, region]).fetchone()[0]
    finally:
        con.close()

    with serve_app(APP, demo_lake, tmp_path) as server:
        with browser_page(playwright_api, server, height=1600) as page:
            page.goto(server.app_url(APP), timeout=90_000)
            page.wait_for_selector("span.kpi-value[data-kpi='customer_retention']", timeout=90_000)
            assert page.locator("span.kpi-value").count() == 12
            assert page.locator("h2.qd-section").all_inner_texts() == ["Technicians", "Equipment", "Customers"]
            assert page.inner_text("span.kpi-value[data-kpi='customer_retention']") == retention_all
            page.locator(".qd-region select").select_option(region)
            # Each card is its own widget: they reach the page one message at a time.
            for name, expected in (("equipment_downtime_hours", downtime_region),
                                   ("customer_retention", retention_region)):
                page.wait_for_function(f"{value_js(name)}.textContent === {expected!r}", timeout=30_000)
            page.wait_for_function("(n) => document.querySelectorAll('.od-equipment tr[data-equipment]').length === n",
                                   arg=units_region, timeout=30_000)
            assert page.locator(".od-customers svg").count() == 1
            body = page.inner_text("body")
            assert "Traceback" not in body and "Error" not in body
            page.screenshot(path=str(tmp_path / "operations_dashboard.png"), full_page=True)
    assert server.process.poll() is not None
