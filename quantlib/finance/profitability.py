"""Profitability by activity-based costing: what each job truly costs, and where margin leaks.

A flat overhead share charges every job the same percentage of its revenue; activity-based
costing charges each job for what it consumes. The overheads of the books (``expenses``) are
split into activity pools (``parameters/finance/profitability.yaml``: each activity takes
shares of expense categories and has one driver) and each pool is assigned to the jobs of the
period in proportion to their driver: miles driven, labour hours, invoices, complaints and
callbacks, equipment hours, or simply jobs. Costs no job causes (rent, utilities, marketing)
stay unassigned and are shown as such.

Everything is in whole cents and pools are split by the largest-remainder method, so the
costs reconcile exactly: direct costs recorded on jobs + the expenses of the period = costs
assigned to jobs + unassigned costs, to the cent (:func:`reconcile`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantlib.config import load_yaml_model, project_root
from quantlib.data.gold import as_of_date, open_gold
from quantlib.errors import QuantError

__all__ = ["Activity", "CostingParameters", "DRIVERS", "JobCosting", "ProfitabilityError", "WATERFALL_TOTALS",
           "cost_jobs", "leak_table", "load_costing_parameters", "margin_waterfall", "profit_by", "reconcile"]


class ProfitabilityError(QuantError, ValueError):
    """Costing parameters that break their rules, or a period with no jobs."""


#: Activity drivers: the job column each is measured by.
DRIVERS = {
    "travel_miles": "travel_miles", "travel_hours": "travel_hours", "labor_hours": "labor_hours",
    "invoices": "invoices", "callbacks": "callbacks", "complaints": "complaints",
    "equipment_hours": "equipment_hours", "jobs": "job_count",
}


class Activity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    driver: str
    categories: dict[str, float] = Field(description="expense category -> share of it this activity takes")

    @model_validator(mode="after")
    def _check(self) -> "Activity":
        if self.driver not in DRIVERS:
            raise ValueError(f"unknown driver {self.driver!r}; known: {', '.join(DRIVERS)}")
        for category, share in self.categories.items():
            if not 0 < share <= 1:
                raise ValueError(f"share of {category!r} must be within (0, 1], got {share}")
        return self


class CostingParameters(BaseModel):
    """The activity pools of ``parameters/finance/profitability.yaml``."""

    model_config = ConfigDict(extra="forbid")

    activities: dict[str, Activity]

    @model_validator(mode="after")
    def _shares(self) -> "CostingParameters":
        total: dict[str, float] = {}
        for activity in self.activities.values():
            for category, share in activity.categories.items():
                total[category] = total.get(category, 0.0) + share
        over = {c: s for c, s in total.items() if s > 1 + 1e-9}
        if over:
            raise ValueError(f"the activities take more than all of {', '.join(sorted(over))}")
        return self


def default_costing_path() -> Path:
    return project_root() / "parameters" / "finance" / "profitability.yaml"


@lru_cache(maxsize=8)
def _load(path: str) -> CostingParameters:
    return load_yaml_model(path, CostingParameters, "costing parameters", ProfitabilityError)


def load_costing_parameters(path: str | Path | None = None) -> CostingParameters:
    """The costing parameters in ``path`` (default ``parameters/finance/profitability.yaml``)."""
    return _load(str(Path(path) if path else default_costing_path()))


def _cents(values) -> np.ndarray:
    return np.round(np.asarray(values, float) * 100).astype(np.int64)


def split_cents(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` cents split in proportion to ``weights`` by the largest remainder: whole cents
    that add up to ``total`` exactly."""
    weights = np.asarray(weights, float)
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    short = int(total - base.sum())
    if short:
        order = np.argsort(-(share - base), kind="stable")[:short]
        base[order] += 1
    return base


@dataclass
class JobCosting:
    """Every job of the period with its direct and assigned costs (all money in cents-exact floats).

    Attributes
    ----------
    jobs : DataFrame
        One row per job: its attributes, ``revenue``, ``labor_cost``, ``material_cost``,
        ``equipment_cost``, one ``overhead_<activity>`` column per activity, ``overhead``,
        ``true_cost``, ``profit``, ``margin`` and ``flat_overhead`` (the same assigned
        overhead spread by revenue, for comparison).
    pools : DataFrame
        ``activity, driver, amount, driver_total, rate, assigned``: each pool, its driver total and
        the cost per driver unit.
    unassigned : DataFrame
        ``category, amount, reason``: what no job carries.
    expenses_total, direct_total : float
        The books' totals of the period.
    start, end : date
        The period ``(start, end]``.
    """

    jobs: pd.DataFrame
    pools: pd.DataFrame
    unassigned: pd.DataFrame
    expenses_total: float
    direct_total: float
    start: dt.date
    end: dt.date


def _value_tier(monetary: pd.Series) -> pd.Series:
    """High (top 20 % by spend in the last year), mid (next 30 %), low, or no spend."""
    ranked = monetary.where(monetary > 0).rank(pct=True, ascending=False)
    return pd.Series(np.select([ranked <= 0.2, ranked <= 0.5, ranked.notna()], ["high value", "mid value", "low value"],
                               "no spend"), index=monetary.index)


def cost_jobs(source, as_of=None, months: int = 12, params: CostingParameters | None = None) -> JobCosting:
    """Cost every job active in the ``months`` before ``as_of`` by activity.

    A job belongs to the period by its activity date (completed, cancelled or scheduled);
    expenses by their date. Revenue is completed-job revenue; direct costs are those recorded
    on the jobs.
    """
    params = params or load_costing_parameters()
    with open_gold(source) as con:
        end = as_of_date(con, as_of)
        start = (pd.Timestamp(end) - pd.DateOffset(months=months)).date()
        jobs = con.execute("""
            SELECT j.job_id, j.customer_id, j.technician_id, j.technician_name, j.service_line, j.job_type,
                   j.urgency, j.status, j.customer_type, c.zip, j.activity_date,
                   coalesce(j.revenue, 0) AS revenue, coalesce(j.labor_cost, 0) AS labor_cost,
                   coalesce(j.material_cost, 0) AS material_cost, coalesce(j.equipment_cost, 0) AS equipment_cost,
                   coalesce(j.travel_miles, 0) AS travel_miles, coalesce(j.travel_minutes, 0) / 60.0 AS travel_hours,
                   coalesce(j.labor_hours, 0) AS labor_hours, j.callback::INT AS callbacks, 1 AS job_count,
                   (SELECT count(*) FROM invoices i WHERE i.job_id = j.job_id) AS invoices,
                   (SELECT count(*) FROM interactions x WHERE x.job_id = j.job_id AND x.kind = 'complaint')
                       AS complaints,
                   (SELECT coalesce(sum(u.hours), 0) FROM equipment_usage u WHERE u.job_id = j.job_id)
                       AS equipment_hours,
                   coalesce(f.monetary_365d, 0) AS customer_spend_365d,
                   -- the list price of a job sold from a quote: its standard price before any discount
                   CASE WHEN coalesce(j.revenue, 0) > 0 THEN q.list_amount END AS list_amount
            FROM job_facts j LEFT JOIN customers c USING (customer_id)
            LEFT JOIN customer_features f ON f.customer_id = j.customer_id
            LEFT JOIN quotes q ON q.quote_id = j.quote_id
            WHERE j.activity_date > ? AND j.activity_date <= ?
            ORDER BY j.job_id""", [start, end]).df()
        expenses = con.execute("""SELECT category, sum(amount) AS amount FROM expenses
                                  WHERE date > ? AND date <= ? GROUP BY ALL ORDER BY 1""", [start, end]).df()
    if jobs.empty:
        raise ProfitabilityError(f"no jobs between {start} and {end}")
    jobs["customer_segment"] = _value_tier(jobs.groupby("customer_id")["customer_spend_365d"].transform("first"))
    expense_cents = dict(zip(expenses["category"], _cents(expenses["amount"])))
    left = dict(expense_cents)
    pools, overhead_cols = [], []
    for name, activity in params.activities.items():
        amount = 0
        for category, share in activity.categories.items():
            if category not in expense_cents:
                continue
            taken = int(round(expense_cents[category] * share)) if share < 1 else expense_cents[category]
            taken = min(taken, left[category])
            left[category] -= taken
            amount += taken
        driver = jobs[DRIVERS[activity.driver]].to_numpy(float)
        column = f"overhead_{name}"
        if amount and driver.sum() > 0:
            jobs[column] = split_cents(amount, driver) / 100
            assigned = amount
        else:
            jobs[column] = 0.0
            assigned = 0
            if amount:
                left[f"{name} (no {activity.driver} in the period)"] = amount
        overhead_cols.append(column)
        pools.append({"activity": name, "driver": activity.driver, "amount": amount / 100,
                      "driver_total": float(driver.sum()),
                      "rate": amount / 100 / driver.sum() if driver.sum() > 0 else np.nan,
                      "assigned": assigned / 100})
    unassigned = pd.DataFrame([{"category": c, "amount": v / 100,
                                "reason": "no job causes it" if "(no " not in c else "its driver is zero"}
                               for c, v in left.items() if v], columns=["category", "amount", "reason"])
    jobs["overhead"] = jobs[overhead_cols].sum(axis=1)
    jobs["direct_cost"] = jobs[["labor_cost", "material_cost", "equipment_cost"]].sum(axis=1)
    jobs["true_cost"] = jobs["direct_cost"] + jobs["overhead"]
    jobs["profit"] = jobs["revenue"] - jobs["true_cost"]
    jobs["margin"] = np.where(jobs["revenue"] > 0, jobs["profit"] / jobs["revenue"].where(jobs["revenue"] > 0), np.nan)
    total_overhead = jobs["overhead"].sum()
    revenue = jobs["revenue"].sum()
    jobs["flat_overhead"] = jobs["revenue"] / revenue * total_overhead if revenue > 0 else 0.0
    direct_total = float(_cents(jobs[["labor_cost", "material_cost", "equipment_cost"]].to_numpy()).sum()) / 100
    return JobCosting(jobs, pd.DataFrame(pools), unassigned, float(sum(expense_cents.values())) / 100,
                      direct_total, start, end)


def reconcile(costing: JobCosting) -> dict:
    """The books against the costing, in cents: ``direct + expenses == assigned + unassigned``."""
    direct = int(_cents(costing.jobs[["labor_cost", "material_cost", "equipment_cost"]].to_numpy()).sum())
    assigned_overhead = int(sum(_cents(costing.jobs[c]).sum() for c in costing.jobs
                                if c.startswith("overhead_")))
    unassigned = int(_cents(costing.unassigned["amount"]).sum()) if len(costing.unassigned) else 0
    books = direct + int(round(costing.expenses_total * 100))
    return {"books": books / 100, "assigned": (direct + assigned_overhead) / 100, "unassigned": unassigned / 100,
            "difference_cents": books - (direct + assigned_overhead + unassigned)}


#: The dimensions profit is reported by.
DIMENSIONS = {"service line": "service_line", "customer type": "customer_type", "zip code": "zip",
              "customer segment": "customer_segment", "technician": "technician_name", "job type": "job_type",
              "urgency": "urgency"}


def profit_by(costing: JobCosting, dimension: str) -> pd.DataFrame:
    """Revenue, direct cost, overhead, profit and margin (activity-based and flat) by one dimension."""
    column = DIMENSIONS.get(dimension, dimension)
    if column not in costing.jobs:
        raise ProfitabilityError(f"unknown dimension {dimension!r}; known: {', '.join(DIMENSIONS)}")
    j = costing.jobs.assign(flat_profit=lambda d: d["revenue"] - d["direct_cost"] - d["flat_overhead"])
    g = j.groupby(column, dropna=False).agg(
        jobs=("job_id", "count"), revenue=("revenue", "sum"), direct_cost=("direct_cost", "sum"),
        overhead=("overhead", "sum"), profit=("profit", "sum"), flat_profit=("flat_profit", "sum"))
    g["margin"] = g["profit"] / g["revenue"].where(g["revenue"] > 0)
    g["flat_margin"] = g["flat_profit"] / g["revenue"].where(g["revenue"] > 0)
    g["margin_shift"] = g["margin"] - g["flat_margin"]
    return g.reset_index().rename(columns={column: dimension}).sort_values("profit", ascending=False,
                                                                          ignore_index=True)


def margin_waterfall(costing: JobCosting, service_line: str | None = None) -> pd.DataFrame:
    """List price down to margin: ``step, amount, running`` (totals at their level, changes signed).

    Jobs sold from a quote carry the quote's list price; the difference to what was billed is
    the ``discounts`` step (net of any price above list). Jobs without a quote have no list
    price of their own and enter at what was billed. When no job in the period came from a
    quote the waterfall starts at revenue. After revenue come the direct costs and each
    activity's overhead; the last step is the margin after the costs assigned to jobs (for the
    company as a whole the unassigned costs and the net profit follow).
    """
    j = costing.jobs if service_line is None else costing.jobs[costing.jobs["service_line"] == service_line]
    if j.empty:
        raise ProfitabilityError(f"no jobs of service line {service_line!r} in the period")
    rows, running = [], 0.0

    def add(step: str, amount: float, total: bool = False) -> None:
        nonlocal running
        running = amount if total else running + amount
        rows.append({"step": step, "amount": amount, "running": running})

    revenue = float(j["revenue"].sum())
    listed = j["list_amount"].notna() if "list_amount" in j else pd.Series(False, index=j.index)
    if listed.any():
        discounts = float((j.loc[listed, "list_amount"] - j.loc[listed, "revenue"]).sum())
        add("list price", revenue + discounts, total=True)
        add("discounts", -discounts)
    add("revenue", revenue, total=True)
    add("labour", -float(j["labor_cost"].sum()))
    add("materials", -float(j["material_cost"].sum()))
    add("equipment", -float(j["equipment_cost"].sum()))
    for column in [c for c in j if c.startswith("overhead_")]:
        add(column.removeprefix("overhead_"), -float(j[column].sum()))
    add("margin", running, total=True)
    if service_line is None and len(costing.unassigned):
        unassigned = float(costing.unassigned["amount"].sum())
        margin = running
        add("unassigned overheads", -unassigned)
        add("net profit", margin - unassigned, total=True)
    return pd.DataFrame(rows)


#: Waterfall steps that are levels (drawn from zero), not changes.
WATERFALL_TOTALS = ("list price", "revenue", "margin", "net profit")


def leak_table(costing: JobCosting, by=("service_line", "job_type", "customer_type"), top: int = 10) -> pd.DataFrame:
    """Where margin leaks: the groups losing the most profit, and the cost that does it.

    One row per group (default service line x job type x customer type): profit, margin, the
    share of its jobs that lose money, its margin under a flat overhead share, and the cost
    line taking the most above the company's average share of revenue (``leak``, with the
    amount above average).
    """
    j = costing.jobs[costing.jobs["revenue"] > 0]
    cost_cols = ["labor_cost", "material_cost", "equipment_cost"] + [c for c in j if c.startswith("overhead_")]
    company_share = j[cost_cols].sum() / j["revenue"].sum()
    g = j.groupby(list(by), dropna=False)
    table = g.agg(jobs=("job_id", "count"), revenue=("revenue", "sum"), profit=("profit", "sum"),
                  flat_overhead=("flat_overhead", "sum"), overhead=("overhead", "sum"),
                  losing_jobs=("profit", lambda p: float((p < 0).mean())))
    table["margin"] = table["profit"] / table["revenue"]
    table["flat_margin"] = (table["profit"] + table["overhead"] - table["flat_overhead"]) / table["revenue"]
    excess = g[cost_cols].sum().sub(np.outer(table["revenue"], company_share.to_numpy()), axis=None)
    excess.columns = [c.removeprefix("overhead_").replace("_cost", "") for c in cost_cols]
    table["leak"] = excess.idxmax(axis=1)
    table["leak_amount"] = excess.max(axis=1)
    table = table.reset_index().sort_values("margin", ignore_index=True)
    return table.head(top)
