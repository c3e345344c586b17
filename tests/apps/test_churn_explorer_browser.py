"""The churn explorer in a real browser, served by Voila the way ``quant apps`` serves it.

The expected list is computed here from the engines directly (snapshot, time-split model,
``score_frame``, ``explain``) and filtered with plain pandas; the page must show those
customers and reasons, and the exported CSV and Excel files must hold exactly those rows.
Voila serves a folder holding only this app, so other apps' preheated kernels do not
compete with it for the CPU.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app

APP = "churn_explorer.ipynb"


@pytest.mark.slow  # Voila start and the kernel scoring the customers dominate (~20 s on a quiet machine)
@needs_chromium
def test_explorer_in_browser(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.customers.churn import fit_time_split
    from quantlib.customers.features import customer_snapshot

    with serve_app(APP, demo_lake, tmp_path) as server:
        # The engines, independently of the app (while Voila heats its kernel).
        model, _ = fit_time_split(demo_lake, horizon_days=180)
        snap = customer_snapshot(demo_lake, active_only=True)
        scores = model.score_frame(snap).merge(snap[["customer_id", "monetary_365d"]], on="customer_id")
        medium = scores[scores["band"] == "medium"]
        min_value = float(medium["monetary_365d"].median().round(-1))
        expected = (medium[medium["monetary_365d"] >= min_value]
                    .sort_values(["score", "monetary_365d", "customer_id"], ascending=[False, False, True]))
        assert 3 <= len(expected) < len(medium)
        explained = model.explain(snap)

        with browser_page(playwright_api, server, accept_downloads=True) as page:
            page.goto(server.app_url(APP), timeout=180_000)
            page.wait_for_selector(".ce-status[data-rows]", timeout=120_000)
            total = int(page.get_attribute(".ce-status[data-rows]", "data-rows"))
            assert total == len(scores)

            page.locator(".ce-band select").select_option("medium")
            page.wait_for_selector(f".ce-status[data-rows='{(scores['band'] == 'medium').sum()}']",
                                   timeout=30_000)
            value_box = page.locator(".ce-min-value input")
            value_box.fill(str(min_value))
            value_box.press("Enter")
            page.wait_for_selector(f".ce-status[data-rows='{len(expected)}']", timeout=30_000)
            shown = page.locator("table.ce-table tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.customer)")
            assert shown == list(expected["customer_id"][:50])

            # A customer's reasons: the model's own explanation, in order.
            pick = expected["customer_id"].iloc[1]
            page.locator(".ce-customer select").select_option(index=1)  # options follow the list
            page.wait_for_selector(f".ce-reasons[data-customer='{pick}']", timeout=30_000)
            reasons = page.locator(f".ce-reasons[data-customer='{pick}'] li").all_inner_texts()
            assert reasons == list(explained.loc[explained["customer_id"] == pick, "reason"])
            assert reasons

            with page.expect_download() as download:
                page.click("a.ce-export-csv")
            exported = pd.read_csv(download.value.path())
            with page.expect_download() as download:
                page.click("a.ce-export-xlsx")
            excel = pd.read_excel(io.BytesIO(open(download.value.path(), "rb").read()))
            body = page.inner_text("body")
            assert "Traceback" not in body and "Could not update" not in body
            page.screenshot(path=str(tmp_path / "churn_explorer.png"), full_page=True)
    assert server.process.poll() is not None
    assert list(exported["customer_id"]) == list(expected["customer_id"])
    assert exported["score"].to_numpy() == pytest.approx(expected["score"].to_numpy())
    assert list(exported["band"]) == ["medium"] * len(expected)
    assert list(exported["reasons"]) == list(expected["reasons"])
    assert (exported["intervention"] == "proactive engagement").all()
    assert (exported["value_365d"] >= min_value).all()
    pd.testing.assert_frame_equal(excel, exported, check_dtype=False)
