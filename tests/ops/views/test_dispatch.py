"""Dispatch views: the map's paths, the timeline's segments and the tables agree with the plan."""

from __future__ import annotations

import math

import duckdb
import pytest

from quantlib.ops.plan import end_key, job_key, start_key
from quantlib.ops.problem import Job, RoutingProblem, Technician
from quantlib.ops.routing import SolverSettings, solve
from quantlib.ops.views import dispatch as dv


@pytest.fixture(scope="module")
def small_plan():
    # One technician, three jobs around home, lunch break due in the middle of the day.
    tech = Technician(id="T1", name="Ann", lat=40.0, lon=-89.0, skills=frozenset({"hvac"}))
    jobs = (
        Job(id="A", lat=40.05, lon=-89.02, duration=150, skills=frozenset({"hvac"}), window_start=480, window_end=600),
        Job(id="B", lat=40.08, lon=-88.95, duration=120, skills=frozenset({"hvac"}), window_start=720, window_end=900),
        Job(id="C", lat=39.97, lon=-88.97, duration=60, skills=frozenset({"hvac"})),
        Job(id="X", lat=40.0, lon=-89.1, duration=60, skills=frozenset({"plumbing"})),  # nobody can do it
    )
    plan = solve(RoutingProblem(technicians=(tech,), jobs=jobs), SolverSettings(time_limit_seconds=5,
                                                                                   solution_limit=50))
    plan.raise_if_invalid()
    return plan


def test_route_points_go_home_to_home_through_the_visits(small_plan):
    points = dv.route_points(small_plan)
    route = small_plan.route("T1")
    assert list(points["kind"]) == ["home"] + ["job"] * len(route.visits) + ["home"]
    assert list(points.loc[points["kind"] == "job", "job_id"]) == [v.job_id for v in route.visits]
    assert (points.iloc[0]["lat"], points.iloc[0]["lon"]) == (40.0, -89.0)
    assert (points.iloc[-1]["lat"], points.iloc[-1]["lon"]) == (40.0, -89.0)
    assert list(points["seq"]) == list(range(len(points)))


def test_timeline_covers_the_day_without_gaps_or_overlaps(small_plan):
    frame = dv.timeline_frame(small_plan).sort_values("start_minute")
    route = small_plan.route("T1")
    tech = small_plan.problem.technician("T1")
    assert frame["start_minute"].iloc[0] == route.departure and frame["end_minute"].iloc[-1] == route.return_time
    assert (frame["start_minute"].iloc[1:].to_numpy() == frame["end_minute"].iloc[:-1].to_numpy()).all()
    on_site = frame[frame["kind"] == "on site"]
    assert list(on_site["job_id"]) == [v.job_id for v in route.visits]
    assert on_site["minutes"].sum() == sum(v.end - v.start for v in route.visits)
    brk = frame[frame["kind"] == "break"]
    assert len(brk) == 1 and brk["start_minute"].iloc[0] == route.break_start
    assert brk["minutes"].iloc[0] == tech.break_minutes
    # Driving is the legs' travel time, rounded up to whole minutes as the solver plans it.
    keys = [start_key("T1")] + [job_key(v.job_id) for v in route.visits] + [end_key("T1")]
    legs = sum(math.ceil(small_plan.travel.time(a, b) - 1e-9) for a, b in zip(keys, keys[1:]))
    assert frame.loc[frame["kind"] == "drive", "minutes"].sum() == legs
    assert str(frame["start"].iloc[0].time())[:5] == frame["from"].iloc[0]


def test_kpi_and_technician_tables_match_the_plan(small_plan):
    k = small_plan.kpis()
    frame = dv.kpi_frame(small_plan).set_index("key")
    assert frame.loc["jobs_served", "value"] == k["jobs_served"] == 3
    assert frame.loc["drive_minutes", "value"] == pytest.approx(k["drive_minutes"] / 60)
    assert frame.loc["operating_cost", "value"] == pytest.approx(k["operating_cost"])
    assert frame.loc["utilisation", "unit"] == "ratio"
    tech = dv.technician_frame(small_plan)
    assert tech["on_site_hours"].sum() == pytest.approx(k["on_site_minutes"] / 60)
    assert tech["cost"].sum() == pytest.approx(k["operating_cost"])
    html = dv.kpi_table(small_plan).to_html()
    assert "Jobs served" in html and "Drive time" in html


def test_dropped_jobs_keep_their_reason(small_plan):
    dropped = dv.dropped_frame(small_plan)
    assert list(dropped["job_id"]) == ["X"]
    assert dropped["reason"].iloc[0].startswith("no skilled technician")
    assert dropped["window"].iloc[0] == "00:00-24:00"


def test_charts_have_routes_drops_and_highlights(small_plan):
    plain = dv.route_map(small_plan).to_dict()
    assert len(plain["layer"]) == 4  # lines, job dots, homes, dropped crosses
    ringed = dv.route_map(small_plan, highlight={"B"}).to_dict()
    assert len(ringed["layer"]) == 5
    gantt = dv.timeline_chart(small_plan).to_dict()
    assert gantt["mark"]["type"] == "bar" and gantt["encoding"]["x2"]["field"] == "end"
    with_now = dv.timeline_chart(small_plan, now=600).to_dict()
    assert [layer["mark"]["type"] for layer in with_now["layer"]] == ["bar", "rule"]


def test_plan_of_day_from_gold_and_unknown_region(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        day = con.execute("SELECT as_of FROM build_params").fetchone()[0]
        with pytest.raises(ValueError, match="region: no technicians in 'atlantis'"):
            dv.plan_of_day(con, day, region="atlantis")
        plan = dv.plan_of_day(con, day, time_limit_seconds=5, solution_limit=20)
        assert plan.validate() == []
        assert len(dv.timeline_frame(plan)) > 0 or not plan.problem.jobs
    finally:
        con.close()


def test_a_day_without_jobs_still_draws():
    tech = Technician(id="T1", lat=40.0, lon=-89.0)
    plan = solve(RoutingProblem(technicians=(tech,), jobs=()), SolverSettings(time_limit_seconds=1))
    assert dv.route_points(plan).empty and dv.timeline_frame(plan).empty and dv.dropped_frame(plan).empty
    assert dv.kpi_frame(plan).set_index("key").loc["jobs_served", "value"] == 0
    dv.route_map(plan).to_dict()
    dv.timeline_chart(plan).to_dict()
