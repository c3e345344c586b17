"""Comments and exports on the dashboards, driven through their widgets."""

from __future__ import annotations

import io

import pytest

from quantlib.apps.executive_dashboard import ExecutiveDashboard
from quantlib.apps.operations_dashboard import OperationsDashboard
from quantlib.views.formatting import format_kpi_value


@pytest.fixture
def dash(demo_lake, tmp_path):
    dash = ExecutiveDashboard(demo_lake.gold, debounce=0, ops_store=tmp_path / "ops.sqlite",
                              annotations=tmp_path / "notes.sqlite")
    dash.refresh()
    yield dash
    dash.close()


def test_comments_are_added_numbered_marked_on_the_chart_and_resolved(dash):
    panel = dash.comments
    panel.widget  # noqa: B018
    assert "No open comments." in panel.list.children[0].value
    start, end = dash.default_range()
    panel.text.value, panel.author_box.value = "Margins look thin", "ana"
    panel._on_add()
    panel.text.value, panel.on.value, panel.day.value = "Storm <b>week</b>", "daily_revenue", end
    panel._on_add()
    notes = panel.comments()
    assert list(notes["number"]) == [1, 2] and list(notes["author"]) == ["ana", "ana"]
    assert notes.loc[1, "target"] == "chart:executive_dashboard/daily_revenue" and notes.loc[1, "point_x"] == str(end)
    lines = "".join(row.children[0].value for row in panel.list.children)
    assert "Storm &lt;b&gt;week&lt;/b&gt;" in lines and "on Daily revenue chart at" in lines
    chart = dash.panels[1].value  # redrawn after the comment: its marker is the comment's number
    assert ">2</text>" in chart and ">1</text>" not in chart  # only the chart's comment is on the chart
    panel.text.value = "   "
    panel._on_add()
    assert "text: between 1" in panel.note.value
    panel._on_resolve(int(notes.loc[1, "id"]))
    assert list(panel.comments()["text"]) == ["Margins look thin"] and ">2</text>" not in dash.panels[1].value
    assert panel.store.frame().loc[1, "resolved_by"] == "ana"


def test_a_signed_in_member_comments_under_their_own_name(dash):
    panel = dash.comments
    dash.sign_in(None)  # the operator: the author field stays free
    panel.widget  # noqa: B018
    assert not panel.author_box.disabled
    dash.sign_in("cy")
    assert panel.author_box.value == "cy" and panel.author_box.disabled
    panel.text.value, panel.author_box.value = "Who wrote this?", "ana"  # a forged field state changes nothing
    panel._on_add()
    notes = panel.comments()
    assert list(notes["author"]) == ["cy"]
    panel._on_resolve(int(notes.loc[0, "id"]))
    assert panel.store.frame().loc[0, "resolved_by"] == "cy"


def test_exports_hold_what_the_dashboard_shows(dash):
    from openpyxl import load_workbook
    from pptx import Presentation

    dash.exports.prepare()
    links = dash.exports.links.value
    for kind in ("pdf", "pptx", "xlsx", "csv"):
        assert f'class="qc-export-{kind}"' in links
    files = dash.exports.files()
    start, end = dash.default_range()
    values = dash.evaluate(start, end)
    book = load_workbook(io.BytesIO(files["xlsx"][1]))
    assert book.sheetnames == ["KPIs against target", "Daily revenue vs target"]
    sheet = book["KPIs against target"]
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("kpi")]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["revenue"][header.index("value")] == format_kpi_value(values["revenue"].value, "currency")
    deck = Presentation(io.BytesIO(files["pptx"][1]))
    assert [s.shapes.title.text for s in list(deck.slides)[1:]] == ["KPIs against target", "Daily revenue vs target"]
    assert files["pdf"][1][:5] == b"%PDF-"
    assert files["csv"][1].decode().splitlines()[0].startswith("kpi,label,value")


def test_the_operations_dashboard_exports_its_own_charts(demo_lake, tmp_path):
    dash = OperationsDashboard(demo_lake.gold, debounce=0, annotations=tmp_path / "notes.sqlite")
    try:
        title, _, charts = dash.export_content()
        assert title.endswith("Operations dashboard")
        assert [c.title for c in charts][0] == "KPIs against target"
        assert "Equipment downtime" in [c.title for c in charts]
        assert dash.comments.charts == ()  # comments on the dashboard only
    finally:
        dash.close()
