"""Every shipped rule in parameters/alerts fires and does not fire on crafted values at its boundaries."""

from __future__ import annotations

import pytest

from quantlib.alerts import Observation, evaluate_observations, load_alerts
from quantlib.alerts.sources import SOURCES, get_source
from quantlib.config import project_root
from quantlib.kpi import REGISTRY

RULES, POLICY = load_alerts(project_root() / "parameters" / "alerts")
BY_NAME = {r.name: r for r in RULES}


def test_the_spec_alerts_that_have_a_metric_today_are_shipped():
    assert set(BY_NAME) >= {"cash_flow_runway", "high_value_churn_risk", "satisfaction_below_target",
                            "daily_revenue_shortfall", "efficiency_drop", "capacity_threshold"}
    levels = {n: (r.comparison.level or max(r.comparison.levels, key=lambda lv: lv.rank)).value
              for n, r in BY_NAME.items()}
    assert levels["cash_flow_runway"] == "critical"
    assert {levels[n] for n in ("high_value_churn_risk", "satisfaction_below_target", "daily_revenue_shortfall",
                                "efficiency_drop", "capacity_threshold")} == {"warning"}
    assert not any("equipment_health" in r.metric for r in RULES)  # no fake rule before the metric exists


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
    return {"customer_churn_risk": "lower", "cash_runway_days": "higher", "demand_change": "higher",
            "pricing_pressure": "higher"}[rule.metric]


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
