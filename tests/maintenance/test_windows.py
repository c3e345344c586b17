"""Maintenance visits scheduled around the booked jobs (quantlib.maintenance.windows) on the small demo company."""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from quantlib.maintenance.windows import (
    NO_ROOM,
    NO_TECHNICIAN,
    MaintenanceScheduleError,
    naive_schedule,
    schedule_maintenance,
    visit_id,
)
from quantlib.ops.routing import SolverSettings, schedule_route

FAST = SolverSettings(time_limit_seconds=1.0, solution_limit=200)
# A busy week of the scale-0.4 mixed-trades company (8 technicians, 9-14 jobs a weekday).
MONDAY = dt.date(2024, 6, 10)


@pytest.fixture(scope="module")
def units(demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        return con.execute("SELECT equipment_id, service_line FROM equipment ORDER BY equipment_id").df()


def _orders(units, hours, start, end, healths=None):
    healths = healths if healths is not None else [0.05 + 0.02 * k for k in range(len(units))]
    return pd.DataFrame({"id": range(1, len(units) + 1), "equipment_id": units["equipment_id"].to_numpy(),
                         "health": healths, "window_start": start.isoformat(), "window_end": end.isoformat(),
                         "skill": units["service_line"].to_numpy(), "estimated_hours": hours})


def _fits_nowhere(schedule, order_row) -> bool:
    """No qualified technician's final route on any day of the window takes the visit anywhere."""
    for day, plan in schedule.plans.items():
        if not order_row.window_start <= day <= order_row.window_end:
            continue
        problem = schedule.problems[day]
        jobs = {j.id: j for j in problem.jobs}
        visit = jobs[visit_id(order_row.order_id)]
        routes = {r.technician_id: [jobs[v.job_id] for v in r.visits] for r in plan.routes}
        for t in problem.technicians:
            if order_row.skill not in t.skills:
                continue
            seq = routes.get(t.id, [])
            if any(schedule_route(t, seq[:k] + [visit] + seq[k:], schedule.travel[day]) is not None
                   for k in range(len(seq) + 1)):
                return False
    return True


@pytest.fixture(scope="module")
def week(demo_lake, units):
    """Every unit of the company due within Monday..Thursday, 2 hours each."""
    orders = _orders(units, 2.0, MONDAY, MONDAY + dt.timedelta(days=3))
    return orders, schedule_maintenance(demo_lake, orders, days=4, settings=FAST)


def test_every_visit_is_in_its_window_with_a_qualified_technician_and_bookings_kept(week):
    orders, schedule = week
    slots = schedule.slots
    assert schedule.validate() == []
    placed = slots[slots["status"] == "scheduled"]
    assert len(placed) >= len(orders) // 2  # a normal week has room for most of them
    for row in placed.itertuples(index=False):
        assert row.window_start <= row.date <= row.window_end
        plan = schedule.plans[row.date]
        assert row.skill in plan.problem.technician(row.technician_id).skills
        visit = plan.visit(visit_id(row.order_id))
        tech = plan.problem.technician(row.technician_id)
        # inside the shift (service starts in it) and the day ends by shift + overtime
        assert tech.shift_start <= visit.start <= tech.shift_start + tech.shift_minutes
        assert plan.route(row.technician_id).return_time <= tech.latest_end
        assert row.added_drive_minutes > -1e-6 and row.arrival == f"{visit.arrival // 60:02d}:{visit.arrival % 60:02d}"
    for day, base in schedule.base_plans.items():
        booked = {j.id for j in base.problem.jobs}
        assert base.problem.jobs and all(j.required for j in base.problem.jobs)
        served = {v.job_id for r in base.routes for v in r.visits}
        assert served <= set(schedule.plans[day].assignment())
        # pinned bookings stay with their technician
        final = schedule.plans[day].assignment()
        for j in base.problem.jobs:
            if j.pinned_technician is not None and j.id in final:
                assert final[j.id] == j.pinned_technician
        assert booked <= {j.id for j in schedule.plans[day].problem.jobs}
    unplaced = slots[slots["status"] == "unscheduled"]
    for row in unplaced.itertuples(index=False):
        assert row.reason.startswith(NO_ROOM) and _fits_nowhere(schedule, row)


def test_beats_or_matches_the_naive_rule_on_slots(week):
    _, schedule = week
    naive = naive_schedule(schedule)
    assert list(naive["order_id"]) == list(schedule.slots["order_id"])
    ok = naive[naive["status"] == "scheduled"]
    assert (ok["date"] == ok["window_start"]).all()  # the naive rule only ever tries the first day
    assert (schedule.slots["status"] == "scheduled").sum() >= len(ok)


def test_a_saturated_day_pushes_visits_to_the_next_or_reports_no_room(demo_lake, units):
    # eight 4-hour hvac visits (the hvac units twice over): more than Monday's hvac technicians can take
    hvac = units[units["service_line"] == "hvac"]
    hvac = pd.concat([hvac, hvac], ignore_index=True)
    tuesday = MONDAY + dt.timedelta(days=1)
    orders = _orders(hvac, 4.0, MONDAY, MONDAY)
    monday = schedule_maintenance(demo_lake, orders, days=2, settings=FAST)
    assert monday.validate() == []
    slots = monday.slots
    placed = slots[slots["status"] == "scheduled"]
    skilled = [t.id for t in monday.problems[MONDAY].technicians if "hvac" in t.skills]
    assert 0 < len(placed) < len(orders) and set(placed["date"]) == {MONDAY}
    assert placed["technician_id"].isin(skilled).all()
    # what Monday cannot take is reported with the reason, and truly fits no hvac route of the day
    for row in slots[slots["status"] == "unscheduled"].itertuples(index=False):
        assert row.reason.startswith(NO_ROOM) and _fits_nowhere(monday, row)
    # the lowest health gets a slot before the others
    assert slots.iloc[0]["status"] == "scheduled"
    # the window open on Tuesday too: the visits Monday has no room for go to Tuesday
    both = schedule_maintenance(demo_lake, orders.assign(window_end=tuesday.isoformat()), days=2, settings=FAST)
    assert both.validate() == []
    placed2 = both.slots[both.slots["status"] == "scheduled"]
    assert len(placed2) > len(placed) and (placed2["date"] == tuesday).any()
    assert (placed2["date"] == MONDAY).sum() <= len(placed)
    for row in both.slots[both.slots["status"] == "unscheduled"].itertuples(index=False):
        assert row.reason.startswith(NO_ROOM) and _fits_nowhere(both, row)


def test_no_qualified_technician_is_the_reason(demo_lake, units):
    orders = _orders(units.head(1), 1.0, MONDAY, MONDAY).assign(skill="welding")
    schedule = schedule_maintenance(demo_lake, orders, days=1, settings=FAST)
    row = schedule.slots.iloc[0]
    assert row["status"] == "unscheduled" and row["reason"].startswith(NO_TECHNICIAN)
    assert "welding" in row["reason"]
    # a Sunday: nobody works (the roster), so nobody qualified either; the booked jobs are not planned
    sunday = MONDAY - dt.timedelta(days=1)
    schedule = schedule_maintenance(demo_lake, _orders(units.head(1), 1.0, sunday, sunday), days=1, settings=FAST)
    assert not schedule.problems[sunday].technicians
    assert schedule.slots.iloc[0]["reason"].startswith(NO_TECHNICIAN) and schedule.validate() == []


def test_a_visit_longer_than_any_day_has_no_room(demo_lake, units):
    orders = _orders(units.head(1), 11.0, MONDAY, MONDAY)  # 11 h on site > shift 8 h + overtime 2 h
    row = schedule_maintenance(demo_lake, orders, days=1, settings=FAST).slots.iloc[0]
    assert row["status"] == "unscheduled" and row["reason"].startswith(NO_ROOM)


def test_bad_orders_are_typed_errors(demo_lake, units):
    orders = _orders(units.head(1), 1.0, MONDAY, MONDAY)
    with pytest.raises(MaintenanceScheduleError, match="skill"):
        schedule_maintenance(demo_lake, orders.drop(columns="skill"))
    with pytest.raises(MaintenanceScheduleError, match="E99999"):
        schedule_maintenance(demo_lake, orders.assign(equipment_id="E99999"))
    with pytest.raises(MaintenanceScheduleError, match="appears twice"):
        schedule_maintenance(demo_lake, pd.concat([orders, orders]))
    with pytest.raises(MaintenanceScheduleError, match="window_end"):
        schedule_maintenance(demo_lake, orders.assign(window_end=(MONDAY - dt.timedelta(days=1)).isoformat()))


def test_the_visit_travels_from_the_units_last_job_site(demo_lake, week):
    orders, schedule = week
    unit = orders.iloc[0]["equipment_id"]
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        lat, lon = con.execute("""SELECT c.lat, c.lon FROM jobs j JOIN customers c USING (customer_id)
                                  WHERE j.equipment_id = ? AND j.scheduled_start::DATE < ?
                                  ORDER BY j.scheduled_start DESC LIMIT 1""", [unit, MONDAY]).fetchone()
    visit = schedule.problems[MONDAY].job(visit_id(orders.iloc[0]["id"]))
    assert (visit.lat, visit.lon) == pytest.approx((lat, lon))


@pytest.mark.slow  # routing every open order of the demo lake: 26 s
def test_the_plan_command_records_a_slot_on_each_open_order(demo_lake, tmp_path):
    from typer.testing import CliRunner

    from quantlib.cli import app
    from quantlib.maintenance.health import work_orders

    out = tmp_path / "orders.csv"
    as_of = (MONDAY - dt.timedelta(days=1)).isoformat()
    args = ["maintenance", "plan", "--lake", str(demo_lake.root), "--as-of", as_of,
            "--threshold", "0.99", "--schedule", "--days", "3", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    orders = pd.read_csv(out)
    assert len(orders) > 0 and result.output.count("slot: ") == len(orders)
    done = orders[orders["planned_date"].notna()]
    assert len(done) > 0 and done["planned_technician"].notna().all() and done["planned_note"].isna().all()
    assert (pd.to_datetime(done["planned_date"]) >= pd.to_datetime(done["window_start"])).all()
    assert (pd.to_datetime(done["planned_date"]) <= pd.to_datetime(done["window_end"])).all()
    assert orders.loc[orders["planned_date"].isna(), "planned_note"].notna().all()
    assert orders["planned_at"].notna().all()
    # the store holds what the CSV exported, and a second run replaces the proposal, opening nothing
    stored = work_orders(status="open").set_index("id").loc[orders["id"]]
    assert stored["planned_date"].fillna("").tolist() == orders["planned_date"].fillna("").tolist()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "0 work order(s) opened now" in again.output
    restored = work_orders(status="open").set_index("id").loc[orders["id"]]
    assert (restored["planned_at"] >= stored["planned_at"]).all()


def test_record_slots_leaves_closed_orders_alone(tmp_path):
    from quantlib.data.opstore import open_ops_store
    from quantlib.maintenance.health import record_slots, work_orders

    store = open_ops_store(tmp_path / "ops.sqlite")
    with store.transaction() as con:
        for unit, status in (("E1", "open"), ("E2", "closed"), ("E3", "open")):
            con.execute("INSERT INTO work_orders (equipment_id, status, opened_on, health, reason, evidence, "
                        "window_start, window_end, created_at) VALUES (?, ?, '2024-01-01', 0.1, 'r', '{}', "
                        "'2024-01-02', '2024-01-09', '2024-01-01T00:00:00Z')", [unit, status])
    slots = pd.DataFrame({"order_id": [1, 2, 3], "status": ["scheduled", "scheduled", "unscheduled"],
                          "date": [dt.date(2024, 1, 3), dt.date(2024, 1, 4), None],
                          "technician_id": ["T1", "T2", None], "arrival": ["09:30", "10:00", None],
                          "added_drive_minutes": [12.5, 3.0, None], "reason": [None, None, "no room in window"]})
    assert record_slots(slots, store) == 2
    orders = work_orders(store).set_index("equipment_id")
    assert orders.loc["E1", ["planned_date", "planned_technician", "planned_arrival"]].tolist() == [
        "2024-01-03", "T1", "09:30"]
    assert orders.loc["E1", "planned_drive_minutes"] == 12.5 and pd.isna(orders.loc["E1", "planned_note"])
    assert pd.isna(orders.loc["E2", "planned_date"]) and pd.isna(orders.loc["E2", "planned_at"])
    assert pd.isna(orders.loc["E3", "planned_date"]) and orders.loc["E3", "planned_note"] == "no room in window"


def test_a_delay_cost_moves_visits_earlier_in_their_window(demo_lake, week):
    orders, schedule = week
    eager = schedule_maintenance(demo_lake, orders, days=4, settings=FAST, delay_cost_per_day=1000.0)
    assert eager.validate() == []

    def delay(slots):
        done = slots[slots["status"] == "scheduled"]
        return sum((d - s).days for d, s in zip(done["date"], done["window_start"])), len(done)

    eager_days, eager_placed = delay(eager.slots)
    lazy_days, lazy_placed = delay(schedule.slots)
    assert eager_placed >= lazy_placed - 1  # the delay cost never outweighs placing a visit
    assert eager_days < lazy_days or lazy_days == 0
