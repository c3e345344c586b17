"""Comparisons and levels at each boundary: 9.9 % nothing, 10 % info, 20 % warning, 30 % critical."""

from __future__ import annotations

import pytest

from quantlib.alerts import Observation, bad_side_variance, evaluate_observations, level_for
from quantlib.alerts.rules import DEFAULT_LEVELS
from quantlib.errors import AlertLevel
from tests.alerts.helpers import rule

BOUNDARIES = [(0.0, None), (0.05, None), (0.099, None), (0.0999999, None), (0.10, "info"), (0.15, "info"),
              (0.199, "info"), (0.20, "warning"), (0.299, "warning"), (0.30, "critical"), (0.9, "critical")]


@pytest.mark.parametrize("variance, expected", BOUNDARIES)
def test_level_ladder_at_each_boundary(variance, expected):
    level = level_for(variance, DEFAULT_LEVELS)
    assert (None if level is None else level.value) == expected


@pytest.mark.parametrize("direction", ["higher", "lower"])
@pytest.mark.parametrize("pct, expected", [(9.9, None), (10, "info"), (19.9, "info"), (20, "warning"),
                                           (29.9, "warning"), (30, "critical")])
def test_target_comparison_fires_only_on_the_bad_side(direction, pct, expected):
    target = 0.9  # a target whose 10 % is not exact in binary: 0.9 * 0.9 = 0.81
    bad = target * (1 - pct / 100) if direction == "higher" else target * (1 + pct / 100)
    good = target * (1 + pct / 100) if direction == "higher" else target * (1 - pct / 100)
    r = rule(params={"direction": direction})
    found = evaluate_observations(r, [Observation("company", bad, target, direction=direction)])
    assert [f.level.value for f in found] == ([] if expected is None else [expected])
    assert evaluate_observations(r, [Observation("company", good, target, direction=direction)]) == []


def test_variance_is_relative_to_the_reference_and_signed():
    assert bad_side_variance(90, 100, "higher") == pytest.approx(0.10)
    assert bad_side_variance(0.9, 1.0, "higher") == 0.1  # rounded: not 0.0999999...
    assert bad_side_variance(110, 100, "higher") == pytest.approx(-0.10)
    assert bad_side_variance(55, 50, "lower") == pytest.approx(0.10)
    assert bad_side_variance(-110, -100, "higher") == pytest.approx(0.10)
    assert bad_side_variance(5, 0, "higher") is None and bad_side_variance(5, None, "higher") is None


def test_custom_levels_per_rule():
    r = rule(comparison={"kind": "target", "levels": {"warning": 0.0}})
    assert evaluate_observations(r, [Observation("c", 8.0, 8.0)]) == []  # on target: nothing
    [f] = evaluate_observations(r, [Observation("c", 7.99, 8.0)])
    assert f.level is AlertLevel.WARNING


@pytest.mark.parametrize("op, value, fires", [("<", 29.9, True), ("<", 30, False), ("<=", 30, True),
                                              (">", 0.7, False), (">", 0.7000001, True), (">=", 0.7, True)])
def test_threshold_comparison_uses_its_own_level(op, value, fires):
    threshold = 30 if op.startswith("<") else 0.7
    r = rule(comparison={"kind": "threshold", "op": op, "value": threshold, "level": "critical"})
    found = evaluate_observations(r, [Observation("company", value)])
    assert [f.level for f in found] == ([AlertLevel.CRITICAL] if fires else [])


@pytest.mark.parametrize("value, expected", [(100, None), (90, None), (89.2, None), (81, "info"), (72, "warning"),
                                             (63, "critical"), (200, None)])
def test_forecast_interval_comparison_measures_from_the_violated_bound(value, expected):
    r = rule(comparison={"kind": "forecast"})
    found = evaluate_observations(r, [Observation("s", value, lo=90, hi=110)])
    assert [f.level.value for f in found] == ([] if expected is None else [expected])
    r_low = rule(comparison={"kind": "forecast", "direction": "lower"})
    assert evaluate_observations(r_low, [Observation("s", 121, lo=90, hi=110)])[0].level is AlertLevel.INFO


def test_a_storm_of_rows_is_one_finding_per_subject_at_the_worst_level():
    r = rule()
    rows = [Observation(f"machine {i % 7}", 100 - (i % 40), 100) for i in range(10_000)]
    found = evaluate_observations(r, rows)
    assert len(found) == 7
    assert {f.level for f in found} == {AlertLevel.CRITICAL}
    # Every subject saw values down to 61 (i % 40 reaches 39 for each i % 7): the worst row is kept.
    assert [f.variance for f in found] == [pytest.approx(0.39)] * 7


def test_comparison_validation():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="threshold comparison needs"):
        rule(comparison={"kind": "threshold", "op": "<"})
    with pytest.raises(ValidationError, match="belong to threshold"):
        rule(comparison={"kind": "target", "op": "<", "value": 1})
    with pytest.raises(ValidationError, match="E.164"):
        rule(recipients={"sms": ["07700 900123"]})
    with pytest.raises(ValidationError, match="topic"):
        rule(topic="weather")
