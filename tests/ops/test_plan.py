"""RoutePlan.validate(): each constraint broken by hand is reported; KPIs add up."""

import copy

import pytest

from quantlib.errors import DropReason, QuantError
from quantlib.ops.plan import DroppedJob, PlanInvalidError, Visit
from quantlib.ops.problem import Job, RoutingProblem, Technician
from quantlib.ops.routing import SolverSettings, solve


def _problem():
    techs = (
        Technician(id="T1", lat=40.00, lon=-75.00, skills={"hvac"}, equipment={"heavy"},
                   break_minutes=30, break_earliest=690, break_latest=840),
        Technician(id="T2", lat=40.05, lon=-75.05, skills={"plumbing"}, break_minutes=30,
                   break_earliest=690, break_latest=840),
    )
    jobs = (
        Job(id="A", lat=40.01, lon=-75.02, duration=120, skills={"hvac"}, window_start=480, window_end=600),
        Job(id="B", lat=40.02, lon=-75.01, duration=150, skills={"hvac"}, equipment={"heavy"},
            window_start=600, window_end=780),
        Job(id="C", lat=40.03, lon=-75.04, duration=120, skills={"hvac"}, window_start=720, window_end=900),
        Job(id="D", lat=40.06, lon=-75.06, duration=90, skills={"plumbing"}, window_start=480, window_end=720),
        Job(id="E", lat=40.04, lon=-75.07, duration=240, skills={"plumbing"}, window_start=600, window_end=840),
    )
    return RoutingProblem(technicians=techs, jobs=jobs)


@pytest.fixture(scope="module")
def plan():
    p = solve(_problem(), SolverSettings(time_limit_seconds=1, solution_limit=200))
    assert p.validate() == []
    assert not p.dropped
    return p


def _kinds(plan):
    return {v.kind for v in plan.validate()}


def _route(plan, tid):
    return plan.route(tid)


def test_solved_plan_is_valid_and_has_breaks(plan):
    for r in plan.routes:
        assert r.break_start is not None
    assert plan.raise_if_invalid() is plan


def test_skill_violation(plan):
    bad = copy.deepcopy(plan)
    v = _route(bad, "T2").visits[0]
    _route(bad, "T1").visits.append(Visit(v.job_id, 1000, 1000, 1000 + bad.problem.job(v.job_id).duration))
    _route(bad, "T2").visits.pop(0)
    assert "skill" in _kinds(bad)


def test_equipment_violation():
    p = _problem()
    techs = (p.technicians[0].model_copy(update={"equipment": frozenset()}), p.technicians[1])
    q = p.replace(technicians=techs)
    good = solve(p, SolverSettings(time_limit_seconds=1, solution_limit=200))
    bad = copy.deepcopy(good)
    bad.problem = q
    assert "equipment" in _kinds(bad)


def test_window_violation(plan):
    bad = copy.deepcopy(plan)
    r = _route(bad, "T1")
    a = next(v for v in r.visits if v.job_id == "A")
    shift = 700 - a.start  # past A's hard window end (600)
    for v in r.visits[r.visits.index(a):]:
        v.arrival += shift
        v.start += shift
        v.end += shift
    r.return_time += shift
    assert "window" in _kinds(bad)


def test_window_opened_too_early(plan):
    bad = copy.deepcopy(plan)
    c = next(v for v in _route(bad, "T1").visits if v.job_id == "C")
    c.start = c.arrival = 500
    c.end = 620
    assert "window" in _kinds(bad)


def test_shift_violation(plan):
    bad = copy.deepcopy(plan)
    _route(bad, "T1").return_time = bad.problem.technician("T1").latest_end + 1
    assert "shift" in _kinds(bad)


def test_break_missing_outside_window_and_overlapping(plan):
    bad = copy.deepcopy(plan)
    _route(bad, "T1").break_start = None
    assert "break" in _kinds(bad)
    bad = copy.deepcopy(plan)
    _route(bad, "T1").break_start = 900
    assert "break" in _kinds(bad)
    bad = copy.deepcopy(plan)
    r = _route(bad, "T1")
    busy = next(v for v in r.visits if v.start <= 720 < v.end or 690 <= v.start <= 840)
    r.break_start = max(690, min(busy.start, 840))
    assert "break" in _kinds(bad)


def test_start_and_end_location(plan):
    bad = copy.deepcopy(plan)
    _route(bad, "T1").start_location = (41.0, -75.0)
    assert "start_location" in _kinds(bad)
    bad = copy.deepcopy(plan)
    _route(bad, "T2").end_location = (41.0, -75.0)
    assert "end_location" in _kinds(bad)


def test_job_served_twice_or_lost_or_unknown(plan):
    bad = copy.deepcopy(plan)
    r = _route(bad, "T1")
    last = r.visits[-1]
    r.visits.append(copy.deepcopy(last))
    assert "job_repeated" in _kinds(bad)
    bad = copy.deepcopy(plan)
    _route(bad, "T2").visits.pop()
    assert "job_lost" in _kinds(bad)
    bad = copy.deepcopy(plan)
    bad.dropped.append(DroppedJob("Z", "capacity: full", "capacity"))
    assert "unknown_job" in _kinds(bad)


def test_drop_needs_reason(plan):
    bad = copy.deepcopy(plan)
    v = _route(bad, "T2").visits.pop()
    bad.dropped.append(DroppedJob(v.job_id, " ", DropReason.CAPACITY))
    assert _kinds(bad) == {"drop_without_reason"}


def test_travel_time_inconsistent_with_matrix(plan):
    bad = copy.deepcopy(plan)
    r = _route(bad, "T1")
    first = r.visits[0]
    r.departure = first.arrival  # no time left to drive there
    assert "travel_time" in _kinds(bad)
    bad = copy.deepcopy(plan)
    r = _route(bad, "T1")
    r.return_time = r.visits[-1].end
    assert "travel_time" in _kinds(bad)


def test_departure_before_available_and_duration(plan):
    bad = copy.deepcopy(plan)
    bad.problem = bad.problem.replace(technicians=(
        bad.problem.technicians[0].model_copy(update={"available_from": 1000}), bad.problem.technicians[1]))
    assert "departure" in _kinds(bad)
    bad = copy.deepcopy(plan)
    _route(bad, "T2").visits[0].end -= 10
    assert "duration" in _kinds(bad)


def test_pinned_job_moved(plan):
    bad = copy.deepcopy(plan)
    d = bad.visit("D")
    jobs = tuple(j.model_copy(update={"pinned_technician": "T2", "pinned_start": d.start + 5})
                 if j.id == "D" else j for j in bad.problem.jobs)
    bad.problem = bad.problem.replace(jobs=jobs)
    assert "pinned" in _kinds(bad)


def test_raise_if_invalid_lists_violations(plan):
    bad = copy.deepcopy(plan)
    _route(bad, "T1").return_time = 2000
    with pytest.raises(PlanInvalidError, match="shift") as err:
        bad.raise_if_invalid()
    # Callers catch it as any Quant error, or as the ValueError it always was.
    assert isinstance(err.value, QuantError) and isinstance(err.value, ValueError)


def test_kpis_add_up(plan):
    k = plan.kpis()
    tt = plan.technician_table()
    assert k["jobs_served"] == 5 and k["jobs_dropped"] == 0
    assert k["on_site_minutes"] == sum(j.duration for j in plan.problem.jobs)
    assert k["drive_minutes"] == pytest.approx(tt["drive_minutes"].sum())
    assert k["travel_cost"] == pytest.approx(0.5 * k["drive_minutes"])
    assert k["fuel_cost"] == pytest.approx(0.35 * k["drive_miles"])
    assert 0 < k["utilisation"] <= 1.25
    vf = plan.visits_frame()
    assert list(vf.sort_values(["technician_id", "stop"])["job_id"]) == [
        v.job_id for r in sorted(plan.routes, key=lambda r: r.technician_id) for v in r.visits]
