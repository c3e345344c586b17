"""solve(): brute-force optima on tiny instances, infeasible input reported with reasons, determinism."""

import itertools
import math

import numpy as np
import pytest

from quantlib.errors import DropReason
from quantlib.ops.problem import Job, Objective, RoutingProblem, Technician
from quantlib.ops.routing import SolverSettings, problem_matrix, solve

FAST = SolverSettings(time_limit_seconds=1.0)
ORTOOLS = SolverSettings(time_limit_seconds=1.0, solver="ortools")  # tests of the OR-Tools path itself


def _random_problem(seed, n_jobs=6, tight=False):
    rng = np.random.default_rng(seed)
    techs = tuple(
        Technician(id=f"T{k}", lat=40 + rng.uniform(-0.1, 0.1), lon=-75 + rng.uniform(-0.1, 0.1),
                   skills={"hvac", "plumbing"} if k == 0 else {"hvac"}, break_minutes=0,
                   shift_minutes=300 if tight else 480, overtime_minutes=0)
        for k in range(2))
    jobs = []
    for i in range(n_jobs):
        start = int(rng.integers(480, 800))
        jobs.append(Job(id=f"J{i}", lat=40 + rng.uniform(-0.15, 0.15), lon=-75 + rng.uniform(-0.15, 0.15),
                        duration=int(rng.integers(30, 120)), skills={"plumbing" if i % 3 == 0 else "hvac"},
                        window_start=start, window_end=start + int(rng.integers(60, 240)),
                        revenue=float(rng.uniform(100, 400))))
    obj = Objective(fairness=0.0)
    return RoutingProblem(technicians=techs, jobs=tuple(jobs), objective=obj)


def _brute_force(problem):
    """Cheapest plan by enumeration: every split of the jobs into tech 0 / tech 1 / dropped, every order."""
    tm = problem_matrix(problem)
    obj = problem.objective
    techs = problem.technicians
    jobs = problem.jobs

    def route_cost(t, seq):
        keys = [f"start:{t.id}"] + [f"job:{j.id}" for j in seq] + [f"end:{t.id}"]
        now = t.departure
        for a, b, j in zip(keys, keys[1:], list(seq) + [None]):
            now += math.ceil(tm.time(a, b) - 1e-9)
            if j is not None:
                if not problem.can_serve(t, j) or now > j.window_end:
                    return None
                now = max(now, j.window_start) + j.duration
        if now > t.latest_end:
            return None
        return sum(obj.travel_cost_per_minute * tm.time(a, b) + obj.fuel_cost_per_mile * tm.distance(a, b)
                   for a, b in zip(keys, keys[1:]))

    best_for = [{}, {}]
    for v, t in enumerate(techs):
        for r in range(len(jobs) + 1):
            for subset in itertools.combinations(range(len(jobs)), r):
                costs = [route_cost(t, [jobs[i] for i in perm]) for perm in itertools.permutations(subset)]
                costs = [c for c in costs if c is not None]
                if costs:
                    best_for[v][frozenset(subset)] = min(costs) if subset else 0.0
    best = math.inf
    for labels in itertools.product(range(3), repeat=len(jobs)):
        s0 = frozenset(i for i, lab in enumerate(labels) if lab == 0)
        s1 = frozenset(i for i, lab in enumerate(labels) if lab == 1)
        if s0 not in best_for[0] or s1 not in best_for[1]:
            continue
        penalty = sum(obj.drop_penalty(jobs[i]) for i, lab in enumerate(labels) if lab == 2)
        best = min(best, best_for[0][s0] + best_for[1][s1] + penalty)
    return best


@pytest.mark.parametrize("seed,tight", [(1, False), (2, False), (3, True)])
def test_tiny_instances_reach_the_brute_force_optimum(seed, tight):
    problem = _random_problem(seed, tight=tight)
    plan = solve(problem, FAST)
    assert plan.validate() == []
    k = plan.kpis()
    got = k["operating_cost"] + k["drop_penalty"]
    # The solver's arc costs are rounded to cents: allow a cent per arc.
    assert got == pytest.approx(_brute_force(problem), abs=0.01 * 10)


def test_infeasible_jobs_are_reported_with_reasons():
    techs = (Technician(id="T1", lat=40.0, lon=-75.0, skills={"hvac"}, equipment={"heavy"}),)
    jobs = (
        Job(id="ok", lat=40.01, lon=-75.01, duration=60, skills={"hvac"}),
        Job(id="noskill", lat=40.01, lon=-75.02, duration=60, skills={"roofing"}),
        Job(id="noequip", lat=40.02, lon=-75.01, duration=60, skills={"hvac"}, equipment={"lift"}),
        Job(id="closed", lat=40.5, lon=-75.5, duration=60, skills={"hvac"}, window_start=300, window_end=485),
        Job(id="toolong", lat=40.02, lon=-75.02, duration=700, skills={"hvac"}),
    )
    plan = solve(RoutingProblem(technicians=techs, jobs=jobs), FAST)
    assert plan.validate() == []
    reasons = {d.job_id: d.reason for d in plan.dropped}
    assert set(reasons) == {"noskill", "noequip", "closed", "toolong"}
    assert reasons["noskill"].startswith("no skilled technician") and "roofing" in reasons["noskill"]
    assert reasons["noequip"].startswith("no van carries the equipment") and "lift" in reasons["noequip"]
    assert reasons["closed"].startswith("window closed")
    assert reasons["toolong"].startswith("does not fit in any shift")
    assert plan.assignment() == {"ok": "T1"}
    codes = {d.job_id: d.reason_code for d in plan.dropped}
    assert codes == {"noskill": DropReason.NO_SKILLED_TECHNICIAN, "noequip": DropReason.MISSING_EQUIPMENT,
                     "closed": DropReason.WINDOW_UNREACHABLE, "toolong": DropReason.OUTSIDE_SHIFT}
    # Reports count by code, never by splitting the message.
    assert plan.kpis()["dropped_by_reason"] == {"no_skilled_technician": 1, "missing_equipment": 1,
                                                "window_unreachable": 1, "outside_shift": 1}
    assert list(plan.dropped_frame()["reason_code"]) == ["no_skilled_technician", "missing_equipment",
                                                         "window_unreachable", "outside_shift"]


def test_pinned_to_an_unskilled_technician_is_no_skilled_technician():
    techs = (Technician(id="T1", lat=40.0, lon=-75.0, skills={"hvac"}),
             Technician(id="T2", lat=40.0, lon=-75.0, skills={"plumbing"}))
    job = Job(id="p", lat=40.01, lon=-75.01, duration=60, skills={"hvac"}, pinned_technician="T2")
    plan = solve(RoutingProblem(technicians=techs, jobs=(job,)), FAST)
    assert plan.dropped[0].reason_code == DropReason.NO_SKILLED_TECHNICIAN and "pinned to T2" in plan.dropped[0].reason


def test_no_feasible_plan_has_its_own_code(monkeypatch):
    """When the OR-Tools search returns nothing, every screened job is dropped as no_feasible_plan."""
    import quantlib.ops.routing as routing_module

    monkeypatch.setattr(routing_module, "run_search", lambda *args, **kwargs: (None, False))
    problem = _random_problem(1)
    plan = solve(problem, ORTOOLS)
    assert plan.routes == [] and len(plan.dropped) == len(problem.jobs)
    assert {d.reason_code for d in plan.dropped} == {DropReason.NO_FEASIBLE_PLAN}
    assert plan.validate() == []


def test_capacity_drop_keeps_the_more_valuable_job():
    techs = (Technician(id="T1", lat=40.0, lon=-75.0, skills={"hvac"}, break_minutes=0, overtime_minutes=0),)
    jobs = (
        Job(id="cheap", lat=40.01, lon=-75.01, duration=300, skills={"hvac"}, revenue=200),
        Job(id="emergency", lat=40.02, lon=-75.01, duration=300, skills={"hvac"}, revenue=200,
            priority="emergency", hard_window=False, window_start=480, window_end=600),
    )
    plan = solve(RoutingProblem(technicians=techs, jobs=jobs), FAST)
    assert plan.validate() == []
    assert plan.assignment() == {"emergency": "T1"}
    assert [d.job_id for d in plan.dropped] == ["cheap"]
    assert plan.dropped[0].reason.startswith("capacity") and plan.dropped[0].reason_code == DropReason.CAPACITY


def test_no_technicians_drops_everything_with_reason():
    plan = solve(RoutingProblem(technicians=(), jobs=(Job(id="a", lat=40, lon=-75, duration=30),)), FAST)
    assert [d.job_id for d in plan.dropped] == ["a"] and plan.dropped[0].reason
    assert plan.dropped[0].reason_code == DropReason.NO_SKILLED_TECHNICIAN
    assert plan.validate() == []


def test_deterministic_with_a_solution_limit():
    problem = _random_problem(7, n_jobs=12)
    settings = SolverSettings(time_limit_seconds=30, solution_limit=300)
    a, b = solve(problem, settings), solve(problem, settings)
    assert a.stats["seconds"] < 15  # stopped by the solution limit, not the clock
    assert [(r.technician_id, [v.job_id for v in r.visits], [v.start for v in r.visits]) for r in a.routes] == \
        [(r.technician_id, [v.job_id for v in r.visits], [v.start for v in r.visits]) for r in b.routes]
    assert a.kpis()["objective"] == b.kpis()["objective"]


def test_overtime_is_used_at_a_cost_and_lunch_fits():
    techs = (Technician(id="T1", lat=40.0, lon=-75.0, skills={"hvac"}, overtime_minutes=120,
                        overtime_cost_per_minute=0.75),)
    jobs = tuple(Job(id=f"J{i}", lat=40 + 0.01 * i, lon=-75.0, duration=110, skills={"hvac"}, revenue=500)
                 for i in range(4))
    plan = solve(RoutingProblem(technicians=techs, jobs=jobs), FAST)
    assert plan.validate() == []
    k = plan.kpis()
    assert k["jobs_served"] == 4
    assert k["overtime_minutes"] > 0 and k["overtime_cost"] == pytest.approx(0.75 * k["overtime_minutes"])
    assert plan.routes[0].break_start is not None


def test_plan_summary_from_the_warehouse(demo_lake):
    import duckdb

    from quantlib.ops.routing import plan_summary

    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        day = con.execute("""SELECT scheduled_start::DATE d FROM jobs WHERE status = 'scheduled'
                             GROUP BY d ORDER BY count(*) DESC, d LIMIT 1""").fetchone()[0]
        expected = con.execute("""SELECT count(*) FROM jobs WHERE scheduled_start::DATE BETWEEN ? AND ? + 1
                                  AND status IN ('scheduled', 'completed')""", [day, day]).fetchone()[0]
        s = plan_summary(con, day, days=2, settings=SolverSettings(time_limit_seconds=1.0, solution_limit=200))
    finally:
        con.close()
    assert s["jobs"] == expected == sum(d["jobs"] for d in s["by_day"])
    assert s["jobs_served"] + s["jobs_dropped"] == s["jobs"]
    assert s["drive_minutes"] == pytest.approx(sum(d["drive_minutes"] for d in s["by_day"]))
    assert sum(s["dropped_by_reason"].values()) == s["jobs_dropped"]
    assert set(s["dropped_by_reason"]) <= {code.value for code in DropReason}
    assert 0 < s["utilisation"] < 1.5 and s["drive_minutes_per_job"] > 0


def test_schedule_route_agrees_with_validate():
    """Every order schedule_route accepts (with times and the break) passes validate()."""
    from quantlib.ops.plan import DroppedJob, RoutePlan
    from quantlib.ops.routing import schedule_route

    rng = np.random.default_rng(5)
    tech = Technician(id="T", lat=40.0, lon=-75.0, skills={"hvac"}, break_minutes=30, overtime_minutes=60)
    jobs = tuple(Job(id=f"J{i}", lat=40 + rng.uniform(-0.1, 0.1), lon=-75 + rng.uniform(-0.1, 0.1),
                     duration=int(rng.integers(45, 120)), skills={"hvac"},
                     window_start=int(w), window_end=int(w) + 180)
                 for i, w in enumerate(rng.integers(480, 840, 6)))
    problem = RoutingProblem(technicians=(tech,), jobs=jobs)
    tm = problem_matrix(problem)
    accepted = 0
    for _ in range(60):
        order = list(rng.permutation(len(jobs))[: int(rng.integers(1, 6))])
        seq = [jobs[i] for i in order]
        route = schedule_route(tech, seq, tm)
        if route is None:
            continue
        accepted += 1
        served = {j.id for j in seq}
        plan = RoutePlan(problem, tm, [route],
                         [DroppedJob(j.id, "capacity", "capacity") for j in jobs if j.id not in served])
        assert plan.validate() == [], (order, plan.validate())
    assert accepted >= 10


def test_large_instance_path_times_first_phase_routes(monkeypatch):
    """Above BREAK_MODEL_MAX_SIZE the routes of the search without breaks are repaired and timed directly."""
    import quantlib.ops.routing as routing_module

    monkeypatch.setattr(routing_module, "BREAK_MODEL_MAX_SIZE", 1)
    techs = tuple(Technician(id=f"T{k}", lat=40 + 0.02 * k, lon=-75.0, skills={"hvac"}, end_lat=40.2,
                             end_lon=-75.1) for k in range(2)) + (Technician(id="idle", lat=40, lon=-75, end_lat=40.3,
                                                                        end_lon=-75.2),)
    jobs = tuple(Job(id=f"J{i}", lat=40 + 0.01 * i, lon=-75.0 + 0.01 * (i % 3), duration=90, skills={"hvac"},
                     revenue=300) for i in range(10))
    plan = solve(RoutingProblem(technicians=techs, jobs=jobs), ORTOOLS)
    assert plan.stats["status"].startswith("first phase routes")
    assert plan.validate() == []
    assert len(plan.assignment()) >= 6
    assert all(r.break_start is not None for r in plan.routes if r.visits)
    assert all(d.reason_code == DropReason.CAPACITY for d in plan.dropped)


def test_deterministic_with_breaks_two_phase():
    techs = tuple(Technician(id=f"T{k}", lat=40 + 0.03 * k, lon=-75.0, skills={"hvac"}) for k in range(2))
    jobs = tuple(Job(id=f"J{i}", lat=40 + 0.01 * i, lon=-75.0 + 0.01 * (i % 3), duration=60 + 15 * (i % 4),
                     skills={"hvac"}, revenue=250) for i in range(10))
    problem = RoutingProblem(technicians=techs, jobs=jobs)
    settings = SolverSettings(time_limit_seconds=30, solution_limit=12)
    a, b = solve(problem, settings), solve(problem, settings)
    assert a.stats["seconds"] < 15 and a.validate() == []  # stopped by the solution limit
    assert [(r.technician_id, [(v.job_id, v.start) for v in r.visits], r.break_start) for r in a.routes] == \
        [(r.technician_id, [(v.job_id, v.start) for v in r.visits], r.break_start) for r in b.routes]


def test_insert_unserved_puts_back_what_fits_most_valuable_first():
    from quantlib.ops.routing import insert_unserved, route_fits

    tech = Technician(id="T", lat=40.0, lon=-75.0, skills={"hvac"}, overtime_minutes=0, break_minutes=30)
    jobs = (Job(id="A", lat=40.01, lon=-75.0, duration=120, skills={"hvac"}, revenue=100),
            Job(id="B", lat=40.02, lon=-75.0, duration=200, skills={"hvac"}, revenue=100),
            Job(id="C", lat=40.03, lon=-75.0, duration=200, skills={"hvac"}, revenue=900),
            Job(id="D", lat=40.03, lon=-75.0, duration=60, skills={"plumbing"}, revenue=5000))
    problem = RoutingProblem(technicians=(tech,), jobs=jobs)
    tm = problem_matrix(problem)
    routes = insert_unserved(problem, {"T": ["A"]}, tm)
    assert "C" in routes["T"] and "D" not in routes["T"]  # C before B (higher penalty); D needs plumbing
    assert route_fits(tech, [problem.job(i) for i in routes["T"]], tm)
    assert "B" not in routes["T"]  # a 200-min job no longer fits in the 8-h shift with A, C and lunch
