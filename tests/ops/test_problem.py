"""Problem objects validate their input; the warehouse builder makes a day's problem from gold."""

import datetime as dt
import shutil

import duckdb
import pytest
from pydantic import ValidationError

from quantlib.ops.problem import Job, Objective, RoutingProblem, Technician, WarehouseDayOptions, problem_from_warehouse


def test_bad_input_names_the_field():
    with pytest.raises(ValidationError, match="window_end"):
        Job(id="J1", lat=40, lon=-75, duration=30, window_start=600, window_end=500)
    with pytest.raises(ValidationError, match="lat"):
        Technician(id="T1", lat=123, lon=-75)
    with pytest.raises(ValidationError, match="duplicate job id 'J1'"):
        RoutingProblem(technicians=(), jobs=(Job(id="J1", lat=40, lon=-75, duration=30),) * 2)
    with pytest.raises(ValidationError, match="pinned_technician 'TX'"):
        RoutingProblem(technicians=(), jobs=(Job(id="J1", lat=40, lon=-75, duration=30, pinned_technician="TX"),))


def test_drop_penalty_weights():
    obj = Objective()
    routine = Job(id="a", lat=40, lon=-75, duration=30, revenue=400)
    assert obj.drop_penalty(routine) == 400
    assert obj.drop_penalty(routine.model_copy(update={"priority_customer": True})) == 600
    assert obj.drop_penalty(routine.model_copy(update={"priority": "emergency"})) == 4000
    assert obj.drop_penalty(routine.model_copy(update={"revenue": 0})) == obj.min_drop_penalty


@pytest.fixture(scope="module")
def gold(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    yield con
    con.close()


def _busy_day(con):
    return con.execute("""SELECT scheduled_start::DATE d FROM jobs WHERE status <> 'cancelled'
                          GROUP BY d ORDER BY count(*) DESC, d LIMIT 1""").fetchone()[0]


def test_problem_from_warehouse_matches_gold(gold):
    day = _busy_day(gold)
    problem = problem_from_warehouse(gold, day)
    expected = gold.execute("""SELECT count(*) FROM jobs WHERE scheduled_start::DATE = ?
                               AND status IN ('scheduled', 'completed')""", [day]).fetchone()[0]
    assert len(problem.jobs) == expected > 0
    employed = gold.execute("""SELECT count(*) FROM technicians WHERE hire_date::DATE <= ?
                               AND (termination_date IS NULL OR termination_date::DATE > ?)""",
                            [day, day]).fetchone()[0]
    assert len(problem.technicians) == employed > 0
    row = gold.execute("""SELECT j.job_id, c.lat, c.lon, j.scheduled_hours, j.service_line, j.urgency, c.is_priority
                          FROM jobs j JOIN customers c USING (customer_id)
                          WHERE j.scheduled_start::DATE = ? AND j.status <> 'cancelled'
                          ORDER BY j.job_id LIMIT 1""", [day]).fetchone()
    job = problem.job(row[0])
    assert (job.lat, job.lon) == (row[1], row[2])
    assert job.duration == round(row[3] * 60) and job.skills == {row[4]} and job.priority == row[5]
    assert job.priority_customer == row[6] and job.revenue > 0
    tech = problem.technicians[0]
    home = gold.execute("SELECT home_lat, home_lon, skills FROM technicians WHERE technician_id = ?",
                        [tech.id]).fetchone()
    assert (tech.lat, tech.lon) == home[:2] and tech.skills == set(home[2].split(";"))
    for j in problem.jobs:
        if j.priority == "emergency":
            assert not j.hard_window
        else:
            assert (j.window_start, j.window_end) in {(480, 720), (720, 960)}


def test_problem_from_warehouse_region_and_equipment(gold):
    day = _busy_day(gold)
    region = gold.execute("SELECT min(region) FROM technicians").fetchone()[0]
    kinds = {t: frozenset({"heavy"}) for t, in gold.execute("SELECT technician_id FROM technicians").fetchall()}
    problem = problem_from_warehouse(gold, day, WarehouseDayOptions(region=region, equipment=kinds, window="day"))
    assert problem.jobs and all(j.window_end == 960 or j.priority == "emergency" for j in problem.jobs)
    assert all(t.equipment == {"heavy"} for t in problem.technicians)
    at_depot = problem_from_warehouse(gold, day, WarehouseDayOptions(depot=(39.8, -89.6)))
    assert all((t.lat, t.lon) == (39.8, -89.6) and t.end_location == (39.8, -89.6) for t in at_depot.technicians)


def test_the_rosters_days_off_are_not_in_the_day(demo_lake, tmp_path):
    """Technicians the roster has off (vacation, sick, day off) are not in the day's problem."""
    copy = tmp_path / "gold.duckdb"
    shutil.copyfile(demo_lake.gold, copy)
    con = duckdb.connect(str(copy))
    try:
        day = _busy_day(con)
        everyone = [t.id for t in problem_from_warehouse(con, day).technicians]
        away, sick = everyone[:2]
        con.execute("DELETE FROM roster WHERE date::DATE = ?", [day])
        con.execute("""INSERT INTO roster VALUES (?, ?, 'vacation', false), (?, ?, 'sick', false),
                                                 (?, ?, 'working', true)""", [away, day, sick, day, everyone[2], day])
        on_the_day = {t.id for t in problem_from_warehouse(con, day).technicians}
    finally:
        con.close()
    assert on_the_day == set(everyone) - {away, sick}


def test_technicians_on_leave_or_gone_are_not_in_the_day(gold):
    day = _busy_day(gold)
    everyone = problem_from_warehouse(gold, day)
    away = everyone.technicians[0].id
    problem = problem_from_warehouse(gold, day, WarehouseDayOptions(days_off={away: (day,)}))
    assert away not in {t.id for t in problem.technicians}
    assert len(problem.technicians) == len(everyone.technicians) - 1
    other_day = problem_from_warehouse(gold, day, WarehouseDayOptions(days_off={away: (day + dt.timedelta(days=1),)}))
    assert away in {t.id for t in other_day.technicians}
    # Terminated on the day: the termination date is the first day not worked.
    gone = gold.execute("""SELECT technician_id, termination_date::DATE FROM technicians
                           WHERE termination_date IS NOT NULL ORDER BY 1 LIMIT 1""").fetchone()
    if gone is not None:
        assert gone[0] not in {t.id for t in problem_from_warehouse(gold, gone[1]).technicians}
        assert gone[0] in {t.id for t in problem_from_warehouse(gold, gone[1] - dt.timedelta(days=1)).technicians}


def test_empty_day_gives_an_empty_problem(gold):
    problem = problem_from_warehouse(gold, "1990-01-01")
    assert problem.jobs == () and problem.technicians == ()
