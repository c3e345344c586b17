"""Weekly CP-SAT scheduling: every constraint can fail validate(), tiny instances equal brute force."""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import pandas as pd
import pytest

from quantlib.errors import DropReason
from quantlib.ops.problem import Job, Technician
from quantlib.ops.weekly import (
    LabourRules,
    WeeklyProblem,
    company_workdays,
    greedy_week,
    solve_week,
    week_problem_from_gold,
)

MONDAY = dt.date(2024, 6, 3)


def tech(tid, skills=("hvac",), cert=2, lat=39.80, lon=-89.65, days=tuple(range(7)), weekly=40.0, rate=40.0):
    return Technician(id=tid, skills=frozenset(skills), certification=cert, hourly_rate=rate, weekly_hours=weekly,
                      lat=lat, lon=lon, available_days=days, name=tid)


def job(jid, skill="hvac", hours=2.0, lat=39.80, lon=-89.60, lo=0, hi=6, req=None, cert=1, pref=None,
        urgency="routine", revenue=400.0):
    return Job(id=jid, skills=frozenset({skill}), duration=round(hours * 60), lat=lat, lon=lon, revenue=revenue,
               earliest_day=lo, latest_day=hi, requested_day=req, min_certification=cert, material_cost=50.0,
               preferred_technician=pref, priority=urgency)


def tiny_problem():
    techs = [tech("A", days=(0, 1)), tech("B", skills=("hvac", "plumbing"), cert=3, lon=-89.40, days=(0, 1), rate=55.0)]
    jobs = [job("J1", hours=5, req=0, pref="A"),
            job("J3", skill="plumbing", hours=3, req=0, cert=2), job("J4", hours=6, req=0, urgency="urgent"),
            job("J5", hours=7, lon=-89.42, pref="B")]
    return WeeklyProblem(MONDAY, techs, jobs, rules=LabourRules(daily_max_hours=8, max_days_per_week=2,
                                                                 max_consecutive_days=2))


def brute_force(problem):
    options = [[None] + problem.options(j) for j in range(len(problem.jobs))]
    best = None
    for combo in itertools.product(*options):
        chosen = {j: o for j, o in enumerate(combo) if o is not None}
        # Feasibility checked by the plan's own validate(), value by the shared objective.
        from quantlib.ops.weekly import _plan_from
        plan = _plan_from(problem, chosen, "BRUTE", 0.0, "brute", (DropReason.OUTSCORED, "dropped"))
        if plan.validate():
            continue
        value = problem.objective(chosen)
        best = value if best is None else max(best, value)
    return best


def test_tiny_instance_equals_brute_force():
    problem = tiny_problem()
    plan = solve_week(problem, time_limit=10)
    assert plan.status == "OPTIMAL"
    assert plan.validate() == []
    assert plan.objective() == brute_force(problem)


def test_tiny_instance_with_rest_rule_equals_brute_force():
    problem = tiny_problem()
    problem.rules = LabourRules(daily_max_hours=8, max_days_per_week=1, max_consecutive_days=1)
    plan = solve_week(problem, time_limit=10)
    assert plan.validate() == []
    assert plan.objective() == brute_force(problem)
    assert plan.assignments.groupby("technician_id")["day"].nunique().max() <= 1


def test_greedy_is_feasible_and_not_better_than_cp_sat():
    problem = tiny_problem()
    greedy, best = greedy_week(problem), solve_week(problem, time_limit=10)
    assert greedy.validate() == []
    assert greedy.objective() <= best.objective()


def _broken(plan, **changes):
    """A copy of the plan with the first assignment's fields changed by hand."""
    a = plan.assignments.copy()
    for k, v in changes.items():
        a.loc[a.index[0], k] = v
    return type(plan)(plan.problem, a, plan.unassigned, plan.status, 0.0, "hand")


def _base_plan(jobs, techs, rules=None):
    problem = WeeklyProblem(MONDAY, techs, jobs, rules=rules or LabourRules())
    plan = solve_week(problem, time_limit=5)
    assert plan.validate() == []
    return plan


def test_each_constraint_can_fail_validate():
    techs = [tech("A", skills=("hvac",), cert=1, days=(0, 1, 2)), tech("B", skills=("plumbing",), cert=3)]
    plan = _base_plan([job("J1", lo=1, hi=1, cert=1)], techs)
    assert plan.assignments.loc[0, "technician_id"] == "A"
    assert any("lacks the skill" in p for p in _broken(plan, technician_id="B").validate())
    assert any("not available" in p for p in _broken(plan, day=5).validate())
    assert any("outside its window" in p for p in _broken(plan, day=2).validate())
    assert any("unknown technician" in p for p in _broken(plan, technician_id="Z").validate())
    # certification
    cert_plan = _base_plan([job("J1", skill="plumbing", cert=3)], techs)
    broken = WeeklyProblem(MONDAY, [techs[0], tech("B", skills=("plumbing",), cert=2)], cert_plan.problem.jobs)
    assert any("certification" in p for p in type(cert_plan)(broken, cert_plan.assignments, cert_plan.unassigned,
                                                            "hand", 0, "hand").validate())
    # assigned twice / lost / both
    twice = pd.concat([plan.assignments, plan.assignments], ignore_index=True)
    assert any("assigned 2 times" in p for p in type(plan)(plan.problem, twice, plan.unassigned, "", 0, "").validate())
    lost = plan.assignments.iloc[0:0]
    assert any("neither assigned" in p for p in type(plan)(plan.problem, lost, plan.unassigned, "", 0, "").validate())


def test_hours_and_rest_rules_can_fail_validate():
    techs = [tech("A", days=tuple(range(7)), weekly=40)]
    jobs = [job(f"J{d}", hours=3, lo=d, hi=d) for d in range(5)]
    plan = _base_plan(jobs, techs, LabourRules(daily_max_hours=8, max_days_per_week=5, max_consecutive_days=5))
    assert len(plan.assignments) == 5
    a = plan.assignments
    # daily: two jobs moved onto the same day (windows widened by hand so only the hours break)
    wide = WeeklyProblem(MONDAY, techs, [job(f"J{d}", hours=3) for d in range(5)], rules=plan.problem.rules)
    same_day = a.assign(day=0)
    assert any("daily maximum" in p for p in type(plan)(wide, same_day, plan.unassigned, "", 0, "").validate())
    # weekly hours
    small = WeeklyProblem(MONDAY, [tech("A", weekly=12)], plan.problem.jobs, rules=plan.problem.rules)
    assert any("in the week" in p for p in type(plan)(small, a, plan.unassigned, "", 0, "").validate())
    # days a week and consecutive days
    strict = WeeklyProblem(MONDAY, techs, plan.problem.jobs,
                           rules=LabourRules(daily_max_hours=8, max_days_per_week=4, max_consecutive_days=3))
    problems = type(plan)(strict, a, plan.unassigned, "", 0, "").validate()
    assert any("days > 4 a week" in p for p in problems)
    assert any("consecutive working days" in p for p in problems)
    # and the solver respects them
    solved = solve_week(strict, time_limit=5)
    assert solved.validate() == [] and len(solved.assignments) == 4  # days 0, 1, 2 and 4


def test_infeasible_jobs_are_reported_with_a_reason():
    techs = [tech("A", skills=("hvac",), cert=1, days=(0, 1))]
    jobs = [job("J1", skill="roofing"), job("J2", cert=4), job("J3", hours=11), job("J4", lo=4, hi=5), job("J5")]
    plan = solve_week(WeeklyProblem(MONDAY, techs, jobs), time_limit=5)
    assert plan.validate() == []
    reasons = dict(zip(plan.unassigned["job_id"], plan.unassigned["reason"]))
    assert "no technician has the skill 'roofing'" in reasons["J1"]
    assert "certification level >= 4" in reasons["J2"]
    assert "daily maximum" in reasons["J3"]
    assert "available on the allowed days" in reasons["J4"]
    assert list(plan.assignments["job_id"]) == ["J5"]
    codes = dict(zip(plan.unassigned["job_id"], plan.unassigned["reason_code"]))
    assert codes == {"J1": "no_skilled_technician", "J2": "no_certified_technician", "J3": "exceeds_daily_hours",
                     "J4": "no_available_day"}


def test_preferred_technician_and_requested_day_win_ties():
    techs = [tech("A"), tech("B")]
    plan = solve_week(WeeklyProblem(MONDAY, techs, [job("J1", pref="B", req=3)]), time_limit=5)
    row = plan.assignments.iloc[0]
    assert row["technician_id"] == "B" and row["day"] == 3
    assert plan.kpis()["preferred_technician_rate"] == 1.0


def test_bad_input_names_the_job():
    with pytest.raises(ValueError, match="J9"):
        WeeklyProblem(MONDAY, [tech("A")], [job("J9", lo=5, hi=2)])
    with pytest.raises(ValueError, match="duplicate"):
        WeeklyProblem(MONDAY, [tech("A"), tech("A")], [])


def test_week_from_gold_is_feasible_and_beats_greedy(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    problem = week_problem_from_gold(con, as_of - dt.timedelta(days=21), max_jobs=60)
    con.close()
    assert problem.jobs and problem.technicians
    greedy = greedy_week(problem)
    plan = solve_week(problem, time_limit=5, hint=greedy)
    assert plan.validate() == [] and greedy.validate() == []
    assert plan.objective() >= greedy.objective()
    k = plan.kpis()
    assert k["jobs_assigned"] + k["jobs_unassigned"] == len(problem.jobs)
    assert 0 < k["utilisation"] <= 1
    assert plan.unassigned["reason"].notna().all()


def test_builder_windows_preferences_revenue_and_missing_location():
    con = duckdb.connect()
    con.execute("""CREATE TABLE technicians AS SELECT * FROM (VALUES
        ('T1', 'Ann', 'north', 39.80, -89.60, 'hvac;plumbing', 3, 40.0, 40.0, TIMESTAMP '2020-01-01', NULL::TIMESTAMP),
        ('T2', 'Bob', 'north', 39.70, -89.50, 'hvac', 1, 35.0, 32.0, TIMESTAMP '2020-01-01', TIMESTAMP '2024-06-05'))
        t(technician_id, name, region, home_lat, home_lon, skills, certification_level, hourly_rate, weekly_hours,
          hire_date, termination_date)""")
    con.execute("""CREATE TABLE customers AS SELECT * FROM (VALUES
        ('C1', 39.75, -89.55, false), ('C2', NULL, NULL, true)) t(customer_id, lat, lon, is_priority)""")
    con.execute("""CREATE TABLE jobs AS SELECT * FROM (VALUES
        ('H1', 'C1', 'T2', 'hvac', 'repair', 'routine', 'completed', 'north',
         TIMESTAMP '2024-05-01 09:00', TIMESTAMP '2024-04-20 09:00', 2.0, 500.0, 100.0),
        ('H2', 'C1', 'T2', 'hvac', 'repair', 'routine', 'completed', 'north',
         TIMESTAMP '2024-05-08 09:00', TIMESTAMP '2024-04-20 09:00', 2.0, 300.0, 50.0),
        ('H3', 'C1', 'T1', 'hvac', 'repair', 'routine', 'completed', 'north',
         TIMESTAMP '2024-05-09 09:00', TIMESTAMP '2024-04-20 09:00', 2.0, 400.0, 60.0),
        ('W1', 'C1', NULL, 'hvac', 'emergency', 'emergency', 'scheduled', 'north',
         TIMESTAMP '2024-06-05 10:00', TIMESTAMP '2024-06-05 08:00', 3.0, 0.0, 0.0),
        ('W2', 'C2', NULL, 'hvac', 'repair', 'urgent', 'scheduled', 'north',
         TIMESTAMP '2024-06-09 10:00', TIMESTAMP '2024-06-07 08:00', 2.0, 0.0, 0.0),
        ('W3', 'C1', NULL, 'hvac', 'repair', 'routine', 'scheduled', 'north',
         TIMESTAMP '2024-06-06 10:00', TIMESTAMP '2024-06-04 08:00', 2.0, 0.0, 0.0),
        ('W4', 'C1', NULL, 'hvac', 'repair', 'routine', 'cancelled', 'north',
         TIMESTAMP '2024-06-06 10:00', TIMESTAMP '2024-06-04 08:00', 2.0, 0.0, 0.0))
        t(job_id, customer_id, technician_id, service_line, job_type, urgency, status, region, scheduled_start,
          created_at, scheduled_hours, revenue, material_cost)""")  # noqa: E501
    # The history has completed jobs on Wednesdays and a Thursday only: those are the default working days.
    assert week_problem_from_gold(con, dt.date(2024, 6, 5)).technicians[0].available_days == (2, 3)
    # The roster overrides the working days: T1 on vacation Thursday, on the Saturday rota.
    con.execute("""CREATE TABLE roster AS SELECT * FROM (VALUES
        ('T1', TIMESTAMP '2024-06-05', 'working', false), ('T1', TIMESTAMP '2024-06-06', 'vacation', false),
        ('T1', TIMESTAMP '2024-06-08', 'working', true)) t(technician_id, date, status, on_call)""")
    assert week_problem_from_gold(con, dt.date(2024, 6, 5)).technicians[0].available_days == (2, 5)
    con.execute("DROP TABLE roster")
    problem = week_problem_from_gold(con, dt.date(2024, 6, 5), workdays=tuple(range(7)))
    con.close()
    assert problem.week_start == MONDAY
    jobs = {j.id: j for j in problem.jobs}
    assert set(jobs) == {"W1", "W2", "W3"}  # the cancelled one is not planned
    assert (jobs["W1"].earliest_day, jobs["W1"].latest_day) == (2, 2)   # emergency: its day
    assert (jobs["W2"].earliest_day, jobs["W2"].latest_day) == (6, 6)   # urgent on Sunday: no next day in the week
    assert (jobs["W3"].earliest_day, jobs["W3"].latest_day) == (1, 6)   # routine: from the day it was booked
    assert jobs["W1"].min_certification == 2 and jobs["W3"].min_certification == 1
    # T2 served C1 most often; terminated on Wednesday (the first day not worked, as in the
    # generator and the daily problem), so available Monday and Tuesday only.
    assert jobs["W3"].preferred_technician == "T2"
    techs = {t.id: t for t in problem.technicians}
    assert techs["T2"].available_days == (0, 1)
    assert jobs["W3"].revenue == pytest.approx(400.0) and jobs["W3"].material_cost == pytest.approx(70.0)
    assert jobs["W2"].priority_customer and jobs["W2"].lat == pytest.approx(39.75)  # centre of the home bases
    plan = solve_week(problem, time_limit=5)
    assert plan.validate() == [] and len(plan.assignments) + len(plan.unassigned) == 3


def test_week_defaults_to_the_companys_working_days(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
        monday = as_of - dt.timedelta(days=21)
        workdays = company_workdays(con, monday)
        by_day = dict(con.execute(
            """SELECT isodow(scheduled_start) - 1, count(*) FROM jobs WHERE status = 'completed'
               AND scheduled_start >= ?::DATE - 365 AND scheduled_start < ? GROUP BY 1""", [monday, monday]).fetchall())
        problem = week_problem_from_gold(con, monday, max_jobs=20)
    finally:
        con.close()
    # The generator's weekday factors: Monday-Saturday busy, Sunday emergencies only.
    assert workdays == tuple(d for d in range(7) if by_day.get(d, 0) >= 0.25 * max(by_day.values()))
    assert workdays == (0, 1, 2, 3, 4, 5)
    assert problem.technicians and all(set(t.available_days) <= set(workdays) for t in problem.technicians)
    assert any(6 not in t.available_days and t.available_days for t in problem.technicians)


def test_jobs_left_out_for_capacity_or_rest_say_so():
    full = solve_week(WeeklyProblem(MONDAY, [tech("A", days=(0,))], [job("J1", hours=6, lo=0, hi=0),
                                                                     job("J2", hours=6, lo=0, hi=0)],
                                    rules=LabourRules(daily_max_hours=8)), time_limit=5)
    assert full.validate() == [] and len(full.unassigned) == 1
    assert full.unassigned["reason"].iloc[0].startswith("capacity: all 1 qualified technician(s) are fully booked")
    assert full.unassigned["reason_code"].iloc[0] == DropReason.CAPACITY
    rest = solve_week(WeeklyProblem(MONDAY, [tech("A", days=(0, 1))], [job("J1", hours=2, lo=0, hi=0),
                                                                       job("J2", hours=2, lo=1, hi=1)],
                                    rules=LabourRules(max_days_per_week=1)), time_limit=5)
    assert rest.validate() == [] and len(rest.unassigned) == 1
    assert rest.unassigned["reason"].iloc[0].startswith("rest rules")
    assert rest.unassigned["reason_code"].iloc[0] == DropReason.REST_RULES


@pytest.mark.parametrize("planner,code", [("cp-sat stopped", DropReason.TIME_LIMIT),
                                          ("cp-sat optimal", DropReason.OUTSCORED),
                                          ("greedy", DropReason.GREEDY_ORDER)])
def test_a_job_left_out_with_room_gets_its_planners_code(planner, code, monkeypatch):
    """A job someone still had room for carries the planner's own code (time limit, outscored, greedy order)."""
    from quantlib.ops import weekly

    problem = WeeklyProblem(MONDAY, [tech("A")], [job("J1")])
    seen = {}
    real = weekly._plan_from

    def leave_everything_out(problem, chosen, status, seconds, solver, dropped_reason):
        seen["status"] = status
        return real(problem, {}, status, seconds, solver, dropped_reason)

    monkeypatch.setattr(weekly, "_plan_from", leave_everything_out)
    if planner == "greedy":
        plan = greedy_week(problem)
    else:
        # A time limit too short to prove optimality (and no hint) ends UNKNOWN / FEASIBLE, not OPTIMAL.
        plan = solve_week(problem, time_limit=10 if planner == "cp-sat optimal" else 1e-9)
        assert (seen["status"] == "OPTIMAL") == (planner == "cp-sat optimal")
    assert list(plan.unassigned["reason_code"]) == [code]


def test_rules_that_break_the_rest_between_days_are_rejected():
    with pytest.raises(ValueError, match="min_rest_hours"):
        LabourRules(daily_max_hours=14, min_rest_hours=11)
    assert LabourRules(daily_max_hours=13, min_rest_hours=11).daily_max_hours == 13


def test_week_and_day_share_the_technician_and_job_models():
    """A job placed in the week can be routed on its day as it is: one Job / Technician pair."""
    from quantlib.ops.problem import RoutingProblem
    from quantlib.ops.routing import SolverSettings, solve

    a, j1 = tech("A"), job("J1", hours=1.5, req=2)
    week = solve_week(WeeklyProblem(MONDAY, [a], [j1]), time_limit=5)
    assert week.assignments["hours"].tolist() == [1.5] and j1.duration == 90
    day = solve(RoutingProblem(technicians=(a,), jobs=(j1,)), SolverSettings(time_limit_seconds=1.0))
    assert day.validate() == [] and day.assignment() == {"J1": "A"}
