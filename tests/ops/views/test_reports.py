"""Report figures from the plans: booked utilisation per week and re-planned working days."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from quantlib.ops.views.reports import operations_text, route_plan_figures, weekly_utilisation
from quantlib.ops.views.workforce import week_summary


@pytest.fixture(scope="module")
def gold(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    yield con
    con.close()


def test_weekly_utilisation_is_week_summary_week_by_week(gold):
    as_of = gold.execute("SELECT as_of FROM build_params").fetchone()[0]
    table = weekly_utilisation(gold, as_of, weeks=3)
    assert list(table["week_start"]) == sorted(table["week_start"])
    assert table["week_start"].iloc[-1] == as_of - dt.timedelta(days=as_of.weekday())
    for row in table.itertuples():
        expected = week_summary(gold, row.week_start)
        assert row.scheduled_hours == pytest.approx(expected["scheduled_hours"])
        assert row.utilisation == pytest.approx(expected["scheduled_hours"] / expected["available_hours"])


def test_route_plan_figures_cover_every_booked_job(gold):
    as_of = gold.execute("SELECT as_of FROM build_params").fetchone()[0]
    plans = route_plan_figures(gold, as_of, days=1)
    assert len(plans) == 1
    day = plans["day"].iloc[0]
    booked = gold.execute("SELECT count(*), avg(travel_minutes) FROM jobs WHERE status <> 'cancelled' "
                          "AND CAST(scheduled_start AS DATE) = ?", [day]).fetchone()
    assert plans["jobs"].iloc[0] == booked[0]
    assert plans["jobs_served"].iloc[0] + plans["jobs_dropped"].iloc[0] == booked[0]
    assert plans["recorded_travel_minutes_per_job"].iloc[0] == pytest.approx(booked[1])
    assert 0 < plans["planned_utilisation"].iloc[0] <= 1.5
    text = operations_text(weekly_utilisation(gold, as_of, weeks=1), plans)
    assert f"fit {plans['jobs_served'].iloc[0]} of {booked[0]} booked jobs" in text


def test_no_work_and_bad_arguments(gold):
    as_of = gold.execute("SELECT min(CAST(scheduled_start AS DATE)) FROM jobs").fetchone()[0] - dt.timedelta(days=400)
    assert route_plan_figures(gold, as_of, days=2).empty
    text = operations_text(weekly_utilisation(gold, as_of, weeks=1), route_plan_figures(gold, as_of, days=1))
    assert "Re-planned" not in text
    empty = route_plan_figures(gold, as_of, days=1)
    assert operations_text(empty.iloc[0:0], empty) == "No technician work was booked in this period."
    with pytest.raises(ValueError, match="days must be at least 1"):
        route_plan_figures(gold, as_of, days=0)
    with pytest.raises(ValueError, match="weeks must be at least 1"):
        weekly_utilisation(gold, as_of, weeks=0)


def test_report_figures_carry_their_formats(gold):
    from quantlib.views import report_table

    as_of = gold.execute("SELECT as_of FROM build_params").fetchone()[0]
    table = weekly_utilisation(gold, as_of, weeks=2)
    html = report_table(table).to_html()
    assert f"{table['utilisation'].iloc[-1]:.1%}" in html and "Week of" in html and "Lowest technician" in html
    assert route_plan_figures.formats["planned_utilisation"] == "pct"
    assert route_plan_figures.labels["jobs_dropped"] == "Left out"
