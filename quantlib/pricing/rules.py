"""The specification's rule price: cost-plus at the company's own markup, times market adjustments.

    rule price = cost x markup(service line, job type)
                 x demand (surge 1.2, peak season 1.15, normal 1.0)
                 x market position (leader 1.1, follower 0.95, none 1.0)
                 x urgency (emergency 1.5, rush 1.25, standard 1.0)
                 x segment stance (premium 0.95, volume 0.90, price-sensitive 0.92, new 0.88, standard 1.0)

Our data's urgencies map ``emergency`` -> emergency, ``urgent`` -> rush, ``routine`` -> standard.
The markup is learned: the median ratio of revenue to built-up cost of the company's completed
jobs of that line and type at the least urgent urgency they have (routine for most; emergency
call-outs are only ever emergencies). The urgency factor is then applied relative to that
urgency, so it is never in the price twice. The rule price is the baseline every learned price
is compared with.

>>> rules = RulePricer().fit(lake)
>>> rules.price("hvac", "repair", urgency="urgent", segment="new").total        # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.pricing.cost import CostModel, PricingError

__all__ = ["DEMAND_FACTORS", "POSITION_FACTORS", "SEGMENT_STANCES", "URGENCY_FACTORS", "RulePrice", "RulePricer"]

#: The specification's market adjustments and segment stances.
DEMAND_FACTORS = {"normal": 1.0, "peak_season": 1.15, "surge": 1.2}
POSITION_FACTORS = {"none": 1.0, "leader": 1.1, "follower": 0.95}
URGENCY_FACTORS = {"routine": 1.0, "urgent": 1.25, "emergency": 1.5}
SEGMENT_STANCES = {"standard": 1.0, "premium_loyal": 0.95, "volume": 0.90, "price_sensitive": 0.92, "new": 0.88}


@dataclass(frozen=True)
class RulePrice:
    """A rule price and the factors behind it."""

    service_line: str
    job_type: str
    cost: float
    markup: float
    demand: str
    position: str
    urgency: str
    segment: str
    total: float
    markup_urgency: str = "routine"

    @property
    def urgency_factor(self) -> float:
        """The urgency factor relative to the urgency the markup was learned at."""
        return URGENCY_FACTORS[self.urgency] / URGENCY_FACTORS[self.markup_urgency]

    def factors(self) -> pd.DataFrame:
        """``step, factor, price``: cost, then each multiplication in turn."""
        steps = [("cost", 1.0), ("markup", self.markup), (f"demand: {self.demand}", DEMAND_FACTORS[self.demand]),
                 (f"market position: {self.position}", POSITION_FACTORS[self.position]),
                 (f"urgency: {self.urgency}", self.urgency_factor),
                 (f"segment: {self.segment}", SEGMENT_STANCES[self.segment])]
        price, rows = self.cost, []
        for name, factor in steps:
            price = price * factor if name != "cost" else price
            rows.append({"step": name, "factor": factor, "price": price})
        return pd.DataFrame(rows)


def _check(value: str, allowed: dict, what: str) -> str:
    if value not in allowed:
        raise PricingError(f"unknown {what} {value!r}; one of {', '.join(allowed)}")
    return value


class RulePricer:
    """Rule prices from a fitted cost model and the company's markups.

    Parameters
    ----------
    cost_model : CostModel, optional
        Default a new :class:`CostModel` fitted with the pricer.
    peak_ratio : float
        A month is *peak season* for a line when its average jobs per month over the history
        are at least this multiple of the line's mean month.
    surge_ratio : float
        Demand *surges* when the line's jobs asked for in the last ``surge_days`` are at least
        this multiple of the same days' average over the last year.
    surge_days : int

    Attributes
    ----------
    markup_ : Series
        Per ``(service_line, job_type)``: the median revenue / built-up cost of its least urgent jobs.
    markup_urgency_ : Series
        Per ``(service_line, job_type)``: that urgency.
    monthly_index_ : DataFrame
        Per service line and calendar month: average jobs against the line's mean month.
    recent_ratio_ : Series
        Per service line: recent jobs against the year's average for as many days.
    cost_model_ : CostModel
    as_of_ : date
    """

    def __init__(self, cost_model: CostModel | None = None, peak_ratio: float = 1.15, surge_ratio: float = 1.25,
                 surge_days: int = 14) -> None:
        self.cost_model = cost_model
        self.peak_ratio = peak_ratio
        self.surge_ratio = surge_ratio
        self.surge_days = surge_days

    def fit(self, source, as_of=None) -> "RulePricer":
        with open_gold(source) as con:
            day = as_of_date(con, as_of)
            model = self.cost_model if self.cost_model is not None else CostModel().fit(con, day)
            start = (pd.Timestamp(day) - pd.DateOffset(months=model.params_.history_months)).date()
            jobs = con.execute(
                "SELECT service_line, job_type, urgency, revenue FROM job_facts WHERE is_completed AND revenue > 0 "
                "AND contract_id IS NULL AND completed_date > ? AND completed_date <= ?",
                [start, day]).df()
            asked = con.execute(
                "SELECT service_line, coalesce(requested_date, scheduled_date) AS day FROM job_facts "
                "WHERE contract_id IS NULL AND coalesce(requested_date, scheduled_date) BETWEEN ? AND ?",
                [start, day]).df()
        known = jobs.set_index(["service_line", "job_type"]).index.isin(model.history_.index)
        costed = model.build_frame(jobs[known].reset_index(drop=True))
        costed["ratio"] = costed["revenue"] / costed["cost"]
        costed = costed[costed["urgency"].isin(list(URGENCY_FACTORS))]
        rank = costed["urgency"].map({u: i for i, u in enumerate(URGENCY_FACTORS)})
        least = costed[rank == rank.groupby([costed["service_line"], costed["job_type"]]).transform("min")]
        grouped = least.groupby(["service_line", "job_type"])
        self.markup_ = grouped["ratio"].median()
        self.markup_urgency_ = grouped["urgency"].first()
        asked["day"] = pd.to_datetime(asked["day"])
        months = asked.assign(period=asked["day"].dt.to_period("M"), month=asked["day"].dt.month)
        per_month = months.groupby(["service_line", "period", "month"]).size().rename("jobs").reset_index()
        by_month = per_month.groupby(["service_line", "month"])["jobs"].mean()
        self.monthly_index_ = (by_month / by_month.groupby(level=0).transform("mean")).rename("index").reset_index()
        recent_from = pd.Timestamp(day) - pd.Timedelta(days=self.surge_days - 1)
        year_from = pd.Timestamp(day) - pd.Timedelta(days=364)
        recent = asked[asked["day"] >= recent_from].groupby("service_line").size()
        year = asked[asked["day"] >= year_from].groupby("service_line").size() * self.surge_days / 365
        self.recent_ratio_ = (recent.reindex(year.index, fill_value=0) / year).fillna(0.0)
        self.cost_model_ = model
        self.as_of_ = day
        return self

    def demand_state(self, service_line: str, month: int | None = None) -> str:
        """``surge``, ``peak_season`` or ``normal`` for the line, now (``month`` default the as-of's)."""
        month = month or self.as_of_.month
        if float(self.recent_ratio_.get(service_line, 0.0)) >= self.surge_ratio:
            return "surge"
        idx = self.monthly_index_
        row = idx[(idx["service_line"] == service_line) & (idx["month"] == month)]
        return "peak_season" if len(row) and float(row["index"].iloc[0]) >= self.peak_ratio else "normal"

    def price(self, service_line: str, job_type: str, *, urgency: str = "routine", segment: str = "standard",
              position: str = "none", demand: str | None = None) -> RulePrice:
        """The rule price of one job.

        Parameters
        ----------
        urgency : {"routine", "urgent", "emergency"}
        segment : {"standard", "premium_loyal", "volume", "price_sensitive", "new"}
        position : {"none", "leader", "follower"}
            The company's market position (a business choice, not in the data).
        demand : {"normal", "peak_season", "surge"}, optional
            Default :meth:`demand_state` of the line.

        Raises
        ------
        PricingError
            An unknown line, type, urgency, segment, position or demand state; no markup history.
        """
        _check(urgency, URGENCY_FACTORS, "urgency")
        _check(segment, SEGMENT_STANCES, "segment")
        _check(position, POSITION_FACTORS, "market position")
        demand = _check(demand or self.demand_state(service_line), DEMAND_FACTORS, "demand state")
        cost = self.cost_model_.build(service_line, job_type).total
        try:
            markup = float(self.markup_.loc[(service_line, job_type)])
            base = str(self.markup_urgency_.loc[(service_line, job_type)])
        except KeyError:
            raise PricingError(f"no completed {service_line} {job_type} jobs with revenue to learn the "
                               f"markup from") from None
        urgency_factor = URGENCY_FACTORS[urgency] / URGENCY_FACTORS[base]
        total = cost * markup * DEMAND_FACTORS[demand] * POSITION_FACTORS[position] * urgency_factor \
            * SEGMENT_STANCES[segment]
        return RulePrice(service_line, job_type, float(cost), markup, demand, position, urgency, segment,
                         float(np.round(total, 2)), base)
