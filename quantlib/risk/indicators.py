"""Risk indicators: one function each, computed from gold at any as-of date, registered by name.

Every indicator is ``INDICATORS[name](source, as_of=None, params=None) -> RiskIndicator``:
``source`` is anything :func:`~quantlib.data.gold.open_gold` takes, ``as_of`` defaults to
gold's build date, ``params`` to ``parameters/risk.yaml``
(:func:`~quantlib.risk.parameters.load_risk_parameters`). An indicator that cannot be
computed at that date (no data in its window, too little history) raises
:class:`RiskUnavailable` with the reason; nothing is ever filled in.

The level compares the value with the YAML thresholds on the indicator's worse side
(``worse``): reaching ``critical`` is critical, reaching ``warning`` is a warning, within
``info_margin`` of the warning is info, otherwise none.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.errors import QuantError
from quantlib.kpi.registry import REGISTRY as KPIS
from quantlib.kpi.registry import KpiUnavailable
from quantlib.risk.parameters import RiskParameters, RiskParametersError, load_risk_parameters
from quantlib.risk.spc import control_chart

__all__ = ["INDICATORS", "LEVELS", "IndicatorSpec", "RiskIndicator", "RiskUnavailable", "get_indicator",
           "level_of", "weekly_quality"]

#: Levels from least to most severe.
LEVELS = ("none", "info", "warning", "critical")

Con = duckdb.DuckDBPyConnection


class RiskUnavailable(QuantError):
    """A risk indicator has no value at this date; the message says why."""


@dataclass(frozen=True)
class RiskIndicator:
    """One risk indicator's reading at a date.

    Attributes
    ----------
    name, label, category : str
        Registry key, short human name, risk family (``cash_flow``, ``concentration``,
        ``seasonal``, ``key_person``, ``equipment``, ``quality``).
    value : float
        The number the thresholds apply to, in ``unit``.
    unit : str
        ``days``, ``ratio``, ``rating`` (0-10), ``currency``, ``count`` or ``sigma``.
    worse : str
        ``higher`` or ``lower``: which side of the thresholds is bad.
    warning, critical : float or None
        Thresholds (on the value's scale; 5-point rating thresholds already mapped to 0-10).
    level : str
        One of :data:`LEVELS`.
    owner : str
        Who acts on it (from the YAML).
    mitigation : str
        What to do, naming the drivers (customers, service lines, technicians, equipment).
    as_of : date
    drivers : DataFrame
        What drives the value (largest contributors first); columns depend on the indicator.
    """

    name: str
    label: str
    category: str
    value: float
    unit: str
    worse: str
    warning: float | None
    critical: float | None
    level: str
    owner: str
    mitigation: str
    as_of: dt.date
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def as_row(self) -> dict:
        """The register row of this reading (no drivers)."""
        return {"indicator": self.name, "label": self.label, "category": self.category, "value": self.value,
                "unit": self.unit, "warning": self.warning, "critical": self.critical, "level": self.level,
                "owner": self.owner, "mitigation": self.mitigation}


def level_of(value: float, warning: float | None, critical: float | None, worse: str,
             info_margin: float = 0.1) -> str:
    """``none``, ``info``, ``warning`` or ``critical`` for ``value`` against the thresholds.

    Reaching a threshold counts (``>=`` when higher is worse, ``<=`` when lower is worse).
    ``info``: within ``info_margin`` x |warning| of the warning threshold, on the way to it.
    """
    if value is None or not math.isfinite(value):
        raise ValueError("a risk level needs a finite value")
    if worse not in ("higher", "lower"):
        raise ValueError(f"worse must be 'higher' or 'lower', got {worse!r}")
    reached = (lambda v, t: v >= t) if worse == "higher" else (lambda v, t: v <= t)
    if critical is not None and reached(value, critical):
        return "critical"
    if warning is not None and reached(value, warning):
        return "warning"
    if warning is not None:
        margin = abs(warning) * info_margin
        if reached(value, warning - margin if worse == "higher" else warning + margin):
            return "info"
    return "none"


@dataclass(frozen=True)
class IndicatorSpec:
    """A registered indicator: its definition function and how to read it."""

    name: str
    label: str
    category: str
    unit: str
    worse: str
    func: Callable
    expensive: bool = False

    @property
    def definition(self) -> str:
        """The definition (the function's docstring, first paragraph)."""
        return (self.func.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")

    def __call__(self, source, as_of=None, params: RiskParameters | None = None) -> RiskIndicator:
        """The indicator as of ``as_of`` (default: gold's build date).

        Raises
        ------
        RiskUnavailable
            When there is no value at that date.
        """
        params = params or load_risk_parameters()
        settings = params.settings(self.name)
        warning, critical = settings.thresholds()
        if warning is not None and critical is not None and level_of(critical, warning, None, self.worse) == "none":
            raise RiskParametersError(f"risk parameters: {self.name}: critical {settings.critical} is on the "
                                      f"better side of warning {settings.warning} ({self.worse} is worse)")
        with open_gold(source) as con:
            day = as_of_date(con, as_of)
            value, drivers, mitigation = self.func(con, day, settings, params)
        if value is None or not math.isfinite(value):
            raise RiskUnavailable(f"{self.name}: no value at {day}")
        return RiskIndicator(self.name, self.label, self.category, float(value), self.unit, self.worse, warning,
                             critical, level_of(float(value), warning, critical, self.worse, params.info_margin),
                             settings.owner, mitigation, day, drivers)


#: Every risk indicator by name: ``INDICATORS[name](source, as_of=None, params=None) -> RiskIndicator``.
INDICATORS: dict[str, IndicatorSpec] = {}


def indicator(name: str, label: str, category: str, unit: str, worse: str, expensive: bool = False):
    """Decorator: register ``func(con, as_of, settings, params) -> (value, drivers, mitigation)`` as ``name``."""
    if worse not in ("higher", "lower"):
        raise ValueError(f"indicator {name}: worse must be 'higher' or 'lower'")

    def wrap(func):
        INDICATORS[name] = IndicatorSpec(name, label, category, unit, worse, func, expensive)
        return func

    return wrap


def get_indicator(name: str) -> IndicatorSpec:
    """The indicator called ``name``; ``KeyError`` lists the known ones."""
    try:
        return INDICATORS[name]
    except KeyError:
        raise KeyError(f"unknown risk indicator {name!r}; known: {', '.join(INDICATORS)}") from None


def _names(con: Con, ids) -> dict[str, str]:
    ids = list(ids)
    if not ids:
        return {}
    return dict(con.execute("SELECT customer_id, name FROM customers WHERE customer_id IN (SELECT unnest(?))",
                            [ids]).fetchall())


def _listing(items, limit: int = 5) -> str:
    items = [str(i) for i in items][:limit]
    return ", ".join(items) if items else "none"


# ---------------------------------------------------------------------------- cash flow
def _overdue_customers(con: Con, as_of: dt.date, top: int) -> pd.DataFrame:
    frame = con.execute(
        """SELECT o.customer_id, c.name, sum(o.open_amount) AS open_amount,
                  coalesce(sum(o.open_amount) FILTER (WHERE o.days_past_due > 0), 0) AS overdue_amount,
                  max(o.days_past_due) AS max_days_past_due, count(*) AS open_invoices
           FROM open_invoices_at(?::DATE) o LEFT JOIN customers c USING (customer_id)
           GROUP BY ALL ORDER BY overdue_amount DESC, open_amount DESC, customer_id LIMIT ?""",
        [as_of, top]).df()
    return frame


@indicator("dso", "Days sales outstanding", "cash_flow", "days", "higher")
def dso(con: Con, as_of: dt.date, settings, params):
    """Days sales outstanding at as_of: the ``dso`` KPI (receivables / 90 days' invoicing x 90).

    Drivers: the customers with the largest overdue open balances (open_invoices_at as_of).
    """
    try:
        value = KPIS["dso"].compute(con, as_of)
    except KpiUnavailable as reason:
        raise RiskUnavailable(f"dso: {reason}") from None
    drivers = _overdue_customers(con, as_of, params.drivers_top)
    overdue = drivers[drivers["overdue_amount"] > 0]
    names = [n or c for c, n in zip(overdue["customer_id"], overdue["name"])]
    mitigation = ("Credit policy adjustment: shorter terms, deposits or pre-payment for the customers "
                  f"driving overdue receivables ({_listing(names)})" if names
                  else "Credit policy adjustment if invoicing terms lengthen; no customer is overdue")
    return value, drivers, mitigation


def collection_table(con: Con, start: dt.date, end: dt.date) -> pd.DataFrame:
    """What fell due by ``end`` and was still open at ``start``, and what of it was collected, per customer.

    Collectible = for each invoice due by ``end`` (issued by then, not written off before
    ``start``): its amount minus payments made before ``start``; collected = payments made in
    [start, end] against those invoices, at most the collectible amount. An invoice
    written off inside the window stays collectible (it fell due and was not collected).
    Columns ``customer_id, name, collectible, collected, uncollected``, largest uncollected first.
    """
    return con.execute(
        """WITH before AS (SELECT invoice_id, sum(amount) AS paid FROM payments
                           WHERE paid_date::DATE < ? GROUP BY 1),
                within AS (SELECT invoice_id, sum(amount) AS paid FROM payments
                           WHERE paid_date::DATE BETWEEN ? AND ? GROUP BY 1),
                due AS (SELECT i.customer_id, i.amount - coalesce(b.paid, 0) AS collectible,
                               least(coalesce(w.paid, 0), i.amount - coalesce(b.paid, 0)) AS collected
                        FROM invoices i LEFT JOIN before b USING (invoice_id) LEFT JOIN within w USING (invoice_id)
                        WHERE i.due_date::DATE <= ? AND i.issued_date::DATE <= ?
                          AND NOT (i.status = 'written_off'
                                   AND coalesce(i.written_off_at, i.issued_date)::DATE < ?)
                          AND i.amount - coalesce(b.paid, 0) > 0.005)
           SELECT d.customer_id, c.name, sum(d.collectible) AS collectible, sum(d.collected) AS collected,
                  sum(d.collectible) - sum(d.collected) AS uncollected
           FROM due d LEFT JOIN customers c USING (customer_id)
           GROUP BY ALL ORDER BY uncollected DESC, d.customer_id""",
        [start, start, end, end, end, start]).df()


@indicator("collection_efficiency", "Collection efficiency", "cash_flow", "ratio", "lower")
def collection_efficiency(con: Con, as_of: dt.date, settings, params):
    """Collected / collectible in the window (default 30 days) ending as_of.

    Collectible = what fell due by as_of and was still open when the window began (each
    invoice due by as_of: its amount minus payments before the window); collected =
    payments in the window against it (:func:`collection_table`). Drivers: the customers
    with the most left uncollected.
    """
    start = as_of - dt.timedelta(days=settings.window_days - 1)
    table = collection_table(con, start, as_of)
    collectible = float(table["collectible"].sum())
    if collectible <= 0:
        raise RiskUnavailable("collection_efficiency: nothing fell due in the window")
    drivers = table.head(params.drivers_top).reset_index(drop=True)
    names = [n or c for c, n, u in zip(drivers["customer_id"], drivers["name"], drivers["uncollected"]) if u > 0.005]
    mitigation = (f"Credit policy adjustment: chase and re-term the slowest payers ({_listing(names)})" if names
                  else "Credit policy adjustment if collections slow; everything due was collected")
    return float(table["collected"].sum()) / collectible, drivers, mitigation


# ---------------------------------------------------------------------------- concentration
def customer_revenue(con: Con, as_of: dt.date, days: int = 365) -> pd.DataFrame:
    """Revenue of completed jobs per customer in the ``days`` ending as_of, largest first, with share."""
    frame = con.execute(
        """SELECT f.customer_id, c.name, sum(f.revenue) AS revenue
           FROM job_facts f LEFT JOIN customers c USING (customer_id)
           WHERE f.is_completed AND f.completed_date BETWEEN ? AND ?
           GROUP BY ALL HAVING sum(f.revenue) > 0 ORDER BY revenue DESC, customer_id""",
        [as_of - dt.timedelta(days=days - 1), as_of]).df()
    frame["share"] = frame["revenue"] / frame["revenue"].sum() if len(frame) else []
    return frame


@indicator("customer_concentration", "Top customers' share of 12-month revenue", "concentration", "ratio",
           "higher")
def customer_concentration(con: Con, as_of: dt.date, settings, params):
    """Share of trailing-12-month revenue (completed jobs, 365 days ending as_of) from the top ``top_n`` (5) customers.

    Drivers: those customers with their revenue and share.
    """
    revenue = customer_revenue(con, as_of)
    if revenue.empty:
        raise RiskUnavailable("customer_concentration: no revenue in the last 12 months")
    top = revenue.head(settings.top_n).reset_index(drop=True)
    share = float(top["share"].sum())
    names = [n or c for c, n in zip(top["customer_id"], top["name"])]
    mitigation = (f"Diversify: the top {settings.top_n} customers ({_listing(names)}) bring {share:.0%} of revenue; "
                  "grow new accounts and service lines, secure the largest with contracts")
    return share, top, mitigation


# ---------------------------------------------------------------------------- seasonal
def monthly_revenue_by_line(con: Con, as_of: dt.date, months: int) -> pd.DataFrame:
    """Revenue per calendar month and service line over the last ``months`` full months before as_of's month.

    Columns ``month, service_line, revenue``; months without revenue are zero-filled.
    """
    # as_of's month counts only when as_of is its last day (the month is complete).
    end = as_of if (as_of + dt.timedelta(days=1)).day == 1 else as_of.replace(day=1) - dt.timedelta(days=1)
    first = (pd.Timestamp(end).to_period("M") - (months - 1)).to_timestamp().date()
    return con.execute(
        """WITH m AS (SELECT unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 MONTH))::DATE AS month),
                l AS (SELECT DISTINCT service_line FROM job_facts WHERE is_completed
                      AND completed_date BETWEEN ? AND ?),
                r AS (SELECT date_trunc('month', completed_date)::DATE AS month, service_line, sum(revenue) AS revenue
                      FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ? GROUP BY ALL)
           SELECT m.month, l.service_line, coalesce(r.revenue, 0) AS revenue
           FROM m CROSS JOIN l LEFT JOIN r USING (month, service_line) ORDER BY 1, 2""",
        [first, end, first, end, first, end]).df()


def seasonal_profile(monthly: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Month-of-year index of total revenue and of each service line (mean month = 1).

    Returns ``(total_index, line_index)``: ``total_index`` indexed by month 1-12,
    ``line_index`` months x service lines.
    """
    frame = monthly.assign(moy=pd.to_datetime(monthly["month"]).dt.month)
    total = frame.groupby(["month", "moy"])["revenue"].sum().groupby("moy").mean()
    by_line = frame.groupby(["moy", "service_line"])["revenue"].mean().unstack()
    total_index = total / total.mean()
    line_index = by_line / by_line.mean()
    return total_index, line_index


@indicator("seasonal_volatility", "Seasonal revenue volatility", "seasonal", "ratio", "higher")
def seasonal_volatility(con: Con, as_of: dt.date, settings, params):
    """Standard deviation of the month-of-year revenue index (coefficient of variation of the seasonal profile).

    Over the last ``history_months`` (24) full months of completed-job revenue: the mean
    revenue of each calendar month divided by the mean month; the value is the (population)
    standard deviation of those twelve indices. Needs twelve full months. Drivers: the
    service lines' index in the three trough months; a line above 1 there is counter-seasonal.
    """
    monthly = monthly_revenue_by_line(con, as_of, settings.history_months)
    months_with_data = monthly.groupby("month")["revenue"].sum()
    first_data = months_with_data[months_with_data > 0].index.min() if (months_with_data > 0).any() else None
    if first_data is None:
        raise RiskUnavailable("seasonal_volatility: no revenue")
    monthly = monthly[monthly["month"] >= first_data]
    if monthly["month"].nunique() < 12:
        raise RiskUnavailable("seasonal_volatility: fewer than twelve full months of revenue")
    total_index, line_index = seasonal_profile(monthly)
    value = float(np.std(total_index.to_numpy()))
    trough = total_index.nsmallest(3).index.tolist()
    drivers = (line_index.loc[trough].mean().rename("trough_index").to_frame()
               .join(line_index.max().rename("peak_index")).reset_index()
               .sort_values("trough_index", ascending=False, ignore_index=True))
    drivers["trough_months"] = ", ".join(dt.date(2000, m, 1).strftime("%b") for m in sorted(trough))
    counter = drivers.loc[drivers["trough_index"] > 1, "service_line"].tolist()
    months = drivers["trough_months"].iloc[0] if len(drivers) else ""
    mitigation = (f"Counter-seasonal services for the trough ({months}): promote {_listing(counter)}, "
                  "which run above their average then; sell maintenance contracts billed evenly" if counter
                  else f"No current service line is strong in the trough ({months}): add counter-seasonal "
                       "services or maintenance contracts billed evenly")
    return value, drivers, mitigation


@indicator("seasonal_cash_reserve", "Cash reserve to cover the projected trough", "seasonal", "currency",
           "higher", expensive=True)
def seasonal_cash_reserve(con: Con, as_of: dt.date, settings, params):
    """Cash needed at as_of so the pessimistic projected cash never goes below zero over the horizon (90 days).

    From the cash-flow forecast (:class:`~quantlib.forecast.CashFlowSimulator` started at
    zero cash): minus the lowest 10th-percentile cash position (``cash_lo_80``), or 0.
    The warehouse holds no bank balance, so there is no threshold: the level is info when
    a reserve is needed. Drivers: the daily projection.
    """
    from quantlib.forecast.cashflow import CashFlowSimulator

    sim = CashFlowSimulator(horizon=settings.horizon_days, starting_cash=0.0).fit(con, as_of=as_of)
    daily = sim.daily_[["ds", "inflow", "outflow", "net", "cash", "cash_lo_80"]]
    reserve = max(0.0, -float(daily["cash_lo_80"].min()))
    day = daily.loc[daily["cash_lo_80"].idxmin(), "ds"]
    mitigation = (f"Hold a reserve (or a credit line) covering the trough projected around {day:%d %b %Y}"
                  if reserve > 0 else "Projected collections cover outflows over the horizon")
    return reserve, daily, mitigation


# ---------------------------------------------------------------------------- key person
def skill_matrix(con: Con, as_of: dt.date) -> pd.DataFrame:
    """Active technicians (hired by as_of, not terminated) x skills: ``technician_id, name, region, skill``."""
    return con.execute(
        """SELECT technician_id, name, region, trim(s) AS skill
           FROM technicians, unnest(string_split(skills, ';')) AS t(s)
           WHERE hire_date::DATE <= ? AND (termination_date IS NULL OR termination_date::DATE > ?)
             AND trim(s) <> ''
           ORDER BY technician_id, skill""", [as_of, as_of]).df()


def skill_hours(con: Con, as_of: dt.date, days: int) -> pd.DataFrame:
    """Labour hours of completed jobs per service line (skill) and technician in the ``days`` ending as_of."""
    return con.execute(
        """SELECT service_line AS skill, technician_id, sum(labor_hours) AS hours
           FROM job_facts WHERE is_completed AND technician_id IS NOT NULL AND completed_date BETWEEN ? AND ?
           GROUP BY ALL ORDER BY skill, hours DESC""",
        [as_of - dt.timedelta(days=days - 1), as_of]).df()


def key_person_table(con: Con, as_of: dt.date, days: int = 365, min_hours: float = 0.0) -> pd.DataFrame:
    """Per skill: hours, top technician and share, qualified active technicians, cross-training candidates.

    A skill is a service line the company did work in (``days`` ending as_of) or that an
    active technician holds. Candidates: active technicians without the skill, those in
    the top technician's region first, then those with the fewest hours in the window
    (spare capacity). ``share`` is NaN below ``min_hours`` hours (too little work to judge).
    """
    matrix = skill_matrix(con, as_of)
    hours = skill_hours(con, as_of, days)
    total = hours.groupby("skill")["hours"].sum()
    tech_hours = hours.groupby("technician_id")["hours"].sum()
    region = dict(zip(matrix["technician_id"], matrix["region"]))
    active = sorted(set(matrix["technician_id"]))
    rows = []
    for skill in sorted(set(total.index) | set(matrix["skill"])):
        qualified = sorted(matrix.loc[matrix["skill"] == skill, "technician_id"])
        done = hours[hours["skill"] == skill].sort_values(["hours", "technician_id"], ascending=[False, True])
        skill_total = float(total.get(skill, 0.0))
        top = done["technician_id"].iloc[0] if len(done) else (qualified[0] if len(qualified) == 1 else None)
        share = float(done["hours"].iloc[0]) / skill_total if len(done) and skill_total > 0 else math.nan
        if skill_total < min_hours:
            share = math.nan
        others = [t for t in active if t not in qualified]
        top_region = region.get(top)
        others.sort(key=lambda t: (region.get(t) != top_region, float(tech_hours.get(t, 0.0)), t))
        rows.append({"skill": skill, "hours": skill_total, "top_technician": top, "top_share": share,
                     "qualified": len(qualified), "qualified_technicians": ";".join(qualified),
                     "cross_train": ";".join(others[:3])})
    return pd.DataFrame(rows, columns=["skill", "hours", "top_technician", "top_share", "qualified",
                                       "qualified_technicians", "cross_train"])


def _cross_training(rows: pd.DataFrame) -> str:
    parts = [f"{r.skill}: {r.cross_train.replace(';', ', ')}" for r in rows.itertuples() if r.cross_train]
    return "Cross-train " + "; ".join(parts) if parts else "No other active technician to cross-train"


@indicator("skill_concentration", "Largest share of a skill's hours done by one technician", "key_person",
           "ratio", "higher")
def skill_concentration(con: Con, as_of: dt.date, settings, params):
    """Largest share, over skills (service lines), of a skill's labour hours done by one technician.

    Hours of completed jobs in the window (default 365 days) ending as_of; skills with fewer
    than ``min_skill_hours`` hours are left out. Skills are the service lines (technicians'
    ``skills`` are service lines). Drivers: every skill's table (:func:`key_person_table`),
    most concentrated first, with cross-training candidates from the skill matrix.
    """
    table = key_person_table(con, as_of, settings.window_days, settings.min_skill_hours)
    judged = table.dropna(subset=["top_share"])
    if judged.empty:
        raise RiskUnavailable("skill_concentration: no skill with enough hours in the window")
    table = table.sort_values("top_share", ascending=False, na_position="last", ignore_index=True)
    value = float(judged["top_share"].max())
    warning = settings.thresholds()[0]
    flagged = table[table["top_share"] >= (warning if warning is not None else value)]
    return value, table, _cross_training(flagged if len(flagged) else table.head(1))


@indicator("single_qualified_skills", "Skills with at most one qualified technician", "key_person", "count",
           "higher")
def single_qualified_skills(con: Con, as_of: dt.date, settings, params):
    """Skills (service lines worked in the last 365 days or held) with at most one qualified active technician.

    Qualified = the skill is in the technician's ``skills``; active = hired by as_of and not
    terminated by then. Drivers: those skills with cross-training candidates.
    """
    table = key_person_table(con, as_of, 365)
    if table.empty:
        raise RiskUnavailable("single_qualified_skills: no skills and no technicians")
    single = table[table["qualified"] <= 1].reset_index(drop=True)
    mitigation = _cross_training(single) if len(single) else "Every skill has at least two qualified technicians"
    return float(len(single)), single, mitigation


# ---------------------------------------------------------------------------- equipment
@indicator("equipment_failure_exposure", "Unplanned equipment downtime share", "equipment", "ratio", "higher")
def equipment_failure_exposure(con: Con, as_of: dt.date, settings, params):
    """Unplanned downtime hours / available equipment hours over the window (default 90 days) ending as_of.

    Until the maintenance engine lands this reads ``maintenance_events`` only: unplanned =
    failures and corrective repairs, dated by their scheduled date; available =
    ``available_hours_per_week`` x days owned in the window / 7. Drivers: per piece,
    failures, unplanned downtime and overdue preventive maintenance (scheduled by as_of,
    not completed by then).
    """
    start = as_of - dt.timedelta(days=settings.window_days - 1)
    table = con.execute(
        """WITH m AS (
               SELECT equipment_id,
                      count(*) FILTER (WHERE kind = 'failure' AND scheduled_date::DATE BETWEEN ? AND ?) AS failures,
                      coalesce(sum(downtime_hours) FILTER (WHERE kind IN ('failure', 'corrective')
                               AND scheduled_date::DATE BETWEEN ? AND ?), 0) AS unplanned_downtime,
                      count(*) FILTER (WHERE kind = 'preventive' AND scheduled_date::DATE <= ?
                               AND (completed_date IS NULL OR completed_date::DATE > ?)) AS overdue_preventive
               FROM maintenance_events GROUP BY equipment_id)
           SELECT e.equipment_id, e.name, e.kind, e.region,
                  greatest(0, date_diff('day', greatest(e.purchase_date::DATE, ?::DATE), ?::DATE) + 1)
                      * e.available_hours_per_week / 7.0 AS available_hours,
                  coalesce(m.failures, 0) AS failures, coalesce(m.unplanned_downtime, 0) AS unplanned_downtime,
                  coalesce(m.overdue_preventive, 0) AS overdue_preventive
           FROM equipment e LEFT JOIN m USING (equipment_id)
           WHERE e.purchase_date::DATE <= ?
           ORDER BY unplanned_downtime DESC, failures DESC, overdue_preventive DESC, equipment_id""",
        [start, as_of, start, as_of, as_of, as_of, start, as_of, as_of]).df()
    available = float(table["available_hours"].sum())
    if available <= 0:
        raise RiskUnavailable("equipment_failure_exposure: no equipment owned in the window")
    value = float(table["unplanned_downtime"].sum()) / available
    failing = table.loc[table["failures"] > 0, "name"].tolist()
    overdue = table.loc[table["overdue_preventive"] > 0, "name"].tolist()
    parts = []
    if failing:
        parts.append(f"Inspect or replace the pieces that failed ({_listing(failing)})")
    if overdue:
        parts.append(f"{'c' if parts else 'C'}omplete overdue preventive maintenance ({_listing(overdue)})")
    mitigation = ("; ".join(parts) if parts else "No failure and no overdue preventive maintenance")
    return value, table.head(max(params.drivers_top, len(table[table["unplanned_downtime"] > 0]))), mitigation


# ---------------------------------------------------------------------------- quality
def weekly_quality(con: Con, as_of: dt.date, weeks: int) -> pd.DataFrame:
    """Weekly quality series for the ``weeks`` seven-day weeks ending as_of, oldest first.

    Columns ``week_end, jobs, rated_jobs, mean_rating, complaints, callbacks,
    complaint_rate``: ratings are those of the jobs completed in the week (0-10);
    complaints are interactions of kind ``complaint`` in the week; callbacks are completed
    jobs flagged ``callback``; complaint_rate = (complaints + callbacks) / completed jobs.
    """
    first = as_of - dt.timedelta(days=7 * weeks - 1)
    frame = con.execute(
        """WITH w AS (SELECT range AS k FROM range(?)),
                j AS (SELECT (date_diff('day', completed_date, ?::DATE) // 7) AS k, count(*) AS jobs,
                             count(rating) AS rated_jobs, avg(rating) AS mean_rating,
                             count(*) FILTER (WHERE callback) AS callbacks
                      FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ? GROUP BY 1),
                c AS (SELECT (date_diff('day', ts::DATE, ?::DATE) // 7) AS k, count(*) AS complaints
                      FROM interactions WHERE kind = 'complaint' AND ts::DATE BETWEEN ? AND ? GROUP BY 1)
           SELECT ?::DATE - (7 * w.k)::INTEGER AS week_end, coalesce(j.jobs, 0) AS jobs,
                  coalesce(j.rated_jobs, 0) AS rated_jobs, j.mean_rating,
                  coalesce(c.complaints, 0) AS complaints, coalesce(j.callbacks, 0) AS callbacks
           FROM w LEFT JOIN j USING (k) LEFT JOIN c USING (k) ORDER BY week_end""",
        [weeks, as_of, first, as_of, as_of, first, as_of, as_of]).df()
    frame["complaint_rate"] = (frame["complaints"] + frame["callbacks"]) / frame["jobs"].where(frame["jobs"] > 0)
    return frame


def _window_quality(con: Con, as_of: dt.date, days: int) -> tuple[float | None, int, int, int]:
    start = as_of - dt.timedelta(days=days - 1)
    rating, jobs, callbacks = con.execute(
        """SELECT avg(rating), count(*), count(*) FILTER (WHERE callback) FROM job_facts
           WHERE is_completed AND completed_date BETWEEN ? AND ?""", [start, as_of]).fetchone()
    complaints = con.execute("SELECT count(*) FROM interactions WHERE kind = 'complaint' AND ts::DATE BETWEEN ? AND ?",
                             [start, as_of]).fetchone()[0]
    return rating, jobs, callbacks, complaints


def _lines_by(con: Con, as_of: dt.date, days: int, expression: str, ascending: bool) -> pd.DataFrame:
    start = as_of - dt.timedelta(days=days - 1)
    return con.execute(
        f"""SELECT service_line, count(*) AS jobs, avg(rating) AS mean_rating,
                   count(*) FILTER (WHERE callback) AS callbacks, {expression} AS measure
            FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ?
            GROUP BY 1 ORDER BY measure {'ASC' if ascending else 'DESC'} NULLS LAST""", [start, as_of]).df()


@indicator("satisfaction", "Customer satisfaction (mean rating)", "quality", "rating", "lower")
def satisfaction(con: Con, as_of: dt.date, settings, params):
    """Mean rating (0-10) of the rated jobs completed in the window (default 30 days) ending as_of.

    Unweighted (the ``customer_satisfaction`` KPI weights by revenue); thresholds are set on
    the spec's 5-point scale and mapped x 2. Drivers: service lines, lowest mean rating first.
    """
    rating, *_ = _window_quality(con, as_of, settings.window_days)
    if rating is None:
        raise RiskUnavailable("satisfaction: no rated job in the window")
    drivers = _lines_by(con, as_of, settings.window_days, "avg(rating)", ascending=True)
    worst = drivers["service_line"].head(2).tolist()
    return float(rating), drivers, f"Review low-rated work and follow up with customers ({_listing(worst)} lowest)"


@indicator("complaint_rate", "Complaints and callbacks per completed job", "quality", "ratio", "higher")
def complaint_rate(con: Con, as_of: dt.date, settings, params):
    """(Complaint interactions + callbacks) / completed jobs in the window (default 30 days) ending as_of.

    There is no complaint flag on jobs: complaints are ``interactions`` of kind
    ``complaint``; callbacks are completed jobs flagged ``callback``. Drivers: service
    lines by callback rate.
    """
    _, jobs, callbacks, complaints = _window_quality(con, as_of, settings.window_days)
    if not jobs:
        raise RiskUnavailable("complaint_rate: no completed job in the window")
    drivers = _lines_by(con, as_of, settings.window_days, "count(*) FILTER (WHERE callback) / count(*)",
                        ascending=False)
    worst = drivers["service_line"].head(2).tolist()
    return ((complaints + callbacks) / jobs, drivers,
            f"Root-cause the callbacks and complaints ({_listing(worst)} highest callback rate); coach first-time fix")


def spc_chart(con: Con, as_of: dt.date, column: str, worse: str, params: RiskParameters) -> pd.DataFrame:
    """The control chart of weekly ``column`` (``mean_rating`` or ``complaint_rate``) as of as_of.

    Weeks: ``spc.baseline_weeks`` of baseline (limits) followed by ``spc.monitor_weeks``
    monitored weeks ending as_of; the chart (EWMA or CUSUM, ``spc.method``) runs over the
    monitored weeks. Columns: the weekly series plus ``x, statistic`` (and the chart's own).
    """
    spc = params.spc
    weeks = weekly_quality(con, as_of, spc.baseline_weeks + spc.monitor_weeks)
    baseline, monitored = weeks.iloc[:spc.baseline_weeks], weeks.iloc[spc.baseline_weeks:]
    if baseline[column].notna().sum() < 8:
        raise RiskUnavailable(f"{column}: fewer than eight baseline weeks with data")
    chart = control_chart(monitored[column].to_numpy(), baseline[column].to_numpy(), spc.method, worse,
                          lam=spc.lam, k=spc.k)
    chart.index = monitored.index
    return pd.concat([monitored, chart.drop(columns="x")], axis=1).reset_index(drop=True)


@indicator("satisfaction_spc", "Satisfaction control chart (sigmas below baseline)", "quality", "sigma", "higher")
def satisfaction_spc(con: Con, as_of: dt.date, settings, params):
    """EWMA (or CUSUM) statistic of the weekly mean job rating, in baseline standard deviations below the centre.

    Weekly mean rating of the jobs completed each seven-day week ending as_of; the centre and
    sigma come from the ``spc.baseline_weeks`` (52) before the ``spc.monitor_weeks`` (13)
    monitored ones. It reaches its limit (warning, default 3 sigma) on a sustained small
    drop, before a monthly average moves much. Drivers: the weekly chart.
    """
    chart = spc_chart(con, as_of, "mean_rating", "lower", params)
    return (float(chart["statistic"].iloc[-1]), chart,
            "Satisfaction is drifting below its baseline: review recent low ratings before the monthly average moves")


@indicator("complaint_spc", "Complaint control chart (sigmas above baseline)", "quality", "sigma", "higher")
def complaint_spc(con: Con, as_of: dt.date, settings, params):
    """EWMA (or CUSUM) statistic of the weekly (complaints + callbacks) / completed jobs, in sigmas above the centre.

    Weeks, baseline and monitoring as for ``satisfaction_spc``; complaints are interactions of
    kind ``complaint``, callbacks completed jobs flagged ``callback``. Drivers: the weekly chart.
    """
    chart = spc_chart(con, as_of, "complaint_rate", "higher", params)
    return (float(chart["statistic"].iloc[-1]), chart,
            "Complaints and callbacks are rising above their baseline: find the pattern (service line, technician)")
