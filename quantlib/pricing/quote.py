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

With ``cross_sell=True`` (the default) a won job is also worth the margin of what the customer
is likely to buy next: :class:`~quantlib.pricing.cross_sell.CrossSellModel` calibrates the
recommendations engine's ranks into purchase probabilities and multiplies them by each item's
mean margin; the sum (``QuoteAdvice.cross_sell_margin``) enters the objective as
``P(win | price) x (... + cross_sell_margin)``, so it lowers the price when it is positive.
Like the payment risk, the value priced is the segment's (the mean over the segment's
customers, :meth:`CrossSellModel.segment_margin`), so every customer of a segment gets the same
price for the same job; the customer's own recommended items and their value are reported next
to it (``QuoteAdvice.cross_sell``, ``customer_cross_sell_margin``) for the salesperson. A
company without enough history to calibrate the recommendations gets no cross-sell value (the
reason is in ``cross_sell_note_`` and in the advice's notes).

>>> pricer = QuotePricer().fit(lake)
>>> pricer.quote("C000123", "hvac", "repair", "urgent").as_dict()   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.data.price_segments import quote_segments
from quantlib.pricing.cost import CostBuildUp, CostModel, PricingError, load_pricing_parameters
from quantlib.pricing.cross_sell import CrossSellItem, CrossSellModel
from quantlib.pricing.optimal import (
    PriceRecommendation,
    RiskAdjustments,
    optimal_price,
    risk_adjustments,
    risk_data,
)
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
    cross_sell: tuple[CrossSellItem, ...] = ()

    @property
    def cross_sell_margin(self) -> float:
        """Expected cross-sell and upsell margin priced in (the segment's mean; ``risk.extra_margin``)."""
        return self.risk.extra_margin

    @property
    def customer_cross_sell_margin(self) -> float:
        """This customer's own expected cross-sell margin (their recommended items), shown, not priced."""
        return float(sum(item.value for item in self.cross_sell))

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
            "cross_sell_margin": round(self.cross_sell_margin, 2),
            "customer_cross_sell_margin": round(self.customer_cross_sell_margin, 2),
            "cross_sell_items": [item.as_dict() for item in self.cross_sell],
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
    cross_sell : bool
        Count the expected cross-sell and upsell margin of a won job
        (:class:`~quantlib.pricing.cross_sell.CrossSellModel`) in the optimised price.
    cross_sell_days : int
        The window after the quote in which a recommended item counts as bought (and the
        calibration window before ``as_of``).
    cross_sell_k : int
        Items recommended per customer.

    Attributes
    ----------
    cost_model_ : CostModel
    rules_ : RulePricer
    win_model_ : QuoteConversionModel
    quotes_per_month_ : Series
        Per service line: quotes created per month over the last year.
    segment_payment_loss_ : Series
        Per segment: the written-off share of the invoiced amounts of the customers in it now.
    segment_of_ : Series
        customer_id -> the customer's segment on ``as_of_``
        (:func:`~quantlib.data.price_segments.quote_segments`).
    risk_data_ : RiskData
        The invoices, completed hours, storm rates and regions the risks are measured from,
        read once (:func:`~quantlib.pricing.optimal.risk_data`).
    cross_sell_ : CrossSellModel or None
        The calibrated recommendations and item margins (``None`` when ``cross_sell`` is off).
    as_of_ : date
    """

    def __init__(self, floor_margin: float = 0.10, max_change: float = 0.25, position: str = "none",
                 cross_sell: bool = True, cross_sell_days: int = 90, cross_sell_k: int = 3) -> None:
        self.floor_margin = floor_margin
        self.max_change = max_change
        self.position = position
        self.cross_sell = cross_sell
        self.cross_sell_days = cross_sell_days
        self.cross_sell_k = cross_sell_k

    def fit(self, source, as_of=None) -> "QuotePricer":
        from quantlib.forecast.pipeline import QuoteConversionModel

        self.source_ = source
        with open_gold(source) as con:
            day = as_of_date(con, as_of)
            company = con.execute("SELECT any_value(company) FROM build_info").fetchone()[0]
            params = load_pricing_parameters(company or None, missing_ok=True)
            self.cost_model_ = CostModel(params).fit(con, day)
            self.rules_ = RulePricer(self.cost_model_).fit(con, day)
            self.customers_ = con.execute("SELECT * FROM customers").df()
            self.contracts_ = con.execute("SELECT customer_id, start_date, end_date FROM contracts").df()
            quotes = con.execute("SELECT * FROM quotes WHERE created_at::DATE <= ?", [day]).df()
            economic = con.execute("SELECT * FROM economic_indicators").df()
            self.risk_data_ = risk_data(con, day)
            self.cross_sell_, self.cross_sell_note_ = None, "cross-sell: off"
            if self.cross_sell:
                try:
                    self.cross_sell_ = CrossSellModel(days=self.cross_sell_days, k=self.cross_sell_k,
                                                      history_months=params.history_months).fit(con, day)
                    self.cross_sell_note_ = self.cross_sell_.note()
                except ValueError as error:  # too little history to calibrate: priced without it
                    self.cross_sell_note_ = f"cross-sell: not priced ({error})"
        quotes["segment"] = quote_segments(quotes, self.customers_, self.contracts_)
        recent = quotes[pd.to_datetime(quotes["created_at"]) > pd.Timestamp(day) - pd.Timedelta(days=365)]
        self.quotes_per_month_ = recent.groupby("service_line").size() / 12.0
        self.win_model_ = QuoteConversionModel(price_terms="segment").fit(quotes, as_of=day, economic=economic)
        now = pd.DataFrame({"customer_id": self.customers_["customer_id"], "created_at": pd.Timestamp(day)})
        self.segment_of_ = pd.Series(quote_segments(now, self.customers_, self.contracts_).to_numpy(),
                                     index=pd.Index(self.customers_["customer_id"].to_numpy(), name="customer_id"),
                                     name="segment")
        invoices = self.risk_data_.invoices.copy()
        invoices["segment"] = invoices["customer_id"].map(self.segment_of_)
        invoices["lost_amount"] = invoices["amount"].where(invoices["lost"], 0.0)
        sums = invoices.groupby("segment")[["lost_amount", "amount"]].sum()
        self.segment_payment_loss_ = (sums["lost_amount"] / sums["amount"]).rename("payment_loss")
        self.as_of_ = day
        return self

    def _segment_cross_sell(self, segment: str, service_line: str, job_type: str) -> float:
        key = (segment, service_line, job_type)
        cache = self.__dict__.setdefault("_cross_sell_cache", {})
        if key not in cache:
            members = self.segment_of_.index[self.segment_of_ == segment]
            cache[key] = self.cross_sell_.segment_margin(members, service_line, job_type)
        return cache[key]

    def segment(self, customer_id: str) -> str:
        """The customer's segment on the as-of date (the generator's and the win model's rule): ``segment_of_``."""
        if customer_id not in self.segment_of_.index:
            raise PricingError(f"unknown customer {customer_id!r}")
        return str(self.segment_of_.loc[customer_id])

    def win_curve(self, customer_id: str, service_line: str, urgency: str, reference: float):
        """Prices -> P(win) for this customer, line and urgency, ``reference`` playing the list amount.

        The features are built once (:meth:`QuoteConversionModel.price_curve`): a grid of
        prices is one call of the model.
        """
        quote = {"customer_id": customer_id, "service_line": service_line, "urgency": urgency,
                 "created_at": pd.Timestamp(self.as_of_), "amount": reference, "list_amount": reference,
                 "segment": self.segment(customer_id)}
        return self.win_model_.price_curve(quote)

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
                               data=self.risk_data_)
        shared = float(self.segment_payment_loss_.get(segment, own.payment_loss))
        risk = replace(own, payment_loss=shared, notes=(
            f"payment: {shared:.1%} written off across the {segment} segment (the price is the segment's)",
            *own.notes[1:]))
        items = self.cross_sell_.items(customer_id, service_line, job_type) if self.cross_sell_ is not None else ()
        if self.cross_sell_ is not None:
            extra = self._segment_cross_sell(segment, service_line, job_type)
            listed = "; ".join(f"{i.item} {i.probability:.1%} x ${i.margin:,.0f}" for i in items) or "none"
            risk = replace(risk, extra_margin=extra, notes=(
                *risk.notes, f"{self.cross_sell_note_}; priced at the {segment} segment's mean ${extra:,.0f}; "
                f"this customer: {listed}"))
        else:
            risk = replace(risk, notes=(*risk.notes, self.cross_sell_note_))
        curve = self.win_curve(customer_id, service_line, urgency, rule.total)
        rec = optimal_price(cost.total, rule.total, curve, risk=risk, floor_margin=self.floor_margin,
                            max_change=self.max_change)
        return QuoteAdvice(customer_id, segment, cost, rule, risk, rec, customer_payment_loss=own.payment_loss,
                           cross_sell=items)

