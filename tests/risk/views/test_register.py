"""Risk views: the register, trend and scorecard tables carry their numbers and formats."""

from __future__ import annotations

import pytest

from quantlib.risk import INDICATORS, risk_register
from quantlib.risk.views import register as views
from quantlib.views import report_table


def test_register_table_is_the_register_with_units(demo_lake):
    table = views.risk_register_table(demo_lake, include_expensive=False)
    register = risk_register(demo_lake, include_expensive=False)
    assert list(table["label"]) == list(register["label"])
    assert table["value"].tolist() == pytest.approx(register["value"].tolist())
    html = report_table(table).to_html()
    dso = INDICATORS["dso"](demo_lake)
    assert f"{dso.value:,.1f} d" in html and "45.0 d" in html     # value and warning in days
    assert "Unit" not in html and "Mitigation" in html and "Owner" in html


def test_trend_table(demo_lake):
    trend = views.risk_trend_table(demo_lake, "customer_concentration", months=3)
    assert len(trend) == 3 and (trend["unit"] == "ratio").all()
    assert "%" in report_table(trend).to_html()


def test_scorecard_table(demo_lake):
    assert views.default_baseline_year(demo_lake) == 2023   # the year before the year to 31 Dec 2024
    table = views.scorecard_table_view(demo_lake)
    assert table.attrs["baseline_year"] == 2023
    html = report_table(table).to_html()
    assert "pts" in html and ("yes" in html or "no" in html)
    assert "Success" not in html and "Change_unit" not in html and "Target unit" not in html
    with pytest.raises(views.ScorecardError):
        views.scorecard_table_view(demo_lake, 2024)


def test_level_history_is_each_indicators_trend_levels(demo_lake):
    from quantlib.risk import risk_trend
    from quantlib.risk.indicators import INDICATORS

    table = views.risk_level_history(demo_lake, months=3)
    cheap = [spec for spec in INDICATORS.values() if not spec.expensive]
    assert list(table["indicator"]) == [spec.label for spec in cheap]
    assert len(table.columns) == 4 and table.columns[-1] == f"{table.attrs['month_ends'][-1]:%b %Y}"
    dso = risk_trend(demo_lake, "dso", 3)
    row = table.set_index("indicator").loc[INDICATORS["dso"].label]
    assert list(row) == [level if level is not None else "n/a" for level in dso["level"]]
    assert set(table.iloc[:, 1:].to_numpy().ravel()) <= {"none", "info", "warning", "critical", "n/a"}
