"""Market signals (demand changes, pricing pressure, discounts) against pandas on the silver tables."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from quantlib.kpi import KpiUnavailable
from quantlib.kpi.market import baseline_windows, demand_changes, discount_pressure, pricing_pressure


@pytest.fixture(scope="module")
def silver(demo_lake):
    jobs = pd.read_parquet(demo_lake.silver_table("jobs"))
    quotes = pd.read_parquet(demo_lake.silver_table("quotes"))
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        as_of, start = con.execute("SELECT as_of, data_start FROM build_params").fetchone()
    return jobs, quotes, as_of, start


def _between(series: pd.Series, first: dt.date, last: dt.date) -> pd.Series:
    days = series.dt.date
    return (days >= first) & (days <= last)


def test_baseline_is_last_year_when_gold_reaches_it_else_trailing_windows(demo_lake, silver):
    _, _, as_of, start = silver
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        last_year = baseline_windows(con, as_of, 90)
        assert last_year.label == "same 90 days last year"
        assert last_year.baselines == [((pd.Timestamp(as_of - dt.timedelta(days=89)) - pd.DateOffset(years=1)).date(),
                                        (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date())]
        # A date 150 days after the data starts: one full 90-day window before the recent one, not a year.
        early = start + dt.timedelta(days=150)
        trailing = baseline_windows(con, early, 60)
        assert trailing.label == "previous 1 x 60 days"
        assert trailing.baselines == [(early - dt.timedelta(days=119), early - dt.timedelta(days=60))]
        with pytest.raises(KpiUnavailable):
            baseline_windows(con, start + dt.timedelta(days=30), 60)
        with pytest.raises(KpiUnavailable):
            baseline_windows(con, as_of, 90, shift_days=(as_of - start).days)


def test_demand_changes_are_the_job_counts(demo_lake, silver):
    jobs, _, as_of, _ = silver
    table = demand_changes(demo_lake, days=90)
    recent_first = as_of - dt.timedelta(days=89)
    ly_first = (pd.Timestamp(recent_first) - pd.DateOffset(years=1)).date()
    ly_last = (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()
    recent = jobs[_between(jobs["created_at"], recent_first, as_of)].groupby(["service_line", "job_type"]).size()
    base = jobs[_between(jobs["created_at"], ly_first, ly_last)].groupby(["service_line", "job_type"]).size()
    got = table.set_index(["service_line", "job_type"])
    for key in recent.index.union(base.index):
        assert got.loc[key, "recent"] == recent.get(key, 0)
        assert got.loc[key, "baseline"] == base.get(key, 0)
    assert table.attrs["total_recent"] == recent.sum() and table.attrs["total_baseline"] == base.sum()
    moves = table["change_jobs"].abs().tolist()
    assert moves == sorted(moves, reverse=True)                      # biggest movers first
    row = table.iloc[0]
    assert row["change"] == pytest.approx((row["recent"] - row["baseline"]) / row["baseline"])


def test_trailing_demand_baseline_is_the_mean_of_its_windows(demo_lake, silver):
    jobs, _, as_of, _ = silver
    table = demand_changes(demo_lake, days=30, by="service_line", shift_days=None, trailing_periods=3)
    # The data reaches a year back: a year-ago window, unless shifted. Shifted by 30 days:
    shifted = demand_changes(demo_lake, days=30, by="service_line", shift_days=30)
    first, last = as_of - dt.timedelta(days=59), as_of - dt.timedelta(days=30)
    expected = jobs[_between(jobs["created_at"], first, last)].groupby("service_line").size()
    assert shifted.set_index("service_line")["baseline"].to_dict() == expected.astype(float).to_dict()
    assert table.attrs["baseline"] == "same 30 days last year"


def test_pricing_pressure_is_the_mean_revenue_of_completed_jobs(demo_lake, silver):
    jobs, _, as_of, _ = silver
    table = pricing_pressure(demo_lake, days=90, by="service_line", min_jobs=5)
    done = jobs[(jobs["status"] == "completed") & (jobs["revenue"] > 0)]
    first = as_of - dt.timedelta(days=89)
    recent = done[_between(done["completed_at"], first, as_of)].groupby("service_line")["revenue"]
    ly = done[_between(done["completed_at"], (pd.Timestamp(first) - pd.DateOffset(years=1)).date(),
                       (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date())].groupby("service_line")["revenue"]
    got = table.set_index("service_line")
    for line in got.index:
        assert got.loc[line, "price"] == pytest.approx(recent.mean()[line])
        assert got.loc[line, "baseline_price"] == pytest.approx(ly.mean()[line])
        assert got.loc[line, "jobs"] == recent.size()[line]
    assert table["change"].tolist() == sorted(table["change"].tolist())     # largest fall first
    # Service types below min_jobs are set aside, and named.
    few = pricing_pressure(demo_lake, days=90, min_jobs=10_000)
    assert few.empty and len(few.attrs["too_few"]) > 0


def test_discount_pressure_is_the_quotes_discount_off_list(demo_lake, silver):
    _, quotes, as_of, _ = silver
    table = discount_pressure(demo_lake, days=90)
    first = as_of - dt.timedelta(days=89)
    q = quotes[_between(quotes["created_at"], first, as_of) & (quotes["list_amount"] > 0)]
    discount = (1 - q["amount"] / q["list_amount"]).groupby(q["service_line"]).mean()
    below = (q["amount"] < q["list_amount"]).groupby(q["service_line"]).mean()
    got = table.set_index("service_line")
    for line in discount.index:
        assert got.loc[line, "discount"] == pytest.approx(discount[line])
        assert got.loc[line, "discounted_share"] == pytest.approx(below[line])
        assert got.loc[line, "change_points"] == pytest.approx(discount[line] - got.loc[line, "baseline_discount"])
