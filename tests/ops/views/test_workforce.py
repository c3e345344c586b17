"""Workforce views: the week summary the reports use, checked against the jobs themselves."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from quantlib.ops.views.workforce import default_week_start, week_summary


def test_week_summary_matches_the_jobs(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    week = default_week_start(as_of) - dt.timedelta(days=14)
    summary = week_summary(con, week + dt.timedelta(days=3))
    jobs = con.execute(
        """SELECT count(*), sum(scheduled_hours) FROM jobs WHERE status <> 'cancelled' AND technician_id IS NOT NULL
           AND scheduled_start >= ? AND scheduled_start < ?""", [week, week + dt.timedelta(days=7)]).fetchone()
    assert summary["week_start"] == week and week.weekday() == 0
    assert summary["jobs"] == jobs[0]
    assert summary["scheduled_hours"] == pytest.approx(jobs[1])
    assert summary["utilisation"] == pytest.approx(summary["scheduled_hours"] / summary["available_hours"])
    assert summary["utilisation_min"] <= summary["utilisation"] <= summary["utilisation_max"]
    planned = week_summary(con, week, optimise=True, time_limit=2.0)
    con.close()
    assert 0 < planned["planned_utilisation"] <= 1
    assert planned["planned_jobs_unassigned"] >= 0


def test_week_summary_of_an_empty_week(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    summary = week_summary(con, dt.date(1990, 1, 1))
    con.close()
    assert summary["technicians"] == 0 and summary["jobs"] == 0
    assert summary["utilisation"] != summary["utilisation"]  # NaN: no one employed


def test_workforce_tables_carry_their_formats(demo_lake):
    from quantlib.ops.views import workforce as wv
    from quantlib.views import report_table

    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    _, greedy, plan = wv.plan_week(con, default_week_start(as_of), max_jobs=20, time_limit=2.0)
    on_call = wv.on_call_staffing(con, as_of)
    con.close()
    html = report_table(wv.plan_comparison(greedy, plan)).to_html()
    assert "CP-SAT" in html and "Greedy" in html
    util = wv.technician_utilisation(plan)
    assert "technician_id" not in util
    assert f"{util['utilisation'].iloc[0]:.1%}" in report_table(util).to_html()
    html = report_table(on_call.drop(columns="period")).to_html()
    assert "Emergencies an hour" in html and "P(wait)" in html and "%" in html
    assert wv.unassigned_jobs(plan).attrs["formats"] == {"hours": "num2"}
    assert wv.allocation_summary.formats["served_share"] == "pct"
    assert wv.sla_breaches.formats == {"week": "int", "short_hours": "num1", "demand_hours": "num1"}
