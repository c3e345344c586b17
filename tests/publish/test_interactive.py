"""Interactive charts in HTML reports: the specs' interactions, the page's scripts and policy, and the
page in a real browser (tooltips, zoom, legend filtering, print, no request beyond the file)."""

from __future__ import annotations

import json
import re

import altair as alt
import nbformat
import pandas as pd
import pytest
import vl_convert as vlc

from quantlib.publish.interactive import interactive_spec
from quantlib.publish.render import ReportMeta, render_html
from quantlib.views import use_svg
from tests.apps.helpers import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from tests.publish.pages import allowed_hashes, markup

META = ReportMeta(title="Interactive", company="Mixed Trades Co.", period="December 2024", run_date="2025-01-03")
SERIES = pd.DataFrame({"month": pd.date_range("2024-01-31", periods=6, freq="ME").repeat(2),
                       "line": ["Plumbing", "HVAC"] * 6,
                       "revenue": [100, 80, 120, 70, 90, 95, 130, 60, 110, 85, 140, 75]})


def line_chart():
    return alt.Chart(SERIES, title="Revenue").mark_line(point=True).encode(
        x=alt.X("month:T", title="Month"), y=alt.Y("revenue:Q", title="Revenue"), color="line:N")


def test_marks_get_tooltips_zoom_and_legend_filtering():
    spec = interactive_spec(line_chart().to_dict())
    assert spec["mark"]["tooltip"] is True
    names = [p["name"] for p in spec["params"]]
    assert "quant_zoom" in names and "quant_legend" in names
    assert spec["encoding"]["opacity"]["condition"] == {"param": "quant_legend", "value": 1}
    vlc.vegalite_to_vega(spec)  # still a valid spec


def test_what_does_not_fit_is_left_alone():
    bars = alt.Chart(SERIES).mark_bar().encode(x="line:N", y="sum(revenue):Q", tooltip=["line", "revenue"])
    spec = interactive_spec(bars.to_dict())
    assert "params" not in spec and "tooltip" not in spec["mark"]  # its own tooltip; categories: no zoom
    layered = interactive_spec((line_chart() + alt.Chart(SERIES).mark_rule().encode(y="mean(revenue):Q")).to_dict())
    assert [p["name"] for p in layered["layer"][0]["params"]] == ["quant_zoom", "quant_legend"]
    assert "params" not in layered["layer"][1] and layered["layer"][1]["mark"]["tooltip"] is True
    both = interactive_spec(alt.hconcat(line_chart(), line_chart()).to_dict())
    assert all("params" not in part for part in both["hconcat"])
    assert all(part["mark"]["tooltip"] for part in both["hconcat"])
    for spec in (layered, both):
        vlc.vegalite_to_vega(spec)


def report(tmp_path, charts) -> str:
    """A notebook whose outputs are ``charts`` shown with the report renderer, rendered to HTML."""
    use_svg()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Interactive\n\n## Charts\n\nText.")]
    for chart in charts:
        cell = nbformat.v4.new_code_cell("chart")
        cell.outputs = [nbformat.v4.new_output("display_data", data=chart._repr_mimebundle_())]
        nb.cells.append(cell)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return render_html(path, tmp_path / "report.html", META).read_text()


def test_the_page_allows_only_its_own_scripts(tmp_path):
    evil = SERIES.assign(line=["</script><script>alert(1)</script>", "HVAC"] * 6)
    page = report(tmp_path, [line_chart(), alt.Chart(evil).mark_bar().encode(x="line:N", y="revenue:Q")])
    html = markup(page)
    assert "<script" not in html and html.count('class="quant-chart"') == 2
    assert html.count("<svg") == 2  # each chart's static copy, for print and for no JavaScript
    policy = re.search(r'content="([^"]*)"', page).group(1)
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src")).split()[1:]
    assert len(script_src) == 2 and all(s.startswith("'sha256-") for s in script_src)
    assert "default-src 'none'" in policy and "unsafe-eval" not in policy
    assert len(allowed_hashes(page)) == 2
    # A category named like a closing tag stays inside the data block.
    block = re.search(r'<script type="application/json" id="quant-chart-specs">(.*?)</script>', page, re.DOTALL)
    specs = json.loads(block.group(1))
    assert len(specs) == 2 and "$schema" not in specs[0]
    assert "</script><script>alert(1)</script>" in json.dumps(specs)


@pytest.mark.slow  # a browser
@needs_chromium
def test_a_report_chart_is_interactive_in_a_browser_and_prints_static(tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    page_file = tmp_path / "report.html"
    report(tmp_path, [line_chart()])
    requests, problems = [], []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_file.as_uri())
            page.wait_for_selector(".quant-chart.live .quant-live svg", timeout=30_000)
            live = page.locator(".quant-live svg")
            assert page.locator(".quant-chart.live > svg").is_hidden()  # the static copy gives way
            # Tooltip: hover the first point of the line.
            point = page.locator(".quant-live svg .mark-symbol path").first
            point.hover()
            tooltip = page.locator("#vg-tooltip-element")
            tooltip.wait_for(state="visible", timeout=10_000)
            assert "Revenue" in tooltip.inner_text() or "revenue" in tooltip.inner_text()
            # Legend filtering: click HVAC; Plumbing's line fades.
            page.locator(".quant-live svg .role-legend text", has_text="HVAC").click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.quant-live svg .mark-line path')]"
                ".some(p => parseFloat(p.getAttribute('opacity') ?? p.style.opacity ?? '1') < 0.5)",
                timeout=10_000)
            # Zoom: the wheel over the plot changes the x axis' labels.
            before = live.locator(".role-axis-label text").all_inner_texts()
            box = live.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.wheel(0, -600)
            page.wait_for_function("(b) => JSON.stringify([...document.querySelectorAll("
                                   "'.quant-live svg .role-axis-label text')].map(t => t.textContent)) !== b",
                                   arg=json.dumps(before), timeout=10_000)
            # Print: the static chart, not the live one.
            page.emulate_media(media="print")
            assert page.locator(".quant-chart.live > svg").is_visible()
            assert page.locator(".quant-live").is_hidden()
        finally:
            browser.close()
    assert requests == [page_file.as_uri()], requests  # nothing but the file itself
    assert not problems, problems  # no policy violation, no script error
