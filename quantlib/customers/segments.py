"""Customer segmentation: behavioural features, k-means / Ward / online segmenters, named segments.

Features (:func:`segment_features`) are computed in DuckDB from the core tables as known on
an ``as_of`` date (nothing later is read): service-frequency pattern, spend, recency,
tenure, payment behaviour, channel preference and price sensitivity from quote history.

Segmenters follow scikit-learn (``fit`` returns self, learned state ends in ``_``):

* :class:`KMeansSegmenter` - k-means; the number of segments is the smallest k in
  ``k_range`` (3..8) whose **silhouette** on a sample is within ``tolerance`` (0.005) of the
  best. Silhouette is chosen over a GMM's BIC because
  the features are skewed and far from Gaussian (BIC keeps adding components to fit the
  tails), and because it measures exactly what a segment needs: customers closer to their
  own segment than to the next one.
* :class:`HierarchicalSegmenter` - Ward agglomerative clustering on a sample (Ward needs
  O(n^2) memory), every customer assigned to the nearest sample-cluster centroid.
* :class:`OnlineSegmenter` - starts from a fitted segmenter's centroids; ``predict``
  assigns new customers to the nearest centroid without refitting, ``partial_fit`` moves
  the centroids with mini-batch k-means updates.

Segments are named by rules on their centroid profile (:func:`name_segments`, standardised
centroid values), not by hand, into the product's profiles - premium, price-sensitive,
growth potential - plus lapsing, slow payers, contract holders and core, each with a
strategy and pricing stance (:data:`SEGMENT_PLAYBOOK`).

Two groups are set by rule and kept out of the fit: customers without any completed job up
to ``as_of`` (``"no history"``, label -1: no behaviour to cluster) and customers whose last
job is more than ``active_days`` (365) before ``as_of`` (``"lapsed"``, label -2). Clustering
the lapsed with the active would spend a segment on "has not been here for years" and blur
the differences that matter for the customers the company still serves.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.cluster import AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from quantlib.data.gold import open_gold

__all__ = [
    "CLUSTER_FEATURES", "LAPSED", "NO_HISTORY", "SEGMENT_PLAYBOOK", "HierarchicalSegmenter", "KMeansSegmenter",
    "OnlineSegmenter", "name_segments", "segment_features",
    "segment_migration", "segment_stability",
]

#: Segment name given to customers with no completed job up to the as-of date (label -1).
NO_HISTORY = "no history"
#: Segment name given to customers whose last job is older than ``active_days`` (label -2).
LAPSED = "lapsed"
_RULE_SEGMENTS = {-1: NO_HISTORY, -2: LAPSED}

#: Features the segmenters cluster on; ``log1p`` ones are log-transformed first (skewed).
CLUSTER_FEATURES = [
    "jobs_per_year", "spend_365d", "avg_ticket", "recency_days", "tenure_days", "frequency_trend",
    "gap_cv", "emergency_share", "contract_job_share", "avg_days_to_pay", "late_share",
    "dispute_share", "digital_share", "quote_win_rate", "quote_discount",
]
#: Standardised features are capped at this many standard deviations before clustering.
Z_CAP = 3.0
_LOG_FEATURES = {"jobs_per_year", "spend_365d", "avg_ticket", "recency_days", "tenure_days"}

#: Strategy and pricing stance per segment profile. The product spec names the first three
#: profiles; its wording is not in the repository, so the rules and texts here are ours.
SEGMENT_PLAYBOOK = pd.DataFrame([
    ("premium", "High spend per year and per job, pays on time.",
     "Retain and upsell: priority scheduling, a named contact, maintenance-contract upgrades.",
     "Value-based: hold list price, no discounts; charge for priority slots."),
    ("price-sensitive", "Needs discounts to accept quotes, or loses quotes at list price.",
     "Win on value: bundles, off-peak slots, maintenance plans that spread the cost.",
     "Targeted quote discounts within margin floors; promote off-peak pricing."),
    ("growth potential", "Short tenure or rising service frequency, spend still modest.",
     "Cross-sell other trades and a maintenance contract while engagement is rising.",
     "Introductory contract pricing; standard price on jobs."),
    ("lapsing", "Long since the last job, frequency falling.",
     "Win-back outreach before the customer is lost; seasonal reminders.",
     "Time-limited return offer; no standing discount."),
    ("slow payers", "Pays late or disputes invoices.",
     "Tighten terms: deposits, card on file, autopay; reminders before the due date.",
     "Standard price with upfront deposit; no credit terms."),
    ("contract holders", "Most visits are maintenance-contract visits.",
     "Renew and extend: add a second trade to the contract, remind before renewal.",
     "Contract price; member discount on repairs instead of ad-hoc discounts."),
    ("core", "Average on every behaviour.",
     "Keep satisfied: reminders before the season of their service, satisfaction follow-up.",
     "Standard list price."),
    (LAPSED, "No completed job in the last year (set by rule, not clustered).",
     "Win-back campaign in the season of their past service; ask why they left.",
     "One-off return offer."),
    (NO_HISTORY, "No completed job yet (set by rule, not clustered).",
     "Convert the first enquiry: fast response, first-visit follow-up.",
     "Standard list price; first-visit offer."),
], columns=["profile", "rule", "strategy", "pricing_stance"])


# ---------------------------------------------------------------------------- connections
# ---------------------------------------------------------------------------- features
_FEATURES_SQL = """
WITH params AS (SELECT CAST(? AS DATE) AS as_of),
cust AS (
    SELECT c.customer_id, c.customer_type, c.created_date::DATE AS created_date
    FROM customers c, params p WHERE c.created_date::DATE <= p.as_of
),
done AS (
    SELECT j.customer_id, j.service_line, j.job_type, j.completed_at::DATE AS d, j.revenue,
           j.contract_id IS NOT NULL AS on_contract
    FROM jobs j, params p
    WHERE j.status = 'completed' AND j.completed_at::DATE <= p.as_of
),
job_stats AS (
    SELECT customer_id,
           count(*) AS n_jobs, sum(revenue) AS spend_lifetime,
           min(d) AS first_job, max(d) AS last_job,
           coalesce(sum(revenue) FILTER (WHERE d > (SELECT as_of FROM params) - 365), 0) AS spend_365d,
           count(*) FILTER (WHERE d > (SELECT as_of FROM params) - 365) AS jobs_365d,
           count(*) FILTER (WHERE d > (SELECT as_of FROM params) - 180) AS jobs_last_180d,
           count(*) FILTER (WHERE d > (SELECT as_of FROM params) - 360
                              AND d <= (SELECT as_of FROM params) - 180) AS jobs_prev_180d,
           avg((job_type = 'emergency')::DOUBLE) AS emergency_share,
           avg(on_contract::DOUBLE) AS contract_job_share,
           count(DISTINCT service_line) AS n_service_lines
    FROM done GROUP BY customer_id
),
primary_line AS (
    -- the line with most jobs; ties by name, so the result never depends on scan order
    SELECT customer_id, first(service_line ORDER BY n DESC, service_line) AS primary_service_line
    FROM (SELECT customer_id, service_line, count(*) AS n FROM done GROUP BY ALL)
    GROUP BY customer_id
),
gaps AS (
    SELECT customer_id, stddev_samp(gap) / nullif(avg(gap), 0) AS gap_cv
    FROM (SELECT customer_id, date_diff('day', lag(d) OVER (PARTITION BY customer_id ORDER BY d), d) AS gap
          FROM done)
    WHERE gap IS NOT NULL GROUP BY customer_id
),
paid AS (
    SELECT invoice_id, sum(amount) AS paid_amount, max(paid_date)::DATE AS paid_on
    FROM payments, params p WHERE paid_date::DATE <= p.as_of GROUP BY invoice_id
),
inv AS (
    SELECT i.customer_id, i.amount, i.issued_date::DATE AS issued, i.due_date::DATE AS due,
           (i.disputed OR i.status = 'disputed') AS disputed,
           coalesce(pd.paid_amount, 0) >= i.amount - 0.005 AS settled, pd.paid_on
    FROM invoices i LEFT JOIN paid pd USING (invoice_id), params p
    WHERE i.issued_date::DATE <= p.as_of
),
pay_stats AS (
    SELECT customer_id,
           avg(date_diff('day', issued, paid_on)) FILTER (WHERE settled) AS avg_days_to_pay,
           -- judged once settled or past due: late if settled after due or still open past it
           avg(CASE WHEN settled THEN (paid_on > due)::DOUBLE ELSE 1.0 END)
               FILTER (WHERE settled OR due < (SELECT as_of FROM params)) AS late_share,
           avg(disputed::DOUBLE) AS dispute_share
    FROM inv GROUP BY customer_id
),
contacts AS (
    -- The channels the customer reaches us on: bookings and complaints (inbound, not surveys).
    SELECT customer_id, count(*) AS inbound_contacts,
           avg((channel = 'phone')::DOUBLE) AS phone_share,
           avg((channel = 'email')::DOUBLE) AS email_share,
           avg((channel = 'sms')::DOUBLE) AS sms_share,
           avg((channel = 'web')::DOUBLE) AS web_share
    FROM interactions, params p
    WHERE ts::DATE <= p.as_of AND direction = 'inbound' AND kind IN ('booking', 'complaint')
    GROUP BY customer_id
),
quote_stats AS (
    SELECT customer_id, count(*) AS quotes_decided,
           avg((status = 'won')::DOUBLE) AS quote_win_rate,
           avg(1 - amount / nullif(list_amount, 0)) AS quote_discount,
           avg(1 - amount / nullif(list_amount, 0)) FILTER (WHERE status = 'won') AS won_discount
    FROM quotes, params p
    WHERE decided_at IS NOT NULL AND decided_at::DATE <= p.as_of AND status IN ('won', 'lost')
    GROUP BY customer_id
)
SELECT c.customer_id, c.customer_type,
       pl.primary_service_line,
       coalesce(js.n_jobs, 0) AS n_jobs,
       greatest(date_diff('day', c.created_date, p.as_of), 1) AS tenure_days,
       date_diff('day', js.last_job, p.as_of) AS recency_days,
       coalesce(js.n_jobs, 0) * 365.25 / greatest(date_diff('day', c.created_date, p.as_of), 90) AS jobs_per_year,
       coalesce(js.jobs_365d, 0) AS jobs_365d,
       coalesce(js.spend_365d, 0) AS spend_365d,
       coalesce(js.spend_lifetime, 0) AS spend_lifetime,
       js.spend_lifetime / nullif(js.n_jobs, 0) AS avg_ticket,
       coalesce(js.jobs_last_180d, 0) AS jobs_last_180d,
       coalesce(js.jobs_prev_180d, 0) AS jobs_prev_180d,
       -- smoothed log ratio: 0 = unchanged, defined for 0 jobs in either half-year
       ln((coalesce(js.jobs_last_180d, 0) + 0.5) / (coalesce(js.jobs_prev_180d, 0) + 0.5)) AS frequency_trend,
       g.gap_cv, js.emergency_share, js.contract_job_share, js.n_service_lines,
       ps.avg_days_to_pay, ps.late_share, ps.dispute_share,
       coalesce(ct.inbound_contacts, 0) AS inbound_contacts,
       ct.phone_share, ct.email_share, ct.sms_share, ct.web_share,
       ct.email_share + ct.sms_share + ct.web_share AS digital_share,
       coalesce(q.quotes_decided, 0) AS quotes_decided,
       q.quote_win_rate, q.quote_discount, q.won_discount
FROM cust c CROSS JOIN params p
LEFT JOIN job_stats js  USING (customer_id)
LEFT JOIN primary_line pl USING (customer_id)
LEFT JOIN gaps g        USING (customer_id)
LEFT JOIN pay_stats ps  USING (customer_id)
LEFT JOIN contacts ct   USING (customer_id)
LEFT JOIN quote_stats q USING (customer_id)
ORDER BY c.customer_id
"""


def segment_features(source, as_of: dt.date | str) -> pd.DataFrame:
    """Behavioural features of every customer created by ``as_of``, from data known then.

    Parameters
    ----------
    source : DuckDB connection, Lake, lake root or gold path
        Needs the tables ``customers, jobs, invoices, payments, interactions, quotes``
        (a gold warehouse, or :func:`connect_tables` on a generated company).
    as_of : date
        Nothing after this day is read.

    Returns
    -------
    DataFrame
        One row per customer: ``n_jobs, tenure_days, recency_days, jobs_per_year, spend_365d,
        avg_ticket, frequency_trend`` (log of last-180-day over previous-180-day jobs,
        smoothed), ``gap_cv`` (irregularity of gaps between jobs), ``emergency_share,
        contract_job_share, avg_days_to_pay, late_share, dispute_share``, channel shares of
        inbound contacts (``digital_share`` = e-mail + SMS + web), ``quote_win_rate,
        quote_discount`` (mean 1 - amount / list over decided quotes), and more. A
        customer with no completed job has ``n_jobs = 0`` and missing job features.
        ``jobs_per_year`` annualises over at least 90 days of tenure so a one-day-old
        customer does not look like a 365-jobs-a-year account.
    """
    with open_gold(source) as con:
        return con.execute(_FEATURES_SQL, [pd.Timestamp(as_of).date()]).df()


def _design(features: pd.DataFrame, fill: pd.Series) -> np.ndarray:
    """The matrix clustered on: log of the skewed features, gaps filled with ``fill``."""
    missing = [c for c in CLUSTER_FEATURES if c not in features]
    if missing:
        raise ValueError(f"features lack the columns {missing}; build them with segment_features()")
    x = features[CLUSTER_FEATURES].astype(float).fillna(fill)
    for column in _LOG_FEATURES:
        x[column] = np.log1p(x[column].clip(lower=0))
    return x.to_numpy()


def _rule_labels(features: pd.DataFrame, active_days: int) -> np.ndarray:
    """-1 (no completed job), -2 (last job more than ``active_days`` ago), else 0 (clustered)."""
    no_jobs = features["n_jobs"].to_numpy() == 0
    lapsed = ~no_jobs & (features["recency_days"].fillna(0).to_numpy() > active_days)
    return np.where(no_jobs, -1, np.where(lapsed, -2, 0))


def _history(features: pd.DataFrame, active_days: int) -> np.ndarray:
    """Customers that are clustered: a completed job within ``active_days``."""
    return _rule_labels(features, active_days) == 0


class _SegmenterBase(BaseEstimator):
    """Shared scaling, profiling, naming and prediction of the segmenters."""

    def _prepare(self, features: pd.DataFrame) -> np.ndarray:
        missing = [c for c in ["customer_id", "n_jobs", "recency_days", *CLUSTER_FEATURES] if c not in features]
        if missing:
            raise ValueError(f"features lack the columns {missing}; build them with segment_features()")
        # Fitted copy of the window: OnlineSegmenter takes its base's, not a parameter of its own.
        self.active_days_ = self.active_days
        keep = _history(features, self.active_days_)
        if keep.sum() < 10:
            raise ValueError(f"only {int(keep.sum())} customers have a completed job in the last "
                             f"{self.active_days} days; segmentation needs at least 10")
        hist = features[keep]
        # A gap (no invoices, no quotes, fewer than three jobs) is filled with the median, i.e. neutral.
        fill = hist[CLUSTER_FEATURES].astype(float).median().fillna(0.0)
        self.fill_ = fill
        self.scaler_ = StandardScaler().fit(_design(hist, fill))
        return self._scale(_design(hist, fill))

    def _scale(self, x: np.ndarray) -> np.ndarray:
        # Standardise, then cap at +-3 SD: a handful of extreme accounts (ten disputes, one
        # 40-job customer) would otherwise pull a centroid of their own.
        return np.clip(self.scaler_.transform(x), -Z_CAP, Z_CAP)

    def _finish(self, features: pd.DataFrame, z: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> None:
        hist = features[_history(features, self.active_days_)].reset_index(drop=True)
        self.cluster_centers_ = centers
        self.n_segments_ = len(centers)
        self.labels_ = pd.Series(labels, index=hist["customer_id"].to_numpy(), name="segment")
        sizes = np.bincount(labels, minlength=len(centers))
        z = pd.DataFrame(centers, columns=CLUSTER_FEATURES)
        self.names_ = name_segments(z, sizes)
        self.profile_ = _profile(hist, labels, self.names_)
        scores = pd.DataFrame([_profile_scores(row) for _, row in z.iterrows()]).replace(-np.inf, np.nan)
        scores.insert(0, "segment_name", [self.names_[i] for i in range(len(z))])
        self.profile_scores_ = scores

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Standardised design matrix of ``features`` (clustered customers only)."""
        check_is_fitted(self, "cluster_centers_")
        return self._scale(_design(features[_history(features, self.active_days_)], self.fill_))

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Nearest-centroid segment of every customer in ``features``.

        Returns
        -------
        DataFrame
            ``customer_id, segment, segment_name``; customers with no completed job get
            segment -1 (``"no history"``), those without one in ``active_days`` -2 (``"lapsed"``).
        """
        check_is_fitted(self, "cluster_centers_")
        seg = _rule_labels(features, self.active_days_)
        keep = seg == 0
        if keep.any():
            seg[keep] = _nearest(self.transform(features), self.cluster_centers_)
        names = np.array([self.names_.get(s) or _RULE_SEGMENTS[s] for s in seg], dtype=object)
        return pd.DataFrame({"customer_id": features["customer_id"].to_numpy(), "segment": seg,
                             "segment_name": names})


def _nearest(z: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1)


def _profile(hist: pd.DataFrame, labels: np.ndarray, names: dict[int, str]) -> pd.DataFrame:
    """Per segment: size, share, value and the mean of each behavioural feature."""
    columns = CLUSTER_FEATURES + ["spend_lifetime", "inbound_contacts", "quotes_decided"]
    frame = hist[columns].astype(float).assign(segment=labels)
    prof = frame.groupby("segment").mean()
    prof.insert(0, "customers", frame.groupby("segment").size())
    prof.insert(1, "share", prof["customers"] / prof["customers"].sum())
    prof.insert(2, "spend_365d_total", frame.groupby("segment")["spend_365d"].sum())
    prof = prof.reset_index()
    prof.insert(1, "segment_name", prof["segment"].map(names))
    playbook = SEGMENT_PLAYBOOK.set_index("profile")
    base = prof["segment_name"].str.replace(r" \(\d+\)$", "", regex=True)
    prof["strategy"] = base.map(playbook["strategy"])
    prof["pricing_stance"] = base.map(playbook["pricing_stance"])
    return prof


# ---------------------------------------------------------------------------- naming
#: Rule scores on the standardised centroid (mean z of the segment's members); a segment
#: gets the profile with the highest score when it reaches ``_NAME_THRESHOLD``, else "core".
_NAME_THRESHOLD = 0.5


def _profile_scores(z: pd.Series) -> dict[str, float]:
    value = z["spend_365d"] + 0.5 * z["avg_ticket"] + 0.5 * z["jobs_per_year"]
    on_time = z["late_share"] < 0.5
    return {
        # Spend well above the average of its customers, not a payment problem.
        "premium": 0.6 * value if on_time else -np.inf,
        # Accepts only discounted quotes or loses quotes: discount high and/or win rate low.
        "price-sensitive": 0.7 * z["quote_discount"] - 0.5 * z["quote_win_rate"],
        # New or rising, not (yet) a big spender.
        "growth potential": (max(z["frequency_trend"], 0) + 0.5 * max(-z["tenure_days"], 0)
                             if z["spend_365d"] < 0.5 and z["recency_days"] < 0.5 else -np.inf),
        "lapsing": 0.8 * z["recency_days"] - 0.3 * z["frequency_trend"],
        "slow payers": 0.7 * z["late_share"] + 0.4 * z["avg_days_to_pay"] + 0.3 * z["dispute_share"],
        "contract holders": 0.5 * z["contract_job_share"],
    }


def name_segments(centers: pd.DataFrame, sizes=None) -> dict[int, str]:
    """Name each segment from its standardised centroid by the rules of :func:`_profile_scores`.

    Parameters
    ----------
    centers : DataFrame
        One row per segment (index = segment label), columns :data:`CLUSTER_FEATURES`, in
        standardised units (0 = the average customer, 1 = one standard deviation above).
    sizes : mapping, optional
        Customers per segment label, to number repeated names by size (default: by score).

    Returns
    -------
    dict
        Segment label -> name. A profile claimed by several segments is numbered by
        segment size, largest first: ``"premium"``, ``"premium (2)"``.
    """
    picked = {}
    for seg, z in centers.iterrows():
        scores = _profile_scores(z)
        best = max(scores, key=scores.get)
        picked[seg] = (best, scores[best]) if scores[best] >= _NAME_THRESHOLD else ("core", 0.0)
    names = {}
    for name in {p[0] for p in picked.values()}:
        members = sorted((s for s in picked if picked[s][0] == name),
                         key=lambda s: -(sizes[s] if sizes is not None else picked[s][1]))
        for rank, seg in enumerate(members):
            names[seg] = name if rank == 0 else f"{name} ({rank + 1})"
    return {int(s): names[s] for s in centers.index}


# ---------------------------------------------------------------------------- segmenters
class KMeansSegmenter(_SegmenterBase):
    """k-means segmentation with the number of segments chosen by silhouette.

    Parameters
    ----------
    n_segments : int, optional
        Fixed number of segments; ``None`` chooses it from ``k_range`` by the silhouette
        on a sample of ``sample_size`` customers.
    k_range : tuple of int, default (3, 8)
        Smallest and largest k tried (inclusive). The product names three profiles, so 3
        is the smallest useful k.
    tolerance : float, default 0.005
        The smallest k whose silhouette is within ``tolerance`` of the best is chosen:
        on behavioural data the silhouette is often flat in k, and fewer segments are
        easier to act on and more stable.
    sample_size : int, default 4000
        Customers the silhouette is computed on (silhouette is O(n^2)).
    n_init : int, default 30
        k-means restarts of the final fit; the best inertia wins. Behavioural data has
        several near-equal optima: on ~1,100 customers 10 restarts gave an adjusted Rand
        index of 0.66 between seeds, 30 gave 0.96. Choosing k uses at most 10 restarts per k
        (the silhouette only needs a good clustering, not the best one).
    restart_sample : int, default 20000
        With more customers than this, the ``n_init`` restarts run on a sample of this
        size and a single k-means pass on everyone refines the best one (same result up
        to the local optimum, a fraction of the time).
    random_state : int, default 0
    active_days : int, default 365
        Customers whose last job is older are ``"lapsed"`` by rule, not clustered.
    n_threads : int, default 1
        OpenMP / BLAS threads while fitting. One by default: on a shared machine
        scikit-learn's k-means slows down many times over when its threads compete
        with other processes for the cores.

    Attributes
    ----------
    n_segments_ : int
    silhouette_ : DataFrame
        ``k, silhouette`` for every k tried (empty when ``n_segments`` is fixed).
    cluster_centers_ : ndarray
        Centroids in standardised feature units.
    labels_ : Series
        Segment per customer id (customers with jobs).
    names_ : dict
        Segment -> name (:func:`name_segments`).
    profile_ : DataFrame
        Size, share, value, mean features, strategy and pricing stance per segment.
    profile_scores_ : DataFrame
        Each segment's rule score for every profile (NaN where a gate rules it out); a
        segment is named after its best score when that reaches 0.5.
    """

    def __init__(self, n_segments: int | None = None, k_range: tuple[int, int] = (3, 8),
                 tolerance: float = 0.005, sample_size: int = 4000, n_init: int = 30, restart_sample: int = 20000,
                 random_state: int = 0, active_days: int = 365, n_threads: int = 1):
        self.restart_sample = restart_sample
        self.n_segments = n_segments
        self.k_range = k_range
        self.tolerance = tolerance
        self.active_days = active_days
        self.sample_size = sample_size
        self.n_init = n_init
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, features: pd.DataFrame) -> "KMeansSegmenter":
        """Fit on :func:`segment_features` output; returns self."""
        with threadpool_limits(self.n_threads):
            return self._fit(features)

    def _fit(self, features: pd.DataFrame) -> "KMeansSegmenter":
        z = self._prepare(features)
        rng = np.random.default_rng(self.random_state)
        rows = []
        k = self.n_segments
        if k is None:
            lo, hi = self.k_range
            if not 2 <= lo <= hi:
                raise ValueError(f"k_range must be (lo, hi) with 2 <= lo <= hi; got {self.k_range}")
            sample = z[rng.choice(len(z), min(self.sample_size, len(z)), replace=False)]
            for kk in range(lo, min(hi, len(sample) - 1) + 1):
                labels = KMeans(kk, n_init=min(self.n_init, 10), random_state=self.random_state).fit_predict(sample)
                rows.append((kk, float(silhouette_score(sample, labels))))
            best = max(r[1] for r in rows)
            k = min(r[0] for r in rows if r[1] >= best - self.tolerance)
        self.silhouette_ = pd.DataFrame(rows, columns=["k", "silhouette"])
        if len(z) > self.restart_sample:
            # The restarts run on a sample; one k-means pass on everyone refines the best of them.
            sample = z[rng.choice(len(z), self.restart_sample, replace=False)]
            start = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(sample).cluster_centers_
            model = KMeans(k, init=start, n_init=1, random_state=self.random_state).fit(z)
        else:
            model = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(z)
        self.model_ = model
        self._finish(features, z, model.labels_, model.cluster_centers_)
        return self


class HierarchicalSegmenter(_SegmenterBase):
    """Ward agglomerative segmentation on a sample, nearest-centroid assignment for the rest.

    Parameters
    ----------
    n_segments : int, default 5
    sample_size : int, default 3000
        Customers clustered by Ward (memory grows with the square of the sample).
    random_state : int, default 0
        Seed of the sample.
    active_days : int, default 365
        Customers whose last job is older are ``"lapsed"`` by rule, not clustered.
    n_threads : int, default 1
        Threads while fitting (see :class:`KMeansSegmenter`).

    Attributes
    ----------
    As :class:`KMeansSegmenter`, plus ``sample_labels_`` (Ward labels of the sample).
    """

    def __init__(self, n_segments: int = 5, sample_size: int = 3000, random_state: int = 0,
                 active_days: int = 365, n_threads: int = 1):
        self.n_segments = n_segments
        self.active_days = active_days
        self.sample_size = sample_size
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, features: pd.DataFrame) -> "HierarchicalSegmenter":
        """Fit on :func:`segment_features` output; returns self."""
        with threadpool_limits(self.n_threads):
            return self._fit(features)

    def _fit(self, features: pd.DataFrame) -> "HierarchicalSegmenter":
        z = self._prepare(features)
        rng = np.random.default_rng(self.random_state)
        idx = np.sort(rng.choice(len(z), min(self.sample_size, len(z)), replace=False))
        ward = AgglomerativeClustering(n_clusters=self.n_segments, linkage="ward").fit(z[idx])
        self.sample_labels_ = ward.labels_
        centers = np.vstack([z[idx][ward.labels_ == s].mean(axis=0) for s in range(self.n_segments)])
        self._finish(features, z, _nearest(z, centers), centers)
        return self


class OnlineSegmenter(_SegmenterBase):
    """Assign new customers to the segments of a fitted segmenter without refitting.

    ``predict`` is nearest-centroid on the fitted scaling (so for the customers the base
    segmenter was fitted on it reproduces the batch assignment); ``partial_fit`` moves the
    centroids with mini-batch k-means steps on a new batch, keeping segment numbers and names.

    Parameters
    ----------
    base : KMeansSegmenter or HierarchicalSegmenter
        A fitted segmenter.
    batch_size : int, default 1024
    """

    def __init__(self, base: _SegmenterBase, batch_size: int = 1024):
        self.base = base
        self.batch_size = batch_size

    def fit(self, features: pd.DataFrame | None = None) -> "OnlineSegmenter":
        """Take the base segmenter's scaling, centroids and names (``features`` is not read)."""
        if not hasattr(self.base, "cluster_centers_"):
            raise ValueError("OnlineSegmenter needs a fitted base segmenter")
        self.active_days_ = self.base.active_days_
        self.scaler_ = self.base.scaler_
        self.fill_ = self.base.fill_
        self.cluster_centers_ = self.base.cluster_centers_.copy()
        self.names_ = dict(self.base.names_)
        self.n_segments_ = len(self.cluster_centers_)
        self.model_ = MiniBatchKMeans(self.n_segments_, init=self.cluster_centers_, n_init=1,
                                      batch_size=self.batch_size, random_state=0)
        self.n_seen_ = 0
        return self

    def partial_fit(self, features: pd.DataFrame) -> "OnlineSegmenter":
        """Update the centroids with the customers (with jobs) in ``features``; returns self."""
        if not hasattr(self, "model_"):
            self.fit()
        z = self.transform(features)
        if len(z):
            with threadpool_limits(1):
                self.model_.partial_fit(z)
            self.cluster_centers_ = self.model_.cluster_centers_.copy()
            self.n_seen_ += len(z)
        return self


# ---------------------------------------------------------------------------- stability, migration
def segment_stability(features: pd.DataFrame, make_segmenter, seeds=(0, 1, 2, 3, 4),
                      bootstrap: int = 0) -> pd.DataFrame:
    """Adjusted Rand index of the segment assignment across refits.

    Parameters
    ----------
    features : DataFrame
        :func:`segment_features` output.
    make_segmenter : callable
        ``seed -> unfitted segmenter`` (e.g. ``lambda s: KMeansSegmenter(5, random_state=s)``).
    seeds : sequence of int
        One refit per seed on the same data; every pair is compared.
    bootstrap : int, default 0
        Also refit on this many bootstrap resamples of the customers; each refit's
        assignment of *all* customers is compared with the first seed's.

    Returns
    -------
    DataFrame
        ``kind`` (``"seed"`` or ``"bootstrap"``), ``a, b`` (what was compared) and ``ari``.
    """
    # Only the clustered customers count: the rule groups (no history, lapsed) never move.
    assign = {s: make_segmenter(s).fit(features).predict(features)["segment"].to_numpy() for s in seeds}
    clustered = assign[seeds[0]] >= 0
    assign = {s: a[clustered] for s, a in assign.items()}
    rows = [("seed", a, b, adjusted_rand_score(assign[a], assign[b]))
            for i, a in enumerate(seeds) for b in seeds[i + 1:]]
    reference = assign[seeds[0]]
    rng = np.random.default_rng(12345)
    for r in range(bootstrap):
        sample = features.iloc[rng.integers(0, len(features), len(features))].reset_index(drop=True)
        sample["customer_id"] = np.arange(len(sample)).astype(str)  # duplicates get their own ids
        labels = make_segmenter(seeds[0]).fit(sample).predict(features)["segment"].to_numpy()[clustered]
        rows.append(("bootstrap", seeds[0], f"resample {r + 1}", adjusted_rand_score(reference, labels)))
    return pd.DataFrame(rows, columns=["kind", "a", "b", "ari"])


def segment_migration(segmenter: _SegmenterBase, features_before: pd.DataFrame,
                      features_now: pd.DataFrame) -> pd.DataFrame:
    """Transition matrix of customers between segments from one as-of date to another.

    Both dates are assigned with the same fitted segmenter (the same centroids), so a
    move is a change in the customer's behaviour, not in the segments. Customers not yet
    created at the first date come from ``"new"``.

    Returns
    -------
    DataFrame
        Long format ``from_segment, to_segment, customers, share_of_from`` (the share of the
        ``from`` segment's customers that moved to ``to``).
    """
    before = segmenter.predict(features_before)[["customer_id", "segment_name"]]
    now = segmenter.predict(features_now)[["customer_id", "segment_name"]]
    moves = now.merge(before, on="customer_id", how="left", suffixes=("_now", "_before"))
    moves["segment_name_before"] = moves["segment_name_before"].fillna("new")
    table = (moves.groupby(["segment_name_before", "segment_name_now"]).size()
             .rename("customers").reset_index()
             .rename(columns={"segment_name_before": "from_segment", "segment_name_now": "to_segment"}))
    table["share_of_from"] = table["customers"] / table.groupby("from_segment")["customers"].transform("sum")
    return table.sort_values(["from_segment", "to_segment"]).reset_index(drop=True)
