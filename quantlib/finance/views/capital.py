"""The capital allocation report: investment cases, their risk, and the portfolio under the budget."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
from pydantic import Field

from quantlib.finance.cases import CapitalPlan, capital_plan, load_capital_parameters
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.formatting import markdown_money
from quantlib.views.tables import table_view

__all__ = ["CapitalAllocationParameters", "case_table", "crew_table", "frontier_chart", "npv_range_chart",
           "plan_for_report", "portfolio_summary", "technology_table"]

KIND_LABELS = {"equipment_expansion": "equipment expansion", "technology_upgrade": "technology upgrade",
               "market_expansion": "market expansion", "other": "other"}


@register_parameters("capital_allocation")
class CapitalAllocationParameters(NotebookParameters):
    """Capital allocation: investment cases, appraisal, risk and the portfolio under a budget."""

    budget: float | None = Field(None, ge=0, description="capital available; None = parameters/finance/capital.yaml")
    n_scenarios: int = Field(2000, ge=100, le=100_000, description="Monte Carlo scenarios per case")


def plan_for_report(source, as_of=None, budget: float | None = None, n_scenarios: int = 2000) -> CapitalPlan:
    """:func:`~quantlib.finance.cases.capital_plan` with the report's overrides."""
    params = load_capital_parameters()
    updates = {"n_scenarios": n_scenarios} | ({"budget": budget} if budget is not None else {})
    return capital_plan(source, as_of, params.model_copy(update=updates))


@table_view(formats={"upfront_cost": "money", "npv": "money", "npv_p10": "money", "npv_p90": "money",
                     "irr": "pct", "roi": "pct", "payback_months": "num1", "p_loss": "pct", "score": "num2"},
            labels={"investment": "Investment", "kind": "Kind", "upfront_cost": "Upfront cost", "npv": "NPV",
                    "npv_p10": "NPV, pessimistic (P10)", "npv_p90": "NPV, optimistic (P90)", "irr": "IRR",
                    "roi": "ROI", "payback_months": "Payback (months)", "meets_hurdle": "Meets the hurdle",
                    "p_loss": "Chance of a loss", "score": "Score", "funded": "Funded"})
def case_table(plan: CapitalPlan) -> pd.DataFrame:
    """One row per case, best score first: NPV with its P10-P90 range, IRR, ROI, payback, hurdle,
    chance of a loss, score and whether the portfolio funds it."""
    table = plan.appraisals.copy()
    order = {c.name: i for i, c in enumerate(plan.cases)}
    npv = plan.scenarios[:, [order[n] for n in table["investment"]]]
    table["npv_p10"], table["npv_p90"] = np.quantile(npv, 0.1, axis=0), np.quantile(npv, 0.9, axis=0)
    table["kind"] = table["kind"].map(KIND_LABELS)
    chosen = set(plan.portfolio.chosen) if plan.portfolio is not None else set()
    table["funded"] = np.where(table["investment"].isin(chosen), "yes", "")
    table["meets_hurdle"] = np.where(table["meets_hurdle"], "yes", "no")
    # Infinite payback reads as "never" in the table.
    table["payback_months"] = table["payback_months"].replace(np.inf, np.nan)
    return table[["investment", "kind", "upfront_cost", "npv", "npv_p10", "npv_p90", "irr", "roi",
                  "payback_months", "meets_hurdle", "p_loss", "score", "funded"]]


@table_view(formats={"recent_jobs_per_month": "num1", "yhat": "num1", "growth_jobs_per_month": "num1",
                     "late_jobs_per_month": "num1", "extra_jobs_per_month": "num1", "crew_capacity_jobs": "num1",
                     "margin_before_labour": "money", "technician_cost_per_month": "money", "kit_cost": "money"},
            labels={"service_line": "Service line", "recent_jobs_per_month": "Jobs / month, last 12",
                    "yhat": "Jobs / month, next 12 (forecast)", "growth_jobs_per_month": "Growth / month",
                    "late_jobs_per_month": "Late jobs / month", "extra_jobs_per_month": "Extra jobs for a crew",
                    "crew_capacity_jobs": "A crew's capacity", "margin_before_labour": "Margin / job before labour",
                    "technician_cost_per_month": "Technician pay / month", "kit_cost": "Kit"})
def crew_table(plan: CapitalPlan) -> pd.DataFrame:
    """How each 'one more crew' case was built from the data."""
    return plan.expansion[["service_line", "recent_jobs_per_month", "yhat", "growth_jobs_per_month",
                           "late_jobs_per_month", "crew_capacity_jobs", "extra_jobs_per_month",
                           "margin_before_labour", "technician_cost_per_month", "kit_cost"]]


@table_view(formats={"baseline_per_month": "money", "improvement": "pct", "saving_per_month": "money"},
            labels={"investment": "Investment", "baseline": "Cost it works on",
                    "baseline_per_month": "That cost / month", "improvement": "Expected saving",
                    "saving_per_month": "Saving / month"})
def technology_table(plan: CapitalPlan) -> pd.DataFrame:
    """The measured cost each technology case saves a share of."""
    if plan.technology.empty:
        return pd.DataFrame(columns=["investment", "baseline", "baseline_per_month", "improvement",
                                     "saving_per_month"])
    table = plan.technology.copy()
    table["baseline"] = table["baseline"].str.replace("expense:", "expenses: ", regex=False).str.replace("_", " ")
    table["baseline"] = table["baseline"].replace({"travel": "travel time and fuel"})
    return table


def portfolio_summary(plan: CapitalPlan) -> str:
    """One paragraph (markdown): what the budget funds, its expected NPV and its risk."""
    p = plan.params
    if plan.portfolio is None:
        return (f"No set of eligible investments fits the budget of {markdown_money(p.budget)}"
                + (" and the risk limit" if p.max_cvar_loss is not None else "") + ".")
    if not plan.portfolio.chosen:
        return f"Nothing is worth funding from the budget of {markdown_money(p.budget)}: no eligible case adds value."
    chosen = ", ".join(plan.portfolio.chosen)
    fund = (f"With a budget of **{markdown_money(p.budget)}**, fund **{chosen}** "
            f"({markdown_money(plan.portfolio.cost)}): expected NPV **{markdown_money(plan.portfolio.expected_npv)}**")
    if plan.portfolio.cvar_loss > 0:
        return (f"{fund}; in the worst 10 % of {len(plan.scenarios):,} scenarios the portfolio loses "
                f"{markdown_money(plan.portfolio.cvar_loss)} on average.")
    return f"{fund}, positive even in the worst 10 % of {len(plan.scenarios):,} scenarios."


def npv_range_chart(plan: CapitalPlan) -> alt.Chart:
    """Each case's NPV: P10-P90 bar, median tick, zero line."""
    rows = [{"investment": c.name, "p10": q[0], "median": q[1], "p90": q[2]}
            for c, q in zip(plan.cases, np.quantile(plan.scenarios, [0.1, 0.5, 0.9], axis=0).T)]
    data = pd.DataFrame(rows)
    y = alt.Y("investment:N", sort=alt.EncodingSortField("median", order="descending"), title=None)
    bars = alt.Chart(data).mark_bar(height=10, opacity=0.6).encode(
        y=y, x=alt.X("p10:Q", title="NPV (P10 to P90)", axis=alt.Axis(format="$,.0f")), x2="p90:Q")
    ticks = alt.Chart(data).mark_tick(thickness=2, size=16, color="black").encode(y=y, x="median:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 3]).encode(x="x:Q")
    return (bars + ticks + zero).properties(title="NPV of each case across the scenarios", width=420)


def frontier_chart(plan: CapitalPlan) -> alt.Chart | None:
    """The mean-variance frontier of the eligible cases, with the chosen portfolio marked."""
    if plan.frontier.empty:
        return None
    line = alt.Chart(plan.frontier).mark_line(point=True).encode(
        x=alt.X("sd_npv:Q", title="Risk: standard deviation of NPV", axis=alt.Axis(format="$,.0f")),
        y=alt.Y("expected_npv:Q", title="Expected NPV", axis=alt.Axis(format="$,.0f")))
    layers = [line]
    if plan.portfolio is not None and plan.portfolio.chosen:
        order = [c.name for c in plan.cases]
        total = plan.scenarios[:, [order.index(n) for n in plan.portfolio.chosen]].sum(axis=1)
        point = pd.DataFrame({"sd_npv": [float(total.std())], "expected_npv": [float(total.mean())],
                              "label": ["chosen portfolio"]})
        layers.append(alt.Chart(point).mark_point(shape="diamond", size=120, filled=True, color="#c0392b").encode(
            x="sd_npv:Q", y="expected_npv:Q"))
        layers.append(alt.Chart(point).mark_text(align="left", dx=8).encode(x="sd_npv:Q", y="expected_npv:Q",
                                                                            text="label:N"))
    return alt.layer(*layers).properties(title="Efficient frontier (fractional funding within the budget)",
                                         width=420, height=260)
