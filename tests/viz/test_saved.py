"""Saved charts reopen identically; sharing by team decides who sees and who changes them."""

from __future__ import annotations

import pytest
import vl_convert as vlc
import yaml

from quantlib.viz.builder import ChartSpec, build_chart, query
from quantlib.viz.saved import (
    SavedChart,
    SavedDashboard,
    SharingError,
    list_charts,
    load_chart,
    load_dashboard,
    load_teams,
    save_chart,
    save_dashboard,
)

TEAMS = {"operations": {"ana", "ben"}, "finance": {"cy"}}


def revenue_by_line(**sharing) -> SavedChart:
    spec = ChartSpec(title="Revenue by line", source="work_orders", chart="bar", x="service_line", y="revenue",
                     filters={"start": "2024-01-01"})
    return SavedChart(name="revenue-by-line", owner="ana", spec=spec, **sharing)


def test_a_saved_chart_reopens_identically(gold, tmp_path):
    saved = revenue_by_line(team="operations")
    path = save_chart(saved, "ana", TEAMS, tmp_path)
    assert path == tmp_path / "charts" / "revenue-by-line.yaml" and yaml.safe_load(path.read_text())["spec"]["x"] == \
        "service_line"
    again = load_chart("revenue-by-line", "ben", TEAMS, tmp_path)
    assert again.spec == saved.spec and again.updated_by == "ana"
    first = vlc.vegalite_to_svg(build_chart(saved.spec, query(gold, saved.spec)).to_dict())
    second = vlc.vegalite_to_svg(build_chart(again.spec, query(gold, again.spec)).to_dict())
    assert first == second


def test_a_team_view_is_hidden_from_another_team(tmp_path):
    save_chart(revenue_by_line(team="operations"), "ana", TEAMS, tmp_path)
    assert [c.name for c in list_charts("ben", TEAMS, tmp_path)] == ["revenue-by-line"]
    assert list_charts("cy", TEAMS, tmp_path) == []
    with pytest.raises(SharingError, match="cy may not see 'revenue-by-line': it is shared with operations"):
        load_chart("revenue-by-line", "cy", TEAMS, tmp_path)
    # Shared with finance as viewers: cy sees it but may not change it; editors may.
    save_chart(revenue_by_line(team="operations", viewers=["finance"]), "ana", TEAMS, tmp_path)
    assert load_chart("revenue-by-line", "cy", TEAMS, tmp_path).owner == "ana"
    with pytest.raises(SharingError, match="cy may not change"):
        save_chart(revenue_by_line(team="operations", viewers=["finance"]), "cy", TEAMS, tmp_path)
    save_chart(revenue_by_line(team="operations", editors=["operations"]), "ana", TEAMS, tmp_path)
    changed = revenue_by_line(team="operations", editors=["operations"]).model_copy(update={"owner": "ben"})
    save_chart(changed, "ben", TEAMS, tmp_path)
    assert load_chart("revenue-by-line", folder=tmp_path).owner == "ana"  # an editor does not take it over


def test_dashboards_place_visible_charts(tmp_path):
    save_chart(revenue_by_line(team="operations"), "ana", TEAMS, tmp_path)
    board = SavedDashboard(name="ops-weekly", owner="ben", team="operations", title="Weekly",
                           charts=["revenue-by-line"])
    save_dashboard(board, "ben", TEAMS, tmp_path)
    assert load_dashboard("ops-weekly", "ana", TEAMS, tmp_path).charts == ["revenue-by-line"]
    with pytest.raises(SharingError):
        save_dashboard(board.model_copy(update={"name": "finance-view", "owner": "cy"}), "cy", TEAMS, tmp_path)
    with pytest.raises(FileNotFoundError, match="no saved chart"):
        save_dashboard(board.model_copy(update={"charts": ["missing"]}), "ben", TEAMS, tmp_path)


def test_names_and_teams_files_are_checked(tmp_path):
    with pytest.raises(ValueError, match="lower-case letters"):
        revenue_by_line().model_copy(update={}).model_validate({**revenue_by_line().model_dump(), "name": "../x"})
    (tmp_path / "teams.yaml").write_text("teams:\n  operations: [ana, ben]\n  finance: [cy]\n")
    assert load_teams(tmp_path / "teams.yaml") == TEAMS
    (tmp_path / "bad.yaml").write_text("teams:\n  operations: ana\n")
    with pytest.raises(ValueError, match="bad.yaml: 'teams' must map"):
        load_teams(tmp_path / "bad.yaml")
    assert load_teams(tmp_path / "none.yaml") == {}
