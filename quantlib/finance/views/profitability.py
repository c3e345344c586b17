"""The profitability report: true cost per job by activity, profit by dimension, waterfall, leaks."""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from quantlib.finance.profitability import (
    WATERFALL_TOTALS,
    JobCosting,
    cost_jobs,
    leak_table,
    margin_waterfall,
    profit_by,
    reconcile,
)
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.formatting import markdown_money
from quantlib.views.tables import table_view

__all__ = ["ProfitabilityParameters", "activity_table", "costing_for_report", "dimension_table", "leaks",
           "reconciliation_table", "summary_line", "waterfall_spec", "waterfall_table"]


@register_parameters("profitability")
class ProfitabilityParameters(NotebookParameters):
    """Profitability: activity-based cost per job, profit by dimension, margin waterfall and leaks."""

    months: int = Field(12, ge=1, le=60, description="months of jobs and expenses costed")
    top_leaks: int = Field(10, ge=1, le=50, description="groups listed in 'where margin leaks'")


def costing_for_report(source, as_of=None, months: int = 12) -> JobCosting:
    return cost_jobs(source, as_of, months=months)


def summary_line(costing: JobCosting) -> str:
    """One markdown line: revenue, margin after assigned costs, net of unassigned costs."""
    j = costing.jobs
    revenue, profit = j["revenue"].sum(), j["profit"].sum()
    unassigned = costing.unassigned["amount"].sum() if len(costing.unassigned) else 0.0
    losing = (j.loc[j["revenue"] > 0, "profit"] < 0).mean()
    return (f"{costing.start:%d %b %Y} to {costing.end:%d %b %Y}: revenue **{markdown_money(revenue)}**, "
            f"margin after the costs jobs cause **{profit / revenue:.1%}**, net of the "
            f"{markdown_money(unassigned)} no job causes "
            f"**{(profit - unassigned) / revenue:.1%}**; {losing:.0%} of billed jobs lose money.")


_MONEY = {"revenue": "money", "direct_cost": "money", "overhead": "money", "profit": "money",
          "flat_profit": "money", "margin": "pct", "flat_margin": "pct", "margin_shift": "change", "jobs": "int"}
_LABELS = {"jobs": "Jobs", "revenue": "Revenue", "direct_cost": "Direct cost", "overhead": "Overhead (by activity)",
           "profit": "Profit", "flat_profit": "Profit, flat overhead", "margin": "Margin",
           "flat_margin": "Margin, flat overhead", "margin_shift": "Shift vs flat"}


@table_view(formats=_MONEY, labels=_LABELS)
def dimension_table(costing: JobCosting, dimension: str, top: int | None = None) -> pd.DataFrame:
    """Profit and margin by ``dimension`` (activity-based next to a flat overhead share)."""
    table = profit_by(costing, dimension).drop(columns=["flat_profit"])
    return table if top is None else table.head(top)


@table_view(formats={"amount": "money", "driver_total": "num1", "rate": "num2"},
            labels={"activity": "Activity", "driver": "Driver", "amount": "Cost pool", "driver_total": "Driver total",
                    "rate": "Cost per driver unit"})
def activity_table(costing: JobCosting) -> pd.DataFrame:
    """The activity pools, their drivers and the rate each job pays per unit."""
    table = costing.pools[["activity", "driver", "amount", "driver_total", "rate"]].copy()
    table["driver"] = table["driver"].str.replace("_", " ")
    return table


@table_view(formats={"amount": "money", "running": "money"},
            labels={"step": "Step", "amount": "Amount", "running": "Running total"})
def waterfall_table(costing: JobCosting, service_line: str | None = None) -> pd.DataFrame:
    return margin_waterfall(costing, service_line)


def waterfall_spec(costing: JobCosting, service_line: str | None = None) -> dict:
    """The margin waterfall's arguments for :func:`quantlib.viz.waterfall` (``waterfall(**spec)``): list
    price (or revenue) to net profit, with revenue and margin as subtotals."""
    frame = margin_waterfall(costing, service_line)
    steps, last = frame.iloc[:-1], frame["step"].iloc[-1]
    return {"steps": steps, "label": "step", "amount": "amount", "total_label": last,
            "opening": steps["step"].iloc[0] in WATERFALL_TOTALS,
            "subtotals": [s for s in steps["step"].iloc[1:] if s in WATERFALL_TOTALS], "label_angle": -35,
            "title": "Margin waterfall" + (f": {service_line}" if service_line else ""), "value_title": "Amount",
            "width": 520, "height": 260}


@table_view(formats={"jobs": "int", "revenue": "money", "profit": "money", "margin": "pct", "flat_margin": "pct",
                     "losing_jobs": "pct", "leak_amount": "money"},
            labels={"service_line": "Service line", "job_type": "Job type", "customer_type": "Customer type",
                    "jobs": "Jobs", "revenue": "Revenue", "profit": "Profit", "margin": "Margin",
                    "flat_margin": "Margin, flat overhead", "losing_jobs": "Jobs losing money",
                    "leak": "Biggest cost above average", "leak_amount": "Above average by"})
def leaks(costing: JobCosting, top: int = 10) -> pd.DataFrame:
    """Where margin leaks: the lowest-margin groups and the cost line that eats it."""
    table = leak_table(costing, top=top)
    table["leak"] = table["leak"].str.replace("_", " ")
    return table[["service_line", "job_type", "customer_type", "jobs", "revenue", "profit", "margin", "flat_margin",
                  "losing_jobs", "leak", "leak_amount"]]


@table_view(formats={"amount": "money"}, labels={"item": "Item", "amount": "Amount"})
def reconciliation_table(costing: JobCosting) -> pd.DataFrame:
    """The books against the costing: direct costs + expenses = assigned + unassigned (to the cent)."""
    r = reconcile(costing)
    return pd.DataFrame([
        {"item": "direct costs recorded on jobs", "amount": costing.direct_total},
        {"item": "expenses in the books", "amount": costing.expenses_total},
        {"item": "= total costs", "amount": r["books"]},
        {"item": "costs assigned to jobs (direct + activity overheads)", "amount": r["assigned"]},
        {"item": "unassigned costs", "amount": r["unassigned"]},
        {"item": "difference (cents)", "amount": r["difference_cents"] / 100},
    ])
