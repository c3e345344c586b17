"""The live operations page in a real browser, served by Voila the way ``quant apps`` serves it:
it shows the live tables and follows them without a reload."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app
from tests.apps.test_live_operations import T0, fill

APP = "live_operations.ipynb"


@pytest.mark.slow  # Voila's start dominates
@needs_chromium
def test_live_operations_in_browser_follows_the_stream(demo_lake, mixed_company, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.data.opstore import OpsStore

    store_path = tmp_path / "ops.sqlite"
    store = OpsStore(store_path)
    base = fill(store, mixed_company, jobs=8, callbacks=0)
    env = {"QUANT_OPS_DB": str(store_path), "QUANT_LIVE_REFRESH_SECONDS": "1"}
    with serve_app(APP, demo_lake, tmp_path, env=env) as server:
        with browser_page(playwright_api, server, height=1400) as page:
            page.goto(server.app_url(APP), timeout=180_000)
            page.wait_for_selector(f".lo-rates tr[data-region='{base['region']}']", timeout=120_000)
            assert "Stream time 04 Mar 2024 10:" in page.inner_text(".lo-root")
            assert page.locator(".lo-alerts").count() == 0  # no callbacks yet: no open alert
            assert page.locator(".lo-root svg").count() >= 1
            # The stream moves on (jobs with callbacks, five hours later): the page follows, no reload.
            fill(store, mixed_company, jobs=12, callbacks=6, offset=8, start=T0 + timedelta(hours=5))
            from quantlib.alerts.sources import MetricContext
            from quantlib.stream.runtime import alert_engine

            alert_engine(store).check(MetricContext(store=store), names=["quality_degradation"])
            page.wait_for_selector(".lo-alerts tr[data-rule='quality_degradation']", timeout=30_000)
            # A refresh reads the panels one after the other: one that began before the new jobs
            # landed shows the alert with the old stream time; the next one (a second later) has both.
            page.wait_for_selector(".lo-sub:has-text('Stream time 04 Mar 2024 16:')", timeout=30_000)
            body = page.inner_text("body")
            assert "Traceback" not in body and "No running event loop" not in body
            page.screenshot(path=str(tmp_path / "live_operations.png"), full_page=True)
    assert server.process.poll() is not None
