"""Quote conversion: the probability that an open quote is won, and when its revenue lands.

:class:`QuoteConversionModel` learns from *decided* quotes (won or lost) the probability
of winning from the quote's price (``amount / list_amount``), urgency, service line,
size (log amount), age (days open at the moment the question is asked) and, when the
economic indicators are given, consumer confidence. It also learns two timing
distributions from history: days from a quote's creation to its decision, and days from
a won decision to the completed job (when revenue is recognised).

With ``price_terms="segment"`` the price slope differs by the quote's segment
(:func:`quantlib.data.price_segments.quote_segments`, the generator's own rule), service line
and urgency, and ``elasticity_`` gives each segment's slope with an interval;
``model="bayes"`` pools the segments' slopes in a hierarchical model (PyMC, nutpie).

:meth:`QuoteConversionModel.expected_pipeline` turns open quotes into expected values
and decision dates; :meth:`QuoteConversionModel.pipeline_schedule` spreads the expected
revenue of open quotes over the coming days.

Everything is *as of* a date: ``fit(..., as_of=d)`` uses only quotes decided on or before
``d`` (and treats quotes decided later as still open), so a backtest at an origin never
sees the future. :func:`warehouse_snapshot` reads the gold tables the forecasting
engines need, censored at an as-of date in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from quantlib.data.contracts import DEFAULT_QUOTE_JOB_TYPE, default_published_at, default_published_at_sql
from quantlib.data.gold import open_gold
from quantlib.data.price_segments import QUOTE_SEGMENTS

QUOTE_COLUMNS = ("quote_id", "service_line", "urgency", "created_at", "amount", "list_amount",
                 "status", "decided_at")


# --------------------------------------------------------------------------
# Reading the warehouse as of a date
# --------------------------------------------------------------------------

@dataclass
class Snapshot:
    """The gold tables as they were known at ``as_of`` (see :func:`warehouse_snapshot`)."""

    as_of: pd.Timestamp
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"snapshot has no table {name!r}; it has {sorted(self.tables)}") from None


# Every query orders its rows by the table's key: a snapshot read twice gives the same frame
# (DuckDB's parallel scans return rows in no fixed order).
_SNAPSHOT_SQL = {
    # A quote decided after as_of was still open at as_of.
    # A quote without a job type (files older than job_type) is for an install.
    "quotes": """
        SELECT quote_id, lead_id, customer_id, service_line, urgency, {job_type} AS job_type,
               created_at, amount, list_amount,
               CASE WHEN decided_at::DATE <= $as_of THEN status ELSE 'open' END AS status,
               CASE WHEN decided_at::DATE <= $as_of THEN decided_at END AS decided_at
        FROM quotes WHERE created_at::DATE <= $as_of ORDER BY quote_id""",
    "leads": """
        SELECT l.lead_id, l.service_line, l.created_at,
               (SELECT min(q.created_at) FROM quotes q WHERE q.lead_id = l.lead_id
                  AND q.created_at::DATE <= $as_of) AS quoted_at
        FROM leads l WHERE l.created_at::DATE <= $as_of ORDER BY l.lead_id""",
    # Jobs as known at as_of: completed ones carry their revenue and hours; a job completed
    # later is shown as not completed.
    "jobs": """
        SELECT job_id, customer_id, quote_id, contract_id, service_line, job_type, urgency,
               region, created_at, scheduled_start,
               CASE WHEN completed_date <= $as_of THEN completed_at END AS completed_at,
               CASE WHEN completed_date <= $as_of THEN completed_date END AS completed_date,
               is_completed AND completed_date <= $as_of AS is_completed,
               is_cancelled AND coalesce(completed_date, scheduled_date) <= $as_of AS is_cancelled,
               scheduled_hours,
               CASE WHEN completed_date <= $as_of THEN labor_hours ELSE 0 END AS labor_hours,
               travel_minutes,
               CASE WHEN completed_date <= $as_of THEN revenue ELSE 0 END AS revenue,
               CASE WHEN completed_date <= $as_of THEN direct_cost ELSE 0 END AS direct_cost
        FROM job_facts WHERE created_at::DATE <= $as_of ORDER BY job_id""",
    # An invoice's state at as_of comes from its dated events: written off only when the
    # write-off is dated by then (an undated one, from files older than written_off_at,
    # counts from its issue), paid when the payments made by then cover it, else open.
    "invoices": """
        WITH paid AS (
            SELECT invoice_id, sum(amount) AS paid_amount FROM payments
            WHERE paid_date::DATE <= $as_of GROUP BY invoice_id
        )
        SELECT i.invoice_id, i.customer_id, i.job_id, i.issued_date::DATE AS issued_date,
               i.due_date::DATE AS due_date, i.amount,
               CASE WHEN {written_off} THEN 'written_off'
                    WHEN coalesce(p.paid_amount, 0) >= i.amount - 0.005 THEN 'paid'
                    ELSE 'open' END AS status,
               {written_off} AS written_off,
               CASE WHEN {written_off} THEN {written_off_at}::DATE END AS written_off_at
        FROM invoices i LEFT JOIN paid p USING (invoice_id)
        WHERE i.issued_date::DATE <= $as_of ORDER BY i.invoice_id""",
    "payments": """
        SELECT payment_id, invoice_id, customer_id, paid_date::DATE AS paid_date, amount
        FROM payments WHERE paid_date::DATE <= $as_of ORDER BY payment_id""",
    "open_invoices": """
        SELECT invoice_id, customer_id, issued_date, due_date, amount, open_amount
        FROM open_invoices_at($as_of) ORDER BY invoice_id""",
    "contracts": """
        SELECT contract_id, customer_id, service_line, start_date::DATE AS start_date,
               CASE WHEN end_date::DATE <= $as_of THEN end_date::DATE END AS end_date,
               monthly_fee, visits_per_year
        FROM contracts WHERE start_date::DATE <= $as_of ORDER BY contract_id""",
    # Accruals of the expenses recorded by as_of (a bill dated later is not known yet,
    # even where it accrues over days before as_of).
    "expense_accruals": """
        SELECT a.date, a.category, a.kind, a.amount, e.date::DATE AS recorded_date
        FROM expense_accruals a JOIN expenses e USING (expense_id)
        WHERE a.date <= $as_of AND e.date::DATE <= $as_of
        ORDER BY a.date, a.expense_id, a.category, a.kind, a.amount""",
    # A month's indicators are known from their publication date, not from the month.
    "economic_indicators": """
        SELECT month::DATE AS month, unemployment_rate, housing_starts, consumer_confidence,
               {published_at}::DATE AS published_at
        FROM economic_indicators WHERE {published_at}::DATE <= $as_of ORDER BY month""",
    # Everyone hired by as_of, with the terminations known then; `active` is the roster at
    # as_of. Technicians who leave later are active (their termination is not known yet).
    "technicians": """
        SELECT technician_id, region, skills, weekly_hours, hire_date::DATE AS hire_date,
               CASE WHEN termination_date::DATE <= $as_of THEN termination_date::DATE END
                   AS termination_date,
               termination_date IS NULL OR termination_date::DATE > $as_of AS active
        FROM technicians
        WHERE hire_date::DATE <= $as_of
        ORDER BY technician_id""",
}

# Columns added after older gold files were built, and what stands in for them there.
_LATE_COLUMNS = {
    ("invoices", "written_off_at"): "i.issued_date",
    ("economic_indicators", "published_at"): default_published_at_sql("month"),
    ("quotes", "job_type"): f"'{DEFAULT_QUOTE_JOB_TYPE}'",
}


def _snapshot_sql(con, name: str) -> str:
    """The snapshot query of table ``name`` for this warehouse (older files lack a few columns)."""
    sql = _SNAPSHOT_SQL[name]
    if name == "invoices":
        have = _has_column(con, "invoices", "written_off_at")
        at = "coalesce(i.written_off_at, i.issued_date)" if have else _LATE_COLUMNS[("invoices", "written_off_at")]
        return sql.format(written_off=f"(i.status = 'written_off' AND {at}::DATE <= $as_of)", written_off_at=at)
    if name == "economic_indicators":
        have = _has_column(con, "economic_indicators", "published_at")
        default = _LATE_COLUMNS[("economic_indicators", "published_at")]
        return sql.format(published_at=f"coalesce(published_at, {default})" if have else default)
    if name == "quotes":
        default = _LATE_COLUMNS[("quotes", "job_type")]
        return sql.format(job_type=f"coalesce(job_type, {default})" if _has_column(con, "quotes", "job_type")
                          else default)
    return sql


def _has_column(con, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
                            "AND column_name = ?", [table, column]).fetchone()[0])


def published_indicators(economic: pd.DataFrame, as_of) -> pd.DataFrame:
    """The rows of monthly indicators published on or before ``as_of``, sorted by month.

    A row's ``published_at`` says when it became known; where it is missing (or the frame
    has no such column) the default lag applies: the 15th of the following month
    (:func:`quantlib.data.contracts.default_published_at`).
    """
    e = economic.copy()
    e["month"] = pd.to_datetime(e["month"])
    default = default_published_at(e["month"]).to_numpy()
    published = pd.to_datetime(e["published_at"]) if "published_at" in e else pd.Series(pd.NaT, index=e.index)
    e["published_at"] = published.fillna(pd.Series(default, index=e.index)).astype("datetime64[ns]")
    e = e[e["published_at"].dt.normalize() <= pd.Timestamp(as_of).normalize()]
    return e.sort_values("month").reset_index(drop=True)


def active_technicians(technicians: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """The technicians on the roster at ``as_of``: hired by then and not yet gone.

    ``technicians`` is a snapshot's table (``hire_date``, ``termination_date``); without
    ``as_of`` its ``active`` column (the roster at the snapshot's date) decides.
    """
    t = technicians
    if as_of is None:
        return t[t["active"].astype(bool)].reset_index(drop=True) if "active" in t else t.reset_index(drop=True)
    as_of = pd.Timestamp(as_of).normalize()
    keep = pd.to_datetime(t["hire_date"]) <= as_of
    if "termination_date" in t:
        end = pd.to_datetime(t["termination_date"])
        keep &= end.isna() | (end > as_of)
    return t[keep].reset_index(drop=True)


def warehouse_snapshot(source, as_of=None, tables=None) -> Snapshot:
    """Read the tables the forecasting engines need, as they were known at ``as_of``.

    Parameters
    ----------
    source : path, Lake or duckdb.DuckDBPyConnection
        The gold DuckDB file (a :class:`~quantlib.data.lake.Lake` stands for its ``gold``).
    as_of : date-like, optional
        The date of the snapshot; defaults to ``build_params.as_of``. Nothing after it is
        read: quotes decided later are open, jobs completed later are not completed,
        invoices issued later and payments made later are absent, an invoice written off
        later is open (its ``status`` comes from the payments and write-off dated by
        then), a month of economic indicators is present only once published
        (``published_at``), expenses recorded later do not accrue, and technicians who
        leave later are on the roster (``technicians.active``; the table holds everyone
        hired by then, with the terminations known then).
    tables : iterable of str, optional
        Which tables (default: all of ``quotes, leads, jobs, invoices, payments,
        open_invoices, contracts, expense_accruals, economic_indicators, technicians``).

    Returns
    -------
    Snapshot
    """
    with open_gold(source) as con:
        data_as_of = pd.Timestamp(con.execute("SELECT as_of FROM build_params").fetchone()[0])
        as_of = data_as_of if as_of is None else pd.Timestamp(as_of).normalize()
        if as_of > data_as_of:
            raise ValueError(f"as_of {as_of.date()} is after the data's as-of date {data_as_of.date()}")
        names = list(_SNAPSHOT_SQL) if tables is None else list(tables)
        unknown = set(names) - set(_SNAPSHOT_SQL)
        if unknown:
            raise ValueError(f"unknown snapshot tables {sorted(unknown)}; known: {sorted(_SNAPSHOT_SQL)}")
        out = {}
        for name in names:
            df = con.execute(_snapshot_sql(con, name), {"as_of": as_of.date()}).df()
            for col in df.columns:
                if df[col].dtype == object or str(df[col].dtype).startswith("str"):
                    continue
                if "date" in str(df[col].dtype) or col in ("month", "published_at", "written_off_at",
                                                           "termination_date"):
                    df[col] = pd.to_datetime(df[col])
            out[name] = df
        return Snapshot(as_of=as_of, tables=out)


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------

def _require(df: pd.DataFrame, columns, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; it has {list(df.columns)}")


def _check_quotes(quotes: pd.DataFrame) -> pd.DataFrame:
    _require(quotes, QUOTE_COLUMNS, "quotes")
    q = quotes.copy()
    q["created_at"] = pd.to_datetime(q["created_at"])
    q["decided_at"] = pd.to_datetime(q["decided_at"])
    for col in ("amount", "list_amount"):
        q[col] = pd.to_numeric(q[col], errors="coerce")
        bad = ~(q[col] > 0)
        if bad.any():
            raise ValueError(f"quotes.{col} must be positive and present; {int(bad.sum())} row(s) are not "
                             f"(e.g. quote {q.loc[bad, 'quote_id'].iloc[0]!r})")
    unknown = set(q["status"].dropna().unique()) - {"open", "won", "lost"}
    if unknown:
        raise ValueError(f"quotes.status must be open, won or lost; found {sorted(unknown)}")
    undecided = q["status"].isin(["won", "lost"]) & q["decided_at"].isna()
    if undecided.any():
        raise ValueError(f"{int(undecided.sum())} won/lost quote(s) have no decided_at")
    return q


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class QuoteConversionModel(BaseEstimator):
    """Probability that an open quote is won, and the timing of its revenue.

    Parameters
    ----------
    model : {"logistic", "boosting", "bayes"}
        ``"logistic"``: L2-regularised logistic regression (maximum likelihood is calibrated
        by construction); ``"boosting"``: histogram gradient boosting, calibrated by
        isotonic regression on time-ordered folds; ``"bayes"`` (with ``price_terms="segment"``):
        the same logistic terms in PyMC, sampled with nutpie, the segments' price slopes
        partially pooled (``slope_s = mu + tau z_s``, ``mu ~ N(0, 10)``, ``tau ~ HalfNormal(5)``,
        ``z_s ~ N(0, 1)``; line and urgent shifts ``~ N(0, 5)``; the other coefficients
        ``~ N(0, 1)`` on standardised features, the intercept ``~ N(0, 2.5)``). Probabilities
        average over posterior draws.
    C : float
        Inverse regularisation strength of the logistic regression.
    min_quotes : int
        Fewest decided quotes (with at least one won and one lost) needed to fit.
    age_snapshots : int
        Each decided quote is seen at up to this many ages while it was open (the day it
        was created, half-way, the day before its decision), so the model answers "given
        that this quote has been open ``a`` days, will it be won?".
    random_state : int
        Seed of the gradient boosting and of the sampler.
    price_terms : {None, "segment"}
        ``None``: one price coefficient for every quote. ``"segment"`` (logistic or bayes): the
        price slope differs by the quote's segment, service line and urgency, through the
        terms ``(price_ratio - 1) x segment`` (one per segment), ``(price_ratio - 1) x
        service line`` (all but the first line) and ``(price_ratio - 1) x urgent``, plus the
        segment itself. The quotes given to :meth:`fit` and the predicting methods then need
        a ``segment`` column: :func:`quantlib.data.price_segments.quote_segments`, the rule
        the generator draws price sensitivity from.
    draws, tune, chains : int
        Sampler settings of ``model="bayes"``.

    Attributes
    ----------
    classes_ : numpy.ndarray
        ``["lost", "won"]``, the columns of :meth:`predict_proba`.
    as_of_ : pandas.Timestamp
        Only quotes decided on or before this date were used.
    n_train_ : int
        Decided quotes used.
    base_rate_ : float
        Share of those won.
    coef_ : pandas.Series
        Logistic coefficients on the standardised features (``model="logistic"`` only).
    price_effect_ : float
        Average change of the win probability when the price ratio rises by 0.1
        (10 % above list), all else equal; negative when higher prices lose quotes.
    elasticity_ : pandas.DataFrame or None
        ``price_terms="segment"`` only: per segment (index), ``n_quotes`` (decided quotes
        used), ``coef`` (the price coefficient on the raw ``price_ratio - 1`` scale, averaged
        over the segment's quotes, so over its mix of service lines and urgency),
        ``std_error`` and the 95 % interval ``lower, upper`` (normal, from the inverse
        Hessian of the penalised log-likelihood; for ``model="bayes"`` the posterior mean,
        standard deviation and central 95 % interval).
    price_coef_ : pandas.DataFrame or None
        ``price_terms="segment"`` only: each price term on the raw scale (``coef``,
        ``std_error``): ``segment:<s>`` the slope of a routine quote of the first service
        line, ``line:<l>`` the shift of line ``l``, ``urgent`` the shift of urgent quotes.
    posterior_ : dict or None
        ``model="bayes"`` only: posterior draws of ``intercept`` (n_draws,) and ``coef``
        (n_draws, n_features) on the raw features (``feature_names_``); also ``idata_`` (the
        sampler's InferenceData), ``compile_seconds_`` and ``sampling_seconds_``.
    decision_days_ : numpy.ndarray
        Days from creation to decision of the decided quotes.
    job_lag_days_ : numpy.ndarray
        Days from a won decision to the completed job (``[0]`` when jobs are not given).
    service_lines_ : list of str
    """

    def __init__(self, model: str = "logistic", C: float = 1.0, min_quotes: int = 30,
                 age_snapshots: int = 3, random_state: int = 0, price_terms: str | None = None,
                 draws: int = 500, tune: int = 500, chains: int = 2) -> None:
        self.model = model
        self.C = C
        self.min_quotes = min_quotes
        self.age_snapshots = age_snapshots
        self.random_state = random_state
        self.price_terms = price_terms
        self.draws = draws
        self.tune = tune
        self.chains = chains

    # ------------------------------------------------------------------ features
    def _confidence_at(self, dates: pd.Series) -> np.ndarray:
        econ = getattr(self, "economic_", None)
        if econ is None or econ.empty:
            return np.full(len(dates), np.nan)
        months = pd.to_datetime(dates).dt.to_period("M").dt.to_timestamp()
        lookup = econ.set_index("month")["consumer_confidence"]
        values = lookup.reindex(months).to_numpy(dtype=float)
        # A month without a value (after the last known month) takes the last known one.
        return np.where(np.isnan(values), float(lookup.iloc[-1]), values)

    def _features(self, q: pd.DataFrame, age: np.ndarray, at: pd.Series, price_shift: float = 0.0) -> pd.DataFrame:
        X = {}  # columns in order, made into one frame at the end (faster than adding them one by one)
        ratio = (q["amount"] / q["list_amount"]).to_numpy() + price_shift
        if getattr(self, "segments_", None) is None:
            X["price_ratio"] = ratio
        X["log_amount"] = np.log(q["amount"].to_numpy(dtype=float))
        X["urgent"] = q["urgency"].isin(["urgent", "emergency"]).to_numpy(dtype=float)
        X["age_days"] = np.asarray(age, dtype=float)
        if self.use_confidence_:
            X["consumer_confidence"] = self._confidence_at(at)
        for line in self.service_lines_[1:]:
            X[f"line_{line}"] = (q["service_line"] == line).to_numpy(dtype=float)
        if getattr(self, "segments_", None) is not None:
            segment = self._segment_of(q)
            for name in self.segments_[1:]:
                X[f"segment_{name}"] = (segment == name).astype(float)
            # Price terms on price_ratio - 1, so the segment and line terms are effects at list price.
            price = ratio - 1.0
            for name in self.segments_:
                X[f"price:segment:{name}"] = price * (segment == name)
            for line in self.service_lines_[1:]:
                X[f"price:line:{line}"] = price * (q["service_line"] == line).to_numpy()
            X["price:urgent"] = price * X["urgent"]
        return pd.DataFrame(X, index=q.index)

    def _segment_of(self, q: pd.DataFrame) -> np.ndarray:
        if "segment" not in q.columns:
            raise ValueError("price_terms='segment' needs a 'segment' column on the quotes; add it with "
                             "quantlib.data.price_segments.quote_segments(quotes, customers, contracts)")
        segment = q["segment"].to_numpy(dtype=object)
        unknown = sorted(set(segment) - set(self.segments_), key=str)
        if unknown:
            raise ValueError(f"quote segment(s) {unknown} were not seen in fit; known: {self.segments_}")
        return segment

    # ------------------------------------------------------------------ fit
    def fit(self, quotes: pd.DataFrame, as_of=None, jobs: pd.DataFrame | None = None,
            economic: pd.DataFrame | None = None) -> "QuoteConversionModel":
        """Learn win probabilities and timing from the quotes decided by ``as_of``.

        Parameters
        ----------
        quotes : DataFrame
            ``quote_id, service_line, urgency, created_at, amount, list_amount, status,
            decided_at`` (the silver ``quotes`` table).
        as_of : date-like, optional
            Cutoff: quotes decided after it are treated as open (not used). Defaults to the
            latest ``decided_at``.
        jobs : DataFrame, optional
            ``quote_id, completed_at`` of jobs, to learn the lag from a won decision to
            the completed job (revenue). Without it the lag is 0 days.
        economic : DataFrame, optional
            ``month, consumer_confidence`` (and ``published_at``): adds consumer confidence
            (at the quote's creation month) as a feature. Only the months published by
            ``as_of`` are used (without ``published_at``: from the 15th of the next month);
            later months take the last published value.

        Returns
        -------
        self
        """
        if self.model not in ("logistic", "boosting", "bayes"):
            raise ValueError(f"model must be 'logistic', 'boosting' or 'bayes', got {self.model!r}")
        if self.price_terms not in (None, "segment"):
            raise ValueError(f"price_terms must be None or 'segment', got {self.price_terms!r}")
        if self.price_terms == "segment" and self.model == "boosting":
            raise ValueError("price_terms='segment' needs model='logistic' or 'bayes'")
        if self.model == "bayes" and self.price_terms != "segment":
            raise ValueError("model='bayes' pools the segments' price slopes: it needs price_terms='segment'")
        q = _check_quotes(quotes)
        as_of = q["decided_at"].max() if as_of is None else pd.Timestamp(as_of)
        if pd.isna(as_of):
            raise ValueError("no decided quotes: cannot learn a conversion rate")
        as_of = pd.Timestamp(as_of).normalize()
        decided = q[q["status"].isin(["won", "lost"]) & (q["decided_at"].dt.normalize() <= as_of)]
        decided = decided.reset_index(drop=True)
        won = (decided["status"] == "won").to_numpy()
        if len(decided) < self.min_quotes or won.all() or not won.any():
            raise ValueError(f"need at least {self.min_quotes} quotes decided by {as_of.date()}, won and "
                             f"lost both present; have {len(decided)} ({int(won.sum())} won)")
        self.classes_ = np.array(["lost", "won"], dtype=object)
        self.as_of_ = as_of
        self.n_train_ = len(decided)
        self.base_rate_ = float(won.mean())
        self.service_lines_ = sorted(decided["service_line"].unique())
        self.segments_ = None
        if self.price_terms == "segment":
            if "segment" not in decided.columns or decided["segment"].isna().any():
                raise ValueError("price_terms='segment' needs a 'segment' on every quote; add it with "
                                 "quantlib.data.price_segments.quote_segments(quotes, customers, contracts)")
            present = set(decided["segment"])
            self.segments_ = ([s for s in QUOTE_SEGMENTS if s in present]
                              + sorted(present - set(QUOTE_SEGMENTS), key=str))
        self.economic_ = None
        self.use_confidence_ = False
        if economic is not None:
            _require(economic, ("month", "consumer_confidence"), "economic")
            econ = economic[["month", "consumer_confidence"]].dropna().copy()
            if "published_at" in economic:
                econ["published_at"] = economic.loc[econ.index, "published_at"]
            # Only the months published by as_of (by default mid next month) are known.
            econ = published_indicators(econ, as_of)[["month", "consumer_confidence"]]
            econ["month"] = econ["month"].dt.to_period("M").dt.to_timestamp()
            if len(econ):
                self.economic_ = econ
                self.use_confidence_ = True
        # Timing.
        days = (decided["decided_at"] - decided["created_at"]).dt.total_seconds().to_numpy() / 86400
        self.decision_days_ = np.maximum(np.round(days), 0).astype(int)
        self.job_lag_days_ = np.array([0])
        if jobs is not None:
            _require(jobs, ("quote_id", "completed_at"), "jobs")
            j = jobs.dropna(subset=["quote_id", "completed_at"])
            j = j.assign(completed_at=pd.to_datetime(j["completed_at"]))
            w = decided[won][["quote_id", "decided_at"]].merge(j[["quote_id", "completed_at"]], on="quote_id")
            w = w[w["completed_at"].dt.normalize() <= as_of]
            if len(w):
                lag = (w["completed_at"].dt.normalize() - w["decided_at"].dt.normalize()).dt.days.to_numpy()
                self.job_lag_days_ = np.maximum(lag, 0).astype(int)
        self.job_share_ = 1.0
        # Training rows: each decided quote seen at a few ages while open.
        ages, rows = [], []
        for k in range(max(1, self.age_snapshots)):
            frac = 0.0 if self.age_snapshots <= 1 else k / (self.age_snapshots - 1)
            ages.append(np.floor(frac * np.maximum(self.decision_days_ - 1, 0)))
            rows.append(np.arange(len(decided)))
        rows = np.concatenate(rows)
        ages = np.concatenate(ages)
        keys = pd.DataFrame({"row": rows, "age": ages}).drop_duplicates()
        q_rows = decided.iloc[keys["row"].to_numpy()].reset_index(drop=True)
        at = q_rows["created_at"] + pd.to_timedelta(keys["age"].to_numpy(), unit="D")
        X = self._features(q_rows, keys["age"].to_numpy(), at)
        y = won[keys["row"].to_numpy()].astype(int)
        weight = 1.0 / keys.groupby("row")["row"].transform("size").to_numpy()
        self.feature_names_ = list(X.columns)
        self._fit_estimator(X.to_numpy(dtype=float), y, weight)
        self.elasticity_ = None
        self.price_coef_ = None
        if self.segments_ is not None:
            self._price_terms(X.to_numpy(dtype=float), y, weight, decided)
        # Price effect: +0.1 on the price ratio for the quotes of the training period.
        X0 = self._features(decided, np.zeros(len(decided)), decided["created_at"])
        X1 = self._features(decided, np.zeros(len(decided)), decided["created_at"], price_shift=0.1)
        self.price_effect_ = float(np.mean(self._proba(X1.to_numpy(float)) - self._proba(X0.to_numpy(float))))
        return self

    def _fit_estimator(self, X, y, weight) -> None:
        from sklearn.preprocessing import StandardScaler

        self.posterior_ = None
        if self.model == "bayes":
            # Sampled with the price terms in _price_terms, where the segments are known.
            self.scaler_ = StandardScaler().fit(X)
            self.estimator_ = None
            self.coef_ = None
            return
        if self.model == "logistic":
            from sklearn.linear_model import LogisticRegression

            self.scaler_ = StandardScaler().fit(X)
            Z = self.scaler_.transform(X)
            est = LogisticRegression(C=self.C, max_iter=1000)
            est.fit(Z, y, sample_weight=weight)
            self.estimator_ = est
            self.coef_ = pd.Series(est.coef_[0], index=self.feature_names_, name="coef")
            self.intercept_ = float(est.intercept_[0])
        else:
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.ensemble import HistGradientBoostingClassifier
            from sklearn.model_selection import KFold

            self.scaler_ = None
            base = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200,
                                                  random_state=self.random_state)
            est = CalibratedClassifierCV(base, method="isotonic", cv=KFold(3))
            est.fit(X, y, sample_weight=weight)
            self.estimator_ = est
            self.coef_ = None

    def _price_terms(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray, decided: pd.DataFrame) -> None:
        """``price_coef_`` and ``elasticity_`` (and, for ``model="bayes"``, the posterior itself).

        Logistic: the covariance is the inverse Hessian of the objective scikit-learn minimises
        (divided by ``C``): the weighted log-likelihood plus the ridge ``|beta|^2 / (2 C)`` on
        the standardised coefficients (the intercept unpenalised), i.e. a Laplace
        approximation. Raw-scale coefficients are the standardised ones divided by the
        feature's scale.
        """
        names = self.feature_names_
        terms = [i for i, name in enumerate(names) if name.startswith("price:")]
        term_index = pd.Index([names[i].removeprefix("price:") for i in terms], name="term")
        # Each segment's average slope is a linear combination a @ coef of the raw coefficients.
        urgent = decided["urgency"].isin(["urgent", "emergency"]).to_numpy(dtype=float)
        combos, counts = [], []
        for name in self.segments_:
            mine = (decided["segment"] == name).to_numpy()
            a = np.zeros(len(names))
            a[names.index(f"price:segment:{name}")] = 1.0
            for line in self.service_lines_[1:]:
                a[names.index(f"price:line:{line}")] = float(np.mean(decided["service_line"].to_numpy()[mine] == line))
            a[names.index("price:urgent")] = float(urgent[mine].mean())
            combos.append(a)
            counts.append(int(mine.sum()))
        A = np.array(combos)
        if self.model == "bayes":
            intercept, coef = self._sample(X, y, weight)
            self.posterior_ = {"intercept": intercept, "coef": coef}
            slopes = coef @ A.T  # draws x segments
            self.price_coef_ = pd.DataFrame({"coef": coef[:, terms].mean(axis=0),
                                             "std_error": coef[:, terms].std(axis=0, ddof=1)}, index=term_index)
            self.elasticity_ = pd.DataFrame({
                "n_quotes": counts, "coef": slopes.mean(axis=0), "std_error": slopes.std(axis=0, ddof=1),
                "lower": np.quantile(slopes, 0.025, axis=0), "upper": np.quantile(slopes, 0.975, axis=0)},
                index=pd.Index(self.segments_, name="segment"))
            return
        Z = np.column_stack([np.ones(len(X)), self.scaler_.transform(X)])
        p = self._proba(X)
        hessian = (Z * (weight * p * (1 - p))[:, None]).T @ Z
        hessian[1:, 1:] += np.eye(Z.shape[1] - 1) / self.C
        cov_z = np.linalg.pinv(hessian)[1:, 1:]
        scale = self.scaler_.scale_
        coef = self.estimator_.coef_[0] / scale
        cov = cov_z / np.outer(scale, scale)
        self.price_coef_ = pd.DataFrame({"coef": coef[terms], "std_error": np.sqrt(np.diag(cov)[terms])},
                                        index=term_index)
        se = np.sqrt(np.einsum("ij,jk,ik->i", A, cov, A))
        self.elasticity_ = pd.DataFrame({
            "n_quotes": counts, "coef": A @ coef, "std_error": se,
            "lower": A @ coef - 1.959964 * se, "upper": A @ coef + 1.959964 * se},
            index=pd.Index(self.segments_, name="segment"))

    def _sample(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior draws of the intercept and the raw-scale coefficients (``model="bayes"``)."""
        import os
        import time

        os.environ.setdefault("PYTENSOR_FLAGS", "base_compiledir=" + os.path.join(
            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".cache", "pytensor"))
        import nutpie
        import pymc as pm

        names = self.feature_names_
        seg = [names.index(f"price:segment:{s}") for s in self.segments_]
        shift = [i for i, n in enumerate(names) if n.startswith("price:") and i not in seg]
        other = [i for i, n in enumerate(names) if not n.startswith("price:")]
        # The price terms stay on the raw scale so their priors read as slopes; the rest is standardised.
        mean, scale = self.scaler_.mean_[other], self.scaler_.scale_[other]
        Z = (X[:, other] - mean) / scale
        with pm.Model() as model:
            intercept = pm.Normal("intercept", 0.0, 2.5)
            beta = pm.Normal("beta", 0.0, 1.0, shape=len(other))
            mu = pm.Normal("mu", 0.0, 10.0)
            tau = pm.HalfNormal("tau", 5.0)
            z = pm.Normal("z", 0.0, 1.0, shape=len(seg))
            slope = pm.Deterministic("slope", mu + tau * z)
            shifts = pm.Normal("shifts", 0.0, 5.0, shape=len(shift))
            eta = intercept + Z @ beta + X[:, seg] @ slope + X[:, shift] @ shifts
            # Weighted Bernoulli log-likelihood: each quote counts once over its age snapshots.
            pm.Potential("loglik", (weight * (y * eta - pm.math.log1pexp(eta))).sum())
        start = time.perf_counter()
        compiled = nutpie.compile_pymc_model(model)
        self.compile_seconds_ = time.perf_counter() - start
        start = time.perf_counter()
        self.idata_ = nutpie.sample(compiled, draws=self.draws, tune=self.tune, chains=self.chains,
                                    cores=min(self.chains, os.cpu_count() or 1), seed=self.random_state,
                                    progress_bar=False, save_warmup=False)
        self.sampling_seconds_ = time.perf_counter() - start
        post = self.idata_.posterior

        def stacked(name):
            v = post[name].to_numpy()
            return v.reshape(v.shape[0] * v.shape[1], *v.shape[2:])

        coef = np.zeros((len(stacked("intercept")), len(names)))
        coef[:, other] = stacked("beta") / scale
        coef[:, seg] = stacked("slope")
        coef[:, shift] = stacked("shifts")
        intercept = stacked("intercept") - (stacked("beta") / scale) @ mean
        return intercept, coef

    def _proba(self, X: np.ndarray) -> np.ndarray:
        posterior = getattr(self, "posterior_", None)
        if posterior is not None:
            # Thinned to at most 400 draws: the mean probability settles well before that.
            step = max(1, len(posterior["intercept"]) // 400)
            eta = posterior["intercept"][::step] + X @ posterior["coef"][::step].T
            return _sigmoid(eta).mean(axis=1)
        if self.scaler_ is not None:
            X = self.scaler_.transform(X)
        return self.estimator_.predict_proba(X)[:, 1]

    def _check_fitted(self) -> None:
        check_is_fitted(self, "estimator_")

    # ------------------------------------------------------------------ predict
    def predict_proba(self, quotes: pd.DataFrame, as_of=None) -> np.ndarray:
        """``(n, 2)`` probabilities of ``classes_`` (lost, won), as scikit-learn classifiers return them.

        See :meth:`win_probability` for the parameters; that method gives the win
        probability alone, indexed like ``quotes``.
        """
        p = self.win_probability(quotes, as_of=as_of).to_numpy()
        return np.column_stack([1.0 - p, p])

    def win_probability(self, quotes: pd.DataFrame, as_of=None) -> pd.Series:
        """Win probability of each quote, seen as open at ``as_of``.

        Parameters
        ----------
        quotes : DataFrame
            Same columns as for :meth:`fit` (``status`` and ``decided_at`` are ignored).
        as_of : date-like, optional
            The day the question is asked (gives the quote's age); defaults to
            ``as_of_``. For decided quotes in an evaluation, pass nothing and the age is
            taken as 0 (the probability at creation).

        Returns
        -------
        pandas.Series
            Indexed like ``quotes``, named ``p_win``.
        """
        self._check_fitted()
        p = self._proba(self._design(quotes, as_of).to_numpy(dtype=float))
        return pd.Series(p, index=quotes.index, name="p_win")

    def _design(self, quotes: pd.DataFrame, as_of=None) -> pd.DataFrame:
        """The feature matrix of ``quotes`` seen at ``as_of`` (see :meth:`win_probability`)."""
        q = quotes.copy()
        _require(q, ("service_line", "urgency", "created_at", "amount", "list_amount"), "quotes")
        q["created_at"] = pd.to_datetime(q["created_at"])
        for col in ("amount", "list_amount"):
            if not (pd.to_numeric(q[col], errors="coerce") > 0).all():
                raise ValueError(f"quotes.{col} must be positive and present")
        if as_of is None:
            age = np.zeros(len(q))
            at = q["created_at"]
        else:
            at_ts = pd.Timestamp(as_of).normalize()
            age = np.maximum((at_ts - q["created_at"].dt.normalize()).dt.days.to_numpy(), 0)
            at = pd.Series(at_ts, index=q.index)
        return self._features(q, age, at)

    def price_curve(self, quote, as_of=None):
        """One quote's win probability as a function of its price, for many prices at once.

        The quote's features are built once. Only the price-dependent ones change with the
        price: the price ratio and the price x segment / line / urgent terms (linear in
        ``amount / list_amount``) and the log amount; the returned function fills them in for
        a whole array of prices and calls the model once. It equals :meth:`win_probability`
        of the quote with ``amount`` set to each price (up to rounding).

        Parameters
        ----------
        quote : Series, dict or one-row DataFrame
            The columns :meth:`win_probability` needs; ``amount`` is ignored.
        as_of : date-like, optional
            As in :meth:`win_probability`.

        Returns
        -------
        callable
            ``prices`` (array-like, positive) -> win probabilities (numpy array).
        """
        self._check_fitted()
        row = quote.iloc[[0]] if isinstance(quote, pd.DataFrame) else pd.DataFrame([dict(quote)])
        reference = float(row["list_amount"].iloc[0])
        pair = pd.concat([row, row], ignore_index=True)
        pair["amount"] = [reference, 2.0 * reference]
        design = self._design(pair, as_of)
        X = design.to_numpy(dtype=float)
        log_amount = design.columns.get_loc("log_amount")
        base, step = X[0].copy(), X[1] - X[0]  # at the list price; per unit of price ratio
        step[log_amount] = 0.0
        linear = getattr(self, "posterior_", None) is None and self.scaler_ is not None and self.coef_ is not None
        if linear:
            # Logistic: the log-odds are linear in the features, so in (ratio - 1) and log(price).
            w = self.estimator_.coef_[0] / self.scaler_.scale_
            eta0 = float(self.estimator_.intercept_[0] + (base - self.scaler_.mean_) @ w)
            slope, w_log = float(step @ w), float(w[log_amount])

        def probability(prices) -> np.ndarray:
            prices = np.atleast_1d(np.asarray(prices, dtype=float))
            if not (prices > 0).all():
                raise ValueError("prices must be positive")
            if linear:
                return _sigmoid(eta0 + slope * (prices / reference - 1.0) + w_log * (np.log(prices) - base[log_amount]))
            grid = base + np.outer(prices / reference - 1.0, step)
            grid[:, log_amount] = np.log(prices)
            return self._proba(grid)

        return probability

    def _decision_pmf(self, age: int, max_days: int) -> np.ndarray:
        """P(decision ``k`` days after ``as_of``), k = 0..max_days-1, given the quote is ``age`` days old."""
        d = self.decision_days_
        later = d[d > age]
        pmf = np.zeros(max_days)
        if len(later) == 0:
            # Older than every decided quote: decided within the next week, evenly.
            pmf[: min(7, max_days)] = 1.0 / min(7, max_days)
            return pmf
        k = np.clip(later - age - 1, 0, None)
        counts = np.bincount(k, minlength=max_days)[:max_days]
        return counts / len(later)

    def _lag_pmf(self, max_days: int) -> np.ndarray:
        counts = np.bincount(np.clip(self.job_lag_days_, 0, None), minlength=max_days)[:max_days]
        return counts / max(len(self.job_lag_days_), 1)

    def expected_pipeline(self, open_quotes: pd.DataFrame, as_of=None) -> pd.DataFrame:
        """Expected value and timing of each open quote.

        Parameters
        ----------
        open_quotes : DataFrame
            Quotes still open at ``as_of`` (columns as for :meth:`fit`).
        as_of : date-like, optional
            Defaults to ``as_of_``.

        Returns
        -------
        DataFrame
            One row per quote: ``quote_id, service_line, amount, age_days, p_win,
            expected_value, expected_decision_date, decision_p10_date, decision_p90_date,
            expected_revenue_date`` (decision plus the mean lag to the completed job).
        """
        self._check_fitted()
        as_of = self.as_of_ if as_of is None else pd.Timestamp(as_of).normalize()
        if open_quotes.empty:
            return pd.DataFrame(columns=["quote_id", "service_line", "amount", "age_days", "p_win",
                                         "expected_value", "expected_decision_date",
                                         "decision_p10_date", "decision_p90_date",
                                         "expected_revenue_date"])
        q = open_quotes.reset_index(drop=True)
        p = self.win_probability(q, as_of=as_of).to_numpy()
        age = np.maximum((as_of - pd.to_datetime(q["created_at"]).dt.normalize()).dt.days.to_numpy(), 0)
        mean_lag = float(np.mean(self.job_lag_days_))
        rows = []
        for a in age:
            pmf = self._decision_pmf(int(a), 400)
            cdf = np.cumsum(pmf)
            mean = float((np.arange(len(pmf)) * pmf).sum()) + 1
            p10 = int(np.searchsorted(cdf, 0.1)) + 1
            p90 = int(np.searchsorted(cdf, 0.9)) + 1
            rows.append((mean, p10, p90))
        rows = np.array(rows)
        out = pd.DataFrame({
            "quote_id": q["quote_id"] if "quote_id" in q else np.arange(len(q)),
            "service_line": q["service_line"], "amount": q["amount"].astype(float),
            "age_days": age, "p_win": p, "expected_value": p * q["amount"].to_numpy(float),
            "expected_decision_date": as_of + pd.to_timedelta(np.round(rows[:, 0]), unit="D"),
            "decision_p10_date": as_of + pd.to_timedelta(rows[:, 1], unit="D"),
            "decision_p90_date": as_of + pd.to_timedelta(rows[:, 2], unit="D"),
        })
        out["expected_revenue_date"] = out["expected_decision_date"] + pd.Timedelta(days=round(mean_lag))
        return out

    def pipeline_schedule(self, open_quotes: pd.DataFrame, days: int, as_of=None,
                          by_service_line: bool = False) -> pd.DataFrame:
        """Expected revenue of the open quotes, spread over the next ``days`` days.

        Each quote contributes ``p_win x amount`` spread over the days by the distribution
        of its decision day (given its age) convolved with the lag from decision to the
        completed job. Mass that falls after the window is dropped.

        Returns
        -------
        DataFrame
            ``ds, expected_revenue`` (and ``service_line`` first when ``by_service_line``),
            ``ds`` from ``as_of + 1 day``.
        """
        self._check_fitted()
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        as_of = self.as_of_ if as_of is None else pd.Timestamp(as_of).normalize()
        ds = pd.date_range(as_of + pd.Timedelta(days=1), periods=days, freq="D")
        lag = self._lag_pmf(days)
        q = open_quotes.reset_index(drop=True)
        lines = sorted(q["service_line"].unique()) if by_service_line else ["all"]
        out = {line: np.zeros(days) for line in lines}
        if len(q):
            value = self.win_probability(q, as_of=as_of).to_numpy() * q["amount"].to_numpy(float)
            age = np.maximum((as_of - pd.to_datetime(q["created_at"]).dt.normalize()).dt.days.to_numpy(), 0)
            cache: dict[int, np.ndarray] = {}
            for i, a in enumerate(age):
                a = int(a)
                if a not in cache:
                    cache[a] = np.convolve(self._decision_pmf(a, days), lag)[:days]
                key = q["service_line"].iloc[i] if by_service_line else "all"
                out[key] += value[i] * cache[a]
        frames = [pd.DataFrame({"service_line": line, "ds": ds, "expected_revenue": v})
                  for line, v in out.items()]
        res = pd.concat(frames, ignore_index=True)
        return res if by_service_line else res.drop(columns="service_line")

    def backlog_schedule(self, quotes: pd.DataFrame, jobs: pd.DataFrame, days: int, as_of=None) -> pd.DataFrame:
        """Expected revenue of the won quotes whose job is not completed yet (the backlog).

        A quote won ``e`` days ago without a completed job lands on day ``e + d`` after its
        decision with the lag distribution conditional on being later than ``e``, weighted
        by the probability that it still becomes a job: ``s S(e) / (1 - s + s S(e))``, where
        ``s`` is the share of won quotes that became completed jobs among those decided
        long enough ago (the 95th percentile of the lags; 1 with fewer than 20 of them) and
        ``S(e)`` the probability that the lag exceeds ``e``.

        Returns
        -------
        DataFrame
            ``ds, expected_revenue`` from ``as_of + 1 day`` for ``days`` days.
        """
        self._check_fitted()
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        as_of = self.as_of_ if as_of is None else pd.Timestamp(as_of).normalize()
        ds = pd.date_range(as_of + pd.Timedelta(days=1), periods=days, freq="D")
        out = np.zeros(days)
        q = quotes[(quotes["status"] == "won") & (pd.to_datetime(quotes["decided_at"]).dt.normalize() <= as_of)]
        if jobs is None or q.empty or len(self.job_lag_days_) < 5:
            return pd.DataFrame({"ds": ds, "expected_revenue": out})
        done = jobs[jobs["is_completed"].astype(bool)]
        done = done[pd.to_datetime(done["completed_date"]).dt.normalize() <= as_of]
        jobbed = q["quote_id"].isin(set(done["quote_id"].dropna()))
        decided = pd.to_datetime(q["decided_at"]).dt.normalize()
        elapsed = (as_of - decided).dt.days.to_numpy()
        settled = elapsed > np.quantile(self.job_lag_days_, 0.95)
        share = float(jobbed[settled].mean()) if settled.sum() >= 20 else 1.0
        lags = np.clip(self.job_lag_days_, 0, None)
        pmf = np.bincount(lags, minlength=int(elapsed.max()) + days + 2) / len(lags)
        survival = 1.0 - np.cumsum(pmf)  # P(lag > e)
        for e, amount in zip(elapsed[~jobbed.to_numpy()], q.loc[~jobbed, "amount"].to_numpy(float)):
            e = int(max(e, 0))
            denom = (1.0 - share) + share * survival[e]
            if denom <= 1e-12 or survival[e] <= 1e-12:
                continue
            out += amount * share * pmf[e + 1:e + 1 + days] / denom
        return pd.DataFrame({"ds": ds, "expected_revenue": out})

    def calibration_report(self, quotes: pd.DataFrame) -> pd.DataFrame:
        """Calibration of the model on decided quotes (e.g. a held-out later period).

        (Not named ``score``: scikit-learn's ``score`` is one number, higher better.)

        Returns
        -------
        DataFrame
            One row: ``n, actual_win_rate, mean_predicted, brier, brier_base_rate, log_loss``
            (the base rate is the training win rate, a constant forecast).
        """
        self._check_fitted()
        q = _check_quotes(quotes)
        q = q[q["status"].isin(["won", "lost"])]
        if q.empty:
            raise ValueError("no decided quotes to score")
        y = (q["status"] == "won").to_numpy(float)
        p = np.clip(self.win_probability(q).to_numpy(), 1e-6, 1 - 1e-6)
        return pd.DataFrame([{
            "n": len(q), "actual_win_rate": y.mean(), "mean_predicted": p.mean(),
            "brier": float(np.mean((p - y) ** 2)),
            "brier_base_rate": float(np.mean((self.base_rate_ - y) ** 2)),
            "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        }])


def time_split(quotes: pd.DataFrame, cutoff) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split quotes at ``cutoff``: (quotes as known at the cutoff, quotes decided after it).

    The first frame is what :meth:`QuoteConversionModel.fit` may see with ``as_of=cutoff``
    (quotes decided later are shown as open, without their outcome); the second holds the
    quotes decided after the cutoff, with their outcome, for evaluation.
    """
    q = _check_quotes(quotes)
    cutoff = pd.Timestamp(cutoff).normalize()
    known = q[q["created_at"].dt.normalize() <= cutoff].copy()
    later = known["decided_at"].dt.normalize() > cutoff
    known.loc[later, "status"] = "open"
    known.loc[later, "decided_at"] = pd.NaT
    held_out = q[q["decided_at"].dt.normalize() > cutoff]
    return known.reset_index(drop=True), held_out.reset_index(drop=True)


def censor_snapshot(snapshot: Snapshot, as_of) -> Snapshot:
    """The snapshot as it was known at an earlier date ``as_of`` (in memory, no warehouse).

    Mirrors :func:`warehouse_snapshot`: quotes decided later are open, jobs completed later
    are not completed (no revenue, no hours), later invoices, payments, accruals (and
    expenses recorded later), hires and indicators published later are dropped, write-offs
    and terminations dated later are undone (the invoice is open, the technician active),
    and open invoices and invoice status are recomputed from invoices, payments and
    write-offs. Rolling-origin backtests call it once per origin.
    """
    as_of = pd.Timestamp(as_of).normalize()
    if as_of > snapshot.as_of:
        raise ValueError(f"as_of {as_of.date()} is after the snapshot's {snapshot.as_of.date()}")
    t = snapshot.tables
    out: dict[str, pd.DataFrame] = {}
    if "quotes" in t:
        q = t["quotes"]
        q = q[q["created_at"].dt.normalize() <= as_of].copy()
        later = q["decided_at"].dt.normalize() > as_of
        q.loc[later, "status"] = "open"
        q.loc[later, "decided_at"] = pd.NaT
        out["quotes"] = q
    if "leads" in t:
        ld = t["leads"]
        ld = ld[ld["created_at"].dt.normalize() <= as_of].copy()
        ld.loc[ld["quoted_at"].dt.normalize() > as_of, "quoted_at"] = pd.NaT
        out["leads"] = ld
    if "jobs" in t:
        j = t["jobs"]
        j = j[j["created_at"].dt.normalize() <= as_of].copy()
        later = ~(j["completed_date"] <= as_of)
        j.loc[later, ["completed_at", "completed_date"]] = pd.NaT
        j.loc[later, "is_completed"] = False
        j.loc[later, ["labor_hours", "revenue", "direct_cost"]] = 0.0
        j["is_cancelled"] = j["is_cancelled"] & (j["scheduled_start"].dt.normalize() <= as_of)
        out["jobs"] = j
    if "payments" in t:
        out["payments"] = t["payments"][t["payments"]["paid_date"] <= as_of].copy()
    if "invoices" in t:
        inv = t["invoices"][t["invoices"]["issued_date"] <= as_of].copy()
        if "written_off_at" in inv:
            # Written off later: open at as_of (a frame without the date keeps its flag).
            later = pd.to_datetime(inv["written_off_at"]) > as_of
            inv.loc[later, "written_off_at"] = pd.NaT
            inv["written_off"] = inv["written_off"].astype(bool) & ~later
        if "status" in inv and "payments" in out:
            paid = inv["invoice_id"].map(out["payments"].groupby("invoice_id")["amount"].sum()).fillna(0.0)
            inv["status"] = np.where(inv["written_off"], "written_off",
                                     np.where(paid >= inv["amount"] - 0.005, "paid", "open"))
        out["invoices"] = inv
    if "invoices" in t and "payments" in t:
        inv = out["invoices"]
        inv = inv[~inv["written_off"].astype(bool)]
        paid = out["payments"].groupby("invoice_id")["amount"].sum()
        open_amount = inv["amount"] - inv["invoice_id"].map(paid).fillna(0.0).to_numpy()
        oi = inv.assign(open_amount=open_amount)
        out["open_invoices"] = oi[oi["open_amount"].abs() > 0.005][
            ["invoice_id", "customer_id", "issued_date", "due_date", "amount", "open_amount"]
        ].reset_index(drop=True)
    if "contracts" in t:
        c = t["contracts"]
        c = c[c["start_date"] <= as_of].copy()
        c.loc[c["end_date"] > as_of, "end_date"] = pd.NaT
        out["contracts"] = c
    if "expense_accruals" in t:
        acc = t["expense_accruals"]
        keep = acc["date"] <= as_of
        if "recorded_date" in acc:
            keep &= acc["recorded_date"] <= as_of
        out["expense_accruals"] = acc[keep].copy()
    if "economic_indicators" in t:
        e = published_indicators(t["economic_indicators"], as_of)
        out["economic_indicators"] = e[list(t["economic_indicators"].columns.union(["published_at"], sort=False))]
    if "technicians" in t:
        tech = t["technicians"]
        tech = tech[tech["hire_date"] <= as_of].copy()
        if "termination_date" in tech:
            # Those who left after as_of were still on the roster then.
            end = pd.to_datetime(tech["termination_date"])
            tech.loc[end > as_of, "termination_date"] = pd.NaT
            tech["active"] = (end.isna() | (end > as_of)).to_numpy()
        out["technicians"] = tech.reset_index(drop=True)
    return Snapshot(as_of=as_of, tables=out)
