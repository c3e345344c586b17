"""The PyVRP engine of solve(): the product's constraints mapped to PyVRP, the solver choices, the polish."""

import pytest

from quantlib.errors import DropReason
from quantlib.ops.problem import Job, Objective, RoutingProblem, Technician
from quantlib.ops.pyvrp_search import build_data
from quantlib.ops.routing import SolverSettings, problem_matrix, solve

PYVRP = SolverSettings(time_limit_seconds=0.5, solver="pyvrp")
AUTO = SolverSettings(time_limit_seconds=1.0, solver="auto")


def _tech(tid, lat=40.0, lon=-75.0, **kw):
    return Technician(id=tid, lat=lat, lon=lon, **{"break_minutes": 0, "skills": {"hvac"}, **kw})


def _job(jid, lat, lon=-75.0, **kw):
    return Job(id=jid, lat=lat, lon=lon, **{"duration": 30, "skills": {"hvac"}, "revenue": 300, **kw})


def test_skills_are_respected_and_identical_technicians_share_a_vehicle_type():
    techs = (_tech("A"), _tech("B"), _tech("P", skills={"hvac", "plumbing"}))
    jobs = tuple(_job(f"J{i}", 40 + 0.01 * i, skills={"plumbing" if i % 2 else "hvac"}) for i in range(8))
    problem = RoutingProblem(technicians=techs, jobs=jobs, objective=Objective(fairness=0))
    tm = problem_matrix(problem)
    data, type_techs = build_data(problem, list(jobs), list(techs), tm)
    # A and B are alike (same home, shift, skills): one type of two vans; P has its own type and profile.
    assert [[t.id for t in members] for members in type_techs] == [["A", "B"], ["P"]]
    assert data.num_profiles == 2
    plan = solve(problem, PYVRP)
    assert plan.validate() == []
    served_by = plan.assignment()
    assert all(served_by.get(f"J{i}") == "P" for i in range(1, 8, 2))  # plumbing: only P may
    assert len(served_by) == 8


def test_time_windows_and_own_start_and_end_depots():
    techs = (_tech("A", end_lat=40.2, end_lon=-75.2), _tech("B", lat=40.3, lon=-75.3))
    jobs = (_job("early", 40.05, window_start=480, window_end=520),
            _job("late", 40.06, window_start=900, window_end=930),
            _job("noon", 40.25, -75.25, window_start=700, window_end=720))
    plan = solve(RoutingProblem(technicians=techs, jobs=jobs), PYVRP)
    assert plan.validate() == []
    assert len(plan.assignment()) == 3
    for r in plan.routes:
        t = plan.problem.technician(r.technician_id)
        assert r.start_location == (t.lat, t.lon) and r.end_location == t.end_location
    starts = {v.job_id: v.start for r in plan.routes for v in r.visits}
    assert 480 <= starts["early"] <= 520 and 900 <= starts["late"] <= 930 and 700 <= starts["noon"] <= 720


def test_optional_jobs_are_dropped_cheapest_first_with_reasons():
    # One technician, 4 h of work for a 1-h shift (no overtime): only the most valuable job fits,
    # and one job needs a skill nobody has.
    tech = _tech("A", shift_minutes=60, overtime_minutes=0)
    jobs = (_job("cheap", 40.01, duration=40, revenue=120), _job("dear", 40.012, duration=40, revenue=900),
            _job("mid", 40.011, duration=40, revenue=300), _job("gas", 40.01, skills={"gas"}))
    plan = solve(RoutingProblem(technicians=(tech,), jobs=jobs), PYVRP)
    assert plan.validate() == []
    assert list(plan.assignment()) == ["dear"]
    reasons = {d.job_id: d.reason_code for d in plan.dropped}
    assert reasons == {"cheap": DropReason.CAPACITY, "mid": DropReason.CAPACITY,
                       "gas": DropReason.NO_SKILLED_TECHNICIAN}


def test_priorities_decide_what_is_dropped():
    tech = _tech("A", shift_minutes=90, overtime_minutes=0)
    jobs = (_job("routine", 40.01, duration=50, revenue=400),
            _job("emergency", 40.011, duration=50, revenue=100, priority="emergency"))
    plan = solve(RoutingProblem(technicians=(tech,), jobs=jobs), PYVRP)
    # Drop penalties: 400 x 1 vs max(100, floor 100) x 10 = 1,000: the emergency stays.
    assert list(plan.assignment()) == ["emergency"] and plan.validate() == []


def test_overtime_is_paid_for_and_bounded():
    # 4 jobs of 40 min and 5 drives of about 6 min need about 3 h 10: past the 2-h shift, within its
    # 90 min of overtime; a fifth job does not fit.
    tech = _tech("A", shift_minutes=120, overtime_minutes=90, overtime_cost_per_minute=0.75)
    jobs = tuple(_job(f"J{i}", 40 + 0.005 * i, duration=40, revenue=500) for i in range(5))
    plan = solve(RoutingProblem(technicians=(tech,), jobs=jobs), PYVRP)
    assert plan.validate() == []
    k = plan.kpis()
    assert 0 < k["overtime_minutes"] <= 90 and k["jobs_served"] == 4
    assert k["overtime_cost"] == pytest.approx(0.75 * k["overtime_minutes"])


def test_van_capacity_is_respected_by_both_engines():
    techs = (_tech("A", capacity=5), _tech("B", capacity=5))
    jobs = tuple(_job(f"J{i}", 40 + 0.01 * i, demand=2, duration=20) for i in range(6))
    for solver in ("pyvrp", "ortools"):
        plan = solve(RoutingProblem(technicians=techs, jobs=jobs),
                     SolverSettings(time_limit_seconds=0.5, solver=solver))
        assert plan.validate() == [], solver
        loads = [sum(2 for _ in r.visits) for r in plan.routes]
        assert max(loads) <= 5 and len(plan.assignment()) == 4, (solver, loads)


def test_capacity_violation_is_reported_by_validate():
    from quantlib.ops.plan import RoutePlan
    from quantlib.ops.routing import timed_routes

    tech = _tech("A", capacity=3)
    jobs = (_job("J0", 40.01, demand=2), _job("J1", 40.02, demand=2))
    problem = RoutingProblem(technicians=(tech,), jobs=jobs)
    tm = problem_matrix(problem)
    routes = timed_routes([tech.model_copy(update={"capacity": None})], list(jobs), {"A": ["J0", "J1"]}, tm)
    kinds = [v.kind for v in RoutePlan(problem, tm, routes, []).validate()]
    assert kinds == ["capacity"]


def test_started_job_keeps_its_technician_and_start():
    techs = (_tech("A"), _tech("B", lat=40.1))
    jobs = (_job("started", 40.1, pinned_technician="A", pinned_start=600, duration=60),
            _job("other", 40.02))
    plan = solve(RoutingProblem(technicians=techs, jobs=jobs), PYVRP)
    assert plan.validate() == []
    v = plan.visit("started")
    assert plan.assignment()["started"] == "A" and v.start == 600


def test_lunch_breaks_via_the_ortools_polish():
    techs = tuple(Technician(id=f"T{k}", lat=40 + 0.03 * k, lon=-75.0, skills={"hvac"}) for k in range(2))
    jobs = tuple(_job(f"J{i}", 40 + 0.01 * i, -75.0 + 0.01 * (i % 3), duration=60 + 15 * (i % 4), revenue=250)
                 for i in range(10))
    problem = RoutingProblem(technicians=techs, jobs=jobs)
    for solver in ("pyvrp", "auto"):
        plan = solve(problem, SolverSettings(time_limit_seconds=1.0, solver=solver))
        assert plan.validate() == [], solver
        assert all(r.break_start is not None for r in plan.routes if r.visits), solver
    assert plan.stats["polish"] == "ortools"  # auto: OR-Tools searched from PyVRP's routes
    assert plan.stats["engine"] in ("pyvrp", "pyvrp+ortools")


def test_soft_window_served_late_when_that_beats_dropping_it():
    # The emergency's target (08:05) cannot be met: its start is 30 miles away. PyVRP searches it
    # as hard at the target and cannot serve it; the plan still serves it, late, at its lateness cost.
    tech = _tech("A")
    jobs = (_job("far", 40.43, window_start=480, window_end=485, hard_window=False, priority="emergency",
                 lateness_cost_per_minute=1.0),)
    for solver in ("pyvrp", "auto"):
        plan = solve(RoutingProblem(technicians=(tech,), jobs=jobs),
                     SolverSettings(time_limit_seconds=0.5, solver=solver))
        assert plan.validate() == [], solver
        assert plan.assignment() == {"far": "A"}, solver
        assert plan.kpis()["late_minutes"] > 0


def test_solver_choice_is_recorded_and_ortools_never_runs_pyvrp(monkeypatch):
    import quantlib.ops.pyvrp_search as engine

    techs = (_tech("A"), _tech("B", lat=40.1))
    jobs = tuple(_job(f"J{i}", 40 + 0.01 * i) for i in range(6))
    problem = RoutingProblem(technicians=techs, jobs=jobs)
    assert solve(problem, PYVRP).stats["engine"] == "pyvrp"

    def boom(*args, **kwargs):
        raise AssertionError("PyVRP ran under solver='ortools'")

    monkeypatch.setattr(engine, "pyvrp_routes", boom)
    plan = solve(problem, SolverSettings(time_limit_seconds=0.5, solver="ortools"))
    assert plan.stats["engine"] == "ortools" and plan.validate() == []
    with pytest.raises(AssertionError, match="PyVRP ran"):
        solve(problem, PYVRP)
    with pytest.raises(ValueError):
        SolverSettings(solver="gurobi")


def test_iteration_limit_makes_the_search_reproducible():
    techs = tuple(_tech(f"T{k}", lat=40 + 0.02 * k) for k in range(3))
    jobs = tuple(_job(f"J{i}", 40 + 0.007 * i, -75 + 0.01 * (i % 4), window_start=480 + 20 * (i % 5),
                      window_end=700 + 20 * (i % 5)) for i in range(20))
    problem = RoutingProblem(technicians=techs, jobs=jobs)
    settings = SolverSettings(time_limit_seconds=30, solver="pyvrp", iteration_limit=300, seed=3)
    a, b = solve(problem, settings), solve(problem, settings)
    assert a.stats["pyvrp_iterations"] == 300 and a.stats["seconds"] < 15
    assert [(r.technician_id, [v.job_id for v in r.visits]) for r in a.routes] == \
        [(r.technician_id, [v.job_id for v in r.visits]) for r in b.routes]
    assert SolverSettings(solution_limit=10).pyvrp_iterations is not None  # reproducible with either engine


def test_warm_start_becomes_pyvrp_routes_of_the_right_technicians():
    from quantlib.ops.pyvrp_search import _initial_solution

    techs = (_tech("A"), _tech("B"), _tech("C", lat=40.1))  # A and B share a vehicle type
    jobs = [_job(f"J{i}", 40 + 0.01 * i) for i in range(6)]
    problem = RoutingProblem(technicians=techs, jobs=tuple(jobs))
    data, type_techs = build_data(problem, jobs, list(techs), problem_matrix(problem))
    warm = {"B": ["J5", "J0", "unknown"], "C": ["J2", "J0", "J3"]}  # J0 twice: kept where it comes first
    solution = _initial_solution(data, jobs, type_techs, warm)
    got = [(r.vehicle_type(), [a.idx for a in r if a.is_client()]) for r in solution.routes()]
    assert got == [(0, [5, 0]), (1, [2, 3])]


def test_move_cost_keeps_jobs_with_their_technician():
    techs = (_tech("T1"), _tech("T2", lon=-74.9))
    # X is a little nearer T2's base; it is T1's in the plan in force.
    jobs = (_job("Y", 40.0, -75.01, duration=60), _job("X", 40.0, -74.94, duration=60, current_technician="T1"),
            _job("Z", 40.0, -74.89, duration=60))
    free = RoutingProblem(technicians=techs, jobs=jobs, objective=Objective(fairness=0))
    priced = free.replace(objective=Objective(fairness=0, move_cost=20))
    assert solve(free, PYVRP).assignment()["X"] == "T2"
    assert solve(priced, PYVRP).assignment()["X"] == "T1"


def test_required_job_is_a_required_client_and_served_before_a_dearer_optional_one():
    # One technician, room for one 40-minute job: the required job is served although the optional
    # one is worth more; build_data marks only it as a required PyVRP client.
    tech = _tech("A", shift_minutes=60, overtime_minutes=0)
    jobs = (_job("must", 40.01, duration=40, revenue=10, required=True),
            _job("dear", 40.011, duration=40, revenue=900))
    problem = RoutingProblem(technicians=(tech,), jobs=jobs)
    data, _ = build_data(problem, list(jobs), [tech], problem_matrix(problem))
    assert [c.required for c in data.clients()] == [True, False]
    for settings in (PYVRP, SolverSettings(time_limit_seconds=0.5, solver="ortools")):
        plan = solve(problem, settings)
        assert plan.validate() == []
        assert list(plan.assignment()) == ["must"]


def test_insert_unserved_puts_a_required_job_back_whatever_it_costs():
    from quantlib.ops.routing import insert_unserved

    tech = _tech("A")
    far = _job("far", 40.3, revenue=0, required=True)  # its detour costs more than its drop penalty
    problem = RoutingProblem(technicians=(tech,), jobs=(far,), objective=Objective(min_drop_penalty=1.0))
    routes = insert_unserved(problem, {"A": []}, problem_matrix(problem))
    assert routes["A"] == ["far"]
    optional = problem.replace(jobs=(far.model_copy(update={"required": False}),))
    assert insert_unserved(optional, {"A": []}, problem_matrix(optional))["A"] == []
