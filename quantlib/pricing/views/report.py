"""The pricing report: what jobs cost, the rule prices, how customers respond to price, and what to quote.

Every table comes from :class:`~quantlib.pricing.quote.QuotePricer` fitted on gold: the cost
build-up per service line and job type, the rule price per urgency, the learned price slope per
customer segment with its interval, and per line and segment the recommended price for a typical
job against the rule price, with the win probabilities and expected margins behind both.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
from pydantic import Field

from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.pricing.cost import PricingError
from quantlib.pricing.experiments import sample_size
from quantlib.pricing.quote import QuotePricer
from quantlib.pricing.rules import URGENCY_FACTORS
from quantlib.views.formatting import markdown_money
from quantlib.views.tables import table_view

__all__ = ["PricingParameters", "cost_table", "elasticity_chart", "elasticity_table", "experiment_table",
           "cross_sell_table", "fit_pricer", "recommendation_table", "summary_line"]


@register_parameters("pricing")
class PricingParameters(NotebookParameters):
    """Pricing: cost build-up, rule prices, price response by segment and the recommended quotes."""

    floor_margin: float = Field(0.10, ge=0, le=1, description="the price never goes below cost x (1 + this)")
    max_change: float = Field(0.25, gt=0, le=1, description="nor further than this share from the rule price")
    min_effect: float = Field(0.05, gt=0, lt=0.5, description="win-rate change a price experiment must detect")
    cross_sell_days: int = Field(90, ge=1, le=365, description="days after a won quote a recommended service "
                                                               "counts as cross-sold")


def fit_pricer(source, as_of=None, floor_margin: float = 0.10, max_change: float = 0.25,
               cross_sell_days: int = 90) -> QuotePricer:
    return QuotePricer(floor_margin=floor_margin, max_change=max_change,
                       cross_sell_days=cross_sell_days).fit(source, as_of)


@table_view(formats={"jobs": "int", "hours": "num2", "labour": "money", "equipment": "money", "materials": "money",
                     "overhead": "money", "cost": "money", "cost_lo": "money", "cost_hi": "money", "markup": "num2"},
            labels={"cost_lo": "Cost, low (P10)", "cost_hi": "Cost, high (P90)", "markup": "Markup (routine)"})
def cost_table(pricer: QuotePricer) -> pd.DataFrame:
    """Per service line and job type: jobs in the history, hours, each cost line, the total and its range."""
    rows = []
    for line, job_type in pricer.cost_model_.history_.index:
        b = pricer.cost_model_.build(line, job_type)
        rows.append({"service_line": line, "job_type": job_type, "jobs": b.history_jobs, "hours": b.hours,
                     "labour": b.labour, "equipment": b.equipment, "materials": b.materials, "overhead": b.overhead,
                     "cost": b.total, "cost_lo": b.total_lo, "cost_hi": b.total_hi,
                     "markup": pricer.rules_.markup_.get((line, job_type), np.nan)})
    return pd.DataFrame(rows)


@table_view(formats={"estimate": "num2", "lower": "num2", "upper": "num2", "n_quotes": "int",
                     "stance": "num2"},
            labels={"estimate": "Price slope", "lower": "95 % low", "upper": "95 % high", "n_quotes": "Quotes",
                    "stance": "Rule stance"})
def elasticity_table(pricer: QuotePricer) -> pd.DataFrame:
    """Per segment: the learned price slope (log-odds per 100 % above list), its interval, the quotes behind it."""
    from quantlib.pricing.rules import SEGMENT_STANCES

    e = pricer.win_model_.elasticity_
    return pd.DataFrame({"segment": e.index, "n_quotes": e["n_quotes"].to_numpy(), "estimate": e["coef"].to_numpy(),
                         "lower": e["lower"].to_numpy(), "upper": e["upper"].to_numpy(),
                         "stance": [SEGMENT_STANCES.get(s, np.nan) for s in e.index]})


def elasticity_chart(pricer: QuotePricer) -> alt.Chart:
    """Each segment's price slope with its 95 % interval (further left: more price sensitive)."""
    table = elasticity_table(pricer)
    base = alt.Chart(table).encode(y=alt.Y("segment:N", title=None, sort="x"))
    bars = base.mark_rule(strokeWidth=3).encode(x=alt.X("lower:Q", title="Price slope (log-odds per 100 % above "
                                                                          "list)"), x2="upper:Q")
    points = base.mark_point(filled=True, size=60).encode(x="estimate:Q")
    return (bars + points).properties(width=480, height=160, title="How each segment responds to price")


def _typical_job(pricer: QuotePricer, line: str) -> str:
    history = pricer.cost_model_.history_.loc[line]
    return str(history["jobs"].idxmax())


def _representative(pricer: QuotePricer) -> dict[str, str]:
    """Per segment, the customer in it now with the most invoices (a typical payment record)."""
    customers = pricer.customers_["customer_id"]
    segments = pricer.segment_of_.reindex(customers.to_numpy())
    return {segment: str(ids.iloc[0]) for segment, ids in customers.groupby(segments.to_numpy())}


@table_view(formats={"rule_price": "money", "recommended": "money", "change": "change", "rule_win": "pct",
                     "win": "pct", "rule_margin": "money", "margin": "money", "uplift": "money",
                     "cross_sell": "money"},
            labels={"rule_price": "Rule price", "recommended": "Recommended", "change": "Change",
                    "rule_win": "P(win) at rule", "win": "P(win) recommended", "rule_margin": "Exp. margin at rule",
                    "margin": "Exp. margin recommended", "uplift": "Margin gained per quote",
                    "binding": "Guard rail", "cross_sell": "Cross-sell margin if won"})
def recommendation_table(pricer: QuotePricer, urgency: str = "routine") -> pd.DataFrame:
    """Per service line (its most common job type) and segment: rule vs recommended price for one customer
    of that segment, the win probabilities and expected margins of both, and the customer's expected
    cross-sell margin if the quote is won (counted in both expected margins)."""
    if urgency not in URGENCY_FACTORS:
        raise PricingError(f"unknown urgency {urgency!r}")
    people = _representative(pricer)
    rows = []
    for line in sorted(pricer.cost_model_.history_.index.get_level_values(0).unique()):
        job_type = _typical_job(pricer, line)
        for segment, customer in sorted(people.items()):
            try:
                advice = pricer.quote(customer, line, job_type, urgency)
            except PricingError:
                continue
            rec = advice.recommendation
            rows.append({"service_line": line, "job_type": job_type, "segment": segment,
                         "rule_price": rec.rule_price, "recommended": rec.price,
                         "change": rec.price / rec.rule_price - 1, "rule_win": rec.rule_win_probability,
                         "win": rec.win_probability, "rule_margin": rec.rule_expected_margin,
                         "margin": rec.expected_margin, "uplift": rec.expected_margin - rec.rule_expected_margin,
                         "cross_sell": advice.cross_sell_margin, "binding": rec.binding})
    return pd.DataFrame(rows)


@table_view(formats={"offered": "int", "bought": "int", "rate": "pct", "probability": "pct"},
            labels={"offered": "Customers offered", "bought": "Bought it", "rate": "Share bought",
                    "probability": "P(buy) used"})
def cross_sell_table(pricer: QuotePricer) -> pd.DataFrame:
    """Per recommendation rank: how often the item was bought in the last window before the as-of date
    (the calibration of the recommendations engine), and the probability the price counts."""
    if pricer.cross_sell_ is None:
        return pd.DataFrame(columns=["rank", "offered", "bought", "rate", "probability"])
    return pricer.cross_sell_.rank_rates_.reset_index()


@table_view(formats={"win_rate": "pct", "detect": "pct", "quotes_per_arm": "int", "months": "num1"},
            labels={"win_rate": "Win rate now", "detect": "Change to detect", "quotes_per_arm": "Quotes per price",
                    "months": "Months at today's volume"})
def experiment_table(pricer: QuotePricer, min_effect: float = 0.05) -> pd.DataFrame:
    """Per service line: quotes needed per arm to detect a ``min_effect`` change in win rate (5 % level,
    80 % power), and how many months of the line's quotes that is with two prices tested."""
    rate = pricer.win_model_.base_rate_
    rows = []
    monthly = pricer.quotes_per_month_
    for line, per_month in monthly.items():
        n = sample_size(rate, max(rate - min_effect, 0.01))
        rows.append({"service_line": line, "win_rate": rate, "detect": -min_effect, "quotes_per_arm": n,
                     "months": 2 * n / per_month if per_month else np.nan})
    return pd.DataFrame(rows)


def summary_line(table: pd.DataFrame) -> str:
    """One Markdown sentence on the recommendation table: margin gained per quote on average."""
    if table.empty:
        return "No quote could be priced: the company has no cost history for its service lines."
    up = table["uplift"].mean()
    higher = int((table["change"] > 0.005).sum())
    lower = int((table["change"] < -0.005).sum())
    return (f"Pricing by the learned win curves instead of the rule adds **{markdown_money(up)}** of expected "
            f"margin per quote on average across {len(table)} line-and-segment cases: {higher} priced higher, "
            f"{lower} lower, the rest at the rule price.")
