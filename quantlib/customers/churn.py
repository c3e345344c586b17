"""Churn risk: the spec's transparent rule score and a calibrated gradient-boosting model.

Both scorers take the customer snapshot of :func:`quantlib.customers.features.customer_snapshot`
and share one interface, scikit-learn's classifier interface (class 1: churned) plus the
explained table:

``fit(X, y=None) -> self``
    The rule scorer learns nothing; the model learns from labelled snapshots.
``predict_proba(X) -> ndarray``
    Shape ``(n, 2)``: the probabilities of classes 0 (kept) and 1 (churned), as
    scikit-learn classifiers return them; ``predict`` and ``score`` (mean accuracy) are
    scikit-learn's.
``score_frame(X) -> DataFrame``
    ``customer_id, score, band, intervention, reasons`` (the top reasons, most important
    first, joined by ``"; "``). Customers without a completed job are not scored
    (``score`` NaN, ``band`` ``"no history"``, NaN rows in ``predict_proba``, class 0 in
    ``predict``): there is no service, payment or satisfaction record to judge.
``explain(X) -> DataFrame``
    One row per customer and factor: ``customer_id, factor, contribution, reason``, only
    factors that raise the risk, most important first.

Bands map to the spec's interventions: high (score >= 0.7) -> immediate outreach,
medium (>= 0.4) -> proactive engagement, low -> quarterly check-in. A high-value customer
(top 20 % by spend in the last 365 days) with a score above 0.7 raises a churn alert
(:func:`churn_alerts`).

The rule score
--------------
Computed from the KPI module's rule table (:data:`quantlib.kpi.churn_rule.CHURN_RULES`), the
one source the warehouse's ``churn_rule_score`` macro and so ``customer_features.churn_score``
are generated from too: declining frequency, late payments,
disputes, low satisfaction and no recent contact, each worth fixed points, capped at 1. Each
rule's points are its contribution: the reasons are exactly the rules that fired.

The learned model
-----------------
:class:`LearnedChurnModel`: scikit-learn's ``HistGradientBoostingClassifier`` on the
snapshot features (missing values and categories handled natively), its probabilities
calibrated (isotonic by default) on a *later* labelled window than the one it was trained
on; :func:`fit_time_split` builds those windows from the warehouse so that no training
label looks past the calibration date and no calibration label past the data's end.
Labels are the observable proxy :func:`~quantlib.customers.features.churn_labels` (no
booking, job or interaction in the next ``horizon_days``), or any label you pass.

Its reasons are *occlusion* contributions: for each feature, the boosting model's raw
probability minus its raw probability with that one feature set to its training reference
(median, or most frequent category). They are computed before calibration on purpose: the
isotonic map is a step function, through which a feature change that crosses a step looks
huge and one inside a step looks like nothing. Raw and calibrated probabilities rank
customers the same way, but the contributions are raw-model points, so the reason texts
name the factor and its value, not points. This is a per-customer, model-agnostic
approximation, not SHAP: features that act together share or double-count their effect.
It answers "which of this customer's values push the risk up, compared with a typical
customer". The snapshot's time of year is never a reason (it is the same for everyone).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data
from threadpoolctl import threadpool_limits

from quantlib.customers.features import (
    CATEGORICAL_FEATURES,
    FEATURE_LABELS,
    NUMERIC_FEATURES,
    customer_snapshot,
)
from quantlib.data.gold import gold_as_of, open_gold
from quantlib.kpi.churn_rule import CHURN_RULES, CHURN_SCORE_CAP
from quantlib.kpi.formulas import CHURN_RISK_THRESHOLD

__all__ = ["BANDS", "INTERVENTIONS", "RISK_DIRECTIONS", "LearnedChurnModel", "RuleChurnScorer",
           "TabularChurnClassifier", "churn_alerts", "churn_summary", "fit_time_split", "high_value_flags", "risk_band"]

#: Lower score bounds of the bands (high is the spec's 0.7 alert threshold).
BANDS = {"high": CHURN_RISK_THRESHOLD, "medium": 0.4}
#: The spec's intervention for each band.
INTERVENTIONS = {"high": "immediate outreach", "medium": "proactive engagement", "low": "quarterly check-in",
                 "no history": "none: no completed job to judge"}
#: Share of active customers counted as high-value (top 20 % by spend in the last 365 days).
HIGH_VALUE_QUANTILE = 0.8
NO_HISTORY = "no history"
#: Direction in which each factor moves churn risk (+1 up, -1 down); the learned model's
#: default monotone constraints. Counts that grow with activity (late payments, callbacks)
#: are left free: their shares carry the direction.
RISK_DIRECTIONS = {
    "frequency_trend": -1, "late_payment_share": 1, "disputes": 1, "avg_rating": -1, "last_rating": -1,
    "last_contact_days": 1, "recency_days": 1, "has_contract": -1, "spend_trend": -1, "callback_share": 1,
    "complaints_365d": 1, "frequency_365d": -1, "avg_days_to_pay": 1, "jobs_last_180d": -1,
}

_REQUIRED = ["customer_id", "frequency_lifetime"]


def risk_band(score, high: float = BANDS["high"], medium: float = BANDS["medium"]) -> np.ndarray:
    """``"high"``, ``"medium"``, ``"low"`` for each score (``"no history"`` where NaN)."""
    s = np.asarray(score, dtype=float)
    return np.where(np.isnan(s), NO_HISTORY, np.where(s >= high, "high", np.where(s >= medium, "medium", "low")))


def _check_frame(X: pd.DataFrame, needed: list[str]) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"expected the customer snapshot as a DataFrame, got {type(X).__name__}")
    missing = [c for c in needed if c not in X.columns]
    if missing:
        raise ValueError(f"customer snapshot lacks column(s) {', '.join(missing)}; "
                         "build it with quantlib.customers.features.customer_snapshot")
    # Stacked snapshots (several as_of dates) repeat customers; one snapshot must not.
    key = [c for c in ("customer_id", "as_of") if c in X.columns]
    if "customer_id" in key and X.duplicated(key).any():
        dup = X.loc[X.duplicated(key), "customer_id"].iloc[0]
        raise ValueError(f"customer_id {dup!r} appears more than once in the snapshot")


def _scored_frame(X: pd.DataFrame, score: np.ndarray, reasons: list[str], high: float, medium: float) -> pd.DataFrame:
    band = risk_band(score, high, medium)
    return pd.DataFrame({
        "customer_id": X["customer_id"].to_numpy(),
        "score": score,
        "band": band,
        "intervention": [INTERVENTIONS[b] for b in band],
        "reasons": reasons,
    })


def _two_class_proba(p_churn: np.ndarray) -> np.ndarray:
    """``(n, 2)`` columns P(kept), P(churned) from P(churned) (NaN rows stay NaN)."""
    p = np.asarray(p_churn, dtype=float)
    return np.column_stack([1.0 - p, p])


def _predict_from_proba(proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    # Unscored rows (NaN) are predicted kept: nothing in their record points to churn.
    return classes[(np.nan_to_num(proba[:, 1], nan=0.0) >= 0.5).astype(int)]


def _reason_strings(explained: pd.DataFrame, ids, n: int, empty: str) -> list[str]:
    top = explained.groupby("customer_id", sort=False).head(n)
    joined = top.groupby("customer_id", sort=False)["reason"].agg("; ".join)
    return joined.reindex(pd.Index(ids)).fillna(empty).tolist()


# --------------------------------------------------------------------------- rule score

#: The reason text of each rule, by factor. The thresholds and points are not here: they are
#: the rule table's (quantlib.kpi.churn_rule.CHURN_RULES), shared with the warehouse's SQL.
REASONS = {
    "declining_frequency": "service frequency down {pct_drop:.0%} on the previous 180 days",
    "late_payments": "{late_payment_share:.0%} of invoices paid late",
    "disputes": "{disputes:.0f} disputed invoice(s)",
    "satisfaction": "average satisfaction {avg_rating:.1f} / 10",
    "no_contact": "no contact for {last_contact_days:.0f} days",
}
#: (factor, (threshold, points) tiers, reason template) of the rule score, in the order of the spec.
RULES = tuple((rule.factor, rule.tiers, REASONS[rule.factor]) for rule in CHURN_RULES)


class RuleChurnScorer(ClassifierMixin, BaseEstimator):
    """The product spec's transparent churn rule score, with its rules as reasons.

    Parameters
    ----------
    high, medium : float
        Lower bounds of the high and medium bands.
    n_reasons : int
        Reasons listed per customer.

    Attributes
    ----------
    classes_ : ndarray
        ``[0, 1]``: kept, churned.
    factors_ : list of str
        The rules, in the order of the spec.

    Notes
    -----
    Nothing is learned; ``fit`` only checks the columns. A missing input (no ratings, no
    judged invoice) scores 0 for its rule, as in the warehouse: the score counts the
    evidence there is. The rule score is read as the churn probability in
    ``predict_proba``.
    """

    def __init__(self, high: float = BANDS["high"], medium: float = BANDS["medium"], n_reasons: int = 3):
        self.high = high
        self.medium = medium
        self.n_reasons = n_reasons

    #: Snapshot columns the rules read (a class constant, not learned).
    needed = ["customer_id", "frequency_lifetime", *(rule.input for rule in CHURN_RULES)]

    def fit(self, X: pd.DataFrame, y=None) -> "RuleChurnScorer":
        """Check ``X`` has the rule inputs; return self."""
        _check_frame(X, self.needed)
        self.classes_ = np.array([0, 1])
        self.factors_ = [r[0] for r in RULES]
        return self

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points of each rule per customer (``customer_id`` + one column per rule)."""
        check_is_fitted(self, "factors_")
        _check_frame(X, self.needed)
        points = pd.DataFrame({"customer_id": X["customer_id"].to_numpy()})
        for rule in CHURN_RULES:
            points[rule.factor] = rule.points(X[rule.input].astype(float).to_numpy())
        return points

    def risk_score(self, X: pd.DataFrame) -> np.ndarray:
        """The rule score per customer (NaN for customers without a completed job)."""
        points = self.contributions(X)
        total = np.minimum(points[[r[0] for r in RULES]].sum(axis=1).to_numpy(), CHURN_SCORE_CAP)
        return np.where(X["frequency_lifetime"].to_numpy() > 0, total, np.nan)

    def explain(self, X: pd.DataFrame) -> pd.DataFrame:
        """The rules that fired per customer: ``customer_id, factor, contribution, reason``."""
        points = self.contributions(X)
        has_jobs = X["frequency_lifetime"].to_numpy() > 0
        values = {
            "declining_frequency": 1 - X["frequency_trend"].astype(float).to_numpy(),
            "late_payments": X["late_payment_share"].astype(float).to_numpy(),
            "disputes": X["disputes"].astype(float).to_numpy(),
            "satisfaction": X["avg_rating"].astype(float).to_numpy(),
            "no_contact": X["last_contact_days"].astype(float).to_numpy(),
        }
        parts = []
        for order, (factor, _, template) in enumerate(RULES):
            fired = np.flatnonzero((points[factor].to_numpy() > 0) & has_jobs)
            key = template[template.index("{") + 1:template.index(":")]
            parts.append(pd.DataFrame({
                "row": fired, "order": order, "customer_id": points["customer_id"].to_numpy()[fired],
                "factor": factor, "contribution": points[factor].to_numpy()[fired],
                "reason": [template.format(**{key: v}) for v in values[factor][fired]],
            }))
        long = pd.concat(parts, ignore_index=True)
        long = long.sort_values(["row", "contribution", "order"], ascending=[True, False, True])
        return long[["customer_id", "factor", "contribution", "reason"]].reset_index(drop=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` P(kept), P(churned): the rule score as the churn probability (NaN rows: no history)."""
        return _two_class_proba(self.risk_score(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Churned (1) where the rule score is at least 0.5, else kept (0)."""
        return _predict_from_proba(self.predict_proba(X), self.classes_)

    def score_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, score, band, intervention, reasons`` (see the module docstring)."""
        score = self.risk_score(X)
        reasons = _reason_strings(self.explain(X), X["customer_id"], self.n_reasons, "no risk factor present")
        reasons = [r if s == s else "no completed job yet: nothing to score" for r, s in zip(reasons, score)]
        return _scored_frame(X, score, reasons, self.high, self.medium)


# --------------------------------------------------------------------------- learned model

#: The boosting splits a categorical natively up to this many categories; above it (HGB allows
#: at most 255), the column enters as its cross-fitted target mean (:class:`_TargetMeanEncoder`).
NATIVE_MAX_CATEGORIES = 64
#: Ratio features: the numeric columns with at least this many distinct training values
#: (continuous ones) are candidates, at most ``MAX_RATIO_COLUMNS`` of them (most distinct first).
RATIO_MIN_DISTINCT = 10
MAX_RATIO_COLUMNS = 6
#: Blend weights of the logistic model tried on the out-of-fold predictions.
BLEND_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def _infer_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    return numeric, categorical


def _as_design(X: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=X.index)
    for c in numeric:
        out[c] = pd.to_numeric(X[c], errors="coerce").astype(float)
    for c in categorical:
        out[c] = X[c].astype(object).where(X[c].notna(), np.nan)
    return out


def _ratio_pairs(D: pd.DataFrame, numeric: list[str]) -> list[tuple[str, str]]:
    """Ordered pairs ``(a, b)`` of continuous numeric columns whose ratio ``a / b`` becomes a feature."""
    distinct = {c: D[c].nunique() for c in numeric}
    continuous = sorted((c for c in numeric if distinct[c] >= RATIO_MIN_DISTINCT), key=lambda c: -distinct[c])
    chosen = [c for c in numeric if c in continuous[:MAX_RATIO_COLUMNS]]  # keep the table's order
    return [(a, b) for a in chosen for b in chosen if a != b]


def _with_ratios(D: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """``D`` plus ``sign * log1p(|a / b|)`` per pair (NaN where ``b`` is 0 or missing).

    The signed log keeps a ratio by a small denominator from dominating a linear model.
    """
    if not pairs:
        return D
    extra = {}
    for a, b in pairs:
        denominator = D[b].where(D[b] != 0)
        r = (D[a] / denominator).replace([np.inf, -np.inf], np.nan)
        extra[f"{a}/{b}"] = np.sign(r) * np.log1p(r.abs())
    return pd.concat([D, pd.DataFrame(extra, index=D.index)], axis=1)


class _TargetMeanEncoder(TransformerMixin, BaseEstimator):
    """Each category -> its smoothed churn rate; cross-fitted on the training rows.

    ``fit_transform`` encodes each training row with the rates of the other folds (so the
    boosting never sees a row's own label through its category); ``transform`` uses the rates
    of all training rows. Unknown and missing categories get the overall rate. Written here
    rather than scikit-learn's ``TargetEncoder`` because that one's shuffling arguments
    changed between the versions this project allows.
    """

    def __init__(self, smoothing: float = 20.0, cv: int = 5, random_state: int = 0):
        self.smoothing = smoothing
        self.cv = cv
        self.random_state = random_state

    @staticmethod
    def _rates(X: pd.DataFrame, y: np.ndarray, smoothing: float) -> tuple[list[pd.Series], float]:
        prior = float(np.mean(y))
        rates = []
        for c in X.columns:
            stats = pd.DataFrame({"k": X[c].astype(str).to_numpy(), "y": y}).groupby("k")["y"].agg(["sum", "count"])
            rates.append((stats["sum"] + smoothing * prior) / (stats["count"] + smoothing))
        return rates, prior

    @staticmethod
    def _apply(X: pd.DataFrame, rates: list[pd.Series], prior: float) -> np.ndarray:
        out = np.empty(X.shape, dtype=float)
        for j, c in enumerate(X.columns):
            keys = X[c].astype(str).where(X[c].notna(), None)
            out[:, j] = keys.map(rates[j]).astype(float).fillna(prior).to_numpy()
        return out

    def fit(self, X, y):
        X = pd.DataFrame(X)
        self.rates_, self.prior_ = self._rates(X, np.asarray(y, dtype=float), self.smoothing)
        self.n_features_in_ = X.shape[1]
        return self

    def fit_transform(self, X, y=None, **fit_params):
        X = pd.DataFrame(X).reset_index(drop=True)
        y = np.asarray(y, dtype=float)
        self.fit(X, y)
        out = np.empty(X.shape, dtype=float)
        n_splits = _n_splits(y, self.cv)
        if n_splits < 2:
            return self.transform(X)
        for train, held in StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state).split(X, y):
            rates, prior = self._rates(X.iloc[train], y[train], self.smoothing)
            out[held] = self._apply(X.iloc[held], rates, prior)
        return out

    def transform(self, X):
        check_is_fitted(self, "rates_")
        return self._apply(pd.DataFrame(X), self.rates_, self.prior_)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def _n_splits(y: np.ndarray, cv: int) -> int:
    """Folds for a stratified split of ``y``: ``cv``, fewer when a class has fewer rows (0: no split)."""
    smallest = int(np.bincount(np.asarray(y).astype(int)).min()) if len(y) else 0
    n = min(int(cv), smallest)
    return n if n >= 2 else 0


def _staged(pipeline: Pipeline, X: pd.DataFrame):
    """P(class 1) after each boosting iteration of a ``prep -> gb`` pipeline."""
    encoded = pipeline.named_steps["prep"].transform(X)
    return (proba[:, 1] for proba in pipeline.named_steps["gb"].staged_predict_proba(encoded))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class TabularChurnClassifier(ClassifierMixin, BaseEstimator):
    """Gradient boosting on a table (numeric + categorical columns), blended with a logistic regression.

    The table model behind :class:`LearnedChurnModel` and ``benchmarks.churn_table``, usable on
    any customer table (numeric and text columns). Two models are fitted on the same rows:

    * histogram gradient boosting: categoricals split natively (those with more than
      :data:`NATIVE_MAX_CATEGORIES` categories enter as their cross-fitted churn rate);
    * a logistic regression: categoricals one-hot (categories with fewer than 5 rows pooled),
      numeric columns median-imputed with a missing indicator and standardised, plus (with
      ``ratios``) the signed log of every pairwise ratio of the continuous numeric columns
      (the linear model cannot build "charges per month of tenure" itself; the trees can).

    What is chosen, is chosen by stratified ``cv``-fold cross-validation on the training rows
    only: with ``early_stopping`` the boosting's number of iterations (up to ``max_iter``), and
    among several ``max_leaf_nodes`` the tree size, with the lowest out-of-fold log-loss; with
    ``blend_logistic="cv"`` the logistic model's weight
    in the blend (0, 0.05, ..., 1) with the lowest out-of-fold log-loss of the blended
    probability. Both models are then refitted on all the rows.

    Parameters
    ----------
    numeric, categorical : list of str, optional
        Column roles; inferred from the dtypes when None (numbers and booleans are numeric).
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization : HGB settings
        ``max_iter`` is the cap when ``early_stopping``; ``max_leaf_nodes`` may be a list of tree
        sizes, the one with the lowest out-of-fold log-loss is used.
    monotonic : dict, optional
        Numeric column -> +1 (risk can only rise with it) or -1 (only fall); others free.
    blend_logistic : float or "cv"
        Weight of the logistic regression in the probability (0: gradient boosting alone, 1:
        logistic alone), or ``"cv"``: chosen on the training rows.
    early_stopping : bool
        Choose the number of boosting iterations by cross-validation.
    ratios : bool
        Give the logistic regression the pairwise ratios of the continuous numeric columns.
    cv : int
        Folds of the cross-validation (fewer when a class has fewer rows; with fewer than 2
        rows of a class nothing is cross-validated: ``max_iter`` iterations, weight 0.5).
    random_state : int

    Attributes
    ----------
    n_iter_, max_leaf_nodes_ : int
        Boosting iterations and leaves a tree of the final model.
    blend_weight_ : float
        The logistic model's weight (0 when no logistic model is fitted).
    cv_results_ : DataFrame or None
        ``weight, log_loss, auc`` of each blend weight on the out-of-fold predictions (None
        without a cross-validated choice).
    ratio_pairs_ : list of (str, str)
        The ratio features the logistic model sees.
    """

    def __init__(self, numeric=None, categorical=None, learning_rate: float = 0.05, max_iter: int = 300,
                 max_leaf_nodes: int = 15, min_samples_leaf: int = 40, l2_regularization: float = 1.0,
                 monotonic: dict | None = None, blend_logistic: float | str = "cv", early_stopping: bool = True,
                 ratios: bool = True, cv: int = 5, random_state: int = 0):
        self.numeric = numeric
        self.categorical = categorical
        self.monotonic = monotonic
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.blend_logistic = blend_logistic
        self.early_stopping = early_stopping
        self.ratios = ratios
        self.cv = cv
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # churned or kept
        tags.input_tags.allow_nan = True  # gradient boosting routes missing values itself
        return tags

    def _frame(self, X, reset: bool) -> pd.DataFrame:
        """``X`` as a DataFrame: tables pass as they are, numeric arrays are validated as scikit-learn does."""
        if isinstance(X, pd.DataFrame):
            return X
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])

    def _leaf_options(self) -> list[int]:
        leaves = self.max_leaf_nodes
        return [int(v) for v in leaves] if isinstance(leaves, (list, tuple)) else [int(leaves)]

    def _boosting(self, n_iter: int, leaves: int) -> Pipeline:
        native = [c for c in self.categorical_ if c not in self.target_encoded_]
        ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                 encoded_missing_value=np.nan)
        parts = [("cat", ordinal, native), ("num", "passthrough", self.numeric_)]
        if self.target_encoded_:
            parts.append(("rate", _TargetMeanEncoder(random_state=self.random_state), self.target_encoded_))
        prep = ColumnTransformer(parts, verbose_feature_names_out=False)
        monotonic = self.monotonic or {}
        gb = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate, max_iter=n_iter, max_leaf_nodes=leaves,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            categorical_features=list(range(len(native))), random_state=self.random_state, early_stopping=False,
            monotonic_cst=[0] * len(native) + [int(monotonic.get(c, 0)) for c in self.numeric_]
            + [0] * len(self.target_encoded_))
        return Pipeline([("prep", prep), ("gb", gb)])

    def _logistic(self) -> Pipeline:
        numeric = self.numeric_ + [f"{a}/{b}" for a, b in self.ratio_pairs_]
        onehot = OneHotEncoder(handle_unknown="ignore", min_frequency=5)
        num = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
        cat = make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"), onehot)
        prep = ColumnTransformer([("cat", cat, self.categorical_), ("num", num, numeric)])
        return Pipeline([("prep", prep), ("lr", LogisticRegression(C=0.5, max_iter=2000))])

    def _logistic_design(self, D: pd.DataFrame) -> pd.DataFrame:
        return _with_ratios(D, self.ratio_pairs_).astype({c: str for c in self.categorical_})

    def fit(self, X: pd.DataFrame, y) -> "TabularChurnClassifier":
        """Fit on ``X`` (DataFrame, or numeric array) and binary ``y``; return self."""
        table = isinstance(X, pd.DataFrame)
        X = self._frame(X, reset=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        self.classes_, y = np.unique(column_or_1d(y, warn=True), return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("the training labels hold one class only: nothing to learn (need churned and kept)")
        y_type = type_of_target(self.classes_[y], input_name="y")
        if y_type != "binary":
            raise ValueError(f"Only binary classification is supported (churned or kept). "
                             f"The type of the target is {y_type}.")
        if isinstance(self.blend_logistic, str) and self.blend_logistic != "cv":
            raise ValueError(f"blend_logistic must be a weight in [0, 1] or 'cv', not {self.blend_logistic!r}")
        numeric, categorical = (self.numeric, self.categorical)
        if numeric is None or categorical is None:
            inferred = _infer_columns(X)
            numeric = inferred[0] if numeric is None else numeric
            categorical = inferred[1] if categorical is None else categorical
        self.numeric_, self.categorical_ = list(numeric), list(categorical)
        if table:  # arrays: validate_data has set n_features_in_
            self.feature_names_in_ = np.array(self.numeric_ + self.categorical_, dtype=object)
            self.n_features_in_ = len(self.feature_names_in_)
        D = _as_design(X, self.numeric_, self.categorical_).reset_index(drop=True)
        self.target_encoded_ = [c for c in self.categorical_ if D[c].nunique() > NATIVE_MAX_CATEGORIES]
        self.ratio_pairs_ = _ratio_pairs(D, self.numeric_) if self.ratios else []
        blend_cv = isinstance(self.blend_logistic, str)
        n_splits = _n_splits(y, self.cv)
        self.n_iter_, self.max_leaf_nodes_ = self.max_iter, self._leaf_options()[0]
        self.blend_weight_, self.cv_results_ = 0.5 if blend_cv else float(self.blend_logistic), None
        if n_splits and (blend_cv or self.early_stopping or len(self._leaf_options()) > 1):
            self._cross_validate(D, y, n_splits, blend_cv)
        self.gb_ = self._boosting(self.n_iter_, self.max_leaf_nodes_).fit(D, y)
        if self.blend_weight_ > 0:
            self.logistic_ = self._logistic().fit(self._logistic_design(D), y)
        return self

    def _cross_validate(self, D: pd.DataFrame, y: np.ndarray, n_splits: int, blend_cv: bool) -> None:
        """Set ``n_iter_`` and ``blend_weight_`` from out-of-fold predictions on the training rows."""
        folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state).split(D, y))
        p_gb, p_lr = np.empty(len(y)), np.empty(len(y))
        best = None  # (summed out-of-fold log-loss, leaves, iterations, the fold models)
        for leaves in self._leaf_options():
            losses, models = np.zeros(self.max_iter), []
            for train, held in folds:
                models.append(self._boosting(self.max_iter, leaves).fit(D.iloc[train], y[train]))
                if self.early_stopping:  # summed log-loss of the held-out rows after each iteration
                    for k, proba in enumerate(_staged(models[-1], D.iloc[held])):
                        losses[k] += _log_loss(y[held], proba) * len(held)
                else:
                    losses[-1] += _log_loss(y[held], models[-1].predict_proba(D.iloc[held])[:, 1]) * len(held)
            n_iter = int(np.argmin(losses)) + 1 if self.early_stopping else self.max_iter
            if best is None or losses[n_iter - 1] < best[0]:
                best = (losses[n_iter - 1], leaves, n_iter, models)
        _, self.max_leaf_nodes_, self.n_iter_, models = best
        if blend_cv:
            for gb, (train, held) in zip(models, folds):
                for k, proba in enumerate(_staged(gb, D.iloc[held])):
                    if k + 1 == self.n_iter_:
                        break
                p_gb[held] = proba
                lr = self._logistic().fit(self._logistic_design(D.iloc[train]), y[train])
                p_lr[held] = lr.predict_proba(self._logistic_design(D.iloc[held]))[:, 1]
        if blend_cv:
            rows = [{"weight": w, "log_loss": _log_loss(y, (1 - w) * p_gb + w * p_lr),
                     "auc": roc_auc_score(y, (1 - w) * p_gb + w * p_lr)} for w in BLEND_GRID]
            self.cv_results_ = pd.DataFrame(rows)
            self.blend_weight_ = float(self.cv_results_.loc[self.cv_results_["log_loss"].idxmin(), "weight"])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` probabilities, as scikit-learn classifiers return them."""
        check_is_fitted(self, "gb_")
        D = _as_design(self._frame(X, reset=False), self.numeric_, self.categorical_)
        p = self.gb_.predict_proba(D)[:, 1]
        if self.blend_weight_ > 0:
            q = self.logistic_.predict_proba(self._logistic_design(D))[:, 1]
            p = (1 - self.blend_weight_) * p + self.blend_weight_ * q
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The more probable class of ``classes_`` per row."""
        churned = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[churned.astype(int)]


class LearnedChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated gradient-boosting churn probability with per-customer reasons.

    Parameters
    ----------
    features : list of str, optional
        Snapshot columns to learn from; default :data:`~quantlib.customers.features.MODEL_FEATURES`.
    calibration : {"isotonic", "sigmoid"}
        How the calibration window maps raw scores to probabilities. Isotonic by default:
        on the generated companies Platt scaling got the spread between risk quintiles
        wrong (too steep), isotonic did not.
    high, medium : float
        Band bounds on the probability.
    n_reasons : int
        Reasons listed per customer.
    monotonic : dict or None
        Monotone constraints (default :data:`RISK_DIRECTIONS`: the direction in which each
        spec factor moves risk, e.g. more late payments never lower it). They keep the
        reasons sensible and cost little accuracy; ``{}`` lifts them.
    random_state : int
    **HGB settings** : see :class:`TabularChurnClassifier`.

    Attributes
    ----------
    classifier_ : TabularChurnClassifier
        The boosting model fitted on the training window.
    calibrated_ : CalibratedClassifierCV
        The calibrated model (on the calibration window, or 3-fold on the training data
        when no calibration window is given).
    reference_ : DataFrame
        One row: the training median of each numeric feature and the most frequent value of
        each categorical one (the baseline of the reasons).
    """

    def __init__(self, features=None, calibration: str = "isotonic", high: float = BANDS["high"],
                 medium: float = BANDS["medium"], n_reasons: int = 3, learning_rate: float = 0.05,
                 max_iter: int = 200, max_leaf_nodes: int = 15, min_samples_leaf: int = 40,
                 l2_regularization: float = 1.0, monotonic: dict | None = None, random_state: int = 0):
        self.features = features
        self.monotonic = monotonic
        self.calibration = calibration
        self.high = high
        self.medium = medium
        self.n_reasons = n_reasons
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def _split_features(self, X: pd.DataFrame) -> tuple[list[str], list[str]]:
        features = list(self.features) if self.features is not None else NUMERIC_FEATURES + CATEGORICAL_FEATURES
        _check_frame(X, ["customer_id", *features])
        numeric = [f for f in features if f not in CATEGORICAL_FEATURES]
        return numeric, [f for f in features if f in CATEGORICAL_FEATURES]

    def fit(self, X: pd.DataFrame, y, X_calib: pd.DataFrame | None = None, y_calib=None) -> "LearnedChurnModel":
        """Fit on snapshot ``X`` with labels ``y``; calibrate on a later window when given.

        Parameters
        ----------
        X, y : DataFrame, array-like of bool
            Training snapshot(s) and whether each customer churned in the window after.
        X_calib, y_calib : optional
            A later snapshot and its labels, for the probability calibration (recommended:
            :func:`fit_time_split` builds them). Without them, 3-fold cross-calibration on
            ``X``.
        """
        numeric, categorical = self._split_features(X)
        y = np.asarray(y).astype(int)
        self.numeric_, self.categorical_ = numeric, categorical
        self.classifier_ = TabularChurnClassifier(
            numeric, categorical, learning_rate=self.learning_rate, max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            monotonic=RISK_DIRECTIONS if self.monotonic is None else self.monotonic, random_state=self.random_state,
            blend_logistic=0.0, early_stopping=False, ratios=False)  # boosting alone: the reasons explain it
        with threadpool_limits(1):  # one OpenMP thread: on a shared small machine many are slower
            self._fit(X, y, X_calib, y_calib)
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(y.mean())
        reference = {c: float(pd.to_numeric(X[c], errors="coerce").median()) for c in numeric}
        reference.update({c: X[c].mode(dropna=True).iloc[0] if X[c].notna().any() else np.nan for c in categorical})
        self.reference_ = pd.DataFrame([reference])
        return self

    def _fit(self, X, y, X_calib, y_calib) -> None:
        if X_calib is not None:
            self.classifier_.fit(X, y)
            self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(self.classifier_), method=self.calibration)
            self.calibrated_.fit(X_calib, np.asarray(y_calib).astype(int))
        else:
            self.calibrated_ = CalibratedClassifierCV(self.classifier_, method=self.calibration, cv=3)
            self.calibrated_.fit(X, y)
            self.classifier_.fit(X, y)

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability per row (NaN for customers without a completed job)."""
        check_is_fitted(self, "calibrated_")
        _check_frame(X, ["customer_id", "frequency_lifetime", *self.numeric_, *self.categorical_])
        with threadpool_limits(1):
            p = self.calibrated_.predict_proba(X[self.numeric_ + self.categorical_])[:, 1]
        return np.where(X["frequency_lifetime"].to_numpy() > 0, p, np.nan)

    def explain(self, X: pd.DataFrame) -> pd.DataFrame:
        """Occlusion contributions that raise the risk: ``customer_id, factor, contribution, reason``.

        ``contribution`` = the boosting model's raw probability - the same with the factor at
        its training reference (see the module docstring for why raw, and what this
        approximation is and is not).
        """
        # The snapshot's time of year is the same for every customer: not a reason.
        cols = [c for c in self.numeric_ + self.categorical_ if c not in ("season_sin", "season_cos")]
        block = X[self.numeric_ + self.categorical_].reset_index(drop=True)
        # Encode once, then swap one column at a time in the encoded matrix: the boosting
        # model's own preprocessing runs on n rows, not on n x features.
        prep, gb = self.classifier_.gb_.named_steps["prep"], self.classifier_.gb_.named_steps["gb"]
        design = lambda frame: _as_design(frame, self.numeric_, self.categorical_)  # noqa: E731
        with threadpool_limits(1):
            encoded = np.asarray(prep.transform(design(block)), dtype=float)
            reference = np.asarray(prep.transform(design(self.reference_)), dtype=float)[0]
            position = {name: i for i, name in enumerate(prep.get_feature_names_out())}
            base = gb.predict_proba(encoded)[:, 1]
            p = np.empty((len(block), len(cols)))
            for k, feature in enumerate(cols):
                j = position[feature]
                saved = encoded[:, j].copy()
                encoded[:, j] = reference[j]
                p[:, k] = gb.predict_proba(encoded)[:, 1]
                encoded[:, j] = saved
        base = np.where(X["frequency_lifetime"].to_numpy() > 0, base, np.nan)
        contrib = base[:, None] - p
        ids = X["customer_id"].to_numpy()
        r, k = np.nonzero(np.nan_to_num(contrib, nan=0.0) > 0.005)
        long = pd.DataFrame({"customer_id": ids[r], "factor": np.array(cols, dtype=object)[k],
                             "contribution": contrib[r, k], "row": r})
        values = block.to_numpy(dtype=object)
        long["reason"] = [_feature_reason(f, values[i, block.columns.get_loc(f)], c)
                          for f, i, c in zip(long["factor"], long["row"], long["contribution"])]
        long = long.sort_values(["row", "contribution"], ascending=[True, False])
        return long[["customer_id", "factor", "contribution", "reason"]].reset_index(drop=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` calibrated P(kept), P(churned) (NaN rows: customers without a completed job)."""
        return _two_class_proba(self.probability(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Churned (1) where the calibrated probability is at least 0.5, else kept (0)."""
        return _predict_from_proba(self.predict_proba(X), self.classes_)

    def score_frame(self, X: pd.DataFrame, reasons_for: str = "all") -> pd.DataFrame:
        """``customer_id, score, band, intervention, reasons``; ``score`` is the calibrated probability.

        Parameters
        ----------
        reasons_for : {"all", "at_risk"}
            Explain every customer, or only those in the medium and high bands (the others
            get ``"low risk: reasons not computed"``). The reasons cost one prediction per
            feature and customer, so ``"at_risk"`` is the fast choice for large books.
        """
        if reasons_for not in ("all", "at_risk"):
            raise ValueError(f"reasons_for must be 'all' or 'at_risk', not {reasons_for!r}")
        score = self.probability(X)
        explain_rows = np.ones(len(X), dtype=bool) if reasons_for == "all" else score >= self.medium
        reasons = _reason_strings(self.explain(X[explain_rows]), X["customer_id"], self.n_reasons,
                                  "no factor above a typical customer's")
        if reasons_for == "at_risk":
            reasons = [r if keep else "low risk: reasons not computed" for r, keep in zip(reasons, explain_rows)]
        reasons = [r if s == s else "no completed job yet: nothing to score" for r, s in zip(reasons, score)]
        return _scored_frame(X, score, reasons, self.high, self.medium)

    def permutation_importance(self, X: pd.DataFrame, y, n_repeats: int = 5, random_state: int = 0) -> pd.DataFrame:
        """Drop in ROC AUC when each feature is shuffled: ``feature, importance, std``, largest first."""
        from sklearn.inspection import permutation_importance

        cols = self.numeric_ + self.categorical_
        result = permutation_importance(self.calibrated_, X[cols], np.asarray(y).astype(int), scoring="roc_auc",
                                        n_repeats=n_repeats, random_state=random_state, n_jobs=1)
        return (pd.DataFrame({"feature": cols, "importance": result.importances_mean,
                              "std": result.importances_std})
                .sort_values("importance", ascending=False).reset_index(drop=True))


def _feature_reason(feature: str, value, contribution: float) -> str:
    label = FEATURE_LABELS.get(feature, feature.replace("_", " "))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        shown = "unknown"
    elif feature in ("late_payment_share", "callback_share"):
        shown = f"{float(value):.0%}"
    elif feature in ("frequency_trend", "spend_trend"):
        shown = f"x{float(value):.2f}"
    elif feature in ("has_contract", "is_priority"):
        shown = "yes" if float(value) else "no"
    elif feature in ("monetary_365d", "avg_ticket"):
        shown = f"${float(value):,.0f}"
    elif isinstance(value, (int, float, np.integer, np.floating)):
        shown = f"{float(value):,.1f}".removesuffix(".0")
    else:
        shown = str(value)
    return f"{label}: {shown}"


# --------------------------------------------------------------------------- time split

def fit_time_split(con_or_lake, as_of=None, horizon_days: int = 180, n_train_snapshots: int = 3,
                   step_days: int = 90, labels=None, model: LearnedChurnModel | None = None):
    """Fit a :class:`LearnedChurnModel` on past windows and test it on the latest one.

    With ``H = horizon_days`` and the data ending at ``as_of`` (default: the build date):

    * test window: features at ``T_test = as_of - H``, labels in ``(T_test, as_of]``;
    * calibration window: features at ``T_cal = T_test - H``, labels in ``(T_cal, T_test]``;
    * training: features at ``T_cal - H - k * step_days`` (k < n_train_snapshots), labels
      ending on or before ``T_cal``.

    No label the model or its calibration sees lies after ``T_test``; features are
    as-of snapshots (:func:`~quantlib.customers.features.customer_snapshot`).

    Parameters
    ----------
    labels : callable, optional
        ``labels(con, T, H) -> DataFrame[customer_id, churned]``; default the observable
        lapse, :func:`~quantlib.customers.features.churn_labels`.

    Returns
    -------
    model : LearnedChurnModel
    report : dict
        The dates, the row counts, the test window's AUC, Brier score, the Brier score of
        always predicting the training base rate, and the rule score's AUC on the same rows.
    """
    from quantlib.customers.features import churn_labels

    label_fn = labels or churn_labels
    with open_gold(con_or_lake) as con:
        end = gold_as_of(con) if as_of is None else pd.Timestamp(as_of).date()
        h = dt.timedelta(days=horizon_days)
        t_test = end - h
        t_cal = t_test - h
        train_dates = [t_cal - h - dt.timedelta(days=step_days * k) for k in range(n_train_snapshots)]

        def labelled(day):
            snap = customer_snapshot(con, day, active_only=True)
            return snap.merge(label_fn(con, day, horizon_days), on="customer_id", how="inner")

        train = pd.concat([labelled(d) for d in train_dates], ignore_index=True)
        calib = labelled(t_cal)
        test = labelled(t_test)
    model = model if model is not None else LearnedChurnModel()
    model.fit(train, train["churned"], calib, calib["churned"])
    p = model.probability(test)
    y = test["churned"].astype(int).to_numpy()
    rule = RuleChurnScorer().fit(test).risk_score(test)
    ok = ~np.isnan(p)
    report = {
        "train_dates": train_dates, "calibration_date": t_cal, "test_date": t_test, "horizon_days": horizon_days,
        "train_rows": len(train), "calibration_rows": len(calib), "test_rows": len(test),
        "train_base_rate": float(train["churned"].mean()),
        "calibration_base_rate": float(calib["churned"].mean()), "test_base_rate": float(y.mean()),
        "test_auc": float(roc_auc_score(y[ok], p[ok])), "test_brier": float(brier_score_loss(y[ok], p[ok])),
        "test_brier_base_rate": float(brier_score_loss(y[ok], np.full(ok.sum(), train["churned"].mean()))),
        "rule_auc": float(roc_auc_score(y[ok], rule[ok])),
    }
    return model, report


# --------------------------------------------------------------------------- value, alerts, summary

def high_value_flags(snapshot: pd.DataFrame, quantile: float = HIGH_VALUE_QUANTILE) -> pd.Series:
    """True for active customers in the top ``1 - quantile`` by spend in the last 365 days (spend > 0)."""
    spend = snapshot["monetary_365d"].astype(float)
    active = snapshot["is_active"].astype(bool) if "is_active" in snapshot else spend > 0
    if not (active & (spend > 0)).any():
        return pd.Series(False, index=snapshot.index)
    cut = spend[active & (spend > 0)].quantile(quantile)
    return active & (spend > 0) & (spend >= cut)


def churn_alerts(scored: pd.DataFrame, snapshot: pd.DataFrame, threshold: float = CHURN_RISK_THRESHOLD,
                 quantile: float = HIGH_VALUE_QUANTILE) -> pd.DataFrame:
    """The spec's churn alerts: high-value customers whose score is above ``threshold``.

    Returns
    -------
    DataFrame
        ``customer_id, score, value_365d, band, intervention, reasons, message``, highest
        value at risk first (score x spend).
    """
    merged = scored.merge(snapshot[["customer_id", "monetary_365d", "is_active"]], on="customer_id", how="left")
    high_value = high_value_flags(merged, quantile)
    hit = merged[high_value & (merged["score"] > threshold)].copy()
    hit["value_365d"] = hit["monetary_365d"].astype(float)
    hit["message"] = [f"Churn alert: high-value customer {c} (${v:,.0f} in the last year) at risk {s:.0%}: {r}"
                      for c, v, s, r in zip(hit["customer_id"], hit["value_365d"], hit["score"], hit["reasons"])]
    hit = hit.assign(_at_risk=hit["score"] * hit["value_365d"]).sort_values("_at_risk", ascending=False)
    return hit[["customer_id", "score", "value_365d", "band", "intervention", "reasons",
                "message"]].reset_index(drop=True)


def churn_summary(con_or_lake, as_of=None, top: int = 10, scorer=None) -> dict:
    """The customer section's churn numbers for the monthly business review.

    Parameters
    ----------
    con_or_lake : DuckDBPyConnection, Lake or path
        The gold warehouse.
    as_of : date-like, optional
        Default the build date.
    top : int
        At-risk high-value accounts listed.
    scorer : fitted scorer, optional
        Default :class:`RuleChurnScorer` (the score the KPI ``churn_risk_share`` counts).

    Returns
    -------
    dict
        ``as_of``, ``active_customers``, ``risk_share`` (share of active customers with a score
        >= 0.7), ``high_value_at_risk`` (high-value customers above 0.7), ``band_counts``
        (dict), ``top_accounts`` (DataFrame: the alerts, at most ``top``).
    """
    with open_gold(con_or_lake) as con:
        day = gold_as_of(con) if as_of is None else pd.Timestamp(as_of).date()
        snap = customer_snapshot(con, day, active_only=True)
    model = scorer if scorer is not None else RuleChurnScorer().fit(snap)
    scored = model.score_frame(snap)
    alerts = churn_alerts(scored, snap)
    return {
        "as_of": day,
        "active_customers": int(len(snap)),
        "risk_share": float((scored["score"] >= CHURN_RISK_THRESHOLD).mean()) if len(scored) else float("nan"),
        "high_value_at_risk": int(len(alerts)),
        "band_counts": scored["band"].value_counts().to_dict(),
        "top_accounts": alerts.head(top).reset_index(drop=True),
    }

