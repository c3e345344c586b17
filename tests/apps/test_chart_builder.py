"""The chart builder through its widgets: templates, shelves, a bad combination, save, share, reopen, place."""

from __future__ import annotations

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
