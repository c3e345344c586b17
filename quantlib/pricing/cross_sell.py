"""Cross-sell and upsell value of a won quote: the expected margin of what the customer buys next.

The recommendations engine (:class:`~quantlib.customers.recommend.HybridRecommender`) ranks
the services (``service_line/job_type`` items) each customer is likely to buy; its scores
are blends of similarities and shares, not probabilities. :class:`CrossSellModel`
calibrates them by rank on the company's own history:

1. The recommender is fitted on the jobs before ``as_of - days`` and recommends its top
   ``k`` items to every customer active then (a completed job before that day) for the
   offer window ``[as_of - days, as_of)``, the last window whose outcome is known.
2. ``P(buy | recommended at rank r)`` is the share of those rank-``r`` recommendations the
   customer bought in the window (a completed job of that line and type, contract visits
   excluded, as the recommender's own evaluation counts them), made non-increasing in rank
   by a weighted isotonic fit (a lower rank is never worth more than a higher one).
3. An item's margin is the mean revenue minus direct cost (labour, materials, equipment)
   of the company's completed jobs of that line and type in the ``history_months`` before
   ``as_of``.

For the quote the recommender is refitted on every job up to ``as_of`` and recommends for
the window after it. The expected extra margin of a quote for customer ``c`` and job
``(line, type)`` is the sum over ``c``'s recommended items other than ``(line, type)`` of
``P(buy | rank) x margin``; it is earned only if the quote is won, so the optimiser adds it
to the margin inside ``P(win | price) x (...)``. Customers with no completed job get no
recommendation (the calibration never saw such customers) and no extra margin.

>>> model = CrossSellModel(days=90).fit(lake)
>>> model.items("C000123", "hvac", "install")          # item, rank, probability, margin, value
>>> model.expected_margin("C000123", "hvac", "install")
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from quantlib.data.gold import as_of_date, open_gold

__all__ = ["CrossSellItem", "CrossSellModel"]

_MARGIN_SQL = """
SELECT service_line, job_type, service_line || '/' || job_type AS item, count(*) AS jobs,
       avg(revenue - direct_cost) AS margin
FROM job_facts
WHERE is_completed AND revenue > 0 AND direct_cost IS NOT NULL AND completed_date <= ? AND completed_date > ?
GROUP BY ALL ORDER BY item
"""


@dataclass(frozen=True)
class CrossSellItem:
    """One recommended service behind a quote's cross-sell margin."""

    item: str
    rank: int
    probability: float
    margin: float

    @property
    def value(self) -> float:
        """Expected margin of the item: ``probability x margin``."""
        return self.probability * self.margin

    def as_dict(self) -> dict:
        return {"item": self.item, "rank": self.rank, "probability": round(self.probability, 4),
                "margin": round(self.margin, 2), "expected_margin": round(self.value, 2)}


class CrossSellModel(BaseEstimator):
    """Calibrated recommendations times item margins: the expected extra margin of a won quote.

    Parameters
    ----------
    days : int
        The offer window (days after the quote) in which a recommended item counts as bought;
        also the calibration window before ``as_of``.
    k : int
        Items recommended per customer.
    history_months : int
        Months of completed jobs the item margins are averaged over.

    Attributes
    ----------
    as_of_ : date
    rank_rates_ : DataFrame
        Per rank (index ``rank``): ``offered`` (recommendations at that rank in the
        calibration window), ``bought``, ``rate`` (bought / offered) and ``probability`` (the
        rates made non-increasing in rank, weighted by ``offered``).
    calibration_start_ : Timestamp
        The calibration window is ``[calibration_start_, calibration_start_ + days)``.
    item_margins_ : DataFrame
        Per item (index): ``service_line, job_type, jobs, margin``.
    recommender_ : HybridRecommender
        Fitted on every job up to ``as_of_``.
    recommendations_ : DataFrame
        ``customer_id, rank, item, service_line, job_type, score, probability, margin`` for
        every customer with a completed job by ``as_of_``, for the window after it.
    """

    def __init__(self, days: int = 90, k: int = 3, history_months: int = 24) -> None:
        self.days = days
        self.k = k
        self.history_months = history_months

    def fit(self, source, as_of=None) -> "CrossSellModel":
        """Calibrate the recommender on the last window before ``as_of`` and recommend after it.

        Raises
        ------
        ValueError
            ``days`` or ``k`` below 1; no completed job before the calibration window.
        """
        from quantlib.customers.recommend import (
            HybridRecommender,
            evaluation_targets,
            maintenance_contracts,
            service_history,
        )

        if int(self.days) < 1 or int(self.k) < 1:
            raise ValueError(f"days and k must be at least 1, got days={self.days}, k={self.k}")
        with open_gold(source) as con:
            day = as_of_date(con, as_of)
            history = service_history(con)
            contracts = maintenance_contracts(con)
            since = (pd.Timestamp(day) - pd.DateOffset(months=self.history_months)).date()
            margins = con.execute(_MARGIN_SQL, [day, since]).df()
        history = history[history["date"] <= pd.Timestamp(day)]
        # Contracts as known on as_of: started by then; an end after it not yet known.
        contracts = contracts[contracts["start_date"] <= pd.Timestamp(day)].copy()
        contracts.loc[contracts["end_date"] > pd.Timestamp(day), "end_date"] = pd.NaT
        self.as_of_ = day
        self.item_margins_ = margins.set_index("item")[["service_line", "job_type", "jobs", "margin"]]

        # Calibration: recommend as of the window's start, count what was bought in it.
        start = pd.Timestamp(day) + pd.Timedelta(days=1) - pd.Timedelta(days=int(self.days))
        self.calibration_start_ = start
        known = history.loc[history["date"] < start, "customer_id"].unique()
        if len(known) == 0:
            raise ValueError(f"no completed job before {start:%Y-%m-%d} to calibrate the recommendations on")
        past = HybridRecommender(validation_days=self.days).fit(history, start, contracts)
        offered = past.recommend(known, k=self.k, start=start, days=self.days)
        bought = evaluation_targets(history, start, self.days)
        offered["bought"] = [item in bought.get(c, ()) for c, item in zip(offered["customer_id"], offered["item"])]
        rates = offered.groupby("rank")["bought"].agg(offered="size", bought="sum")
        rates["rate"] = rates["bought"] / rates["offered"]
        iso = IsotonicRegression(increasing=False, y_min=0.0, y_max=1.0)
        rates["probability"] = iso.fit_transform(rates.index.to_numpy(float), rates["rate"].to_numpy(float),
                                                 sample_weight=rates["offered"].to_numpy(float))
        self.rank_rates_ = rates

        # The quote's window: every job up to as_of known, customers active by then.
        cutoff = pd.Timestamp(day) + pd.Timedelta(days=1)
        self.recommender_ = HybridRecommender(validation_days=self.days).fit(history, cutoff, contracts)
        active = history["customer_id"].unique()
        recs = self.recommender_.recommend(active, k=self.k, start=cutoff, days=self.days)
        recs = recs[["customer_id", "rank", "item", "service_line", "job_type", "score"]].copy()
        recs["probability"] = recs["rank"].map(rates["probability"]).fillna(0.0)
        recs["margin"] = recs["item"].map(self.item_margins_["margin"])
        # An item without completed jobs in the margin window has no margin to count.
        self.recommendations_ = recs[recs["margin"].notna()].reset_index(drop=True)
        self._by_customer = {c: g for c, g in self.recommendations_.groupby("customer_id", sort=False)}
        return self

    def items(self, customer_id: str, service_line: str, job_type: str) -> tuple[CrossSellItem, ...]:
        """The customer's recommended items other than the quoted ``(service_line, job_type)``."""
        check_is_fitted(self, "recommendations_")
        mine = self._by_customer.get(customer_id)
        if mine is None:
            return ()
        quoted = f"{service_line}/{job_type}"
        return tuple(CrossSellItem(str(r.item), int(r.rank), float(r.probability), float(r.margin))
                     for r in mine.itertuples(index=False) if r.item != quoted)

    def expected_margin(self, customer_id: str, service_line: str, job_type: str) -> float:
        """Sum of ``P(buy | rank) x margin`` over :meth:`items` (0 without recommendations)."""
        return float(sum(i.value for i in self.items(customer_id, service_line, job_type)))

    def segment_margin(self, customers, service_line: str, job_type: str) -> float:
        """Mean of :meth:`expected_margin` over ``customers`` (those without recommendations count 0).

        The price of a job is the same for every customer of a segment, so the pricer uses the
        segment's mean cross-sell value, not one customer's.
        """
        check_is_fitted(self, "recommendations_")
        customers = pd.Index(pd.unique(pd.Series(list(customers), dtype=object)))
        if len(customers) == 0:
            return 0.0
        recs = self.recommendations_
        quoted = f"{service_line}/{job_type}"
        mine = recs[recs["customer_id"].isin(customers) & (recs["item"] != quoted)]
        return float((mine["probability"] * mine["margin"]).sum() / len(customers))

    def note(self) -> str:
        """How the figures were measured, in one line for the reader."""
        check_is_fitted(self, "rank_rates_")
        rates = ", ".join(f"{p:.1%}" for p in self.rank_rates_["probability"])
        return (f"cross-sell: P(buy within {self.days} days) by recommendation rank {rates}, measured on the "
                f"{int(self.rank_rates_['offered'].iloc[0])} customers active before "
                f"{self.calibration_start_:%Y-%m-%d}; x each item's mean margin")

