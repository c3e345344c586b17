"""Report views: the tables and series the report notebooks show, computed from gold.

Each function takes a :class:`ReportContext` (an open, read-only gold connection and
the reporting date) and returns a plain DataFrame (numbers, not formatted strings), so
the notebooks stay thin and the same numbers can be tested. KPI values always come
from the KPI registry (:mod:`quantlib.kpi.definitions`): one definition per metric.

Each table view declares how its columns print (:func:`quantlib.views.table_view`), so a
notebook shows it with ``report_table(view(...), caption=...)`` and no format dictionary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from quantlib.data.gold import Filters, as_of_date, connect_gold, gold_file
from quantlib.kpi.registry import REGISTRY, KpiUnavailable, kpi_summary, targets_of
from quantlib.views.formatting import markdown_money
from quantlib.views.tables import table_view, with_formats


@dataclass
class ReportContext:
    """What every report view needs: the gold connection, the date, the company."""

    con: duckdb.DuckDBPyConnection
    gold: Path
    as_of: dt.date
    company: str
    data_start: dt.date
    targets: dict[str, float] = field(default_factory=dict)

    @property
    def month_start(self) -> dt.date:
        return self.as_of.replace(day=1)

    @property
    def period_label(self) -> str:
        return self.as_of.strftime("%B %Y")

    def close(self) -> None:
        self.con.close()


def open_report(company: str, lake: str | Path | None = None, as_of: dt.date | str | None = None) -> ReportContext:
    """Open a company's gold warehouse for reporting.

    Parameters
    ----------
    company : str
        Profile slug (``parameters/companies/<company>.yaml``).
    lake : path, optional
        Lake root; relative paths are taken from the project root. Default
        ``data/demo/<company>/lake``.
    as_of : date, optional
        Reporting date; default the warehouse's build date (the latest data).

    Raises
    ------
    WarehouseNotFoundError
        When the lake has no gold warehouse yet, saying which command builds it.
    """
    from quantlib.config import project_root

    lake_path = Path(lake) if lake else Path("data/demo") / company / "lake"
    if not lake_path.is_absolute():
        lake_path = project_root() / lake_path
    gold = gold_file(lake_path)
    con = connect_gold(gold)
    report_date = as_of_date(con, as_of or None)
    data_start, company_name = con.execute("SELECT data_start, company FROM build_info LIMIT 1").fetchone()
    return ReportContext(con, gold, report_date, company_name or company, data_start, targets_of(con))


# ---------------------------------------------------------------------------- KPIs
def scorecard(ctx: ReportContext, names: list[str] | None = None, filters: Filters | None = None) -> pd.DataFrame:
    """KPI, value, unit, direction, target, status and alert for the reporting date (the registry's summary).

    ``status`` is ``above target``, ``on target`` or ``below target`` (or ``no target`` /
    ``no data``); ``alert`` is True only on the worse side of the KPI's direction.
    """
    table = kpi_summary(ctx.gold, ctx.as_of, filters=filters, names=names)
    return table[["kpi", "label", "value", "unit", "direction", "target", "status", "alert", "note"]]


def kpi_value(ctx: ReportContext, name: str, window=None, filters: Filters | None = None) -> float | None:
    """One KPI's value, or ``None`` when it cannot be computed (no data in the window)."""
    try:
        return REGISTRY[name].compute(ctx.con, ctx.as_of, window=window, filters=filters)
    except KpiUnavailable:
        return None


# ---------------------------------------------------------------------------- finance
@table_view(formats={"month": "month", "revenue": "money", "gross_profit": "money", "gross_margin": "pct",
                    "target": "money"})
def monthly_revenue(ctx: ReportContext, months: int = 12) -> pd.DataFrame:
    """Completed-job revenue, gross profit and the revenue target for the last ``months`` months.

    Columns: ``month, revenue, gross_profit, gross_margin, target``. The month of the
    reporting date is month-to-date.
    """
    first = (pd.Timestamp(ctx.month_start) - pd.DateOffset(months=months - 1)).date()
    frame = ctx.con.execute(
        """SELECT date_trunc('month', completed_date)::DATE AS month,
                  sum(revenue) AS revenue, sum(gross_profit) AS gross_profit
           FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ?
           GROUP BY 1 ORDER BY 1""", [first, ctx.as_of]).df()
    frame["gross_margin"] = frame["gross_profit"] / frame["revenue"]
    frame["target"] = ctx.targets.get("monthly_revenue")
    return _with_dates(frame)


def daily_revenue(ctx: ReportContext, months: int = 6) -> pd.DataFrame:
    """Revenue per day and service line over the last ``months`` months (to the reporting date):
    ``date, service_line, revenue`` (gold's ``daily_revenue``), for the calendar heatmap."""
    first = (pd.Timestamp(ctx.month_start) - pd.DateOffset(months=months - 1)).date()
    frame = ctx.con.execute("SELECT date, service_line, revenue FROM daily_revenue WHERE date BETWEEN ? AND ? "
                            "ORDER BY date, service_line", [first, ctx.as_of]).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


@table_view(formats={"revenue": "money", "prior_month": "money", "change_vs_prior_month": "change",
                    "prior_year": "money", "change_vs_prior_year": "change", "gross_margin": "pct"})
def revenue_by_service_line(ctx: ReportContext) -> pd.DataFrame:
    """This month (to date) by service line against the same days of the prior month and prior year.

    Columns: ``service_line, revenue, prior_month, change_vs_prior_month, prior_year,
    change_vs_prior_year, gross_margin``; a ``total`` row last.
    """
    day = ctx.as_of.day
    this_start = ctx.month_start
    prior_month_start = (pd.Timestamp(this_start) - pd.DateOffset(months=1)).date()
    prior_year_start = (pd.Timestamp(this_start) - pd.DateOffset(years=1)).date()

    def through_day(start: dt.date) -> dt.date:
        end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
        return min(start.replace(day=min(day, end.day)), end)

    frame = ctx.con.execute(
        """SELECT service_line,
                  sum(revenue) FILTER (WHERE completed_date BETWEEN ? AND ?) AS revenue,
                  sum(gross_profit) FILTER (WHERE completed_date BETWEEN ? AND ?) AS gross_profit,
                  sum(revenue) FILTER (WHERE completed_date BETWEEN ? AND ?) AS prior_month,
                  sum(revenue) FILTER (WHERE completed_date BETWEEN ? AND ?) AS prior_year
           FROM job_facts WHERE is_completed GROUP BY 1 ORDER BY revenue DESC NULLS LAST""",
        [this_start, ctx.as_of, this_start, ctx.as_of,
         prior_month_start, through_day(prior_month_start),
         prior_year_start, through_day(prior_year_start)]).df().fillna(0.0)
    total = frame.drop(columns="service_line").sum().to_frame().T
    total.insert(0, "service_line", "total")
    frame = pd.concat([frame, total], ignore_index=True)
    frame["change_vs_prior_month"] = frame["revenue"] / frame["prior_month"].where(frame["prior_month"] > 0) - 1
    frame["change_vs_prior_year"] = frame["revenue"] / frame["prior_year"].where(frame["prior_year"] > 0) - 1
    frame["gross_margin"] = frame["gross_profit"] / frame["revenue"].where(frame["revenue"] > 0)
    return frame[["service_line", "revenue", "prior_month", "change_vs_prior_month", "prior_year",
                  "change_vs_prior_year", "gross_margin"]]


def revenue_bridge(ctx: ReportContext) -> pd.DataFrame:
    """Steps from the same days of last month to this month to date, one per service line.

    For :func:`quantlib.viz.waterfall`: ``label, amount``; the first row is last month's revenue
    over the same days, then each service line's change (largest rise first, falls last). The
    steps add up to this month's revenue to date.
    """
    lines = revenue_by_service_line(ctx)
    lines = lines[lines["service_line"] != "total"]
    changes = (lines["revenue"] - lines["prior_month"]).set_axis(lines["service_line"]).sort_values(ascending=False)
    return pd.DataFrame({"label": ["Same days last month", *changes.index],
                         "amount": [float(lines["prior_month"].sum()), *changes.to_numpy(dtype=float)]})


def revenue_against_last_year(ctx: ReportContext) -> pd.DataFrame:
    """This month to date by service line against the same days of last year, for
    :func:`quantlib.viz.variance_chart`: ``item, actual, plan`` (plan: last year's revenue)."""
    lines = revenue_by_service_line(ctx)
    lines = lines[lines["service_line"] != "total"]
    return pd.DataFrame({"item": lines["service_line"].to_numpy(), "actual": lines["revenue"].to_numpy(dtype=float),
                         "plan": lines["prior_year"].to_numpy(dtype=float)})


@table_view(formats={"amount": "money", "share": "pct"})
def receivables(ctx: ReportContext) -> pd.DataFrame:
    """Open receivables by age bucket at the build date: ``bucket, amount, share``."""
    row = ctx.con.execute(
        """SELECT bucket_current, bucket_1_30, bucket_31_60, bucket_61_90, bucket_90_plus
           FROM receivables_ageing WHERE level = 'total'""").fetchone()
    labels = ["not yet due", "1-30 days late", "31-60 days late", "61-90 days late", "over 90 days late"]
    amounts = list(row) if row else [0.0] * 5
    frame = pd.DataFrame({"bucket": labels, "amount": amounts})
    total = frame["amount"].sum()
    frame["share"] = frame["amount"] / total if total else 0.0
    return frame


def monthly_dso(ctx: ReportContext, months: int = 12) -> pd.DataFrame:
    """Days sales outstanding at each month end: ``month, receivables, invoiced_90d, dso``."""
    return _with_dates(ctx.con.execute(
        "SELECT month, receivables, invoiced_90d, dso FROM dso WHERE month <= ? ORDER BY month DESC LIMIT ?",
        [ctx.as_of, months]).df().sort_values("month").reset_index(drop=True))


def expenses_by_category(ctx: ReportContext, months: int = 3) -> pd.DataFrame:
    """Overhead accrued per month and category (fixed charges spread over their month).

    Columns: ``category, kind`` and one column per month (oldest first).
    """
    first = (pd.Timestamp(ctx.month_start) - pd.DateOffset(months=months - 1)).date()
    long = ctx.con.execute(
        """SELECT strftime(date_trunc('month', date), '%Y-%m') AS month, category, kind, sum(amount) AS amount
           FROM expense_accruals WHERE date BETWEEN ? AND ? GROUP BY ALL""", [first, ctx.as_of]).df()
    if long.empty:
        return pd.DataFrame(columns=["category", "kind"])
    wide = long.pivot_table(index=["category", "kind"], columns="month", values="amount", aggfunc="sum",
                            fill_value=0.0).reset_index()
    wide.columns.name = None
    wide = wide.sort_values(wide.columns[-1], ascending=False).reset_index(drop=True)
    return with_formats(wide, {month: "money" for month in wide.columns[2:]})


def cash_collected(ctx: ReportContext, weeks: int = 8) -> pd.DataFrame:
    """Payments received and invoices issued per week: ``week, invoiced, collected``."""
    first = ctx.as_of - dt.timedelta(weeks=weeks)
    return _with_dates(ctx.con.execute(
        """WITH inv AS (SELECT date_trunc('week', issued_date)::DATE AS week, sum(amount) AS invoiced
                        FROM invoices WHERE issued_date::DATE BETWEEN ? AND ? GROUP BY 1),
                pay AS (SELECT date_trunc('week', paid_date)::DATE AS week, sum(amount) AS collected
                        FROM payments WHERE paid_date::DATE BETWEEN ? AND ? GROUP BY 1)
           SELECT coalesce(inv.week, pay.week) AS week, coalesce(invoiced, 0) AS invoiced,
                  coalesce(collected, 0) AS collected
           FROM inv FULL JOIN pay ON inv.week = pay.week ORDER BY 1""",
        [first, ctx.as_of, first, ctx.as_of]).df())


# ---------------------------------------------------------------------------- operations
def weekly_operations(ctx: ReportContext, weeks: int = 12) -> pd.DataFrame:
    """Per ISO week: jobs completed, revenue, labour hours, on-time share, callback rate, mean rating.

    Columns: ``week, jobs_completed, revenue, labor_hours, on_time_share, callback_rate,
    avg_rating``; the last week may be partial.
    """
    first = ctx.as_of - dt.timedelta(weeks=weeks)
    return _with_dates(ctx.con.execute(
        """SELECT date_trunc('week', completed_date)::DATE AS week,
                  count(*) AS jobs_completed, sum(revenue) AS revenue, sum(labor_hours) AS labor_hours,
                  avg(is_on_time::DOUBLE) AS on_time_share, avg(callback::DOUBLE) AS callback_rate,
                  avg(rating) AS avg_rating
           FROM job_facts WHERE is_completed AND completed_date > ? AND completed_date <= ?
           GROUP BY 1 ORDER BY 1""", [first, ctx.as_of]).df())


@table_view(formats={"date": "date", "scheduled": "int", "completed": "int", "cancelled": "int",
                    "emergencies": "int", "labor_hours": "num1", "travel_minutes": "num1", "late_share": "pct"},
            labels={"travel_minutes": "Mean travel (min)", "late_share": "Finished late"})
def daily_operations(ctx: ReportContext, days: int = 14) -> pd.DataFrame:
    """Per day: jobs scheduled, completed, cancelled, emergencies, labour hours, mean travel minutes."""
    first = ctx.as_of - dt.timedelta(days=days - 1)
    return _with_dates(ctx.con.execute(
        """SELECT scheduled_date AS date, count(*) AS scheduled,
                  count(*) FILTER (WHERE is_completed) AS completed,
                  count(*) FILTER (WHERE is_cancelled) AS cancelled,
                  count(*) FILTER (WHERE urgency = 'emergency') AS emergencies,
                  sum(labor_hours) AS labor_hours, avg(travel_minutes) FILTER (WHERE is_completed) AS travel_minutes,
                  avg(is_late::DOUBLE) FILTER (WHERE is_completed) AS late_share
           FROM job_facts WHERE scheduled_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 1""",
        [first, ctx.as_of]).df())


@table_view(formats={"jobs_completed": "int", "billable_hours": "num1", "utilisation": "pct", "efficiency": "pct",
                    "quality": "pct", "avg_rating": "num1", "revenue": "money", "efficiency_score": "pct"})
def technicians(ctx: ReportContext, days: int = 30) -> pd.DataFrame:
    """Per-technician KPIs over the last ``days`` days (the ``technician_kpis`` definitions), best first."""
    from quantlib.kpi.definitions import technician_scorecard

    table = technician_scorecard(ctx.con, ctx.as_of, window=days)
    table = table[table["jobs_scheduled"] > 0]
    columns = ["name", "region", "jobs_completed", "billable_hours", "utilisation", "efficiency",
               "quality", "avg_rating", "revenue", "efficiency_score"]
    return table.sort_values("efficiency_score", ascending=False)[columns].reset_index(drop=True)


def technician_revenue_by_week(ctx: ReportContext, weeks: int = 8) -> pd.DataFrame:
    """Revenue of completed jobs per technician and week (Monday to Sunday), the last ``weeks``
    complete weeks to the report date (a week still running would rank on a few days):
    ``week, technician, revenue``, for :func:`quantlib.viz.bump_chart`."""
    last_sunday = pd.Timestamp(ctx.as_of) - pd.Timedelta(days=(pd.Timestamp(ctx.as_of).dayofweek + 1) % 7)
    start = (last_sunday - pd.Timedelta(weeks=weeks, days=-1)).date()
    frame = ctx.con.execute(
        """SELECT date_trunc('week', completed_date)::DATE AS week, technician_name AS technician,
                  sum(revenue) AS revenue
           FROM job_facts
           WHERE is_completed AND completed_date BETWEEN ? AND ? AND technician_name IS NOT NULL
           GROUP BY 1, 2 ORDER BY 1, 2""", [start, last_sunday.date()]).df()
    frame["week"] = pd.to_datetime(frame["week"])
    return frame


@table_view(formats={"usage_hours": "num1", "utilisation": "pct", "downtime_hours": "num1", "failures": "int",
                    "preventive_completion_rate": "pct", "maintenance_cost": "money"},
            labels={"preventive_completion_rate": "PM completion"})
def equipment(ctx: ReportContext, days: int = 90) -> pd.DataFrame:
    """Per piece of equipment over the last ``days`` days: utilisation, downtime, failures, PM completion."""
    start = ctx.as_of - dt.timedelta(days=days - 1)
    table = ctx.con.execute(
        """SELECT name, kind, service_line, region, usage_hours, utilisation, downtime_hours, failures,
                  preventive_completion_rate, maintenance_cost
           FROM equipment_kpis_between(?::DATE, ?::DATE) ORDER BY downtime_hours DESC, name""",
        [start, ctx.as_of]).df()
    return table


@table_view(formats={"jobs_completed": "int", "callback_rate": "pct", "quality": "pct", "avg_rating": "num1",
                    "on_time_share": "pct", "safety_incidents": "int"})
def quality_by_service_line(ctx: ReportContext, days: int = 30) -> pd.DataFrame:
    """Quality indicators per service line over the window: callbacks, rating, on-time, safety."""
    start = ctx.as_of - dt.timedelta(days=days - 1)
    return ctx.con.execute(
        """SELECT service_line, count(*) AS jobs_completed, avg(callback::DOUBLE) AS callback_rate,
                  1 - avg(callback::DOUBLE) AS quality, avg(rating) AS avg_rating,
                  avg(is_on_time::DOUBLE) AS on_time_share, sum(safety_incident::INT) AS safety_incidents
           FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ?
           GROUP BY 1 ORDER BY 1""", [start, ctx.as_of]).df()


# ---------------------------------------------------------------------------- customers and market
def customer_base(ctx: ReportContext, months: int = 12) -> pd.DataFrame:
    """Per month: customers served, new customers (first completed job), revenue per customer."""
    from quantlib.kpi.definitions import customer_acquisition_by_month

    first = (pd.Timestamp(ctx.month_start) - pd.DateOffset(months=months - 1)).date()
    served = ctx.con.execute(
        """SELECT date_trunc('month', completed_date)::DATE AS month, count(DISTINCT customer_id) AS customers_served,
                  sum(revenue) / count(DISTINCT customer_id) AS revenue_per_customer
           FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 1""",
        [first, ctx.as_of]).df()
    new = customer_acquisition_by_month(ctx.con)
    new["month"] = pd.to_datetime(new["month"])
    served["month"] = pd.to_datetime(served["month"])
    return served.merge(new, on="month", how="left").fillna({"new_customers": 0})


@table_view(formats={"leads": "int", "quotes": "int", "won_quotes": "int", "jobs": "int", "paid_invoices": "int",
                    "lead_to_quote": "pct", "quote_win_rate": "pct", "lead_to_paid": "pct"})
def funnel(ctx: ReportContext, months: int = 3) -> pd.DataFrame:
    """Lead to payment over the last ``months`` months by service line, with conversion rates."""
    first = (pd.Timestamp(ctx.month_start) - pd.DateOffset(months=months - 1)).date()
    return ctx.con.execute(
        """SELECT service_line, sum(leads) AS leads, sum(quotes) AS quotes, sum(won_quotes) AS won_quotes,
                  sum(jobs) AS jobs, sum(paid_invoices) AS paid_invoices,
                  sum(quotes) / nullif(sum(leads), 0) AS lead_to_quote,
                  sum(won_quotes) / nullif(sum(quotes), 0) AS quote_win_rate,
                  sum(paid_invoices) / nullif(sum(leads), 0) AS lead_to_paid
           FROM funnel WHERE month BETWEEN ? AND ?
           GROUP BY 1 ORDER BY service_line = 'all', leads DESC""", [first, ctx.as_of]).df()


@table_view(formats={"quotes": "int", "quoted_value": "money", "won": "int", "lost": "int", "open": "int",
                    "open_value": "money", "win_rate": "pct", "mean_discount": "pct"})
def quotes_pipeline(ctx: ReportContext, days: int = 30) -> pd.DataFrame:
    """Quotes issued in the window by service line: count, value, won, lost, open, win rate, mean discount."""
    start = ctx.as_of - dt.timedelta(days=days - 1)
    return ctx.con.execute(
        """SELECT service_line, count(*) AS quotes, sum(amount) AS quoted_value,
                  count(*) FILTER (WHERE status = 'won') AS won, count(*) FILTER (WHERE status = 'lost') AS lost,
                  count(*) FILTER (WHERE status = 'open') AS open,
                  sum(amount) FILTER (WHERE status = 'open') AS open_value,
                  count(*) FILTER (WHERE status = 'won') / nullif(count(*) FILTER (WHERE status <> 'open'), 0)
                      AS win_rate,
                  1 - avg(amount / list_amount) AS mean_discount
           FROM quotes WHERE created_at::DATE BETWEEN ? AND ? GROUP BY 1 ORDER BY quoted_value DESC""",
        [start, ctx.as_of]).df()


@table_view(formats={"month": "month", "unemployment_rate": "num1", "housing_starts": "int",
                    "consumer_confidence": "num1", "storm_days": "int", "mean_temp_c": "num1"},
            labels={"unemployment_rate": "Unemployment (%)", "housing_starts": "Housing starts (k)",
                    "mean_temp_c": "Mean temperature (°C)"})
def market_context(ctx: ReportContext, months: int = 12) -> pd.DataFrame:
    """Economic indicators and storm days per month (the external factors behind demand)."""
    first = (pd.Timestamp(ctx.month_start) - pd.DateOffset(months=months - 1)).date()
    return _with_dates(ctx.con.execute(
        """WITH storms AS (SELECT date_trunc('month', date)::DATE AS month,
                                  count(DISTINCT date) FILTER (WHERE storm) AS storm_days,
                                  avg(temp_c) AS mean_temp_c
                           FROM weather GROUP BY 1)
           SELECT e.month::DATE AS month, e.unemployment_rate, e.housing_starts, e.consumer_confidence,
                  s.storm_days, s.mean_temp_c
           FROM economic_indicators e LEFT JOIN storms s ON s.month = e.month::DATE
           WHERE e.month::DATE BETWEEN ? AND ? ORDER BY 1""", [first, ctx.as_of]).df())


def _window_label(days: int) -> str:
    return f"Last {days} days"


def demand_changes_table(ctx: ReportContext, days: int = 90, top: int = 8) -> pd.DataFrame:
    """The ``top`` biggest movers in jobs requested by service line and job type
    (:func:`quantlib.kpi.market.demand_changes`), the last ``days`` days against the baseline."""
    from quantlib.kpi.market import demand_changes

    table = demand_changes(ctx, ctx.as_of, days)
    shown = table.head(top).copy()
    shown.attrs.update(table.attrs)
    return with_formats(shown, {"recent": "int", "baseline": "num1", "change_jobs": "{:+,.1f}", "change": "change"},
                        {"recent": _window_label(days), "baseline": table.attrs["baseline"].capitalize(),
                         "change_jobs": "Change (jobs)", "change": "Change"})


def pricing_table(ctx: ReportContext, days: int = 90, top: int = 8) -> pd.DataFrame:
    """The ``top`` service types whose average realised price moved most
    (:func:`quantlib.kpi.market.pricing_pressure`), falls first."""
    from quantlib.kpi.market import pricing_pressure

    table = pricing_pressure(ctx, ctx.as_of, days)
    shown = table.reindex(table["change"].abs().sort_values(ascending=False).index).head(top)
    shown = shown.sort_values("change", kind="stable", ignore_index=True)
    shown.attrs.update(table.attrs)
    return with_formats(shown, {"jobs": "int", "price": "money", "baseline_price": "money", "change": "change"},
                        {"jobs": "Jobs completed", "price": f"Average price, {_window_label(days).lower()}",
                         "baseline_price": f"Average price, {table.attrs['baseline']}", "change": "Change"})


def discount_table(ctx: ReportContext, days: int = 90) -> pd.DataFrame:
    """Quote discounts off list price by service line (:func:`quantlib.kpi.market.discount_pressure`)."""
    from quantlib.kpi.market import discount_pressure

    table = discount_pressure(ctx, ctx.as_of, days)
    baseline = table.attrs["baseline"]
    return with_formats(table, {"quotes": "int", "discount": "pct", "baseline_discount": "pct",
                                "change_points": _points, "discounted_share": "pct",
                                "baseline_discounted_share": "pct"},
                        {"quotes": "Quotes", "discount": "Mean discount",
                         "baseline_discount": f"Mean discount, {baseline}",
                         "change_points": "Change", "discounted_share": "Quotes below list",
                         "baseline_discounted_share": f"Below list, {baseline}"})


def _points(value: float) -> str:
    return f"{value * 100:+.1f} pts"


def market_signals_text(demand: pd.DataFrame, prices: pd.DataFrame, days: int = 90) -> str:
    """Two sentences: total demand against its baseline and the service type whose price fell most."""
    total, base = demand.attrs["total_recent"], demand.attrs["total_baseline"]
    change = (total - base) / base if base else float("nan")
    text = (f"Jobs requested in the last {days} days: {total:,.0f} against {base:,.0f} "
            f"({demand.attrs['baseline']}), {'a change of ' + format(change, '+.1%') if base else 'no baseline'}.")
    falls = prices[prices["change"] < 0]
    if len(falls):
        worst = falls.iloc[0]
        text += (f" The largest price fall is {worst['service_line']} {worst['job_type']}: an average of "
                 f"{markdown_money(worst['price'])} per job against {markdown_money(worst['baseline_price'])} "
                 f"({worst['change']:+.1%}).")
    else:
        text += " No service type's average price fell."
    return text


# ---------------------------------------------------------------------------- risk
def risks_needing_attention(ctx: ReportContext) -> pd.DataFrame:
    """The risk register's rows at warning or critical (:func:`quantlib.risk.risk_register`).

    The indicators that fit a model (the cash reserve) are left out: the headline counts
    thresholds crossed, and the full register is the Risk assessment section's.
    """
    from quantlib.risk import risk_register

    register = risk_register(ctx, ctx.as_of, include_expensive=False)
    return register[register["level"].isin(["warning", "critical"])].reset_index(drop=True)


def headline(ctx: ReportContext) -> str:
    """Three sentences summarising the period, in words, from the same numbers as the tables."""
    lines = revenue_by_service_line(ctx)
    total = lines[lines["service_line"] == "total"].iloc[0]
    parts = [f"Revenue for {ctx.period_label} to date is {_money(total['revenue'])}"]
    if pd.notna(total["change_vs_prior_year"]):
        parts[-1] += f", {_pct_change(total['change_vs_prior_year'])} on the same days last year"
    parts[-1] += "."
    margin = kpi_value(ctx, "profit_margin")
    satisfaction = kpi_value(ctx, "customer_satisfaction")
    if margin is not None:
        rating = f" and customer satisfaction {satisfaction:.1f} out of 10." if satisfaction is not None else "."
        parts.append(f"The profit margin over the last 30 days is {margin:.1%}{rating}")
    risks = risks_needing_attention(ctx)
    parts.append(f"{len(risks)} risk indicator{'s are' if len(risks) != 1 else ' is'} at warning or critical "
                 "(see Risk assessment)." if len(risks) else "No risk indicator is at warning or critical.")
    return " ".join(parts)


def _with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Date columns (``month``, ``week``, ``date``) as pandas timestamps, so charts see time."""
    for column in ("month", "week", "date"):
        if column in frame and not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column])
    return frame


def _money(value: float) -> str:
    # The headline is shown as Markdown: an escaped dollar sign cannot start a formula.
    return markdown_money(value)


def _pct_change(value: float) -> str:
    return f"{'up' if value >= 0 else 'down'} {abs(value):.1%}"
