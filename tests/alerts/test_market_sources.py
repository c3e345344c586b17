"""The market metric sources read the market signals of gold, and the shipped market rules judge them."""

from __future__ import annotations

import pytest

from quantlib.alerts import AlertRule, MetricUnavailable, evaluate_observations, load_alerts
from quantlib.alerts.sources import MetricContext, observe
from quantlib.config import project_root
from quantlib.data.gold import open_gold
from quantlib.kpi.market import demand_changes, pricing_pressure

RULES = {r.name: r for r in load_alerts(project_root() / "parameters" / "alerts")[0]}


def test_market_rules_are_shipped():
    assert RULES["demand_drop"].category == RULES["price_erosion"].category == "market"
    assert RULES["demand_drop"].topic == "demand changes" and RULES["price_erosion"].topic == "pricing pressure"


def test_demand_change_observes_each_service_line_against_a_year_earlier(demo_lake):
    rule = RULES["demand_drop"]
    with open_gold(demo_lake) as con:
        observations = observe(MetricContext(con), rule)
        expected = demand_changes(con, days=90, by="service_line", shift_days=364)
    expected = expected[expected["baseline"] >= 20].set_index("service_line")
    assert {o.subject for o in observations} == {f"service_line={line}" for line in expected.index}
    for o in observations:
        line = o.subject.split("=")[1]
        assert (o.value, o.reference) == (expected.loc[line, "recent"], expected.loc[line, "baseline"])
    # The findings are exactly the lines whose demand fell 10 % or more.
    fell = {f"service_line={line}" for line, row in expected.iterrows() if row["recent"] <= 0.9 * row["baseline"]}
    assert {f.subject for f in evaluate_observations(rule, observations)} == fell


def test_pricing_pressure_observes_the_average_price(demo_lake):
    rule = RULES["price_erosion"]
    with open_gold(demo_lake) as con:
        observations = observe(MetricContext(con), rule)
        expected = pricing_pressure(con, days=90, by="service_line", shift_days=364, min_jobs=10).set_index(
            "service_line")
    assert observations and len(observations) == len(expected)
    for o in observations:
        line = o.subject.split("=")[1]
        assert o.value == pytest.approx(expected.loc[line, "price"])
        assert o.reference == pytest.approx(expected.loc[line, "baseline_price"])
        assert o.unit == "currency" and "jobs completed in the last 90 days" in o.detail
    findings = evaluate_observations(rule, observations)
    for f in findings:
        assert f.variance >= 0.05 and f.message.startswith(f.level.value.upper())


def test_market_sources_need_a_baseline_comparison_and_enough_history(demo_lake):
    wrong = AlertRule.model_validate({**RULES["demand_drop"].model_dump(), "comparison": {"kind": "target"}})
    far = AlertRule.model_validate({**RULES["price_erosion"].model_dump(),
                                    "comparison": {"kind": "baseline", "baseline_days": 3000}})
    with open_gold(demo_lake) as con:
        with pytest.raises(MetricUnavailable, match="kind 'baseline'"):
            observe(MetricContext(con), wrong)
        with pytest.raises(MetricUnavailable, match="no data 3000 days before"):
            observe(MetricContext(con), far)
