"""The calendar heatmap: every day of the range in its week column and weekday row, one row of panels per line."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from quantlib.viz import calendar_heatmap
from quantlib.viz.calendars import WEEKDAYS, calendar_layout
from tests.viz.helpers import aria_labels, marks, render_svg, texts


@pytest.fixture
def daily():
    return pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-03", "2024-01-10"]),
                         "service_line": ["hvac", "hvac", "hvac", "plumbing"],
                         "revenue": [100.0, 200.0, 50.0, 75.0]})


def test_layout_fills_missing_days_and_places_each_in_its_week(daily):
    layout = calendar_layout(daily)
    assert len(layout) == 2 * 10  # 1..10 January for both lines
    assert layout.groupby("service_line")["revenue"].sum().to_dict() == {"hvac": 350.0, "plumbing": 75.0}
    wed = layout[(layout["service_line"] == "hvac") & (layout["date"] == "2024-01-03")].iloc[0]
    assert wed["revenue"] == 250.0 and wed["weekday"] == "Wed"
    assert wed["week"] == pd.Timestamp("2024-01-01") and wed["week_end"] == pd.Timestamp("2024-01-08")
    assert (layout["week"].dt.weekday == 0).all()
    assert list(layout["weekday"].cat.categories) == WEEKDAYS


def test_single_calendar_without_facet(daily):
    chart = calendar_heatmap(daily, facet=None, title="All lines")
    svg = render_svg(chart)
    assert len(marks(svg, "rect")) == 10
    assert "Revenue: $250; Day: Wed 03 Jan 2024" in "|".join(aria_labels(svg))
    assert "All lines" in texts(svg)


def test_demo_daily_revenue_by_service_line(gold):
    daily = gold.execute("SELECT date, service_line, revenue FROM daily_revenue "
                         "WHERE date BETWEEN DATE '2024-04-01' AND DATE '2024-06-30'").df()
    lines = sorted(daily["service_line"].unique())
    svg = render_svg(calendar_heatmap(daily))
    words = texts(svg)
    assert [w for w in words if w in lines] == lines  # a row of panels per service line, titled
    assert words.count("Mon") == len(lines)
    assert len(marks(svg, "rect")) == len(lines) * 91
    # The busiest day's tooltip carries its date and value.
    top = daily.sort_values("revenue").iloc[-1]
    day = pd.Timestamp(top["date"])
    expected = f"Revenue: ${top['revenue']:,.0f}; Service line: {top['service_line']}; Day: {day:%a %d %b %Y}"
    assert any(label.endswith(expected) for label in aria_labels(svg))
    assert "Daily revenue by service line" in words


def test_missing_columns_are_named(daily):
    with pytest.raises(ValueError, match="amount"):
        calendar_layout(daily, value="amount")
    assert calendar_layout(daily.assign(date=[dt.date(2024, 1, 1)] * 4), facet=None)["revenue"].sum() == 425.0


def test_years_of_days_render_past_altairs_row_guard():
    days = pd.date_range("2022-01-01", "2024-12-31", freq="D")
    lines = ["electrical", "hvac", "plumbing", "roofing", "solar"]
    daily = pd.DataFrame({"date": days.repeat(len(lines)), "service_line": lines * len(days), "revenue": 1.0})
    assert len(daily) > 5000
    chart = calendar_heatmap(daily)
    assert len(chart.to_dict()["data"]["values"]) == len(daily)
