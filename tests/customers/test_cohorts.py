"""Cohort retention in DuckDB, against a hand count on a small job table and against pandas on the demo lake."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from quantlib.customers.cohorts import cohort_retention
from quantlib.data.gold import connect_gold, gold_as_of

D = dt.date


@pytest.fixture
def jobs():
    """Seven customers' jobs (comments: the customer's cohort month and active months).

    G: cohort Dec 2023, back in Mar 2024. A: Jan, back Feb and Apr. B: Jan (on the 31st), back Mar.
    C: Feb (a later job not completed). D: Feb (back in May, after the as-of date of the tests).
    E: Apr. F: never completed a job. A completed job without a customer is ignored.
    """
    rows = [("G", D(2023, 12, 10), True), ("G", D(2024, 3, 5), True),
            ("A", D(2024, 1, 5), True), ("A", D(2024, 1, 20), True), ("A", D(2024, 2, 10), True),
            ("A", D(2024, 4, 2), True),
            ("B", D(2024, 1, 31), True), ("B", D(2024, 3, 15), True),
            ("C", D(2024, 2, 1), True), ("C", D(2024, 3, 1), False),
            ("D", D(2024, 2, 28), True), ("D", D(2024, 5, 3), True),
            ("E", D(2024, 4, 15), True),
            ("F", None, False), (None, D(2024, 1, 9), True)]
    frame = pd.DataFrame(rows, columns=["customer_id", "completed_date", "is_completed"])
    con = duckdb.connect(":memory:")
    con.register("job_rows", frame)
    con.execute("CREATE TABLE job_facts AS SELECT customer_id, completed_date::DATE AS completed_date, "
                "is_completed FROM job_rows")
    yield con
    con.close()


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [(r.cohort.date(), r.period, r.customers, r.active) for r in frame.itertuples()]


def test_monthly_retention_by_hand(jobs):
    got = cohort_retention(jobs, as_of="2024-04-30", periods=3)
    assert _rows(got) == [
        (D(2023, 12, 1), 0, 1, 1), (D(2023, 12, 1), 1, 1, 0), (D(2023, 12, 1), 2, 1, 0), (D(2023, 12, 1), 3, 1, 1),
        (D(2024, 1, 1), 0, 2, 2), (D(2024, 1, 1), 1, 2, 1), (D(2024, 1, 1), 2, 2, 1), (D(2024, 1, 1), 3, 2, 1),
        (D(2024, 2, 1), 0, 2, 2), (D(2024, 2, 1), 1, 2, 0), (D(2024, 2, 1), 2, 2, 0),  # May has not ended
        (D(2024, 4, 1), 0, 1, 1),
    ]
    assert got["retention"].tolist() == pytest.approx([1, 0, 0, 1, 1, .5, .5, .5, 1, 0, 0, 1])
    assert got.attrs["as_of"] == D(2024, 4, 30)


def test_a_month_counts_only_once_it_has_ended(jobs):
    got = cohort_retention(jobs, as_of="2024-04-29", periods=3)
    # April has not ended: no April period for any cohort, no row for the April cohort (E's job still
    # happened, but its period 0 is not over).
    assert _rows(got) == [
        (D(2023, 12, 1), 0, 1, 1), (D(2023, 12, 1), 1, 1, 0), (D(2023, 12, 1), 2, 1, 0), (D(2023, 12, 1), 3, 1, 1),
        (D(2024, 1, 1), 0, 2, 2), (D(2024, 1, 1), 1, 2, 1), (D(2024, 1, 1), 2, 2, 1),
        (D(2024, 2, 1), 0, 2, 2), (D(2024, 2, 1), 1, 2, 0),
    ]


def test_jobs_after_as_of_are_ignored(jobs):
    early = cohort_retention(jobs, as_of="2024-01-31", periods=3)
    # B's first job is on the 31st and counts; nothing of February exists yet.
    assert _rows(early) == [(D(2023, 12, 1), 0, 1, 1), (D(2023, 12, 1), 1, 1, 0), (D(2024, 1, 1), 0, 2, 2)]


def test_quarterly_and_weekly_periods(jobs):
    quarters = cohort_retention(jobs, as_of="2024-04-30", period="quarter", periods=2)
    assert _rows(quarters) == [(D(2023, 10, 1), 0, 1, 1), (D(2023, 10, 1), 1, 1, 1), (D(2024, 1, 1), 0, 4, 4)]
    weekly = duckdb.connect(":memory:")
    weekly.execute("""CREATE TABLE job_facts AS SELECT * FROM (VALUES
        ('X', DATE '2024-01-01', true), ('X', DATE '2024-01-10', true),
        ('Y', DATE '2024-01-07', true), ('Y', DATE '2024-01-22', true)) t(customer_id, completed_date, is_completed)""")
    weeks = cohort_retention(weekly, as_of="2024-01-21", period="week", periods=3)
    assert _rows(weeks) == [(D(2024, 1, 1), 0, 2, 2), (D(2024, 1, 1), 1, 2, 1), (D(2024, 1, 1), 2, 2, 0)]


def test_default_as_of_is_the_last_completed_job_without_build_params(jobs):
    assert cohort_retention(jobs).attrs["as_of"] == D(2024, 5, 3)


def test_only_the_latest_cohorts(jobs):
    everything = cohort_retention(jobs, as_of="2024-04-30", periods=3)
    latest = cohort_retention(jobs, as_of="2024-04-30", periods=3, cohorts=2)
    assert _rows(latest) == [(D(2024, 2, 1), 0, 2, 2), (D(2024, 2, 1), 1, 2, 0), (D(2024, 2, 1), 2, 2, 0),
                             (D(2024, 4, 1), 0, 1, 1)]
    assert _rows(cohort_retention(jobs, as_of="2024-04-30", periods=3, cohorts=10)) == _rows(everything)


def test_arguments_are_checked(jobs):
    with pytest.raises(ValueError, match="period"):
        cohort_retention(jobs, period="year")
    with pytest.raises(ValueError, match="periods"):
        cohort_retention(jobs, periods=-1)


def test_demo_lake_against_pandas(demo_lake):
    con = connect_gold(demo_lake)
    try:
        as_of = gold_as_of(con)
        got = cohort_retention(con, periods=6)
        done = con.execute("SELECT customer_id, completed_date FROM job_facts WHERE is_completed "
                           "AND completed_date <= ?", [as_of]).df()
    finally:
        con.close()
    assert (got.loc[got["period"] == 0, "retention"] == 1.0).all()
    assert got.loc[got["period"] == 0, "customers"].sum() == done["customer_id"].nunique()

    month = pd.to_datetime(done["completed_date"]).dt.to_period("M")
    cohort = month.groupby(done["customer_id"]).transform("min")
    done = done.assign(cohort=cohort, period=(month - cohort).map(lambda offset: offset.n))
    active = done.drop_duplicates(["customer_id", "period"]).groupby(["cohort", "period"]).size()
    sizes = done.drop_duplicates("customer_id").groupby("cohort").size()
    last_month = pd.Period(as_of, "M") if (as_of + dt.timedelta(days=1)).day == 1 else pd.Period(as_of, "M") - 1
    expected = [(c.start_time.date(), k, int(sizes[c]), int(active.get((c, k), 0)))
                for c in sizes.index for k in range(7) if (c + k) <= last_month]
    assert _rows(got) == expected
    assert got["period"].max() == 6 and len(got) > 50
    with pytest.raises(ValueError, match="cohorts"):
        cohort_retention(jobs, cohorts=0)
