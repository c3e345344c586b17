"""The profit-optimal price of a quote: expected margin x win probability, adjusted for risk.

For a candidate price ``x`` the expected margin is

    P(win | x) x (x x (1 - payment_loss) - cost - completion_risk - weather_risk) + P(win | x) x extra_margin

where ``payment_loss`` is the share of the invoice the customer's payment history says will
not be collected, ``completion_risk`` the expected cost of overrunning the estimated hours,
``weather_risk`` the expected cost of a weather delay in the job's month, and
``extra_margin`` the cross-sell and upsell margin a won job brings. The price is searched
between guard rails: at least ``cost x (1 + floor_margin)`` and within ``max_change`` of
the rule price. :func:`risk_adjustments` measures the three risks from gold.

>>> rec = optimal_price(cost=800.0, rule_price=1200.0, win_probability=lambda x: 1 / (1 + np.exp((x - 1100) / 150)))
>>> round(rec.price)                                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from quantlib.data.gold import as_of_date, open_gold
from quantlib.pricing.cost import PricingError

__all__ = ["PriceRecommendation", "RiskAdjustments", "RiskData", "expected_margin", "optimal_price", "risk_adjustments",
           "risk_data"]


@dataclass(frozen=True)
class RiskAdjustments:
    """What a quote risks beyond its cost, per job (see :func:`risk_adjustments`).

    Attributes
    ----------
    payment_loss : float
        Expected share of the invoice not collected (0-1).
    completion_risk : float
        Expected extra cost of overrunning the estimated hours (money).
    weather_risk : float
        Expected extra cost of a weather delay (money).
    extra_margin : float
        Expected cross-sell / upsell margin of a won job (money).
    notes : tuple of str
        How each figure was measured, for the reader.
    """

    payment_loss: float = 0.0
    completion_risk: float = 0.0
    weather_risk: float = 0.0
    extra_margin: float = 0.0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PriceRecommendation:
    """The recommended price, its expected outcome and the curve behind it."""

    price: float
    win_probability: float
    expected_margin: float
    rule_price: float
    rule_win_probability: float
    rule_expected_margin: float
    lower: float
    upper: float
    binding: str
    curve: pd.DataFrame

    def as_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "curve"}
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def expected_margin(price, cost: float, win_probability, risk: RiskAdjustments | None = None) -> np.ndarray:
    """Expected margin of quoting ``price`` (array-like) given ``P(win)`` at those prices."""
    risk = risk or RiskAdjustments()
    price = np.asarray(price, float)
    p = np.asarray(win_probability, float)
    net = price * (1 - risk.payment_loss) - cost - risk.completion_risk - risk.weather_risk + risk.extra_margin
    return p * net


def optimal_price(cost: float, rule_price: float, win_probability: Callable[[np.ndarray], np.ndarray], *,
                  risk: RiskAdjustments | None = None, floor_margin: float = 0.10, max_change: float = 0.25,
                  grid: int = 241, round_to: float = 1.0) -> PriceRecommendation:
    """The price in the guard rails that maximises expected margin.

    Parameters
    ----------
    cost : float
        The job's built-up cost.
    rule_price : float
        The rule price (the baseline and the centre of the search).
    win_probability : callable
        Prices (array) -> P(win) (array), e.g. a fitted win model at those prices.
    risk : RiskAdjustments, optional
    floor_margin : float
        The price never goes below ``cost x (1 + floor_margin)``.
    max_change : float
        Nor further than this share from the rule price.
    grid : int
        Points of the coarse search; a bounded scalar search (SciPy) then refines the best
        grid interval (the curve can have more than one local maximum; the grid finds the
        right basin, the refinement its top).
    round_to : float
        Prices are rounded to this step (the same price for the same job), keeping the best
        of the two neighbours.

    Raises
    ------
    PricingError
        The guard rails leave no price (the floor is above the rule price's upper limit).
    """
    risk = risk or RiskAdjustments()
    lower = max(cost * (1 + floor_margin), rule_price * (1 - max_change))
    upper = rule_price * (1 + max_change)
    if lower > upper:
        raise PricingError(f"no price satisfies the guard rails: the floor {cost * (1 + floor_margin):,.2f} "
                           f"(cost plus {floor_margin:.0%}) is above the rule price plus {max_change:.0%} "
                           f"({upper:,.2f})")

    def value(x):
        x = np.atleast_1d(np.asarray(x, float))
        return expected_margin(x, cost, win_probability(x), risk)

    # One call of the win function for the grid and the rule price; the curve reuses it.
    prices = np.linspace(lower, upper, grid)
    p_all = np.asarray(win_probability(np.append(prices, rule_price)), float)
    p_grid, p_rule = p_all[:-1], float(p_all[-1])
    margins = expected_margin(prices, cost, p_grid, risk)
    best = int(np.argmax(margins))
    lo, hi = prices[max(best - 1, 0)], prices[min(best + 1, grid - 1)]
    if hi > lo:
        refined = minimize_scalar(lambda x: -float(value(x)[0]), bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-3})
        top = float(refined.x) if -refined.fun >= margins[best] else float(prices[best])
    else:
        top = float(prices[best])
    if round_to:
        candidates = np.clip([np.floor(top / round_to) * round_to, np.ceil(top / round_to) * round_to], lower, upper)
        p_candidates = np.asarray(win_probability(candidates), float)
        pick = int(np.argmax(expected_margin(candidates, cost, p_candidates, risk)))
        top, p_top = float(candidates[pick]), float(p_candidates[pick])
    else:
        p_top = float(win_probability(np.array([top]))[0])
    binding = ("floor margin" if np.isclose(top, cost * (1 + floor_margin), atol=round_to or 1e-6) else
               "maximum decrease" if np.isclose(top, rule_price * (1 - max_change), atol=round_to or 1e-6) else
               "maximum increase" if np.isclose(top, upper, atol=round_to or 1e-6) else "none")
    curve = pd.DataFrame({"price": prices, "win_probability": p_grid, "expected_margin": margins})
    return PriceRecommendation(
        price=top, win_probability=p_top, expected_margin=float(expected_margin(top, cost, p_top, risk)),
        rule_price=float(rule_price), rule_win_probability=p_rule,
        rule_expected_margin=float(expected_margin(rule_price, cost, p_rule, risk)), lower=float(lower),
        upper=float(upper), binding=binding, curve=curve)


@dataclass(frozen=True)
class RiskData:
    """What :func:`risk_adjustments` reads from gold, read once (see :func:`risk_data`).

    Attributes
    ----------
    as_of : date
    regions : Series
        customer_id -> region.
    invoices : DataFrame
        ``customer_id, amount, lost`` of every invoice issued by ``as_of`` (``lost``: written
        off by then).
    hours : Series
        Labour hours of the completed jobs by ``as_of``, indexed by ``(service_line, job_type)``.
    storms : Series
        Share of storm days by ``(region, month)`` up to ``as_of``.
    """

    as_of: object
    regions: pd.Series
    invoices: pd.DataFrame
    hours: pd.Series
    storms: pd.Series


def risk_data(source, as_of=None) -> RiskData:
    """Read the invoices, completed hours, weather and regions :func:`risk_adjustments` needs, once."""
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        regions = con.execute("SELECT customer_id, region FROM customers").df()
        invoices = con.execute(
            "SELECT customer_id, amount, written_off_at IS NOT NULL AND written_off_at::DATE <= ? AS lost "
            "FROM invoices WHERE issued_date <= ?", [day, day]).df()
        hours = con.execute(
            "SELECT service_line, job_type, labor_hours FROM job_facts WHERE is_completed "
            "AND completed_date <= ? AND labor_hours IS NOT NULL", [day]).df()
        storms = con.execute("SELECT region, month(date) AS month, avg(CASE WHEN storm THEN 1.0 ELSE 0.0 END) AS storm "
                             "FROM weather WHERE date <= ? GROUP BY ALL", [day]).df()
    return RiskData(as_of=day, regions=regions.set_index("customer_id")["region"], invoices=invoices,
                    hours=hours.set_index(["service_line", "job_type"])["labor_hours"].sort_index(),
                    storms=storms.set_index(["region", "month"])["storm"])


def risk_adjustments(source, customer_id: str, service_line: str, job_type: str, *, cost_model=None,
                     job_date=None, as_of=None, shrinkage: float = 5.0, data: RiskData | None = None
                     ) -> RiskAdjustments:
    """The payment, completion and weather risks of one job from gold.

    * **Payment**: the customer's written-off share of invoiced amounts, shrunk towards the
      company's by ``shrinkage`` invoices' weight (a new customer gets the company's rate).
    * **Completion**: the mean labour hours above the median of completed jobs of the same
      line and type, times the cost model's hourly rate and skill multiplier (what an
      overrun costs on average; 0 without a cost model).
    * **Weather**: the share of storm days in the job's calendar month in the customer's
      region, times the cost model's overhead per job (a delayed visit is booked again).

    Parameters
    ----------
    source
        Gold (a lake, its path or a connection); not read when ``data`` is given.
    data : RiskData, optional
        :func:`risk_data` of ``source`` at ``as_of``, read once for many quotes (``as_of`` is
        then the data's).

    Raises
    ------
    PricingError
        Unknown customer.
    """
    data = data if data is not None else risk_data(source, as_of)
    day = data.as_of
    if customer_id not in data.regions.index:
        raise PricingError(f"unknown customer {customer_id!r}")
    region = data.regions.loc[customer_id]
    invoices = data.invoices
    key = (service_line, job_type)
    hours = data.hours.loc[[key]] if key in data.hours.index else data.hours.iloc[:0]
    month = (pd.Timestamp(job_date) if job_date is not None else pd.Timestamp(day) + pd.Timedelta(days=1)).month
    storms = data.storms.get((region, month))
    notes = []
    total = float(invoices["amount"].sum())
    company_rate = float(invoices.loc[invoices["lost"], "amount"].sum() / total) if total else 0.0
    own = invoices[invoices["customer_id"] == customer_id]
    own_amount, own_lost = float(own["amount"].sum()), float(own.loc[own["lost"], "amount"].sum())
    n = len(own)
    mean_invoice = own_amount / n if n else 0.0
    payment_loss = ((own_lost + shrinkage * mean_invoice * company_rate) / (own_amount + shrinkage * mean_invoice)
                    if n else company_rate)
    notes.append(f"payment: {n} invoices of the customer, written-off share shrunk to the company's "
                 f"{company_rate:.1%}")
    completion = weather = 0.0
    if cost_model is not None:
        build = cost_model.build(service_line, job_type)
        if len(hours):
            excess = np.clip(hours.to_numpy(float) - float(np.median(hours)), 0, None).mean()
            completion = float(excess) * build.hourly_rate * build.skill_multiplier
            notes.append(f"completion: mean {excess:.2f} h above the median of {len(hours)} jobs")
        weather = float(storms or 0.0) * build.overhead
        notes.append(f"weather: {float(storms or 0.0):.1%} storm days in month {month} in the region")
    return RiskAdjustments(payment_loss=float(payment_loss), completion_risk=completion, weather_risk=weather,
                           notes=tuple(notes))
