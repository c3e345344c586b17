"""The chart builder through its widgets: templates, shelves, a bad combination, save, share, reopen, place."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.apps.chart_builder import TEMPLATES, ChartBuilder
from quantlib.viz.builder import query
from quantlib.viz.saved import load_dashboard

TEAMS = {"operations": {"ana", "ben"}, "finance": {"cy"}}


@pytest.fixture
def builder(demo_lake, tmp_path):
    app = ChartBuilder(demo_lake.gold, user="ana", teams=TEAMS, folder=tmp_path)
    app.widget  # noqa: B018
    yield app
    app.con.close()


def test_every_template_draws(builder):
    for spec in TEMPLATES.values():
        builder.show(spec)
        assert 'data-rows="' in builder.status.value and "<svg" in builder.area.value
        assert builder.current_spec() == spec.model_copy(update={"top": builder.current_spec().top})


def test_shelves_follow_the_source_and_bad_combinations_say_why(builder, demo_lake):
    builder.source.value = "equipment"
    assert "downtime_hours" in builder.y.options and builder.technician.disabled and builder.start.disabled
    builder.x.value, builder.y.value = "kind", "downtime_hours"
    expected = query(demo_lake.gold, builder.current_spec())
    assert f'data-rows="{len(expected)}"' in builder.status.value
    builder.chart_type.value = "geographic"
    assert "has no location for a map" in builder.status.value


def test_the_field_shelf_moves_the_choices_and_refuses_what_a_shelf_does_not_take(builder, demo_lake):
    builder.source.value = "work_orders"
    shelf = builder.shelf
    assert {f["name"]: f["kind"] for f in shelf.fields}["revenue"] == "measure"
    assert "region" in shelf.shelves["color"]["accepts"] and "revenue" not in shelf.shelves["color"]["accepts"]
    shelf.values = {**shelf.values, "x": "service_line", "color": "region"}  # two drops' worth at once
    assert (builder.x.value, builder.color.value) == ("service_line", "region")
    expected = query(demo_lake.gold, builder.current_spec())
    assert f'data-rows="{len(expected)}"' in builder.status.value and expected["color"].nunique() > 1
    shelf.values = {**shelf.values, "y": "region"}  # a dimension on the value shelf: refused, shelf restored
    assert builder.y.value != "region" and shelf.values["y"] == builder.y.value
    shelf.values = {**shelf.values, "color": None}  # x on an optional shelf
    assert builder.color.value == "(none)" and shelf.values["color"] is None
    builder.y.value = "jobs"  # and the dropdowns move the shelf
    assert shelf.values["y"] == "jobs"


def test_save_share_reopen_and_place(builder, demo_lake, tmp_path):
    builder.show(TEMPLATES["Financial dashboard: gross profit by line"])
    drawn = builder.area.value
    builder.name.value, builder.team.value = "gp-by-line", "operations"
    builder.save()
    assert "Saved gp-by-line." in builder.note.value
    ben = ChartBuilder(demo_lake.gold, user="ben", teams=TEAMS, folder=tmp_path)
    cy = ChartBuilder(demo_lake.gold, user="cy", teams=TEAMS, folder=tmp_path)
    try:
        ben.widget  # noqa: B018
        cy.widget  # noqa: B018
        assert [v for _, v in ben.saved.options] == ["gp-by-line"] and cy.saved.options == ()
        ben.open("gp-by-line")
        assert ben.current_spec() == builder.current_spec() and ben.area.value == drawn  # reopens identically
        cy.open("gp-by-line")
        assert "cy may not see 'gp-by-line': it is shared with operations" in cy.note.value.replace("&#x27;", "'")
    finally:
        ben.con.close()
        cy.con.close()
    builder.dashboard.value = "finance-weekly"
    builder.place()
    assert load_dashboard("finance-weekly", "ben", TEAMS, tmp_path).charts == ["gp-by-line"]
    builder.show_dashboard("finance-weekly")
    assert builder.board_area.value.count('<div class="cb-panel" data-chart="gp-by-line"><svg') == 1
    assert [v for _, v in builder.boards.options] == ["finance-weekly"]
    # The dashboard shown exports like the dashboards do: a slide per chart, its numbers in the workbook.
    import io

    import openpyxl
    from pptx import Presentation

    files = builder.board_exports.files()
    assert set(files) == {"pdf", "pptx", "xlsx", "csv"} and files["pdf"][1].startswith(b"%PDF")
    slides = Presentation(io.BytesIO(files["pptx"][1])).slides
    assert len(slides) >= 1 and any("Gross profit" in shape.text_frame.text for slide in slides
                                    for shape in slide.shapes if shape.has_text_frame)
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"][1]))
    header, *rows = book.worksheets[0].iter_rows(values_only=True)
    column = header.index("Gross profit")
    expected = query(demo_lake.gold, load_dashboard_chart(tmp_path))["value"]
    assert [round(float(r[column]), 2) for r in rows] == [round(v, 2) for v in expected]
    outsider = ChartBuilder(demo_lake.gold, user="cy", teams=TEAMS, folder=tmp_path)
    try:
        outsider.widget  # noqa: B018
        assert outsider.boards.options == ()
        outsider.show_dashboard("finance-weekly")
        assert "cy may not see" in outsider.board_area.value
    finally:
        outsider.con.close()
    builder.name.value = "Not A Slug!"
    builder.save()
    assert "lower-case letters" in builder.note.value


def load_dashboard_chart(folder):
    from quantlib.viz.saved import load_chart

    return load_chart("gp-by-line", "ana", TEAMS, folder).spec


def test_specification_views_draw_from_their_engines_move_with_the_date_and_are_not_saved(demo_lake, tmp_path):
    import datetime as dt

    from quantlib.apps.builder_views import SPEC_VIEWS
    from quantlib.customers.cohorts import cohort_retention
    from quantlib.data.opstore import OpsStore
    from quantlib.kpi.views.report import ReportContext, revenue_bridge

    store = tmp_path / "ops.sqlite"
    app = ChartBuilder(demo_lake.gold, user="ana", teams=TEAMS, folder=tmp_path, ops_store=store)
    app.widget  # noqa: B018
    try:
        forecast = "Financial dashboard: revenue forecast (view)"
        app.template.value = forecast  # nothing recorded yet: says so, draws nothing
        assert "no revenue forecast recorded yet" in app.status.value and app.view is None
        day = dt.date(2024, 6, 30)
        OpsStore(store).record_predictions(pd.DataFrame([{
            "run_id": "r1", "model": "revenue_forecast", "version": "1", "params_hash": "h", "as_of": day,
            "window_start": None, "window_end": day, "quantity": "revenue", "subject": "all",
            "target_start": day + dt.timedelta(days=1), "target_end": day + dt.timedelta(days=30),
            "value": 1000.0, "lo_80": 800.0, "hi_80": 1300.0}]))
        app.show_view(forecast)
        assert app.view == forecast and app.frame[["likely", "worst", "best"]].iloc[0].tolist() == [1000, 800, 1300]
        assert 'data-view="' in app.area.value and "Revenue forecast of 30 Jun 2024" in app.area.value
        for name in SPEC_VIEWS:
            app.show_view(name)
            assert app.view == name and "<svg" in app.area.value and 'data-rows="' in app.status.value, name
        app.show_view("Customer analysis: cohort retention (view)")
        app.end.value = day  # the view moves with "To"
        expected = cohort_retention(demo_lake.gold, day, periods=12, cohorts=12)
        pd.testing.assert_frame_equal(app.frame.reset_index(drop=True), expected, check_like=True)
        app.show_view("Financial dashboard: revenue bridge, waterfall (view)")
        bridge = revenue_bridge(ReportContext(app.con, demo_lake.gold, day, "", day))
        assert app.frame["amount"].tolist() == bridge["amount"].tolist()
        assert app._export_content()[0] == "Revenue bridge"
        app.name.value = "bridge"
        app.save()
        assert "not saved as a chart" in app.note.value and not (tmp_path / "charts" / "bridge.yaml").exists()
        app.y.value = "jobs"  # a shelf: back to an editable chart
        assert app.view is None and app.spec is not None and app.spec.y == "jobs"
    finally:
        app.con.close()
