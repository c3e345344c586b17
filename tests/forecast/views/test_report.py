"""The monthly review's forecast views: the low-cash warning in words, on both sides of the threshold."""

from __future__ import annotations

import pytest

from quantlib.forecast.pipeline import warehouse_snapshot
from quantlib.forecast.views import report as fv


@pytest.fixture(scope="module")
def snap(demo_lake):
    return warehouse_snapshot(demo_lake.gold)


def test_low_cash_warning_names_the_day(snap):
    low = fv.cash_outlook(snap, starting_cash=0.0, horizon_days=60)
    assert low.warning_date_ is not None and len(low.forecast()) == 60
    text = fv.cash_outlook_text(low)
    assert text.startswith("**Low-cash warning")
    assert f"{low.warning_date_:%d %B %Y}" in text and f"${low.threshold_:,.0f}" in text
    assert "60 days" in text and "Warning" not in text  # reports must not look like Python warnings
    assert f"starts from \\$0 of cash at the end of {snap.as_of:%d %B %Y}" in text  # escaped for Markdown


def test_no_warning_when_cash_stays_above(snap):
    rich = fv.cash_outlook(snap, starting_cash=1e9, horizon_days=30)
    assert rich.warning_date_ is None
    text = fv.cash_outlook_text(rich)
    assert text.startswith("No low-cash warning") and "Even the pessimistic case" in text
    low = rich.forecast()["cash"].min()
    assert f"${low:,.0f}" in text


def test_demand_by_service_line_sums_regions():
    import pandas as pd

    from quantlib.forecast.views.report import demand_by_service_line

    forecast = pd.DataFrame({"series_id": ["hvac/north", "hvac/south", "roofing/north"],
                             "ds": pd.to_datetime(["2025-01-06"] * 3), "yhat": [2.0, 3.0, 4.0]})
    out = demand_by_service_line(forecast).set_index("service_line")["yhat"]
    assert out.to_dict() == {"hvac": 5.0, "roofing": 4.0}


def test_cash_tables_carry_their_formats(snap):
    from quantlib.views import report_table

    fc = fv.cash_outlook(snap, starting_cash=1e6, horizon_days=60)
    totals = fv.cash_totals(fc)
    assert totals["window"].tolist() == [30, 60]  # fv.cash_windows(60)
    html = report_table(totals).to_html()
    assert f"${totals['cash_end'].iloc[-1]:,.0f}" in html and "Inflow 80 % high" in html and "Days" in html
    html = report_table(fv.cash_outlook_table(fc, windows=(30,))).to_html()
    assert "Cash in" in html and "Cash at the end" in html and "$" in html and "inflow_lo_80" not in html
    scenarios = fv.cash_scenarios(fc)
    html = report_table(scenarios).to_html()
    assert f"{scenarios['low_date'].iloc[0]:%d %b %Y}" in html and f"${fc.threshold_:,.0f}" in html


def test_forecast_views_declare_percentages_and_labels():
    assert fv.revenue_scenario_table.formats["change_vs_last_year"] == "change"
    assert fv.revenue_accuracy.labels["wape"] == "WAPE" and fv.revenue_accuracy.formats["accuracy"] == "pct"
    assert fv.revenue_horizons.formats["likely"] == "money" and fv.revenue_horizons.labels["horizon"] == "Days"
    assert fv.cash_windows(100) == (30, 60, 90)


def test_outlook_texts_escape_money_for_markdown(snap):
    """Two bare dollar signs make a Markdown formula, which showed '**$378,730**' literally."""
    import re

    bare_dollar = re.compile(r"(?<!\\)\$")
    revenue = fv.revenue_outlook_text(fv.revenue_outlook(snap, horizon_days=30), horizon_days=30)
    assert "**\\$" in revenue and not bare_dollar.search(revenue), revenue
    for cash in (0.0, 1e9):
        text = fv.cash_outlook_text(fv.cash_outlook(snap, starting_cash=cash, horizon_days=30))
        assert not bare_dollar.search(text), text
