"""Failure-type classification: which failure mode a unit's telemetry points to.

For each failure the telemetry of the ``window_days`` before it is summarised per signal (its
last value, maximum, mean and slope of the standardised readings of
:class:`~quantlib.maintenance.sensors.SensorFeatures`), with the unit's kind; the failure mode
the technician recorded is the label. Two classifiers share one interface: a random forest
(the specification's choice) and gradient boosting with probabilities calibrated on
cross-validated folds (scikit-learn's ``CalibratedClassifierCV``).
:func:`failure_mode_report` gives the confusion matrix, per-class recall and the macro recall
on held-out failures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from quantlib.maintenance.sensors import SIGNALS, SensorDataError

__all__ = ["FailureModeClassifier", "failure_mode_report", "failure_windows"]


def failure_windows(features: pd.DataFrame, failures: pd.DataFrame, window_days: int = 14,
                    extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per failure: the summary of its unit's telemetry over the ``window_days`` before it.

    Parameters
    ----------
    features : DataFrame
        From ``SensorFeatures.transform`` (``equipment_id, date`` and the ``_z`` columns; ``kind``
        when known).
    failures : DataFrame
        ``equipment_id, failure_date`` and, for training, ``failure_mode``.
    extra : tuple of str, optional
        Further standardised columns of ``features`` to summarise the same way, e.g. the spectral
        trend's ``amp_bpfo_z`` carried to days by ``quantlib.maintenance.vibration.spectral_daily``.

    Returns
    -------
    DataFrame
        ``equipment_id, failure_date, kind`` (+ ``failure_mode``) and ``<signal>_last, _max,
        _mean, _slope`` per signal (and per ``extra`` column, named after it); failures without
        readings in their window are left out.
    """
    needed = ["equipment_id", "date", *(f"{s}_z" for s in SIGNALS), *extra]
    missing = [c for c in needed if c not in features.columns]
    if missing:
        raise SensorDataError(f"features: missing column(s) {', '.join(missing)}; build them with SensorFeatures"
                              + (" (and the extra columns)" if extra else ""))
    days = features.assign(date=pd.to_datetime(features["date"]).dt.normalize())
    fails = failures.assign(failure_date=pd.to_datetime(failures["failure_date"]).dt.normalize()).reset_index(
        drop=True)
    pairs = fails[["equipment_id", "failure_date"]].reset_index().merge(days, on="equipment_id")
    lag = (pairs["failure_date"] - pairs["date"]).dt.days
    pairs = pairs[(lag >= 0) & (lag < window_days)].assign(lag=lag)
    rows = []
    for index, group in pairs.groupby("index"):
        group = group.sort_values("date")
        row = {"index": index}
        x = -group["lag"].to_numpy(float)
        for signal, column in [*((s, f"{s}_z") for s in SIGNALS), *((c, c) for c in extra)]:
            z = group[column].clip(-10, 10).fillna(0.0).to_numpy(float)
            row[f"{signal}_last"] = z[-1]
            row[f"{signal}_max"] = z.max()
            row[f"{signal}_mean"] = z.mean()
            row[f"{signal}_slope"] = float(np.polyfit(x, z, 1)[0]) if len(z) >= 3 and np.ptp(x) > 0 else 0.0
        rows.append(row)
    summary = pd.DataFrame(rows)
    if summary.empty:
        raise SensorDataError("no failure has telemetry in the days before it")
    kinds = days.groupby("equipment_id")["kind"].first() if "kind" in days else None
    out = fails.loc[summary["index"]].reset_index(drop=True)
    out = pd.concat([out, summary.drop(columns="index").reset_index(drop=True)], axis=1)
    out["kind"] = out["equipment_id"].map(kinds) if kinds is not None else "unknown"
    return out


class FailureModeClassifier(ClassifierMixin, BaseEstimator):
    """The failure mode from the telemetry before a failure.

    Parameters
    ----------
    model : {"random_forest", "gradient_boosting"}
        ``gradient_boosting`` is calibrated on 3 folds (isotonic from 300 failures, else sigmoid),
        its leaves at least 2 and at most 20 failures (a tenth of them).
    window_days : int, default 14
    random_state : int, default 0
    extra_features : tuple of str, default ()
        The ``extra`` columns :func:`failure_windows` summarised (each adds ``_last, _max, _mean,
        _slope``), e.g. the spectral trend's.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The failure modes learned.
    feature_names_ : list of str
    estimator_ : the fitted scikit-learn classifier
    kinds_ : list of str
        Equipment kinds seen (one-hot columns).
    """

    def __init__(self, model: str = "random_forest", window_days: int = 14, random_state: int = 0,
                 extra_features: tuple[str, ...] = ()):
        self.model = model
        self.window_days = window_days
        self.random_state = random_state
        self.extra_features = extra_features

    def _matrix(self, windows: pd.DataFrame) -> np.ndarray:
        numeric = windows[[c for c in self.feature_names_ if not c.startswith("kind=")]].to_numpy(float)
        kinds = np.column_stack([(windows["kind"] == k).to_numpy(float) for k in self.kinds_]) if self.kinds_ \
            else np.empty((len(windows), 0))
        return np.hstack([numeric, kinds])

    def fit(self, windows: pd.DataFrame, y=None):
        """Fit on :func:`failure_windows` rows with their ``failure_mode``.

        Returns
        -------
        self
        """
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

        if self.model not in ("random_forest", "gradient_boosting"):
            raise ValueError(f"model must be 'random_forest' or 'gradient_boosting', got {self.model!r}")
        labels = windows["failure_mode"] if y is None else pd.Series(y, index=windows.index)
        if labels.isna().any():
            raise SensorDataError("failures without a recorded failure_mode cannot train the classifier")
        numeric = [f"{s}_{stat}" for s in (*SIGNALS, *self.extra_features) for stat in ("last", "max", "mean", "slope")]
        missing = [c for c in numeric if c not in windows.columns]
        if missing:
            raise SensorDataError(f"windows: missing column(s) {', '.join(missing)}; pass the extra features to "
                                  "failure_windows(extra=...)")
        self.kinds_ = sorted(windows["kind"].dropna().astype(str).unique()) if "kind" in windows else []
        self.feature_names_ = numeric + [f"kind={k}" for k in self.kinds_]
        X = self._matrix(windows)
        if self.model == "random_forest":
            estimator = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, class_weight="balanced",
                                               random_state=self.random_state, n_jobs=1)
        else:
            folds = int(min(3, labels.value_counts().min()))
            # leaves and calibration sized to the data: a company has tens of failures, not thousands
            # (scikit-learn's 20-sample leaves could not split them; isotonic needs more than a few per fold)
            leaf = int(max(2, min(20, len(labels) // 10)))
            base = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, class_weight="balanced",
                                                  min_samples_leaf=leaf, random_state=self.random_state)
            method = "isotonic" if len(labels) >= 300 else "sigmoid"
            estimator = CalibratedClassifierCV(base, method=method, cv=folds) if folds >= 2 else base
        self.estimator_ = estimator.fit(X, labels.to_numpy())
        self.classes_ = np.asarray(self.estimator_.classes_)
        return self

    def predict_proba(self, windows: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "estimator_"):
            raise NotFittedError("FailureModeClassifier is not fitted yet: call fit first")
        return self.estimator_.predict_proba(self._matrix(windows))

    def predict(self, windows: pd.DataFrame) -> np.ndarray:
        proba = self.predict_proba(windows)
        return self.classes_[np.argmax(proba, axis=1)]


def failure_mode_report(classifier: FailureModeClassifier, windows: pd.DataFrame) -> dict:
    """Confusion matrix, per-class recall and macro recall of a fitted classifier on held-out failures.

    Returns
    -------
    dict
        ``failures``, ``macro_recall``, ``accuracy``, ``recall`` (mode -> recall) and ``confusion``
        (a DataFrame: true mode rows, predicted mode columns).
    """
    from sklearn.metrics import confusion_matrix, recall_score

    truth = windows["failure_mode"].to_numpy()
    predicted = classifier.predict(windows)
    labels = sorted(set(truth) | set(classifier.classes_))
    recalls = recall_score(truth, predicted, labels=labels, average=None, zero_division=0)
    present = [label in set(truth) for label in labels]
    return {
        "failures": int(len(truth)),
        "macro_recall": round(float(np.mean([r for r, p in zip(recalls, present) if p])), 4),
        "accuracy": round(float(np.mean(truth == predicted)), 4),
        "recall": {label: round(float(r), 4) for label, r, p in zip(labels, recalls, present) if p},
        "confusion": pd.DataFrame(confusion_matrix(truth, predicted, labels=labels), index=labels, columns=labels),
    }
