"""Comments and exports on the executive dashboard in a real browser, served by Voila as ``quant apps`` does."""

from __future__ import annotations

import base64
import io
import os

import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app


@pytest.mark.slow  # Voila start and the kernel executing the app dominate
@needs_chromium
def test_comment_resolve_and_export_in_the_browser(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.data.annotations import AnnotationStore

    notes = tmp_path / "notes.sqlite"
    env = {**os.environ, "QUANT_ANNOTATIONS_DB": str(notes), "QUANT_OPS_DB": str(tmp_path / "ops.sqlite"),
           "QUANT_USER": "ana"}
    with serve_app("executive_dashboard.ipynb", demo_lake, tmp_path, env=env) as server:
        with browser_page(playwright_api, server, height=1800) as page:
            page.goto(server.app_url("executive_dashboard.ipynb"), timeout=90_000)
            page.wait_for_selector(".qc-comments .qc-text textarea", timeout=90_000)
            page.fill(".qc-text textarea", "Storm week: two vans down")
            page.locator(".qc-on select").select_option(label="Daily revenue chart")
            page.locator(".qc-add").click()
            page.wait_for_selector(".qc-comment[data-comment-id]", timeout=30_000)
            assert "Storm week: two vans down" in page.inner_text(".qc-comments")
            assert "ana" in page.inner_text(".qc-comment")
            stored = AnnotationStore(notes).frame()
            assert list(stored["text"]) == ["Storm week: two vans down"] and list(stored["author"]) == ["ana"]
            # Prepare the exports: four links, the PDF a real PDF.
            page.locator(".qc-prepare").click()
            page.wait_for_selector(".qc-export-pdf", timeout=60_000)
            href = page.get_attribute(".qc-export-pdf", "href")
            assert base64.b64decode(href.split(",", 1)[1])[:5] == b"%PDF-"
            xlsx = page.get_attribute(".qc-export-xlsx", "href")
            from openpyxl import load_workbook

            book = load_workbook(io.BytesIO(base64.b64decode(xlsx.split(",", 1)[1])))
            assert "KPIs against target" in book.sheetnames
            # Resolve: the comment leaves the list.
            page.locator(".qc-resolve").click()
            page.wait_for_selector(".qc-comments .qd-empty", timeout=30_000)
            body = page.inner_text("body")
            assert "Traceback" not in body
    assert AnnotationStore(notes).frame().loc[0, "resolved_by"] == "ana"
