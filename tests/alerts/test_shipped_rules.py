"""Every shipped rule in parameters/alerts fires and does not fire on crafted values at its boundaries."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.alerts import Observation, evaluate_observations, load_alerts
from quantlib.alerts.sources import SOURCES, get_source
from quantlib.config import project_root
from quantlib.kpi import REGISTRY

RULES, POLICY = load_alerts(project_root() / "parameters" / "alerts")
BY_NAME = {r.name: r for r in RULES}


def test_the_spec_alerts_that_have_a_metric_today_are_shipped():
    assert set(BY_NAME) >= {"cash_flow_runway", "high_value_churn_risk", "satisfaction_below_target",
                            "daily_revenue_shortfall", "efficiency_drop", "capacity_threshold", "model_decay"}
    levels = {n: (r.comparison.level or max(r.comparison.levels, key=lambda lv: lv.rank)).value
              for n, r in BY_NAME.items()}
    assert levels["cash_flow_runway"] == "critical"
    assert {levels[n] for n in ("high_value_churn_risk", "satisfaction_below_target", "daily_revenue_shortfall",
                                "efficiency_drop", "capacity_threshold", "model_decay")} == {"warning"}
    # equipment health (issue 15): one value per unit, a work order below 0.3 and this alert with it
    assert BY_NAME["equipment_at_risk"].metric == "equipment_health" and levels["equipment_at_risk"] == "warning"
    assert BY_NAME["equipment_at_risk"].comparison.value == 0.3


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_metric_resolves(rule):
    get_source(rule.metric)
    if rule.metric.startswith("kpi:"):
        assert rule.metric[4:] in REGISTRY
    else:
        assert rule.metric in SOURCES


def _direction(rule):
    if rule.comparison.direction:
        return rule.comparison.direction
    if rule.metric.startswith("kpi:"):
        return REGISTRY[rule.metric[4:]].direction
    # model_decay: each observation carries its metric's direction (accuracy higher, WAPE lower).
    return {"customer_churn_risk": "lower", "cash_runway_days": "higher", "model_decay": "higher",
            "demand_change": "higher", "pricing_pressure": "higher", "equipment_health": "higher"}[rule.metric]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_fires_exactly_at_its_boundaries(rule):
    c = rule.comparison

    def levels(value, reference=None):
        obs = Observation("s", value, reference, direction=_direction(rule))
        return [f.level.value for f in evaluate_observations(rule, [obs])]

    if c.kind == "threshold":
        step = abs(c.value) * 0.001 or 0.001
        inside = c.value - step if c.op.startswith("<") else c.value + step
        outside = c.value + step if c.op.startswith("<") else c.value - step
        assert levels(inside) == [c.level.value]
        assert levels(outside) == []
        assert levels(c.value) == ([c.level.value] if c.op in ("<=", ">=") else [])
        return
    ref = 100.0
    sign = -1 if _direction(rule) == "higher" else 1
    ordered = sorted(c.levels.items(), key=lambda kv: kv[1])
    for level, threshold in ordered:
        at = ref * (1 + sign * threshold)
        if threshold == 0:
            assert levels(ref, ref) == []
            assert levels(ref + sign * 0.01, ref) == [level.value]
            continue
        assert levels(at, ref)[-1:] == [level.value], (level, threshold)
        below = ref * (1 + sign * (threshold - 0.001))
        assert levels(below, ref) != [level.value]
    assert levels(ref * (1 - sign * 0.5), ref) == []  # the good side never fires


def test_default_ladder_rules_fire_at_9_9_10_20_30_percent():
    rule = BY_NAME["quality_variance"]  # higher is better, target ladder 10/20/30 %
    def lv(pct):
        found = evaluate_observations(rule, [Observation("s", 0.95 * (1 - pct / 100), 0.95)])
        return [f.level.value for f in found]
    assert (lv(9.9), lv(10), lv(20), lv(30)) == ([], ["info"], ["warning"], ["critical"])
    rule = BY_NAME["dso_variance"]  # lower is better
    def lv_dso(pct):
        found = evaluate_observations(rule, [Observation("s", 45 * (1 + pct / 100), 45.0, direction="lower")])
        return [f.level.value for f in found]
    assert (lv_dso(9.9), lv_dso(10), lv_dso(20), lv_dso(30)) == ([], ["info"], ["warning"], ["critical"])


def _revenue_prediction(jobs, run_id, model, as_of, factor, horizon=30):
    """A crafted company-revenue prediction of ``factor`` x what gold says happened over the period."""
    from quantlib.monitor import PREDICTION_COLUMNS

    start, end = as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=horizon)
    actual = float(jobs[(jobs["completed_date"] >= start) & (jobs["completed_date"] <= end)]["revenue"].sum())
    return {c: np.nan for c in PREDICTION_COLUMNS} | {
        "run_id": run_id, "model": model, "version": "0", "params_hash": "h", "as_of": as_of, "quantity": "revenue",
        "subject": "all", "target_start": start, "target_end": end, "value": factor * actual}


def test_model_decay_fires_for_decayed_models_only(demo_lake, tmp_path):
    """Crafted predictions scored against real gold: a model missing its target, one falling below its own
    baseline (still above target), and one that holds up."""
    from quantlib.alerts import AlertEngine, MetricContext
    from quantlib.alerts.sources import observe
    from quantlib.data.gold import gold_as_of
    from quantlib.data.opstore import OpsStore

    rule = BY_NAME["model_decay"]
    assert (rule.category, rule.comparison.kind) == ("operational", "target")
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        built = gold_as_of(con)
        jobs = con.execute("SELECT completed_date, revenue FROM job_facts WHERE is_completed").df()
    jobs["completed_date"] = pd.to_datetime(jobs["completed_date"]).dt.date
    days = [built - dt.timedelta(days=30 + 28 * k) for k in (3, 2, 1, 0)]  # four monthly runs, oldest first
    rows = []
    for i, day in enumerate(days):
        rows.append(_revenue_prediction(jobs, f"r{i}", "steady", day, 1.01))              # accuracy 0.99 throughout
        rows.append(_revenue_prediction(jobs, f"r{i}", "missing", day, 1.0 if i < 3 else 1.5))  # latest 0.50
        rows.append(_revenue_prediction(jobs, f"r{i}", "slipping", day, 1.0 if i < 3 else 1.06))  # 1.00 -> 0.94
    store = OpsStore(tmp_path / "ops.sqlite")
    store.record_predictions(pd.DataFrame(rows))

    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        observed = {o.subject: o for o in observe(MetricContext(con, None, store=store), rule)}
        assert set(observed) == {"missing/revenue/h30", "slipping/revenue/h30"}
        missing, slipping = observed["missing/revenue/h30"], observed["slipping/revenue/h30"]
        assert missing.value == pytest.approx(0.5) and missing.reference == 0.92 and "below target" in missing.detail
        assert slipping.value == pytest.approx(0.94) and slipping.reference == pytest.approx(0.95)
        assert "below its own baseline" in slipping.detail
        found = {f.subject: f.level.value for f in evaluate_observations(rule, list(observed.values()))}
        assert found == {"missing/revenue/h30": "warning", "slipping/revenue/h30": "warning"}
        # Through the engine: its store is the one the source reads.
        engine = AlertEngine(store, [rule], POLICY, channels={}, env={})
        outcome = engine.check(MetricContext(con, None), dry_run=True)
    assert [r.error for r in outcome.results] == [None]
    assert sorted(a["subject"] for a in outcome.alerts) == ["missing/revenue/h30", "slipping/revenue/h30"]
    # As of the day before the latest runs' periods end, they are not due: nothing has decayed.
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        earlier = MetricContext(con, days[-1] + dt.timedelta(days=29), store=OpsStore(store.path))
        assert observe(earlier, rule) == []
