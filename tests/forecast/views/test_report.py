"""The monthly review's forecast views: the low-cash warning in words, on both sides of the threshold."""

from __future__ import annotations

import pytest

from quantlib.forecast.views import report as fv
from quantlib.forecast.pipeline import warehouse_snapshot


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
    assert f"starts from $0 of cash at the end of {snap.as_of:%d %B %Y}" in text


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
