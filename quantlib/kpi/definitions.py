"""The KPI definitions of the product spec: one function each, registered by name.

Every KPI function has the signature ``f(con, as_of, start, filters) -> float``:
``con`` is a connection to gold, the window is ``start``..``as_of`` (both
inclusive; :meth:`KPI.compute` turns a window length into ``start``), and
``filters`` restricts it. Returning ``None`` (or raising
:class:`~quantlib.kpi.registry.KpiUnavailable` with a reason) means "no value".

Shared formulas (technician scores, the churn rule score) are SQL macros from
:mod:`quantlib.kpi.formulas`; per-technician and per-equipment inputs come from
the gold macros ``technician_kpis_between`` and ``equipment_kpis_between``, the
same ones the marts are built from.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from quantlib.data.gold import Filters, to_date
from quantlib.kpi.churn_rule import describe_churn_rule
from quantlib.kpi.formulas import CHURN_RISK_THRESHOLD
from quantlib.kpi.ratings import to_ten_point
from quantlib.kpi.registry import ALL_HISTORY, KpiUnavailable, register, targets_of

#: Alert when the 7-day average is more than this far from the daily target.
REVENUE_ALERT_TOLERANCE = 0.15
#: Retention is capped here in the lifetime-value formula (at most 1 / (1 - 0.95) = 20 years).
RETENTION_CAP = 0.95

Con = duckdb.DuckDBPyConnection


def _where(filters: Filters, columns: dict[str, str]) -> tuple[str, list]:
    """``AND ...`` conditions (and parameters) for the set filters, by column."""
    sql, params = "", []
    for name, value in filters.active().items():
        sql += f" AND {columns[name]} = ?"
        params.append(value)
    return sql, params


JOB_COLUMNS = {"service_line": "service_line", "region": "region", "technician_id": "technician_id"}
CUSTOMER_JOB_COLUMNS = {"service_line": "service_line", "region": "customer_region"}


def _days(start: dt.date, end: dt.date) -> int:
    return (end - start).days + 1


def _completed(con: Con, start: dt.date, end: dt.date, filters: Filters) -> tuple[float, float, int]:
    """Revenue, direct cost and count of jobs completed in [start, end]."""
    where, params = _where(filters, JOB_COLUMNS)
    revenue, cost, n = con.execute(
        f"""SELECT coalesce(sum(revenue), 0), coalesce(sum(direct_cost), 0), count(*)
            FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ? {where}""",
        [start, end, *params]).fetchone()
    return float(revenue), float(cost), n


# ---------------------------------------------------------------------------
# Revenue and profit
# ---------------------------------------------------------------------------

def monthly_revenue_target(con: Con, filters: Filters | None = None) -> float:
    """The monthly revenue target from gold's ``targets`` table.

    Keys: ``monthly_revenue`` (or ``monthly_revenue_target``) for the company;
    ``monthly_revenue_<service line>`` / ``monthly_revenue_<region>`` for a
    filtered view. A company target is never silently used for a slice.
    """
    filters = filters or Filters()
    targets = targets_of(con)
    active = filters.active()
    if not active:
        for key in ("monthly_revenue", "monthly_revenue_target"):
            if key in targets:
                return float(targets[key])
        raise KpiUnavailable("no monthly_revenue target (set targets: {monthly_revenue: ...} in the profile)")
    if len(active) == 1:
        key = f"monthly_revenue_{next(iter(active.values()))}"
        if key in targets:
            return float(targets[key])
        raise KpiUnavailable(f"no {key} target for this slice")
    raise KpiUnavailable("revenue targets exist for one slice at a time")


def daily_revenue_vs_target(con: Con, start, end, filters: Filters | None = None,
                            monthly_target: float | None = None) -> pd.DataFrame:
    """Daily revenue against target, one row per calendar day in [start, end].

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to gold.
    start, end : date or str
        First and last day (inclusive).
    filters : Filters, optional
        Service line or region (a matching ``monthly_revenue_<slice>`` target is needed).
    monthly_target : float, optional
        Overrides the target from gold's ``targets`` table.

    Returns
    -------
    DataFrame
        ``date, actual, actual_ma7, target, variance, alert``: ``actual`` is the
        revenue of jobs completed that day, ``actual_ma7`` its mean over the 7 days
        ending that day (missing days count as 0), ``target`` the monthly target
        divided by the days in that day's month, ``variance`` =
        (actual_ma7 - target) / target, ``alert`` = |variance| > 15 %.
    """
    filters = filters or Filters()
    start, end = to_date(start), to_date(end)
    target = monthly_target if monthly_target is not None else monthly_revenue_target(con, filters)
    where, params = _where(filters, {"service_line": "service_line", "region": "region"})
    frame = con.execute(
        f"""
        WITH days AS (
            SELECT unnest(generate_series(?::DATE - 6, ?::DATE, INTERVAL 1 DAY))::DATE AS date
        ),
        actual AS (
            SELECT completed_date AS date, sum(revenue) AS actual
            FROM job_facts
            WHERE is_completed AND completed_date BETWEEN ?::DATE - 6 AND ?::DATE {where}
            GROUP BY completed_date
        ),
        series AS (
            SELECT d.date, coalesce(a.actual, 0) AS actual,
                   avg(coalesce(a.actual, 0)) OVER (ORDER BY d.date
                       ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS actual_ma7,
                   ?::DOUBLE / day(last_day(d.date)) AS target
            FROM days d LEFT JOIN actual a USING (date)
        )
        SELECT *, (actual_ma7 - target) / nullif(target, 0) AS variance
        FROM series WHERE date >= ?::DATE ORDER BY date
        """,
        [start, end, start, end, *params, target, start]).df()
    # Only a shortfall alerts: revenue above target is good news.
    frame["alert"] = frame["variance"] < -REVENUE_ALERT_TOLERANCE
    return frame


@register("revenue_vs_target", "Daily revenue vs target (7-day avg)", "ratio", "higher",
          target=0.0, tolerance=REVENUE_ALERT_TOLERANCE, default_window=None)
def revenue_vs_target(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Variance of the 7-day moving average of daily revenue from the daily target, as of as_of.

    Daily target = monthly target (``targets.monthly_revenue``) / days in that
    month; actual = revenue of jobs completed that day; 7-day MA = mean of the
    actuals of the 7 days ending as_of (days without completions count as 0);
    variance = (7-day MA - daily target) / daily target. On target within
    ±15 %; alert only when revenue is more than 15 % below target. The window is fixed by the definition (7 days); see
    :func:`daily_revenue_vs_target` for the daily series.
    """
    return float(daily_revenue_vs_target(con, as_of, as_of, filters)["variance"].iloc[0])


def _as_of_relation(con: Con, mart: str, as_of: dt.date) -> tuple[str, list]:
    """The relation holding ``mart`` as of ``as_of``, and its SQL parameters.

    The warehouse materialises ``customer_features`` and ``open_invoices`` at its
    build date; at that date they are read directly (milliseconds), at any other
    date the same definition is evaluated through the macro ``<mart>_at(as_of)``.
    """
    built = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    if built == as_of:
        return mart, []
    return f"{mart}_at(?::DATE)", [as_of]


def _overhead(con: Con, start: dt.date, end: dt.date, filters: Filters, revenue: float) -> float:
    """Overhead expenses accrued in [start, end] attributable to the filtered slice.

    Accrued per the ``expense_accruals`` mart: fixed monthly charges spread over
    the days of their month, variable expenses on their date.
    Expenses tagged with a service line belong to that line; untagged ones are
    shared in proportion to revenue. A region or technician slice gets its
    revenue share of its service line(s)' overhead.
    """
    line = filters.service_line
    line_sql = "= ?" if line else "IS NOT NULL"
    tagged = con.execute(
        f"SELECT coalesce(sum(amount), 0) FROM expense_accruals WHERE date BETWEEN ? AND ? "
        f"AND service_line {line_sql}", [start, end, *([line] if line else [])]).fetchone()[0]
    untagged = con.execute(
        "SELECT coalesce(sum(amount), 0) FROM expense_accruals WHERE date BETWEEN ? AND ? "
        "AND service_line IS NULL", [start, end]).fetchone()[0]
    total_revenue = _completed(con, start, end, Filters())[0]
    line_revenue = _completed(con, start, end, Filters(service_line=line))[0]
    if line_revenue == 0:
        return float(tagged + untagged) if not filters.active() else 0.0
    line_overhead = tagged + untagged * line_revenue / total_revenue
    return float(line_overhead * revenue / line_revenue)


@register("profit_margin", "Profit margin (30 days)", "ratio", "higher",
          filters=("service_line", "region", "technician_id"))
def profit_margin(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Net profit margin of the window: (revenue - direct job costs - overhead expenses) / revenue.

    Revenue and direct costs (labour + material + equipment) are those of jobs
    completed in the window (default: the trailing 30 days); overhead is the
    expenses accrued in the window (fixed monthly charges spread over their month). For a
    slice, expenses tagged with a service line go to that line and untagged expenses are
    shared by revenue.
    """
    revenue, cost, _ = _completed(con, start, as_of, filters)
    if revenue == 0:
        raise KpiUnavailable("no revenue in the window")
    return (revenue - cost - _overhead(con, start, as_of, filters, revenue)) / revenue


@register("gross_margin", "Gross margin (30 days)", "ratio", "higher",
          filters=("service_line", "region", "technician_id"))
def gross_margin(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Gross margin of the window: (revenue - direct job costs) / revenue, without overhead.

    Over jobs completed in the window (default: the trailing 30 days).
    """
    revenue, cost, _ = _completed(con, start, as_of, filters)
    if revenue == 0:
        raise KpiUnavailable("no revenue in the window")
    return (revenue - cost) / revenue


# ---------------------------------------------------------------------------
# Customer satisfaction
# ---------------------------------------------------------------------------

# The default target is the specification's 4.0 on its 5-point scale (8.0 on ours).
@register("customer_satisfaction", "Customer satisfaction (30 days, revenue-weighted)", "rating",
          "higher", target=to_ten_point(4.0), filters=("service_line", "region", "technician_id"))
def customer_satisfaction(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Revenue-weighted average rating (0-10) of the jobs completed in the window (default 30 days).

    Ratings are on our 0-10 scale; a 5-point figure maps by
    :func:`~quantlib.kpi.ratings.to_ten_point` (x 2).

    sum(rating x revenue) / sum(revenue) over rated completed jobs. Weighting by
    revenue is a choice: a poor rating on a large job puts more business at
    risk than one on a small repair, and it keeps cheap, frequent visits from
    dominating the score. Unrated jobs and jobs without revenue carry no weight.
    """
    where, params = _where(filters, JOB_COLUMNS)
    value, weight = con.execute(
        f"""SELECT sum(rating * revenue), sum(revenue) FROM job_facts
            WHERE is_completed AND rating IS NOT NULL AND revenue > 0
              AND completed_date BETWEEN ? AND ? {where}""", [start, as_of, *params]).fetchone()
    if not weight:
        raise KpiUnavailable("no rated jobs with revenue in the window")
    return value / weight


# ---------------------------------------------------------------------------
# Technicians (pooled over the technicians in the slice)
# ---------------------------------------------------------------------------

def technician_scorecard(con: Con, as_of, window=30, filters: Filters | None = None) -> pd.DataFrame:
    """Per-technician KPIs over a window: the ``technician_kpis`` mart for any period.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to gold.
    as_of : date or str
        Last day of the window.
    window : int or date
        Days up to ``as_of`` or the first day.
    filters : Filters, optional
        Service line (jobs of that line; available hours then are NULL), region
        (technician's), technician_id.
    """
    filters = filters or Filters()
    as_of = to_date(as_of)
    start = window if isinstance(window, dt.date) else as_of - dt.timedelta(days=int(window) - 1)
    sql = "SELECT * FROM technician_kpis_between(?::DATE, ?::DATE, line := ?::VARCHAR, reg := ?::VARCHAR)"
    params = [start, as_of, filters.service_line, filters.region]
    if filters.technician_id:
        sql += " WHERE technician_id = ?"
        params.append(filters.technician_id)
    return con.execute(sql + " ORDER BY technician_id", params).df()


def _technician_pooled(con: Con, expression: str, as_of, start, filters: Filters):
    sql = (f"SELECT {expression} FROM technician_kpis_between(?::DATE, ?::DATE, "
           "line := ?::VARCHAR, reg := ?::VARCHAR)")
    params = [start, as_of, filters.service_line, filters.region]
    if filters.technician_id:
        sql += " WHERE technician_id = ?"
        params.append(filters.technician_id)
    return con.execute(sql, params).fetchone()[0]


TECH_FILTERS = ("service_line", "region", "technician_id")


@register("technician_efficiency", "Technician efficiency (completed / scheduled)", "ratio",
          "higher", target=0.9, filters=TECH_FILTERS)
def technician_efficiency(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Completed / scheduled jobs of the technicians, for jobs scheduled in the window (default 30 days).

    Scheduled = jobs with a technician whose scheduled date is in the window and
    that were not cancelled (the data records no cancellation reason, so every
    cancellation is taken as the customer's and leaves the denominator).
    Completed = those of them completed by as_of. A job still "scheduled" after
    its date counts against the technician.
    """
    return _technician_pooled(con, "sum(jobs_scheduled_completed) / nullif(sum(jobs_scheduled), 0)",
                              as_of, start, filters)


@register("technician_utilisation", "Technician utilisation (billable / available hours)", "ratio",
          "higher", target=0.75, filters=("region", "technician_id"))
def technician_utilisation(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Billable (labour) hours / total available hours of the technicians in the window (default 30 days).

    Billable = labour hours of jobs completed in the window; available =
    weekly_hours x days employed in the window / 7 (hire to termination).
    Available hours are not split by service line, so no service-line filter.
    """
    return _technician_pooled(con, "sum(billable_hours) / nullif(sum(available_hours), 0)",
                              as_of, start, filters)


@register("quality_rate", "Quality (1 - callbacks / completed)", "ratio", "higher", target=0.95,
          filters=TECH_FILTERS, target_aliases=("quality",))
def quality(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """1 - callbacks / completed jobs, over the jobs completed in the window (default 30 days).

    A callback is a completed job flagged as needing a return visit.
    """
    return _technician_pooled(con, "quality_rate(sum(callbacks), sum(jobs_completed))",
                              as_of, start, filters)


@register("technician_rating", "Technician rating (mean)", "rating", "higher", filters=TECH_FILTERS)
def technician_rating(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Mean rating (0-10) of the rated jobs completed in the window (default 30 days), unweighted.

    Per technician: filter by technician_id (or see :func:`technician_scorecard`).
    """
    return _technician_pooled(con, "sum(avg_rating * rated_jobs) / nullif(sum(rated_jobs), 0)",
                              as_of, start, filters)


@register("efficiency_score", "Technician efficiency score", "ratio", "higher", filters=TECH_FILTERS)
def efficiency_score(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """0.3 x completion-time ratio (capped at 1) + 0.4 x quality + 0.2 x rating / 10 + 0.1 x safety.

    Over the jobs completed in the window (default 30 days): completion-time
    ratio = scheduled hours / labour hours, quality = 1 - callbacks / jobs,
    rating = mean rating, safety = 1 - safety incidents / jobs. For several
    technicians the inputs are pooled (summed) before the formula, i.e. the
    score of the team as if it were one technician.
    """
    return _technician_pooled(
        con,
        """efficiency_score(
               completion_time_ratio(sum(completed_scheduled_hours), sum(billable_hours)),
               quality_rate(sum(callbacks), sum(jobs_completed)),
               sum(avg_rating * rated_jobs) / nullif(sum(rated_jobs), 0),
               safety_rate(sum(safety_incidents), sum(jobs_completed)))""",
        as_of, start, filters)


# ---------------------------------------------------------------------------
# Equipment (pooled over the equipment in the slice: its service line and region)
# ---------------------------------------------------------------------------

def _equipment_pooled(con: Con, expression: str, as_of, start, filters: Filters):
    # All history up to the build date is the materialised equipment_kpis mart (same macro).
    data_start, built = con.execute("SELECT data_start, as_of FROM build_params").fetchone()
    if as_of == built and to_date(start) <= data_start:
        return con.execute(
            f"SELECT {expression} FROM equipment_kpis "
            "WHERE (?::VARCHAR IS NULL OR service_line = ?) AND (?::VARCHAR IS NULL OR region = ?)",
            [filters.service_line, filters.service_line, filters.region, filters.region]).fetchone()[0]
    return con.execute(
        f"SELECT {expression} FROM equipment_kpis_between(?::DATE, ?::DATE, "
        "line := ?::VARCHAR, reg := ?::VARCHAR)",
        [start, as_of, filters.service_line, filters.region]).fetchone()[0]


@register("equipment_utilisation", "Equipment utilisation (usage / available hours)", "ratio",
          "higher")
def equipment_utilisation(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Usage hours / available hours of the equipment in the window (default 30 days).

    Usage = hours of equipment_usage records in the window; available =
    available_hours_per_week x days owned in the window / 7.
    """
    return _equipment_pooled(con, "sum(usage_hours) / nullif(sum(available_hours), 0)",
                             as_of, start, filters)


@register("pm_completion_rate", "Preventive maintenance completion", "ratio", "higher",
          target=0.9, default_window=None)
def pm_completion_rate(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Completed / scheduled preventive maintenance events due by as_of (default: all history).

    Due = a preventive event whose scheduled date is in the window and not after
    as_of; completed = it has a completion date by as_of.
    """
    value = _equipment_pooled(con, "sum(preventive_completed) / nullif(sum(preventive_scheduled), 0)",
                              as_of, start, filters)
    if value is None:
        raise KpiUnavailable("no preventive maintenance due in the window")
    return value


@register("equipment_roi", "Equipment ROI (12 months)", "ratio", "higher", default_window=365)
def equipment_roi(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """(Revenue generated by the equipment - usage cost - maintenance cost) / purchase cost.

    Over the window (default: the trailing 365 days, so a yearly return on what the
    equipment cost). Revenue generated: for every job completed in the window that
    used a piece (a usage record or the job's equipment_id), the job's revenue times
    the piece's share of the job's direct cost (usage hours on the job x hourly_cost,
    else the job's equipment_cost), at most the whole revenue; a job's full revenue
    is not the equipment's. Usage cost = usage hours x hourly_cost; maintenance cost =
    cost of the maintenance events in the window. Pooled: sums over the equipment,
    divided by their total purchase cost.
    """
    return _equipment_pooled(
        con, "(sum(revenue_generated) - sum(usage_cost) - sum(maintenance_cost)) / nullif(sum(purchase_cost), 0)",
        as_of, start, filters)


@register("equipment_downtime_hours", "Equipment downtime (30 days)", "hours", "lower")
def equipment_downtime(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Downtime hours of maintenance events (preventive, corrective, failures) in the window (default 30 days).

    Events are dated by their scheduled date.
    """
    value = _equipment_pooled(con, "sum(downtime_hours)", as_of, start, filters)
    if value is None:
        raise KpiUnavailable("no equipment")
    return value


# ---------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------

_FIRST_JOBS = """
SELECT customer_id, min(completed_date) AS first_job_date
FROM job_facts WHERE is_completed {where}
GROUP BY customer_id
"""


def customer_acquisition_by_month(con: Con, filters: Filters | None = None) -> pd.DataFrame:
    """New customers per month: ``month, new_customers`` (first completed job in that month).

    With a service-line filter: customers whose first job *of that line* is in the month.
    """
    where, params = _where(filters or Filters(), CUSTOMER_JOB_COLUMNS)
    return con.execute(
        f"""SELECT date_trunc('month', first_job_date)::DATE AS month, count(*) AS new_customers
            FROM ({_FIRST_JOBS.format(where=where)}) GROUP BY 1 ORDER BY 1""", params).df()


@register("customer_acquisition", "New customers (month to date)", "count", "higher",
          default_window="month")
def customer_acquisition(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Customers whose first completed job falls in the window (default: the month of as_of, to date).

    A booking that was cancelled does not make a customer; the first
    *completed* job does. Region is the customer's. See
    :func:`customer_acquisition_by_month` for the monthly series.
    """
    where, params = _where(filters, CUSTOMER_JOB_COLUMNS)
    return con.execute(
        f"SELECT count(*) FROM ({_FIRST_JOBS.format(where=where)}) WHERE first_job_date BETWEEN ? AND ?",
        [*params, start, as_of]).fetchone()[0]


def _retention(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> tuple[int, int]:
    """(customers served in the prior period, of whom served again in the latest period)."""
    where, params = _where(filters, CUSTOMER_JOB_COLUMNS)
    period = _days(start, as_of)
    served = f"SELECT DISTINCT customer_id FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ? {where}"
    base, retained = con.execute(
        f"""WITH prior AS ({served}), latest AS ({served})
            SELECT count(*), count(l.customer_id) FROM prior p LEFT JOIN latest l USING (customer_id)""",
        [start - dt.timedelta(days=period), start - dt.timedelta(days=1), *params,
         start, as_of, *params]).fetchone()
    return base, retained


@register("customer_retention", "Customer retention (12 months)", "ratio", "higher",
          default_window=365)
def customer_retention(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Share of the customers served in the prior period who were served again in the latest one.

    Latest period = the window (default: the 365 days ending as_of); prior
    period = the same number of days just before it. Served = had a completed
    job. Region is the customer's; a service-line filter counts jobs of that line.
    """
    base, retained = _retention(con, as_of, start, filters)
    if base == 0:
        raise KpiUnavailable("no customers served in the prior period (too little history)")
    return retained / base


@register("customer_lifetime_value", "Customer lifetime value (historic)", "currency", "higher",
          default_window=365)
def customer_lifetime_value(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Average annual gross profit per active customer / (1 - retention), retention capped at 0.95.

    Annual gross profit per active customer = gross profit of the jobs
    completed in the window (default: 365 days, annualised otherwise) / the
    customers with a completed job in it. 1 / (1 - retention) is the expected
    number of years a customer stays when a constant share is retained each
    year; the cap (at most 20 years) keeps a perfect retention in a small or
    young book from making the value infinite. Historic: no discounting, no forecast.
    """
    base, retained = _retention(con, as_of, start, filters)
    if base == 0:
        raise KpiUnavailable("no retention (no customers served in the prior period)")
    retention = min(retained / base, RETENTION_CAP)
    where, params = _where(filters, CUSTOMER_JOB_COLUMNS)
    profit, active = con.execute(
        f"""SELECT sum(gross_profit), count(DISTINCT customer_id) FROM job_facts
            WHERE is_completed AND completed_date BETWEEN ? AND ? {where}""",
        [start, as_of, *params]).fetchone()
    if not active:
        raise KpiUnavailable("no active customers in the window")
    annual_profit = profit / active * 365 / _days(start, as_of)
    return annual_profit / (1 - retention)


@register("churn_risk_share", "Active customers at churn risk", "ratio", "lower", target=0.10,
          default_window=None)
def churn_risk_share(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Share of active customers whose churn rule score is at least 0.7, as of as_of.

    Active = a completed job in the 365 days ending as_of. The rule score is
    ``customer_features_at(as_of).churn_score`` (macro ``churn_rule_score``), points
    per rule: {churn_rule}
    Region is the customer's; service line is the customer's most frequent one.
    """
    where, params = _where(filters, {"service_line": "primary_service_line", "region": "region"})
    features, features_params = _as_of_relation(con, "customer_features", as_of)
    return con.execute(
        f"""SELECT avg((churn_score >= ?)::DOUBLE) FROM {features}
            WHERE is_active {where}""", [CHURN_RISK_THRESHOLD, *features_params, *params]).fetchone()[0]


# The definition shows the rule's points from the rule table, not a copy of them.
churn_risk_share.__doc__ = churn_risk_share.__doc__.replace("{churn_rule}", describe_churn_rule())


# ---------------------------------------------------------------------------
# Receivables
# ---------------------------------------------------------------------------

@register("dso", "Days sales outstanding", "days", "lower", target=45.0, default_window=90)
def dso(con: Con, as_of: dt.date, start: dt.date, filters: Filters) -> float:
    """Accounts receivable at as_of / revenue invoiced in the last 90 days x 90.

    Receivables = invoice amounts issued by as_of minus payments made by as_of
    (invoices written off by as_of excluded; one written off later still counts);
    invoiced = amounts of those invoices issued in the window (default: the 90 days
    ending as_of; a window of n days uses x n).
    Region is the customer's; service line the job's.
    """
    where, params = _where(filters, {"service_line": "service_line", "region": "region"})
    open_relation, open_params = _as_of_relation(con, "open_invoices", as_of)
    receivables = con.execute(
        f"SELECT coalesce(sum(open_amount), 0) FROM {open_relation} WHERE TRUE {where}",
        [*open_params, *params]).fetchone()[0]
    invoiced = con.execute(
        f"""SELECT sum(i.amount) FROM invoices i
            LEFT JOIN jobs j ON j.job_id = i.job_id
            LEFT JOIN customers c ON c.customer_id = i.customer_id
            WHERE NOT (i.status = 'written_off' AND coalesce(i.written_off_at, i.issued_date)::DATE <= ?)
              AND i.issued_date::DATE BETWEEN ? AND ?
            {where.replace('service_line', 'j.service_line').replace('region', 'c.region')}""",
        [as_of, start, as_of, *params]).fetchone()[0]
    if not invoiced:
        raise KpiUnavailable("nothing invoiced in the window")
    return receivables / invoiced * _days(start, as_of)


__all__ = [
    "ALL_HISTORY", "customer_acquisition_by_month", "daily_revenue_vs_target",
    "monthly_revenue_target", "technician_scorecard",
]
