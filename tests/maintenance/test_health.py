import json
from dataclasses import replace

import pandas as pd
import pytest

from quantlib.maintenance import SensorDataError
from quantlib.maintenance.health import equipment_health, plan_work_orders, work_orders
from tests.conftest import build_lake


@pytest.fixture(scope="module")
def fleet_lake(mixed_company, tmp_path_factory):
    """The scale-1 mixed-trades company (19 units, about 50 failures) in gold."""
    return build_lake(mixed_company, tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="module")
def before_failure(mixed_company):
    """A day a few days before a failure of the last year, with its unit, from the generator's truth.

    A failure with a slow drift (bearing, refrigerant leak): control boards and some electrical
    faults give little or no warning by design."""
    truth = mixed_company.truth_tables["equipment_failures"]
    truth = truth[truth["failure_mode"].isin(["bearing", "refrigerant_leak"])]
    late = truth[pd.to_datetime(truth["failure_date"]) > pd.to_datetime(truth["failure_date"]).max()
                 - pd.Timedelta(days=300)].iloc[0]
    return late["equipment_id"], (pd.Timestamp(late["failure_date"]) - pd.Timedelta(days=5)).date()


def test_health_is_a_survival_probability_lowest_first(fleet_lake):
    fleet = equipment_health(fleet_lake)
    units = fleet.units
    assert fleet.basis == "telemetry" and fleet.failures_seen >= 10
    assert units["health"].between(0, 1).all() and units["health"].is_monotonic_increasing
    assert (units["health"] + units["p_fail"] - 1).abs().max() < 1e-12  # monotone in risk by construction
    assert {"name", "kind", "service_line", "cusum", "alarm", "top_signal", "median_rul_days"} <= set(units)


def test_a_unit_days_before_its_failure_has_low_health(fleet_lake, before_failure):
    unit, day = before_failure
    units = equipment_health(fleet_lake, as_of=day).units.reset_index(drop=True)
    row = units[units["equipment_id"] == unit].iloc[0]
    assert row["health"] < 0.5
    assert units.index[units["equipment_id"] == unit][0] < 3  # among the three lowest of the fleet


def test_work_orders_open_once_per_episode_and_close(fleet_lake, before_failure, ops_store):
    unit, day = before_failure
    fleet = equipment_health(fleet_lake, as_of=day)
    opened = plan_work_orders(fleet_lake, ops_store, health=fleet)
    assert unit in set(opened["equipment_id"])
    assert (opened["health"] < 0.3).all() and opened["status"].eq("open").all()
    order = opened[opened["equipment_id"] == unit].iloc[0]
    evidence = json.loads(order["evidence"])
    assert evidence["health"] == pytest.approx(order["health"], abs=1e-4) and "top_signal" in evidence
    assert order["window_start"] > day.isoformat() and order["skill"]
    # the same day again: nothing new
    assert plan_work_orders(fleet_lake, ops_store, health=fleet).empty
    assert len(work_orders(ops_store, status="open")) == len(opened)
    # health back above the threshold closes it; a new spell below opens a new one
    better = fleet.units.assign(health=lambda u: u["health"].where(u["equipment_id"] != unit, 0.95))
    assert plan_work_orders(fleet_lake, ops_store, health=replace(fleet, units=better)).empty
    closed = work_orders(ops_store, status="closed")
    assert list(closed["equipment_id"]) == [unit] and closed["close_reason"].iloc[0].startswith("health back")
    again = plan_work_orders(fleet_lake, ops_store, health=fleet)
    assert list(again["equipment_id"]) == [unit]
    assert len(work_orders(ops_store)) == len(opened) + 1


def test_maintenance_after_the_order_closes_it(fleet_lake, before_failure, ops_store):
    unit, day = before_failure
    plan_work_orders(fleet_lake, ops_store, health=equipment_health(fleet_lake, as_of=day))
    # 30 days on, the failure was repaired: the unit's order closes as serviced
    later = equipment_health(fleet_lake, as_of=day + pd.Timedelta(days=30))
    plan_work_orders(fleet_lake, ops_store, health=later)
    closed = work_orders(ops_store, status="closed")
    row = closed[closed["equipment_id"] == unit].iloc[0]
    assert row["close_reason"].startswith("maintenance recorded on")


def test_no_failures_or_no_telemetry_is_a_clear_error(fleet_lake, mixed_company):
    start = pd.Timestamp(mixed_company.profile.start).date()
    with pytest.raises(SensorDataError, match="no equipment failure recorded"):
        equipment_health(fleet_lake, as_of=start + pd.Timedelta(days=20))


def test_the_alert_source_gives_one_health_per_unit(fleet_lake, before_failure):
    import duckdb

    from quantlib.alerts import MetricContext, evaluate_observations, load_alerts
    from quantlib.alerts.sources import get_source
    from quantlib.config import project_root

    unit, day = before_failure
    rule = {r.name: r for r in load_alerts(project_root() / "parameters" / "alerts")[0]}["equipment_at_risk"]
    with duckdb.connect(str(fleet_lake.gold), read_only=True) as con:
        observations = get_source(rule.metric)(MetricContext(con, as_of=day), rule)
    health = equipment_health(fleet_lake, as_of=day).units.set_index("equipment_id")["health"]
    assert {o.subject for o in observations} == {f"equipment {u}" for u in health.index}
    fired = {f.subject for f in evaluate_observations(rule, observations)}
    assert f"equipment {unit}" in fired
    assert fired == {f"equipment {u}" for u, h in health.items() if h < 0.3}


def test_the_plan_command_prints_and_exports_the_open_orders(fleet_lake, before_failure, tmp_path):
    from typer.testing import CliRunner

    from quantlib.cli import app

    unit, day = before_failure
    out = tmp_path / "orders.csv"
    args = ["maintenance", "plan", "--lake", str(fleet_lake.root), "--as-of", day.isoformat(), "--out", str(out)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    orders = pd.read_csv(out)
    assert unit in set(orders["equipment_id"]) and (orders["status"] == "open").all()
    assert "work order(s) opened now" in first.output
    second = CliRunner().invoke(app, args)
    assert "0 work order(s) opened now" in second.output and len(pd.read_csv(out)) == len(orders)
    missing = CliRunner().invoke(app, ["maintenance", "plan", "--lake", str(tmp_path / "none")])
    assert missing.exit_code == 2
