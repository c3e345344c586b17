"""Cohort retention: of the customers whose first completed job fell in a month, how many come back.

A customer's cohort is the period (month by default) of its first completed job. It is *active*
in period ``k`` of its cohort when it has a completed job in the ``k``-th period after that one
(period 0 is the cohort's own period, where every customer is active by definition). Only
periods that have ended by the as-of date are reported, so a half-finished month never reads as
churn. Everything is one DuckDB query on ``job_facts``.

>>> cohort_retention("data/demo/mixed_trades/lake", periods=12)          # doctest: +SKIP
"""

from __future__ import annotations

import duckdb
import pandas as pd

from quantlib.data.gold import gold_as_of, open_gold, to_date

__all__ = ["PERIODS", "cohort_retention"]

#: Cohort period lengths and the DuckDB function that turns a number of them into an interval.
PERIODS: dict[str, str] = {"week": "to_weeks", "month": "to_months", "quarter": "to_months"}
_MONTHS_PER = {"week": 1, "month": 1, "quarter": 3}

_RETENTION_SQL = """
WITH done AS (
    -- one row per customer and period with a completed job up to as-of
    SELECT DISTINCT customer_id, date_trunc('{period}', completed_date)::DATE AS period_start
    FROM job_facts
    WHERE is_completed AND customer_id IS NOT NULL AND completed_date <= $as_of
),
firsts AS (
    SELECT customer_id, min(period_start) AS cohort FROM done GROUP BY customer_id
),
sizes AS (
    SELECT cohort, count(*) AS customers FROM firsts GROUP BY cohort
),
activity AS (
    SELECT f.cohort, date_diff('{period}', f.cohort, d.period_start) AS period, count(*) AS active
    FROM done d JOIN firsts f USING (customer_id)
    GROUP BY ALL
),
grid AS (
    -- a cohort's period k counts once it has ended: its last day is on or before as-of
    SELECT s.cohort, k.period, s.customers
    FROM sizes s, range(0, $periods + 1) AS k(period)
    WHERE s.cohort + {to_interval}(CAST((k.period + 1) * {step} AS INTEGER)) <= $as_of + INTERVAL 1 DAY
)
SELECT g.cohort, g.period, g.customers, coalesce(a.active, 0) AS active,
       coalesce(a.active, 0) / g.customers AS retention
FROM grid g LEFT JOIN activity a USING (cohort, period)
ORDER BY g.cohort, g.period
"""


def _default_as_of(con: duckdb.DuckDBPyConnection):
    """Gold's build date, or the last completed job's date where there is no ``build_params`` table."""
    has_params = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'build_params'").fetchone()[0]
    if has_params:
        return gold_as_of(con)
    return con.execute("SELECT max(completed_date) FROM job_facts WHERE is_completed").fetchone()[0]


def cohort_retention(con_or_lake, as_of=None, period: str = "month", periods: int = 12,
                     cohorts: int | None = None) -> pd.DataFrame:
    """Retention of each first-job cohort over the periods after its first completed job.

    Parameters
    ----------
    con_or_lake : connection, report context, Lake or path
        Gold (anything :func:`~quantlib.data.gold.open_gold` takes), or any DuckDB connection
        with a ``job_facts`` table of ``customer_id``, ``completed_date`` (DATE) and
        ``is_completed``.
    as_of : date-like, optional
        Jobs completed after it are ignored and only periods ended by it are reported. Default:
        gold's as-of date (the last completed job's date when there is no ``build_params``).
    period : {"month", "quarter", "week"}
        The length of a cohort and of a retention period (weeks start on Monday).
    periods : int
        The last period reported after the cohort's own (period 0).
    cohorts : int, optional
        Only the latest ``cohorts`` cohorts (default: every cohort since the first job).

    Returns
    -------
    DataFrame
        Long format, one row per cohort and ended period, sorted: ``cohort`` (the first day of
        the cohort's period), ``period`` (0 .. ``periods``), ``customers`` (the cohort's size),
        ``active`` (its customers with a completed job in that period) and ``retention``
        (``active / customers``; 1.0 in period 0).

    Raises
    ------
    ValueError
        For an unknown ``period``, a negative ``periods`` or ``cohorts`` below 1.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {sorted(PERIODS)}, got {period!r}")
    if periods < 0:
        raise ValueError(f"periods must be 0 or more, got {periods}")
    if cohorts is not None and cohorts < 1:
        raise ValueError(f"cohorts must be 1 or more, got {cohorts}")
    sql = _RETENTION_SQL.format(period=period, to_interval=PERIODS[period], step=_MONTHS_PER[period])
    with open_gold(con_or_lake) as con:
        day = _default_as_of(con) if as_of is None else to_date(as_of)
        frame = con.execute(sql, {"as_of": day, "periods": periods}).df()
    frame["cohort"] = pd.to_datetime(frame["cohort"])
    frame = frame.astype({"period": "int64", "customers": "int64", "active": "int64", "retention": "float64"})
    if cohorts is not None:
        latest = sorted(frame["cohort"].unique())[-cohorts:]
        frame = frame[frame["cohort"].isin(latest)].reset_index(drop=True)
    frame.attrs.update(as_of=day, period=period)
    return frame
