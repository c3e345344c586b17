"""The quote pricer in a real browser, served by Voila the way ``quant apps`` serves it.

The expected figures come from :class:`QuotePricer` fitted here (while Voila heats its kernel):
the page must show its recommended price after loading and after a change of urgency, and
the win curve's probability at a price typed into the slider. Voila serves a folder holding
only this app, so other apps' preheated kernels do not compete with it for the CPU. The page
works with the kernel's sockets encrypted (its connection file carries CurveZMQ keys).
"""

from __future__ import annotations

import json
import os

import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app

APP = "quote_pricer.ipynb"


@pytest.mark.slow  # Voila start and the kernel fitting the pricer (~4 s) dominate
@needs_chromium
def test_quote_pricer_in_browser(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.apps.quote_pricer import QuotePricerApp
    from quantlib.pricing.quote import QuotePricer

    temp = tmp_path / "temp"  # Voila writes its kernels' connection files in a folder below TMPDIR
    temp.mkdir()
    with serve_app(APP, demo_lake, tmp_path, env={**os.environ, "TMPDIR": str(temp)}) as server:
        # The engine, independently of the app's kernel.
        pricer = QuotePricer().fit(demo_lake.gold)
        app = QuotePricerApp(pricer)
        customer = app.customer_options_[0][1]
        line, job = app.default_line_, app.default_job_type_
        first = pricer.quote(customer, line, job, "routine").recommendation
        urgent = pricer.quote(customer, line, job, "urgent")
        assert round(urgent.recommendation.price, 2) != round(first.price, 2)
        price = round(urgent.rule.total) + 7
        win = float(pricer.win_curve(customer, line, "urgent", urgent.rule.total)([price])[0])

        with browser_page(playwright_api, server, height=1200) as page:
            page.goto(server.app_url(APP), timeout=180_000)
            page.wait_for_selector(f".qp-recommended[data-price='{first.price:.2f}']", timeout=120_000)
            shown = page.locator(".qp-recommended")
            assert float(shown.get_attribute("data-win")) == pytest.approx(first.win_probability, abs=1e-6)
            assert page.locator(".qp-chart svg").count() == 1

            page.locator(".qp-urgency select").select_option("urgent")
            rec = urgent.recommendation
            page.wait_for_selector(f".qp-recommended[data-price='{rec.price:.2f}']", timeout=30_000)
            assert float(shown.get_attribute("data-win")) == pytest.approx(rec.win_probability, abs=1e-6)
            assert float(shown.get_attribute("data-margin")) == pytest.approx(rec.expected_margin, abs=1e-4)

            # Type a price into the slider's readout (what a user does for an exact figure).
            readout = page.locator(".qp-slider .widget-readout")
            readout.fill(str(price))
            readout.press("Enter")
            page.wait_for_selector(f".qp-at-price[data-price='{price:.2f}']", timeout=30_000)
            at = page.locator(".qp-at-price")
            assert float(at.get_attribute("data-win")) == pytest.approx(win, abs=1e-6)
            assert f"{win:.1%}" in at.inner_text()
            body = page.inner_text("body")
            assert "Traceback" not in body and "Could not price" not in body
            page.screenshot(path=str(tmp_path / "quote_pricer.png"), full_page=True)
            kernels = [json.loads(f.read_text()) for f in temp.glob("voila_*/kernel-*.json")]
            assert kernels and all(k["transport"] == "tcp" and k.get("curve_publickey") for k in kernels), kernels
    assert server.process.poll() is not None
