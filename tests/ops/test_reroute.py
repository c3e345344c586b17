"""Live re-routing: done and started jobs stay fixed; events (cancel, emergency, sick, delay) apply."""

import pytest

from quantlib.errors import MoveReason, QuantError, RelaxReason
from quantlib.ops.problem import Job, RoutingProblem, Technician
from quantlib.ops.reroute import (
    AddEmergency,
    Cancel,
    Delay,
    Lock,
    RerouteError,
    RerouteSettings,
    TechnicianSick,
    TechnicianState,
    reroute,
)
from quantlib.ops.routing import SolverSettings, solve

FAST = SolverSettings(time_limit_seconds=0.6)


def _problem():
    techs = tuple(Technician(id=f"T{k}", lat=40.0 + 0.05 * k, lon=-75.0, skills={"hvac", "plumbing"},
                             break_minutes=30) for k in range(3))
    jobs = tuple(Job(id=f"J{i}", lat=40.0 + 0.012 * i, lon=-75.0 + 0.01 * (i % 4), duration=60 + 15 * (i % 3),
                     skills={"hvac"} if i % 2 else {"plumbing"}, revenue=300.0)
                 for i in range(12))
    return RoutingProblem(technicians=techs, jobs=jobs)


@pytest.fixture(scope="module")
def plan():
    p = solve(_problem(), SolverSettings(time_limit_seconds=1.0, solution_limit=300))
    assert p.validate() == [] and not p.dropped
    return p


def _now_with_started(plan):
    """A time at which some job is under way and some other job is done."""
    for now in range(480, 1000, 5):
        started = [v for r in plan.routes for v in r.visits if v.start < now < v.end]
        done = [v for r in plan.routes for v in r.visits if v.end <= now]
        if started and done:
            return now, started, done
    raise AssertionError("no such time")


def test_done_and_started_jobs_stay_fixed(plan):
    now, started, done = _now_with_started(plan)
    res = reroute(plan, now, [], settings=FAST)
    assert res.after.validate() == []
    before = plan.assignment()
    for v in started:
        after = res.after.visit(v.job_id)
        assert after is not None and after.start == v.start and after.end == v.end
        assert res.after.assignment()[v.job_id] == before[v.job_id]
        assert res.after.route(before[v.job_id]).visits[0].job_id == v.job_id
    done_ids = {v.job_id for v in done}
    assert done_ids == {j for ids in res.done.values() for j in ids}
    assert not done_ids & {j.id for j in res.after.problem.jobs}
    changes = res.changes.set_index("job_id")["change"]
    assert all(changes[j] == "done" for j in done_ids)
    assert all(changes[v.job_id] == "started" for v in started)
    # Nothing pending is served before now.
    for r in res.after.routes:
        for v in r.visits:
            if v.job_id not in {s.job_id for s in started}:
                assert v.start >= now


def test_cancel_removes_the_job_and_rejects_started_ones(plan):
    now, started, _ = _now_with_started(plan)
    pending = next(v.job_id for r in plan.routes for v in r.visits if v.start > now)
    res = reroute(plan, now, [Cancel(job_id=pending)], settings=FAST)
    assert res.after.validate() == []
    assert pending not in {j.id for j in res.after.problem.jobs}
    assert res.changes.set_index("job_id").loc[pending, "change"] == "cancelled"
    with pytest.raises(RerouteError, match="has started"):
        reroute(plan, now, [Cancel(job_id=started[0].job_id)], settings=FAST)
    assert issubclass(RerouteError, QuantError) and issubclass(RerouteError, ValueError)
    with pytest.raises(RerouteError, match="not in the plan"):
        reroute(plan, now, [Cancel(job_id="nope")], settings=FAST)


def test_sick_technician_hands_over_jobs(plan):
    now, started, _ = _now_with_started(plan)
    sick = started[0]
    tid = plan.assignment()[sick.job_id]
    res = reroute(plan, now, [TechnicianSick(technician_id=tid)], settings=FAST)
    assert res.after.validate() == []
    assert tid not in {r.technician_id for r in res.after.routes}
    # The job they had started goes back into the pool (served by someone else or dropped with a reason).
    assert res.after.assignment().get(sick.job_id, "dropped") != tid
    assert sick.job_id in {j.id for j in res.after.problem.jobs}
    moves = res.moves.set_index("job_id")
    for jid in [v.job_id for v in plan.route(tid).visits if v.start > now]:
        assert res.after.assignment().get(jid) not in (tid,)
        if jid in moves.index:
            assert moves.loc[jid, "reason_code"] == MoveReason.TECHNICIAN_SICK
            assert moves.loc[jid, "reason"] == f"technician {tid} off sick"
        assert jid in res.after.assignment() or jid in {d.job_id for d in res.after.dropped}


def test_emergency_is_inserted_first_by_priority():
    techs = (Technician(id="T1", lat=40.0, lon=-75.0, skills={"hvac"}, break_minutes=0, overtime_minutes=0),)
    jobs = tuple(Job(id=f"J{i}", lat=40.0 + 0.01 * i, lon=-75.0, duration=110, skills={"hvac"}, revenue=200)
                 for i in range(4))
    plan = solve(RoutingProblem(technicians=techs, jobs=jobs), FAST)
    assert len(plan.assignment()) == 4
    emergency = Job(id="EM", lat=40.015, lon=-75.0, duration=90, skills={"hvac"}, revenue=400)
    res = reroute(plan, 485, [AddEmergency(job=emergency)], settings=FAST)
    assert res.after.validate() == []
    assert "EM" in res.after.assignment()
    assert res.after.visit("EM").start <= 485 + 120 + 60
    assert res.changes.set_index("job_id").loc["EM", "change"] == "new"
    bumped = res.changes[res.changes["change"] == "dropped"]
    assert len(bumped) >= 1 and bumped["reason"].str.startswith("capacity").all()
    assert (bumped["reason_code"] == "capacity").all()
    assert res.changes.loc[~res.changes["change"].isin(["dropped", "moved"]), "reason_code"].isna().all()


def test_delay_extends_the_started_job_and_shifts_etas(plan):
    now, started, _ = _now_with_started(plan)
    v = started[0]
    tid = plan.assignment()[v.job_id]
    res = reroute(plan, now, [Delay(technician_id=tid, minutes=45)], settings=FAST)
    assert res.after.validate() == []
    after = res.after.visit(v.job_id)
    assert after.start == v.start and after.end == v.end + 45
    nxt = res.after.route(tid).visits[1:]
    if nxt:
        assert nxt[0].arrival >= v.end + 45


def test_field_state_overrides_the_plan(plan):
    t = plan.routes[0]
    first = t.visits[0]
    res = reroute(plan, 485, [], states=[TechnicianState(technician_id=t.technician_id, done=(first.job_id,),
                                                          lat=40.3, lon=-75.2, break_taken=True)],
                  settings=FAST)
    assert res.after.validate() == []
    tech = res.after.problem.technician(t.technician_id)
    assert (tech.lat, tech.lon) == (40.3, -75.2) and tech.break_minutes == 0
    assert first.job_id in res.done[t.technician_id]
    summary = res.summary()
    assert summary["valid"] and summary["seconds"] > 0 and "cost_delta" in summary


def _two_vans():
    """T1's job X sits slightly nearer T2's base: moving it saves a few dollars of travel."""
    techs = (Technician(id="T1", lat=40.0, lon=-75.0, skills={"hvac"}, break_minutes=0),
             Technician(id="T2", lat=40.0, lon=-74.9, skills={"hvac"}, break_minutes=0))
    jobs = (Job(id="Y", lat=40.0, lon=-75.01, duration=60, skills={"hvac"}, revenue=300),
            Job(id="X", lat=40.0, lon=-74.94, duration=60, skills={"hvac"}, revenue=300),
            Job(id="Z", lat=40.0, lon=-74.89, duration=60, skills={"hvac"}, revenue=300))
    problem = RoutingProblem(technicians=techs, jobs=jobs)
    # The plan in force, as dispatched: X with T1 (a warm start kept as it is).
    return solve(problem, SolverSettings(time_limit_seconds=1.0, solution_limit=1, solver="ortools"),
                 initial_routes={"T1": ["Y", "X"], "T2": ["Z"]})


def test_jobs_stay_unless_moving_pays():
    plan = _two_vans()
    assert plan.assignment() == {"Y": "T1", "X": "T1", "Z": "T2"}
    free = reroute(plan, 470, [], settings=RerouteSettings(time_limit_seconds=0.6, move_cost=0))
    assert free.after.assignment()["X"] == "T2"  # without a move cost the few dollars win
    move = free.moves.set_index("job_id").loc["X"]
    assert move["reason_code"] == MoveReason.CHEAPER and move["reason"].startswith("cheaper by $")
    kept = reroute(plan, 470, [], settings=RerouteSettings(time_limit_seconds=0.6))
    assert kept.moved == [] and kept.after.assignment()["X"] == "T1"
    assert kept.after.validate() == [] and kept.summary()["moved"] == 0
    # A plain SolverSettings gets the default move cost too.
    assert reroute(plan, 470, [], settings=FAST).moved == []
    assert kept.after.kpis()["jobs_moved"] == 0 and free.after.kpis()["jobs_moved"] == 1


def test_locked_jobs_never_move():
    plan = _two_vans()
    cheap = RerouteSettings(time_limit_seconds=0.6, move_cost=0)
    locked = reroute(plan, 470, [Lock(job_id="X", technician_id="T1")], settings=cheap)
    assert locked.after.assignment()["X"] == "T1" and locked.moved == []
    assert locked.after.problem.job("X").pinned_technician == "T1" and locked.after.validate() == []
    # The lock holds through the next re-plan, and a lock elsewhere moves the job with its reason.
    again = reroute(locked.after, 475, [], settings=cheap)
    assert again.after.assignment()["X"] == "T1"
    to_t2 = reroute(plan, 470, [Lock(job_id="Y", technician_id="T2")], settings=RerouteSettings(time_limit_seconds=0.6))
    assert to_t2.after.assignment()["Y"] == "T2"
    assert to_t2.moves.set_index("job_id").loc["Y", "reason_code"] == MoveReason.LOCKED
    with pytest.raises(RerouteError, match="lock: technician 'T9'"):
        reroute(plan, 470, [Lock(job_id="X", technician_id="T9")], settings=cheap)
    # Its technician going home sick releases the lock: a relaxed rule, which validate() ties to it.
    sick = reroute(locked.after, 480, [TechnicianSick(technician_id="T1")], settings=cheap)
    assert sick.after.assignment().get("X") in ("T2", None)
    assert [(r.rule, r.reason_code, r.job_ids) for r in sick.after.relaxations] == [
        ("pinned", RelaxReason.LOCKED_TECHNICIAN_GONE, ("X",))]
    violations = sick.after.validate()
    assert all(v.relaxation == RelaxReason.LOCKED_TECHNICIAN_GONE and v.job_id == "X" for v in violations)
    assert len(violations) == (1 if "X" in sick.after.assignment() else 0)


def test_technician_mid_drive_continues_from_the_road(plan):
    """Between two stops the technician starts from the interpolated point, not from the last stop."""
    from quantlib.ops.plan import job_key

    jobs = {j.id: j for j in plan.problem.jobs}
    for r in plan.routes:
        for prev, nxt in zip(r.visits, r.visits[1:]):
            leg = plan.travel.time(job_key(prev.job_id), job_key(nxt.job_id))
            leave = nxt.arrival - leg
            if leg >= 10 and leave >= prev.end:
                now = int(leave + leg / 2)
                a, b = jobs[prev.job_id], jobs[nxt.job_id]
                share = (now - leave) / leg
                res = reroute(plan, now, [], settings=FAST)
                tech = res.after.problem.technician(r.technician_id)
                assert tech.lat == pytest.approx(a.lat + share * (b.lat - a.lat))
                assert tech.lon == pytest.approx(a.lon + share * (b.lon - a.lon))
                assert (tech.lat, tech.lon) != (a.lat, a.lon) and tech.available_from >= now
                assert res.after.validate() == []
                return
    pytest.skip("no drive of 10 minutes or more between two stops")


def test_lunch_window_passed_is_a_relaxation_that_validate_reports(plan):
    """A re-plan after the lunch window closed owes the break later: the relaxed plan solves,
    and validate() checks the rules as given, reporting the late lunch tied to its relaxation."""
    now = 14 * 60 + 30  # after every technician's latest lunch start (14:00)
    # The field reports that T0 skipped lunch (the plan had it in the window).
    late = reroute(plan, now, [], states=[TechnicianState(technician_id="T0", break_taken=False)],
                   settings=FAST)
    owed = {t.id for t in late.after.problem.technicians if t.break_minutes > 0}
    assert owed == {"T0"}
    relaxed = [r for r in late.after.relaxations if r.reason_code == RelaxReason.BREAK_WINDOW_PASSED]
    assert owed and {r.technician_ids[0] for r in relaxed} == owed
    assert all(r.rule == "break" and "closed before the re-plan" in r.reason for r in relaxed)
    violations = late.after.validate()
    breaks = [v for v in violations if v.kind == "break"]
    # Every owed lunch now starts after the window closed: against the rules as given it is broken.
    assert {v.technician_id for v in breaks} == {
        r.technician_id for r in late.after.routes if r.technician_id in owed and r.visits}
    assert all(v.relaxation == RelaxReason.BREAK_WINDOW_PASSED and "rule relaxed" in v.message for v in breaks)
    assert all(v.relaxation is not None for v in violations)
    assert late.after.kpis()["relaxed_by_reason"] == {"break_window_passed": len(relaxed)}
