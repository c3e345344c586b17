"""Next-service recommendations: collaborative filtering + content + popularity, blended on a time split.

An *item* is a service a customer can be offered: a (service line, job type) pair such as
``hvac/maintenance``. The history is every completed job (:func:`service_history`).

Three scorers share one interface (``fit(history, cutoff)`` reads only jobs completed
before ``cutoff``; ``scores(customers, start, days)`` returns a customers x items matrix
of non-negative scores, each row summing to 1 when the scorer knows anything):

* :class:`PopularityScorer` - the items' shares of jobs in the year before the cutoff,
  the same for everyone (the baseline).
* :class:`ItemCFScorer` - item-item collaborative filtering: cosine similarity between
  the item columns of the customer x item matrix (log counts, recent jobs weighted up),
  a customer's score is their history times the similarity.
* :class:`ContentScorer` - content matching: the customer's affinity for each service
  line (their own jobs, shrunk towards the company mix), the equipment they own (an
  install in a line makes its maintenance and repair likelier), the job-type mix of
  customers like them (type x owns equipment) and the season of the offer window (the
  item's share of jobs in those months).

:class:`HybridRecommender` blends the three with weights learned on a time split: the
scorers are fitted on history before ``cutoff - validation_days``, the weights (a grid
on the simplex) maximise hit rate at k on the following ``validation_days``, and the
scorers are refitted on all history before ``cutoff``. Evaluate on a later window
(:func:`hit_rate`) so that the weights never saw it.

Contract visits (jobs under a maintenance contract) are history but never targets: they
are already sold. For the same reason a customer is never offered the maintenance of a
service line their maintenance contract covers during the offer window
(:func:`maintenance_contracts`, passed to :meth:`HybridRecommender.fit`).
:func:`contact_plan` adds the personalisation: the channel each customer reaches the
company on, and the best month to offer the recommended service.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.utils.validation import check_is_fitted

from quantlib.data.gold import open_gold

__all__ = [
    "ContentScorer", "HybridRecommender", "ItemCFScorer", "PopularityScorer", "contact_plan",
    "evaluation_targets", "hit_rate", "maintenance_contracts", "service_history",
]

_HISTORY_SQL = """
SELECT j.customer_id, j.service_line, j.job_type, j.service_line || '/' || j.job_type AS item,
       j.completed_at::DATE AS date, j.contract_id IS NOT NULL AS on_contract, c.customer_type
FROM jobs j JOIN customers c USING (customer_id)
WHERE j.status = 'completed' AND j.completed_at IS NOT NULL
ORDER BY date, j.customer_id
"""


def service_history(source) -> pd.DataFrame:
    """Every completed job as ``customer_id, service_line, job_type, item, date, on_contract, customer_type``.

    ``source`` is a DuckDB connection (e.g. :func:`~quantlib.data.gold.connect_tables`),
    a lake or a gold path.
    """
    with open_gold(source) as con:
        history = con.execute(_HISTORY_SQL).df()
    history["date"] = pd.to_datetime(history["date"])
    return history


_CONTRACTS_SQL = """
SELECT customer_id, service_line, service_line || '/maintenance' AS item,
       start_date::DATE AS start_date, end_date::DATE AS end_date
FROM contracts ORDER BY customer_id, start_date
"""


def maintenance_contracts(source) -> pd.DataFrame:
    """Every maintenance contract as ``customer_id, service_line, item, start_date, end_date``.

    ``item`` is the service a contract covers (``<service line>/maintenance``); ``end_date``
    is missing while the contract runs. ``source`` as in :func:`service_history`.
    """
    with open_gold(source) as con:
        contracts = con.execute(_CONTRACTS_SQL).df()
    for column in ("start_date", "end_date"):
        contracts[column] = pd.to_datetime(contracts[column])
    return contracts


def covered_items(contracts: pd.DataFrame | None, start, days: int) -> pd.DataFrame:
    """``customer_id, item`` pairs a contract covers at any time in ``[start, start + days)``.

    A contract covers its item from ``start_date`` to ``end_date`` (open-ended when missing).
    """
    if contracts is None or len(contracts) == 0:
        return pd.DataFrame({"customer_id": pd.Series(dtype=object), "item": pd.Series(dtype=object)})
    start = pd.Timestamp(start)
    end = start + pd.Timedelta(days=max(int(days), 1))
    running = (contracts["start_date"] < end) & (contracts["end_date"].isna() | (contracts["end_date"] >= start))
    return contracts.loc[running, ["customer_id", "item"]].drop_duplicates().reset_index(drop=True)


def _before(history: pd.DataFrame, cutoff) -> pd.DataFrame:
    return history[history["date"] < pd.Timestamp(cutoff)]


def _window(history: pd.DataFrame, start, days: int) -> pd.DataFrame:
    start = pd.Timestamp(start)
    return history[(history["date"] >= start) & (history["date"] < start + pd.Timedelta(days=days))]


def evaluation_targets(history: pd.DataFrame, start, days: int, known_before=None) -> pd.Series:
    """Items each customer bought in ``[start, start + days)`` (contract visits excluded).

    Returns a Series ``customer_id -> set of items``; with ``known_before`` only customers
    with a job before that date are kept.
    """
    window = _window(history, start, days)
    window = window[~window["on_contract"]]
    if known_before is not None:
        known = set(_before(history, known_before)["customer_id"])
        window = window[window["customer_id"].isin(known)]
    pairs = window[["customer_id", "item"]].drop_duplicates()
    return pd.Series({c: set(items) for c, items in pairs.groupby("customer_id")["item"]}, dtype=object,
                     name="item").rename_axis("customer_id")


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    total = m.sum(axis=1, keepdims=True)
    return np.divide(m, total, out=np.zeros_like(m), where=total > 0)


def _month_weights(start, days: int) -> np.ndarray:
    """Share of the days of ``[start, start + days)`` in each calendar month (index 0 = January)."""
    months = pd.date_range(pd.Timestamp(start), periods=max(int(days), 1), freq="D").month
    return np.bincount(months - 1, minlength=12) / len(months)


class _Scorer(BaseEstimator):
    """Items and customer index shared by the scorers."""

    def _index(self, history: pd.DataFrame, items=None) -> None:
        self.items_ = np.array(sorted(items if items is not None else history["item"].unique()), dtype=object)
        self.item_pos_ = {item: i for i, item in enumerate(self.items_)}

    def _matrix(self, history: pd.DataFrame, customers, weights=None) -> np.ndarray:
        """customers x items sums of ``weights`` (1 per job by default)."""
        rows = pd.Index(customers).get_indexer(history["customer_id"])
        cols = history["item"].map(self.item_pos_).to_numpy()
        ok = (rows >= 0) & ~pd.isna(cols)
        m = np.zeros((len(customers), len(self.items_)))
        w = np.ones(len(history)) if weights is None else np.asarray(weights, dtype=float)
        np.add.at(m, (rows[ok], cols[ok].astype(int)), w[ok])
        return m


class PopularityScorer(_Scorer):
    """Items' shares of the (non-contract) jobs in the ``window_days`` before the cutoff.

    Parameters
    ----------
    window_days : int, default 365
    """

    def __init__(self, window_days: int = 365):
        self.window_days = window_days

    def fit(self, history: pd.DataFrame, cutoff, items=None) -> "PopularityScorer":
        past = _before(history, cutoff)
        self._index(past, items)
        recent = past[(past["date"] >= pd.Timestamp(cutoff) - pd.Timedelta(days=self.window_days))
                      & ~past["on_contract"]]
        counts = recent["item"].value_counts().reindex(self.items_, fill_value=0).to_numpy(float)
        self.popularity_ = counts / counts.sum() if counts.sum() else np.full(len(counts), 1 / max(len(counts), 1))
        return self

    def scores(self, customers, start=None, days: int = 90) -> np.ndarray:
        check_is_fitted(self, "items_")
        return np.tile(self.popularity_, (len(customers), 1))


class ItemCFScorer(_Scorer):
    """Item-item collaborative filtering on the customer x item history.

    Parameters
    ----------
    half_life_days : float, default 365
        A job's weight halves with every ``half_life_days`` of age at the cutoff, so
        recent behaviour counts more.
    """

    def __init__(self, half_life_days: float = 365.0):
        self.half_life_days = half_life_days

    def fit(self, history: pd.DataFrame, cutoff, items=None) -> "ItemCFScorer":
        past = _before(history, cutoff)
        self._index(past, items)
        self.customers_ = pd.Index(past["customer_id"].unique())
        age = (pd.Timestamp(cutoff) - past["date"]).dt.days.to_numpy()
        weights = 0.5 ** (age / self.half_life_days)
        self.user_items_ = np.log1p(self._matrix(past, self.customers_, weights))
        self.similarity_ = cosine_similarity(self.user_items_.T) if len(self.customers_) else \
            np.eye(len(self.items_))
        return self

    def scores(self, customers, start=None, days: int = 90) -> np.ndarray:
        check_is_fitted(self, "items_")
        rows = self.customers_.get_indexer(pd.Index(customers))
        profile = np.zeros((len(rows), len(self.items_)))
        profile[rows >= 0] = self.user_items_[rows[rows >= 0]]
        return _normalise_rows(profile @ self.similarity_)


class ContentScorer(_Scorer):
    """Content matching: service-line affinity x job-type mix of similar customers x season.

    Parameters
    ----------
    prior_jobs : float, default 2
        Pseudo-jobs of the company's service-line mix added to each customer's own, so one
        job does not make a customer 100 % one trade (and a new customer gets the mix).
    """

    def __init__(self, prior_jobs: float = 2.0):
        self.prior_jobs = prior_jobs

    def fit(self, history: pd.DataFrame, cutoff, items=None) -> "ContentScorer":
        past = _before(history, cutoff)
        self._index(past, items)
        self.item_line_ = np.array([i.split("/")[0] for i in self.items_], dtype=object)
        self.item_type_ = np.array([i.split("/", 1)[1] for i in self.items_], dtype=object)
        self.lines_ = np.array(sorted(set(self.item_line_)), dtype=object)
        self.customers_ = pd.Index(past["customer_id"].unique())
        # Service-line affinity: own job shares shrunk towards the company mix.
        line_mix = past["service_line"].value_counts(normalize=True).reindex(self.lines_, fill_value=0)
        own = _counts(past["customer_id"], past["service_line"]).reindex(
            index=self.customers_, columns=self.lines_, fill_value=0).to_numpy(float)
        self.line_mix_ = line_mix.to_numpy()
        self.line_affinity_ = _normalise_rows(own + self.prior_jobs * self.line_mix_)
        # Equipment owned: an install in the line before the cutoff.
        installs = past[past["job_type"] == "install"]
        self.owns_ = _counts(installs["customer_id"], installs["service_line"]).reindex(
            index=self.customers_, columns=self.lines_, fill_value=0).to_numpy() > 0
        self.customer_type_ = past.groupby("customer_id")["customer_type"].first().reindex(self.customers_)
        # Job-type mix within a line for (customer type, owns equipment in the line), non-contract jobs.
        open_jobs = past[~past["on_contract"]].copy()
        owner = installs.groupby(["customer_id", "service_line"])["date"].min().rename("owned_since")
        open_jobs = open_jobs.join(owner, on=["customer_id", "service_line"])
        open_jobs["owns"] = open_jobs["owned_since"].notna() & (open_jobs["date"] > open_jobs["owned_since"])
        self.type_mix_ = {}
        for key, group in open_jobs.groupby(["customer_type", "owns"]):
            counts = group["item"].value_counts().reindex(self.items_, fill_value=0).to_numpy(float) + 1.0
            per_line = pd.Series(counts).groupby(self.item_line_).transform("sum").to_numpy()
            self.type_mix_[key] = counts / per_line
        overall = open_jobs["item"].value_counts().reindex(self.items_, fill_value=0).to_numpy(float) + 1.0
        self.type_mix_default_ = overall / pd.Series(overall).groupby(self.item_line_).transform("sum").to_numpy()
        # Seasonality: each item's share of its jobs per calendar month, relative to 1/12.
        month = _counts(open_jobs["item"], open_jobs["date"].dt.month).reindex(
            index=self.items_, columns=range(1, 13), fill_value=0).to_numpy(float) + 1.0
        self.month_factor_ = month / month.sum(axis=1, keepdims=True) * 12
        return self

    def scores(self, customers, start, days: int = 90) -> np.ndarray:
        check_is_fitted(self, "items_")
        rows = self.customers_.get_indexer(pd.Index(customers))
        known = rows >= 0
        line_pos = {line: i for i, line in enumerate(self.lines_)}
        item_line = np.array([line_pos[line] for line in self.item_line_])
        affinity = np.tile(self.line_mix_, (len(rows), 1))
        affinity[known] = self.line_affinity_[rows[known]]
        owns = np.zeros((len(rows), len(self.lines_)), dtype=bool)
        owns[known] = self.owns_[rows[known]]
        ctype = np.full(len(rows), None, dtype=object)
        ctype[known] = self.customer_type_.to_numpy()[rows[known]]
        type_mix = np.empty((len(rows), len(self.items_)))
        owns_item = owns[:, item_line]
        for t in pd.unique(ctype):
            of_type = ctype == t
            for flag in (False, True):
                mix = self.type_mix_.get((t, flag), self.type_mix_default_)
                mask = of_type[:, None] & (owns_item == flag)
                type_mix[mask] = np.broadcast_to(mix, type_mix.shape)[mask]
        season = self.month_factor_ @ _month_weights(start, days)
        return _normalise_rows(affinity[:, item_line] * type_mix * season[None, :])


def _counts(rows: pd.Series, columns: pd.Series) -> pd.DataFrame:
    """Counts of (row, column) pairs as a table (``pd.crosstab`` is many times slower on 10^5 rows)."""
    return (pd.DataFrame({"r": rows.to_numpy(), "c": columns.to_numpy()})
            .groupby(["r", "c"]).size().unstack(fill_value=0))


def hit_rate(recommended: pd.DataFrame, targets: pd.Series, k: int = 3) -> float:
    """Share of target customers with at least one bought item among their top ``k``.

    ``recommended`` has ``customer_id, rank, item``; ``targets`` maps customer -> set of items.
    """
    if len(targets) == 0:
        raise ValueError("no customer bought anything in the evaluation window")
    top = recommended[recommended["rank"] <= k][["customer_id", "item"]]
    bought = targets.explode().rename("item").reset_index()
    hit = bought.merge(top, on=["customer_id", "item"])["customer_id"].unique()
    return len(hit) / len(targets)


class HybridRecommender(BaseEstimator):
    """Blend of item-item CF, content matching and popularity; weights learned on a time split.

    Parameters
    ----------
    weights : dict, optional
        ``{"cf": w1, "content": w2, "popularity": w3}``; ``None`` learns them.
    validation_days : int, default 90
        Length of the window the weights are chosen on, just before the cutoff.
    weight_step : float, default 0.1
        Grid step on the simplex of weights.
    k : int, default 3
        Hit rate at ``k`` is what the weights maximise.
    half_life_days, prior_jobs, popularity_days
        Passed to the scorers.

    Attributes
    ----------
    weights_ : dict
    validation_ : DataFrame
        Hit rate at k and mean reciprocal rank of every weight combination tried on the
        validation window (ties in hit rate are broken by the reciprocal rank).
    cutoff_, validation_start_ : Timestamp
        The weights were chosen on ``[validation_start_, cutoff_)``; the scorers are
        fitted on jobs before ``cutoff_``.
    contracts_ : DataFrame or None
        The maintenance contracts given to :meth:`fit`; :meth:`recommend` never offers an
        item a customer's contract covers during the offer window.
    """

    COMPONENTS = ("cf", "content", "popularity")

    def __init__(self, weights: dict | None = None, validation_days: int = 90, weight_step: float = 0.1,
                 k: int = 3, half_life_days: float = 365.0, prior_jobs: float = 2.0, popularity_days: int = 365):
        self.weights = weights
        self.validation_days = validation_days
        self.weight_step = weight_step
        self.k = k
        self.half_life_days = half_life_days
        self.prior_jobs = prior_jobs
        self.popularity_days = popularity_days

    def _scorers(self, history, cutoff, items):
        return {"cf": ItemCFScorer(self.half_life_days).fit(history, cutoff, items),
                "content": ContentScorer(self.prior_jobs).fit(history, cutoff, items),
                "popularity": PopularityScorer(self.popularity_days).fit(history, cutoff, items)}

    def fit(self, history: pd.DataFrame, cutoff, contracts: pd.DataFrame | None = None) -> "HybridRecommender":
        """Learn the weights on the window before ``cutoff``, then fit on all jobs before it.

        Parameters
        ----------
        history : DataFrame
            Completed jobs, as :func:`service_history` returns them.
        cutoff : date-like
            Only jobs before it are read.
        contracts : DataFrame, optional
            Maintenance contracts, as :func:`maintenance_contracts` returns them. Their
            covered items are left out of every recommendation (and of the validation
            window's rankings).
        """
        cutoff = pd.Timestamp(cutoff)
        past = _before(history, cutoff)
        if past.empty:
            raise ValueError(f"no completed job before {cutoff:%Y-%m-%d}: nothing to recommend from")
        self.items_ = np.array(sorted(past["item"].unique()), dtype=object)
        self.cutoff_ = cutoff
        missing = [] if contracts is None else \
            [c for c in ("customer_id", "item", "start_date", "end_date") if c not in contracts.columns]
        if missing:
            raise ValueError(f"contracts lack column(s) {missing}; use maintenance_contracts(source)")
        self.contracts_ = None if contracts is None else contracts.copy()
        self.validation_start_ = cutoff - pd.Timedelta(days=self.validation_days)
        if self.weights is None:
            self.weights_, self.validation_ = self._learn_weights(past)
        else:
            unknown = set(self.weights) - set(self.COMPONENTS)
            if unknown:
                raise ValueError(f"unknown weight keys {sorted(unknown)}; use {self.COMPONENTS}")
            self.weights_ = {c: float(self.weights.get(c, 0.0)) for c in self.COMPONENTS}
            self.validation_ = pd.DataFrame()
        self.scorers_ = self._scorers(past, cutoff, self.items_)
        return self

    def _learn_weights(self, past: pd.DataFrame):
        start = self.validation_start_
        targets = evaluation_targets(past, start, self.validation_days)
        if len(targets) == 0 or _before(past, start).empty:
            # Too little history to learn from: an even blend, said in validation_.
            even = {c: 1 / 3 for c in self.COMPONENTS}
            return even, pd.DataFrame([{**even, "hit_rate": np.nan, "note": "too little history: even blend"}])
        scorers = self._scorers(past, start, self.items_)
        customers = targets.index
        parts = {c: s.scores(customers, start, self.validation_days) for c, s in scorers.items()}
        covered = self._covered_mask(customers, start, self.validation_days)
        bought = _target_matrix(targets, self.items_)
        steps = int(round(1 / self.weight_step))
        rows = []
        for a, b in itertools.product(range(steps + 1), repeat=2):
            if a + b > steps:
                continue
            w = {"cf": a / steps, "content": b / steps, "popularity": (steps - a - b) / steps}
            blend = np.where(covered, -np.inf, sum(w[c] * parts[c] for c in self.COMPONENTS))
            ranked = np.take_along_axis(bought, np.argsort(-blend, axis=1, kind="stable"), axis=1)
            first = ranked.argmax(axis=1) + 1  # rank of the first bought item
            rows.append({**w, "hit_rate": float(ranked[:, : self.k].any(axis=1).mean()),
                         "mrr": float(np.mean(1.0 / first))})
        table = pd.DataFrame(rows)
        # Ties in hit rate (common with few items) go to the better mean reciprocal rank,
        # then to the blend with more popularity (the simpler model).
        best = table.sort_values(["hit_rate", "mrr", "popularity", "content"], ascending=False).iloc[0]
        return {c: float(best[c]) for c in self.COMPONENTS}, table

    def _covered_mask(self, customers, start, days: int) -> np.ndarray:
        """customers x items: True where a maintenance contract covers the item in the window."""
        return _covered_matrix(covered_items(self.contracts_, start, days), pd.Index(customers), self.items_)

    def component_scores(self, customers, start=None, days: int | None = None) -> dict[str, np.ndarray]:
        """Each scorer's customers x items matrix for an offer window starting at ``start``."""
        check_is_fitted(self, "scorers_")
        start = self.cutoff_ if start is None else pd.Timestamp(start)
        days = self.validation_days if days is None else days
        return {c: s.scores(pd.Index(customers), start, days) for c, s in self.scorers_.items()}

    def recommend(self, customers, k: int | None = None, start=None, days: int | None = None,
                  component: str | None = None) -> pd.DataFrame:
        """Top ``k`` items per customer for an offer window starting at ``start`` (default the cutoff).

        ``component`` = ``"cf"``, ``"content"`` or ``"popularity"`` ranks by that scorer alone.
        Items a maintenance contract given to :meth:`fit` covers for the customer at any time
        in the offer window are never offered (a customer may then get fewer than ``k``).

        Returns
        -------
        DataFrame
            ``customer_id, rank, item, service_line, job_type, score`` and each component's
            score of the item.
        """
        k = self.k if k is None else k
        customers = pd.Index(pd.unique(pd.Series(list(customers), dtype=object)))
        parts = self.component_scores(customers, start, days)
        if component is not None:
            if component not in parts:
                raise ValueError(f"unknown component {component!r}; use {self.COMPONENTS}")
            blend = parts[component]
        else:
            blend = sum(self.weights_[c] * parts[c] for c in self.COMPONENTS)
        start = self.cutoff_ if start is None else pd.Timestamp(start)
        days = self.validation_days if days is None else days
        # Never offer what a running maintenance contract already covers.
        blend = np.where(self._covered_mask(customers, start, days), -np.inf, blend)
        top = _top_k(blend, customers, self.items_, k)
        top = top[np.isfinite(top["score"].to_numpy())]
        top["rank"] = top.groupby("customer_id", sort=False).cumcount() + 1
        top = top.reset_index(drop=True)
        rows = customers.get_indexer(top["customer_id"])
        cols = pd.Index(self.items_).get_indexer(top["item"])
        for c in self.COMPONENTS:
            top[c] = parts[c][rows, cols]
        split = top["item"].str.split("/", n=1)
        top.insert(3, "service_line", split.str[0])
        top.insert(4, "job_type", split.str[1])
        return top


def _covered_matrix(covered: pd.DataFrame, customers, items: np.ndarray) -> np.ndarray:
    """customers x items: True where a contract covers the item for the customer."""
    m = np.zeros((len(customers), len(items)), dtype=bool)
    rows = pd.Index(customers).get_indexer(covered["customer_id"])
    cols = pd.Index(items).get_indexer(covered["item"])
    ok = (rows >= 0) & (cols >= 0)
    m[rows[ok], cols[ok]] = True
    return m


def _target_matrix(targets: pd.Series, items: np.ndarray) -> np.ndarray:
    """customers x items: True where the customer bought the item in the window."""
    pos = {item: j for j, item in enumerate(items)}
    m = np.zeros((len(targets), len(items)), dtype=bool)
    for i, bought in enumerate(targets.to_numpy()):
        m[i, [pos[x] for x in bought if x in pos]] = True
    return m


def _top_k(scores: np.ndarray, customers, items: np.ndarray, k: int) -> pd.DataFrame:
    k = min(k, scores.shape[1])
    # Stable order: ties broken by item name, so results do not depend on hash order.
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    n = len(customers)
    return pd.DataFrame({
        "customer_id": np.repeat(np.asarray(customers, dtype=object), k),
        "rank": np.tile(np.arange(1, k + 1), n),
        "item": items[order].ravel(),
        "score": np.take_along_axis(scores, order, axis=1).ravel(),
    })


# ---------------------------------------------------------------------------- channel and timing
_CHANNEL_SQL = """
SELECT i.customer_id, i.channel, count(*) AS contacts
FROM interactions i
WHERE i.ts::DATE <= CAST(? AS DATE) AND i.direction = 'inbound'
  AND i.kind IN ('booking', 'complaint') AND i.channel IN ('phone', 'email', 'sms')
GROUP BY ALL
"""


def contact_plan(source, as_of, recommendations: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """How and when to make each customer's top offer.

    Channel: the channel (phone, e-mail, SMS) the customer has most often reached the
    company on (bookings and complaints up to ``as_of``); without any, their stated
    preferred channel (``channel_source`` says which). Timing: the calendar month in
    which the customer most often had jobs of the offered service line (at least two
    jobs), else the month in which that line's demand peaks company-wide.

    Returns
    -------
    DataFrame
        ``customer_id, item, channel, channel_share, channel_source, best_month,
        timing_source`` for the rank-1 recommendation of each customer.
    """
    as_of = pd.Timestamp(as_of)
    with open_gold(source) as con:
        channels = con.execute(_CHANNEL_SQL, [as_of.date()]).df()
        stated = con.execute("SELECT customer_id, preferred_channel FROM customers").df()
        if history is None:
            history = con.execute(_HISTORY_SQL).df()
            history["date"] = pd.to_datetime(history["date"])
    first = recommendations[recommendations["rank"] == 1][["customer_id", "item", "service_line"]].copy()
    channels["share"] = channels["contacts"] / channels.groupby("customer_id")["contacts"].transform("sum")
    best = channels.sort_values(["customer_id", "contacts", "channel"], ascending=[True, False, True]) \
        .drop_duplicates("customer_id").set_index("customer_id")
    plan = first.join(best[["channel", "share"]], on="customer_id")
    plan = plan.join(stated.set_index("customer_id")["preferred_channel"], on="customer_id")
    plan["channel_source"] = np.where(plan["channel"].notna(), "contact history", "stated preference")
    plan["channel"] = plan["channel"].fillna(plan["preferred_channel"])
    plan = plan.rename(columns={"share": "channel_share"}).drop(columns="preferred_channel")
    past = history[history["date"] <= as_of]
    month = past["date"].dt.month
    own = past.assign(month=month).groupby(["customer_id", "service_line", "month"]).size().rename("n").reset_index()
    own_total = own.groupby(["customer_id", "service_line"])["n"].transform("sum")
    own = own[own_total >= 2].sort_values(["customer_id", "service_line", "n", "month"],
                                          ascending=[True, True, False, True])
    own = own.drop_duplicates(["customer_id", "service_line"]).set_index(["customer_id", "service_line"])["month"]
    peak = past.assign(month=month).groupby(["service_line", "month"]).size().rename("n").reset_index() \
        .sort_values(["service_line", "n", "month"], ascending=[True, False, True]) \
        .drop_duplicates("service_line").set_index("service_line")["month"]
    plan = plan.join(own.rename("own_month"), on=["customer_id", "service_line"])
    plan["best_month"] = plan["own_month"].fillna(plan["service_line"].map(peak)).astype("Int64")
    plan["timing_source"] = np.where(plan["own_month"].notna(), "own history", "service seasonality")
    return plan[["customer_id", "item", "channel", "channel_share", "channel_source", "best_month",
                 "timing_source"]].reset_index(drop=True)
