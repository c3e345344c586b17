"""One quote priced end to end: cost build-up, rule price, learned win curve, risks, recommended price.

:class:`QuotePricer` fits the three models on gold once (the cost build-up, the rule pricer and
the segment win model) and then prices any number of quotes; ``quant price`` and the
``quote_pricer`` app use it.

The win model learns how quotes' win rates respond to price relative to the company's list
amount, by segment, service line and urgency (:class:`~quantlib.forecast.pipeline.QuoteConversionModel`
with ``price_terms="segment"``). For a new quote the rule price plays the list amount (it is the
company's price book), so the curve is P(win) at each price relative to the rule price. The
sample data quote installs and major repairs; the response does not depend on the job type, so
other job types are priced with the same response of their line, segment and urgency.

The same job gets the same price within a segment: the price counts the *segment's* expected
collection loss (written-off share of the invoices of the customers in it now). The customer's
own credit record (their written-off share, shrunk towards the company's) is reported next to
it as ``customer_payment_loss``, for a deposit or payment terms rather than a different price.
Overrun and weather risk belong to the job (its line and type, its region and month).

>>> pricer = QuotePricer().fit(lake)
>>> pricer.quote("C000123", "hvac", "repair", "urgent").as_dict()   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.data.price_segments import quote_segments
from quantlib.pricing.cost import CostBuildUp, CostModel, PricingError, load_pricing_parameters
from quantlib.pricing.optimal import PriceRecommendation, RiskAdjustments, optimal_price, risk_adjustments
from quantlib.pricing.rules import URGENCY_FACTORS, RulePrice, RulePricer

__all__ = ["QuoteAdvice", "QuotePricer"]


@dataclass(frozen=True)
class QuoteAdvice:
    """Everything behind one recommended price."""

    customer_id: str
    segment: str
    cost: CostBuildUp
    rule: RulePrice
    risk: RiskAdjustments
    recommendation: PriceRecommendation
    customer_payment_loss: float = float("nan")

    def as_dict(self) -> dict:
        """A JSON-ready summary (money rounded to cents, probabilities to 4 places)."""
        rec = self.recommendation
        return {
            "customer": self.customer_id, "segment": self.segment, "service_line": self.rule.service_line,
            "job_type": self.rule.job_type, "urgency": self.rule.urgency,
            "cost": round(self.cost.total, 2), "cost_build_up": self.cost.as_dict(),
            "rule_price": round(self.rule.total, 2),
            "rule_factors": self.rule.factors().round(4).to_dict("records"),
            "recommended_price": round(rec.price, 2), "win_probability": round(rec.win_probability, 4),
            "expected_margin": round(rec.expected_margin, 2),
            "rule_win_probability": round(rec.rule_win_probability, 4),
            "rule_expected_margin": round(rec.rule_expected_margin, 2),
            "guard_rails": {"lower": round(rec.lower, 2), "upper": round(rec.upper, 2), "binding": rec.binding},
            "risk": {"payment_loss": round(self.risk.payment_loss, 4),
                     "customer_payment_loss": round(self.customer_payment_loss, 4),
                     "completion_risk": round(self.risk.completion_risk, 2),
                     "weather_risk": round(self.risk.weather_risk, 2), "notes": list(self.risk.notes)},
        }


class QuotePricer:
    """Fits the cost, rule and win models on gold and prices quotes.

    Parameters
    ----------
    floor_margin, max_change : float
        Guard rails of :func:`~quantlib.pricing.optimal_price`.
    position : str
        The company's market position for the rule price (``none``, ``leader``, ``follower``).

    Attributes
    ----------
    cost_model_ : CostModel
    rules_ : RulePricer
    win_model_ : QuoteConversionModel
    quotes_per_month_ : Series
        Per service line: quotes created per month over the last year.
    segment_payment_loss_ : Series
        Per segment: the written-off share of the invoiced amounts of the customers in it now.
    as_of_ : date
    """

    def __init__(self, floor_margin: float = 0.10, max_change: float = 0.25, position: str = "none") -> None:
        self.floor_margin = floor_margin
        self.max_change = max_change
        self.position = position

    def fit(self, source, as_of=None) -> "QuotePricer":
        from quantlib.forecast.pipeline import QuoteConversionModel

        self.source_ = source
        with open_gold(source) as con:
            day = as_of_date(con, as_of)
            company = con.execute("SELECT any_value(company) FROM build_info").fetchone()[0]
            params = load_pricing_parameters(company) if company and _has_parameters(company) else None
            self.cost_model_ = CostModel(params).fit(con, day)
            self.rules_ = RulePricer(self.cost_model_).fit(con, day)
            self.customers_ = con.execute("SELECT * FROM customers").df()
            self.contracts_ = con.execute("SELECT customer_id, start_date, end_date FROM contracts").df()
            quotes = con.execute("SELECT * FROM quotes WHERE created_at::DATE <= ?", [day]).df()
            economic = con.execute("SELECT * FROM economic_indicators").df()
            invoices = con.execute(
                "SELECT customer_id, amount, written_off_at IS NOT NULL AND written_off_at::DATE <= ? AS lost "
                "FROM invoices WHERE issued_date <= ?", [day, day]).df()
        quotes["segment"] = quote_segments(quotes, self.customers_, self.contracts_)
        recent = quotes[pd.to_datetime(quotes["created_at"]) > pd.Timestamp(day) - pd.Timedelta(days=365)]
        self.quotes_per_month_ = recent.groupby("service_line").size() / 12.0
        self.win_model_ = QuoteConversionModel(price_terms="segment").fit(quotes, as_of=day, economic=economic)
        now = pd.DataFrame({"customer_id": self.customers_["customer_id"], "created_at": pd.Timestamp(day)})
        segment_of = pd.Series(quote_segments(now, self.customers_, self.contracts_).to_numpy(),
                               index=self.customers_["customer_id"].to_numpy())
        invoices["segment"] = invoices["customer_id"].map(segment_of)
        invoices["lost_amount"] = invoices["amount"].where(invoices["lost"], 0.0)
        sums = invoices.groupby("segment")[["lost_amount", "amount"]].sum()
        self.segment_payment_loss_ = (sums["lost_amount"] / sums["amount"]).rename("payment_loss")
        self.as_of_ = day
        return self

    def segment(self, customer_id: str) -> str:
        """The customer's segment on the as-of date (the generator's and the win model's rule)."""
        if customer_id not in set(self.customers_["customer_id"]):
            raise PricingError(f"unknown customer {customer_id!r}")
        frame = pd.DataFrame({"customer_id": [customer_id], "created_at": [pd.Timestamp(self.as_of_)]})
        return str(quote_segments(frame, self.customers_, self.contracts_).iloc[0])

    def win_curve(self, customer_id: str, service_line: str, urgency: str, reference: float):
        """Prices -> P(win) for this customer, line and urgency, ``reference`` playing the list amount."""
        segment = self.segment(customer_id)

        def probability(prices):
            prices = np.atleast_1d(np.asarray(prices, float))
            frame = pd.DataFrame({"customer_id": customer_id, "service_line": service_line, "urgency": urgency,
                                  "created_at": pd.Timestamp(self.as_of_), "amount": prices,
                                  "list_amount": reference, "segment": segment})
            return self.win_model_.win_probability(frame).to_numpy()

        return probability

    def quote(self, customer_id: str, service_line: str, job_type: str, urgency: str = "routine") -> QuoteAdvice:
        """Price one quote; the advice's ``recommendation.curve`` has the outcome of every price in the rails.

        Raises
        ------
        PricingError
            Unknown customer, line, job type or urgency; no price within the guard rails.
        """
        if urgency not in URGENCY_FACTORS:
            raise PricingError(f"unknown urgency {urgency!r}; one of {', '.join(URGENCY_FACTORS)}")
        segment = self.segment(customer_id)
        cost = self.cost_model_.build(service_line, job_type)
        rule = self.rules_.price(service_line, job_type, urgency=urgency, segment=segment, position=self.position)
        own = risk_adjustments(self.source_, customer_id, service_line, job_type, cost_model=self.cost_model_,
                               as_of=self.as_of_)
        shared = float(self.segment_payment_loss_.get(segment, own.payment_loss))
        risk = replace(own, payment_loss=shared, notes=(
            f"payment: {shared:.1%} written off across the {segment} segment (the price is the segment's)",
            *own.notes[1:]))
        curve = self.win_curve(customer_id, service_line, urgency, rule.total)
        rec = optimal_price(cost.total, rule.total, curve, risk=risk, floor_margin=self.floor_margin,
                            max_change=self.max_change)
        return QuoteAdvice(customer_id, segment, cost, rule, risk, rec, customer_payment_loss=own.payment_loss)


def _has_parameters(company: str) -> bool:
    from quantlib.config import project_root

    return (project_root() / "parameters" / "pricing" / f"{company}.yaml").is_file()
