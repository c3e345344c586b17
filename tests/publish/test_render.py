"""HTML and PDF rendering of the executed fixture report: no code, no warnings, no network."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import nbformat
import pytest

from quantlib.publish.render import (
    PDF_ENGINES,
    QuartoEngine,
    RenderError,
    ReportMeta,
    TypstEngine,
    clean_notebook,
    render_html,
    render_pdf,
    select_pdf_engine,
)
from tests.publish.pages import allowed_hashes, markup

META = ReportMeta(title="Monthly business review", company="Mixed Trades Co.", period="December 2024",
                  run_date="2025-01-03")
NETWORK = re.compile(r"http://|https://|//cdn|<script[^>]*\bsrc", re.IGNORECASE)
LEAKS = ["FIXTURE-WARNING", "Traceback", "import pandas", "use_svg()", "In&nbsp;[", "Out["]


def test_html_is_clean_and_self_contained(executed_fixture, tmp_path):
    out = render_html(executed_fixture, tmp_path / "report.html", META)
    page = out.read_text(encoding="utf-8")
    html = markup(page)
    assert not NETWORK.findall(html), NETWORK.findall(html)
    assert "<script" not in html  # the only scripts are the two the policy allows by hash
    assert len(allowed_hashes(page)) == 2 and "unsafe" not in page.split("script-src")[1].split(";")[0]
    for leak in LEAKS:
        assert leak not in html, leak
    for text in ["Mixed Trades Co.", "Monthly business review", "December 2024", "2025-01-03",
                 "Revenue by service line", "Revenue trend", "Plumbing", "Lakeside"]:
        assert text in html, text
    assert "<svg" in html and "<table" in html and "<style>" in html
    assert "<h1>Fixture review" not in html  # the notebook's own title gives way to the header


def _chart_notebook() -> nbformat.NotebookNode:
    # What a notebook holds when a chart was shown with Altair's default (JavaScript) renderer.
    import altair as alt
    import pandas as pd

    chart = alt.Chart(pd.DataFrame({"x": [1, 2, 3], "y": [3, 1, 2]})).mark_line().encode(x="x", y="y")
    spec = chart.to_dict()
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("chart")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={
            "application/vnd.vegalite.v6+json": spec,
            "text/html": '<div id="vis"></div><script src="https://cdn.jsdelivr.net/npm/vega@6"></script>',
            "text/plain": "alt.Chart(...)"}),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: noisy\n"),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(1)"}),
        nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=["Traceback ..."]),
    ]
    hidden = nbformat.v4.new_markdown_cell("SECRET-NOTE")
    hidden.metadata["tags"] = ["remove_cell"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\n## Section\n\nText."), code, hidden]
    return nb


def test_clean_notebook_converts_js_charts_and_drops_noise():
    nb = clean_notebook(_chart_notebook())
    outputs = nb.cells[1].outputs
    assert len(outputs) == 1 and set(outputs[0].data) == {"image/svg+xml", "text/plain"}
    assert nb.cells[1].source == ""
    assert nb.cells[0].source.strip().startswith("## Section")
    assert all("SECRET-NOTE" not in c.source for c in nb.cells)


def test_html_of_a_js_chart_is_inline_svg_without_network(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(_chart_notebook(), path)
    page = render_html(path, tmp_path / "r.html", META).read_text()
    html = markup(page)
    # The CDN script is gone; the chart is its SVG, drawn live by the page's own allowed scripts.
    assert "<svg" in html and not NETWORK.search(html) and "<script" not in html
    assert 'class="quant-chart" id="quant-chart-0"' in html and len(allowed_hashes(page)) == 2
    assert "noisy" not in page and "boom" not in page and "alert(1)" not in page
    static = render_html(path, tmp_path / "s.html", META, interactive=False).read_text()
    assert "<svg" in static and "<script" not in static and "script-src 'none'" in static


def _pdftext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_has_cover_contents_body_and_no_code(executed_fixture, tmp_path):
    out = render_pdf(executed_fixture, tmp_path / "report.pdf", META, engine="typst")
    assert out.read_bytes()[:5] == b"%PDF-"
    assert _pages(out) >= 3
    text = _pdftext(out)
    for expected in ["Mixed Trades Co.", "Monthly business review", "December 2024", "Contents",
                     "1 Revenue by service line", "2 Revenue trend", "Plumbing", "187450.00", "Lakeside",
                     "Page 1 of"]:
        assert expected in text, expected
    for leak in ["Traceback", "Warning", "import ", "FIXTURE", "¶"]:
        assert leak not in text, leak
    # The chart is in: its title and axis labels are text inside the embedded SVG.
    assert "Monthly revenue (k$)" in text and "3-period average" in text


def test_pdf_texts_are_not_markup(executed_fixture, tmp_path):
    # Metadata goes to Typst as sys.inputs: markup characters are printed, not interpreted.
    meta = ReportMeta(title='Review #1 "Q4" [draft] $x$ *bold*', company="O'Brien & Sons <HVAC>",
                      period="Q4 2024", run_date="2025-01-03")
    text = _pdftext(render_pdf(executed_fixture, tmp_path / "r.pdf", meta, engine="typst"))
    assert "O'Brien & Sons <HVAC>" in text and "[draft] $x$ *bold*" in text


class _Engine:
    def __init__(self, name, available):
        self.name, self._available = name, available

    def available(self):
        return self._available

    def render(self, executed, out, meta):
        return out


def test_engine_registry_prefers_quarto_then_typst():
    assert list(PDF_ENGINES) == ["quarto", "typst"]
    both = {"quarto": _Engine("quarto", True), "typst": _Engine("typst", True)}
    assert select_pdf_engine(engines=both).name == "quarto"
    no_quarto = {"quarto": _Engine("quarto", False), "typst": _Engine("typst", True)}
    assert select_pdf_engine(engines=no_quarto).name == "typst"
    assert select_pdf_engine("typst", engines=both).name == "typst"
    with pytest.raises(RenderError, match="not available"):
        select_pdf_engine("quarto", engines=no_quarto)
    with pytest.raises(RenderError, match="unknown PDF engine 'latex'"):
        select_pdf_engine("latex", engines=both)
    with pytest.raises(RenderError, match="no PDF engine"):
        select_pdf_engine(engines={"quarto": _Engine("quarto", False)})


def test_quarto_is_available_when_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not QuartoEngine().available()
    assert select_pdf_engine().name == "typst" and TypstEngine().available()
    fake = tmp_path / "quarto"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert QuartoEngine().available() and select_pdf_engine().name == "quarto"


def _hostile_notebook() -> nbformat.NotebookNode:
    # Each thing an attacker can get into a report: raw HTML in markdown, and outputs whose
    # HTML came from data (a customer name, a note) or a careless display().
    nb = nbformat.v4.new_notebook()
    markdown = nbformat.v4.new_markdown_cell(
        "## Hostile\n\n<img src=x onerror=\"alert('md-onerror')\">\n\n"
        "<a href=\"javascript:alert('md-js')\">click</a>\n\n<script>alert('md-script')</script>\n\n"
        "<div onclick=\"alert('md-click')\">raw html block</div>\n")
    code = nbformat.v4.new_code_cell("display(HTML(...))")
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OU"
           "AAAAABJRU5ErkJggg==")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": (
            "<table><tr><td>Customer</td><td><img src=x onerror=\"alert('out-onerror')\">Ann</td></tr></table>"
            "<a href=\"JaVaScRiPt:alert('out-js')\">link</a>"
            "<svg onload=\"alert('svg-onload')\" width=\"10\" height=\"10\"><rect width=\"5\" height=\"5\"/></svg>"
            "<a href=\"data:text/html,evil\">d</a>"
            f"<img alt=\"kept\" src=\"{png}\">"
            "<div style=\"background:url(https://tracker.test/x)\">styled</div>"
        ), "text/plain": "<HTML>"}),
        nbformat.v4.new_output("display_data", data={
            "image/svg+xml": "<svg onload=\"alert('svg-output')\" viewBox=\"0 0 4 4\"><circle r=\"2\"/></svg>",
            "text/plain": "<svg>"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), markdown, code]
    return nb


def test_html_is_sanitised_and_forbids_scripts(tmp_path):
    path = tmp_path / "hostile.ipynb"
    nbformat.write(_hostile_notebook(), path)
    html = render_html(path, tmp_path / "r.html", META).read_text()
    for attack in ["onerror", "onload", "onclick", "javascript:", "<script", "alert(",
                   "data:text/html", "tracker.test"]:
        assert attack.lower() not in html.lower(), attack
    # The harmless parts stay: the table, the text, the SVG, the data: image, the house CSS.
    for kept in ["<table", "Ann", "raw html block", "<svg", "<rect", "<circle", 'alt="kept"',
                 "data:image/png;base64,", "report-header", "<style>"]:
        assert kept in html, kept
    assert '<meta http-equiv="Content-Security-Policy"' in html
    assert "script-src 'none'" in html and "default-src 'none'" in html


def test_normal_report_keeps_charts_and_tables_after_sanitising(executed_fixture, tmp_path):
    html = render_html(executed_fixture, tmp_path / "report.html", META).read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html
    assert html.count("<svg") >= 1 and "viewBox=" in html and "<path" in html and "<text" in html
    assert "<table" in html and "<td" in html and 'style="text-align: right' in html
