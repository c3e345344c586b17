"""Market signals from gold: demand changes and pricing pressure by service line and job type.

* **Demand** is the number of jobs requested (created, cancelled ones included: a cancelled
  request was still demand) in a recent window, against a baseline window.
* **Price** is the average revenue of the jobs completed in the window (the realised price of a
  job of that type), against a baseline window.
* **Discount** is the average discount of the quotes issued in the window off their list
  price (``1 - amount / list_amount``) and the share of quotes priced below list.

The baseline is the same window a year earlier when gold goes back that far, else the mean
of the windows of the same length just before the recent one (``trailing``); a function can
also be given a shift in days (``shift_days``) for "the same window that many days earlier".

>>> demand_changes("data/demo/mixed_trades/lake", days=90)          # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.kpi.registry import KpiUnavailable

__all__ = ["DEFAULT_BY", "BaselineWindows", "baseline_windows", "demand_changes", "discount_pressure",
           "pricing_pressure"]

#: The default grouping: the service type is a service line and a job type (``hvac`` / ``repair``).
DEFAULT_BY = ("service_line", "job_type")
_ALLOWED_BY = {"service_line", "job_type", "region"}


class BaselineWindows:
    """The recent window and its baseline windows (all inclusive date ranges).

    Attributes
    ----------
    recent : (date, date)
    baselines : list of (date, date)
        One window (a shifted one) or several (trailing ones, averaged).
    label : str
        How a report names the baseline: ``same 90 days last year``, ``previous 3 x 90 days``,
        ``same 90 days 28 days earlier``.
    """

    def __init__(self, recent, baselines, label):
        self.recent, self.baselines, self.label = recent, baselines, label

    def __repr__(self) -> str:
        return f"BaselineWindows({self.recent}, {self.baselines}, {self.label!r})"


def _shift(day: dt.date, days: int | None = None, years: int = 0) -> dt.date:
    if years:
        return (pd.Timestamp(day) - pd.DateOffset(years=years)).date()
    return day - dt.timedelta(days=days)


def baseline_windows(con, as_of: dt.date, days: int, shift_days: int | None = None,
                     trailing_periods: int = 3) -> BaselineWindows:
    """The recent ``days`` days to ``as_of`` and the baseline they are compared with.

    Parameters
    ----------
    shift_days : int, optional
        The same window ``shift_days`` earlier. Default: the same window a year earlier when
        gold's data starts by then, else up to ``trailing_periods`` windows just before.

    Raises
    ------
    KpiUnavailable
        When gold does not cover even one baseline window.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    start = as_of - dt.timedelta(days=days - 1)
    data_start = con.execute("SELECT data_start FROM build_params").fetchone()[0]
    if shift_days is not None:
        window = (_shift(start, shift_days), _shift(as_of, shift_days))
        if window[0] < data_start:
            raise KpiUnavailable(f"no data {shift_days} days before the last {days} days (data start {data_start})")
        return BaselineWindows((start, as_of), [window], f"same {days} days {shift_days} days earlier")
    last_year = (_shift(start, years=1), _shift(as_of, years=1))
    if last_year[0] >= data_start:
        return BaselineWindows((start, as_of), [last_year], f"same {days} days last year")
    windows = []
    end = start - dt.timedelta(days=1)
    for _ in range(trailing_periods):
        first = end - dt.timedelta(days=days - 1)
        if first < data_start:
            break
        windows.append((first, end))
        end = first - dt.timedelta(days=1)
    if not windows:
        raise KpiUnavailable(f"less than {2 * days} days of data: no baseline for the last {days} days")
    return BaselineWindows((start, as_of), windows, f"previous {len(windows)} x {days} days")


def _by(by) -> list[str]:
    columns = [by] if isinstance(by, str) else list(by)
    unknown = set(columns) - _ALLOWED_BY
    if unknown or not columns:
        raise ValueError(f"by: one or more of {', '.join(sorted(_ALLOWED_BY))}, not {sorted(unknown) or 'nothing'}")
    return columns


def _windows_sql(windows: BaselineWindows, column: str) -> tuple[str, list]:
    """SQL ``CASE`` naming each row's window (``recent`` / ``baseline``) and its parameters."""
    cases, params = [f"WHEN {column} BETWEEN ? AND ? THEN 'recent'"], list(windows.recent)
    for first, last in windows.baselines:
        cases.append(f"WHEN {column} BETWEEN ? AND ? THEN 'baseline'")
        params += [first, last]
    return f"CASE {' '.join(cases)} END", params


def _relative(recent: pd.Series, baseline: pd.Series) -> pd.Series:
    return (recent - baseline) / baseline.where(baseline != 0)


def _rows_by_window(source, as_of, days: int, shift_days: int | None, trailing_periods: int, *, keys: str,
                    date_column: str, measures: str, table: str,
                    where: str = "") -> tuple[pd.DataFrame, BaselineWindows]:
    """Gold's ``table`` grouped by ``keys`` and window, with the windows.

    Opens gold, resolves the as-of date (``source.as_of`` when ``as_of`` is not given) and the
    baseline (:func:`baseline_windows`), then runs ``SELECT keys, <window> AS period, measures
    FROM table WHERE [where AND] period IS NOT NULL GROUP BY ALL``, the window (``recent`` /
    ``baseline``) being that of ``date_column``.
    """
    with open_gold(source) as con:
        day = as_of_date(con, getattr(source, "as_of", None) if as_of is None else as_of)
        windows = baseline_windows(con, day, days, shift_days, trailing_periods)
        case, params = _windows_sql(windows, date_column)
        condition = f"{where} AND " if where else ""
        rows = con.execute(
            f"SELECT {keys}, {case} AS period, {measures} FROM {table} "
            f"WHERE {condition}period IS NOT NULL GROUP BY ALL", params).df()
    return rows, windows


def demand_changes(source, as_of=None, days: int = 90, by=DEFAULT_BY, shift_days: int | None = None,
                   trailing_periods: int = 3) -> pd.DataFrame:
    """Jobs requested in the last ``days`` days against the baseline, by service type; biggest movers first.

    Parameters
    ----------
    source : connection, report context, Lake or path
        Gold (anything :func:`~quantlib.data.gold.open_gold` takes).
    as_of : date-like, optional
        Default gold's as-of date.
    by : str or sequence of str
        ``service_line``, ``job_type``, ``region`` (default service line and job type).
    shift_days, trailing_periods
        The baseline (:func:`baseline_windows`).

    Returns
    -------
    DataFrame
        ``*by, recent, baseline, change_jobs, change``: jobs requested in the recent window, the
        baseline (the mean over its windows), the difference and the relative change (NaN when
        the baseline is zero), sorted by the size of ``change_jobs``. ``attrs``: ``baseline``
        (its label), ``recent`` (the window), ``total_recent``, ``total_baseline``.

    Raises
    ------
    KpiUnavailable
        Without a baseline window (:func:`baseline_windows`).
    """
    columns = _by(by)
    counts, windows = _rows_by_window(source, as_of, days, shift_days, trailing_periods, keys=", ".join(columns),
                                      date_column="created_date", measures="count(*) AS jobs", table="job_facts")
    table = counts.pivot_table(index=columns, columns="period", values="jobs", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=["recent", "baseline"], fill_value=0).astype(float)
    table["baseline"] = table["baseline"] / len(windows.baselines)
    table = table.rename_axis(columns=None).reset_index()
    table["change_jobs"] = table["recent"] - table["baseline"]
    table["change"] = _relative(table["recent"], table["baseline"])
    table = table.sort_values("change_jobs", key=lambda s: -s.abs(), kind="stable", ignore_index=True)
    table.attrs.update(baseline=windows.label, recent=windows.recent, total_recent=float(table["recent"].sum()),
                       total_baseline=float(table["baseline"].sum()))
    return table


def pricing_pressure(source, as_of=None, days: int = 90, by=DEFAULT_BY, shift_days: int | None = None,
                     trailing_periods: int = 3, min_jobs: int = 5) -> pd.DataFrame:
    """Average realised price (revenue per completed job) in the last ``days`` days against the baseline.

    Parameters
    ----------
    min_jobs : int
        Service types with fewer completed jobs than this in the recent window or the baseline
        are left out (an average of two jobs is noise); ``attrs["too_few"]`` lists them.

    Returns
    -------
    DataFrame
        ``*by, jobs, price, baseline_price, change``: completed jobs and their mean revenue in
        the recent window, the mean revenue over the baseline windows and the relative change;
        largest fall first. ``attrs``: ``baseline``, ``recent``, ``too_few``.

    Raises
    ------
    KpiUnavailable
        Without a baseline window (:func:`baseline_windows`).
    """
    columns = _by(by)
    rows, windows = _rows_by_window(source, as_of, days, shift_days, trailing_periods, keys=", ".join(columns),
                                    date_column="completed_date", measures="count(*) AS jobs, avg(revenue) AS price",
                                    table="job_facts", where="is_completed AND revenue > 0")
    recent = rows[rows["period"] == "recent"].set_index(columns)
    baseline = rows[rows["period"] == "baseline"].set_index(columns)
    table = pd.DataFrame({"jobs": recent["jobs"], "price": recent["price"]}).join(
        baseline.rename(columns={"jobs": "baseline_jobs", "price": "baseline_price"})[
            ["baseline_jobs", "baseline_price"]], how="outer")
    table[["jobs", "baseline_jobs"]] = table[["jobs", "baseline_jobs"]].fillna(0)
    enough = (table["jobs"] >= min_jobs) & (table["baseline_jobs"] >= min_jobs)
    too_few = [key if isinstance(key, tuple) else (key,) for key in table.index[~enough]]
    table = table[enough].drop(columns="baseline_jobs").reset_index()
    table["jobs"] = table["jobs"].astype(int)
    table["change"] = _relative(table["price"], table["baseline_price"])
    table = table.sort_values("change", kind="stable", ignore_index=True)
    table.attrs.update(baseline=windows.label, recent=windows.recent, too_few=too_few)
    return table


def discount_pressure(source, as_of=None, days: int = 90, shift_days: int | None = None,
                      trailing_periods: int = 3) -> pd.DataFrame:
    """Quote discounts off list price in the last ``days`` days against the baseline, by service line.

    Returns
    -------
    DataFrame
        ``service_line, quotes, discount, baseline_discount, change_points, discounted_share,
        baseline_discounted_share``: quotes issued in the recent window, their mean discount
        (``1 - amount / list_amount``), the baseline's, the change in points (a fraction: 0.02 is
        two points) and the shares of quotes priced below list; a deeper discount first.
        ``attrs``: ``baseline``, ``recent``.

    Raises
    ------
    KpiUnavailable
        Without a baseline window, or when no quote has a list price.
    """
    rows, windows = _rows_by_window(
        source, as_of, days, shift_days, trailing_periods, keys="service_line", date_column="created_at::DATE",
        measures="count(*) AS quotes, avg(1 - amount / list_amount) AS discount,"
                 " avg(CASE WHEN amount < list_amount THEN 1.0 ELSE 0.0 END) AS discounted_share",
        table="quotes", where="list_amount > 0")
    if rows.empty:
        raise KpiUnavailable("no quote with a list price in the recent or baseline window")
    recent = rows[rows["period"] == "recent"].set_index("service_line")
    baseline = rows[rows["period"] == "baseline"].set_index("service_line")
    table = pd.DataFrame({"quotes": recent["quotes"], "discount": recent["discount"],
                          "baseline_discount": baseline["discount"],
                          "discounted_share": recent["discounted_share"],
                          "baseline_discounted_share": baseline["discounted_share"]})
    table["quotes"] = table["quotes"].fillna(0).astype(int)
    table["change_points"] = table["discount"] - table["baseline_discount"]
    table = table.rename_axis("service_line").reset_index()[
        ["service_line", "quotes", "discount", "baseline_discount", "change_points", "discounted_share",
         "baseline_discounted_share"]]
    table = table.sort_values("change_points", ascending=False, kind="stable", ignore_index=True)
    table.attrs.update(baseline=windows.label, recent=windows.recent)
    return table
