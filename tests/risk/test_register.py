"""Levels at the threshold boundaries, the YAML parameters, the register and the monthly trends."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from quantlib.risk import (
    INDICATORS,
    LEVELS,
    RiskParametersError,
    level_of,
    load_risk_parameters,
    risk_register,
    risk_trend,
)


@pytest.mark.parametrize("value, level", [(44.99, "info"), (45.0, "warning"), (59.99, "warning"),
                                          (60.0, "critical"), (40.5, "info"), (40.49, "none")])
def test_dso_levels_at_the_boundaries(value, level):
    # Higher is worse: reaching 45 is a warning, 60 critical; info within 10 % of 45 (40.5).
    assert level_of(value, 45, 60, "higher", info_margin=0.1) == level


@pytest.mark.parametrize("value, level", [(7.5, "warning"), (7.51, "info"), (7.0, "critical"), (8.3, "none")])
def test_lower_is_worse_levels(value, level):
    assert level_of(value, 7.5, 7.0, "lower", info_margin=0.1) == level


def test_level_needs_a_value():
    with pytest.raises(ValueError):
        level_of(float("nan"), 1, 2, "higher")


def test_thresholds_come_from_the_yaml(demo_lake, tmp_path):
    reading = INDICATORS["customer_concentration"](demo_lake)
    assert reading.level == "none"
    # Put the warning exactly on the value: reaching it is a warning.
    params = load_risk_parameters()
    settings = params.customer_concentration.model_copy(update={"warning": reading.value, "critical": 0.9})
    moved = params.model_copy(update={"customer_concentration": settings})
    assert INDICATORS["customer_concentration"](demo_lake, params=moved).level == "warning"


def test_parameters_file_is_validated(tmp_path):
    bad = tmp_path / "risk.yaml"
    bad.write_text("dso: {warning: 45, owner: Finance, colour: red}\n")
    with pytest.raises(RiskParametersError, match="colour: unknown key"):
        load_risk_parameters(bad)
    with pytest.raises(RiskParametersError, match="not found"):
        load_risk_parameters(tmp_path / "missing.yaml")


def test_critical_on_the_better_side_is_refused(demo_lake):
    params = load_risk_parameters()
    wrong = params.model_copy(update={"dso": params.dso.model_copy(update={"warning": 60, "critical": 45})})
    with pytest.raises(RiskParametersError, match="better side"):
        INDICATORS["dso"](demo_lake, params=wrong)


def test_register_has_every_indicator_most_severe_first(demo_lake):
    register = risk_register(demo_lake, include_expensive=False)
    assert list(register.columns) == ["indicator", "label", "category", "value", "unit", "warning", "critical",
                                      "level", "previous", "trend", "owner", "mitigation"]
    assert set(register["indicator"]) | set(register.attrs["unavailable"]) == \
        set(INDICATORS) - {"seasonal_cash_reserve"}
    ranks = register["level"].map(LEVELS.index)
    assert ranks.is_monotonic_decreasing
    assert register["owner"].str.len().gt(0).all() and register["mitigation"].str.len().gt(0).all()
    row = register.set_index("indicator").loc["customer_concentration"]
    assert row["value"] == pytest.approx(INDICATORS["customer_concentration"](demo_lake).value)
    # A month earlier: same day, or the month's last day when it is shorter (31 Dec -> 30 Nov).
    a_month_ago = (pd.Timestamp(register.attrs["as_of"]) - pd.DateOffset(months=1)).date()
    assert a_month_ago.month != register.attrs["as_of"].month
    previous = INDICATORS["customer_concentration"](demo_lake, a_month_ago)
    assert row["previous"] == pytest.approx(previous.value)


def test_trend_is_the_indicator_at_each_month_end(demo_lake):
    trend = risk_trend(demo_lake, "dso", months=4)
    assert len(trend) == 4
    last = trend["month_end"].iloc[-1].date()
    for row in trend.itertuples():
        assert row.value == pytest.approx(INDICATORS["dso"](demo_lake, row.month_end.date()).value)
    assert trend["month_end"].iloc[-2].date() == (last.replace(day=1) - dt.timedelta(days=1))
    with pytest.raises(ValueError):
        risk_trend(demo_lake, "dso", months=0)
