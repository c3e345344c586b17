"""Early warning from equipment telemetry: per-unit baselines, control charts, a multivariate
detector, a fixed-threshold baseline, and the lead time of their alerts before failures.

Readings are aggregated to one row per unit and day (the mean of the day's readings), so a
company sending one reading a day and one sending one a minute use the same code.

Features (:class:`SensorFeatures`), per unit and day, each standardised against the unit's
own *past* (no look-ahead): a robust baseline, the median and the scaled median absolute
deviation of the previous ``baseline_days`` days, so a drift stands out from the unit's
normal level rather than from the fleet's:

* ``vibration_z``: log vibration (noise is multiplicative) against its baseline;
* ``temperature_z``: the thermal excess, the temperature minus what the ambient temperature
  of the unit's region explains (a Huber regression per unit, learned in ``fit``, every unit
  solved at once by :func:`grouped_huber_line`), against its baseline, so a hot summer is not an alarm;
* ``pressure_z``: pressure against its baseline (signed so that a *drop* is positive);
* ``<signal>_slope``: the least-squares slope of each ``_z`` over the last ``slope_days``.

A rolling baseline follows whatever the unit does for ``baseline_days``: a degradation slower
than that (months of steady wear) is absorbed into the baseline and stops standing out; such
trends are the degradation-rate models' job, not the alarms'.

Detectors share one interface (``fit(features)`` learns what it needs, ``predict(features)``
returns ``equipment_id, date, alarm`` and its statistic):

* :class:`ControlChartDetector`: an EWMA or a CUSUM chart per unit and signal on the ``_z``
  values, alarming when any signal's chart crosses its limit;
* :class:`IsolationForestDetector`: scikit-learn's isolation forest over all features of the
  fleet, alarming when a unit's score is beyond the training quantile on ``persistence`` of
  the last ``persistence + 2`` days;
* :class:`FixedThresholdDetector`: what field-service platforms ship, fixed limits per
  equipment kind on the raw readings (the kind's 99th percentile of vibration and temperature
  and 1st of pressure over the training period), the baseline the others must beat.

:func:`alert_episodes` turns daily alarms into episodes (one alert each) and
:func:`alert_lead_times` scores episodes against known failures: the lead time of the first
alert before each failure, and false alarms per 100 unit-months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from quantlib.errors import QuantError

__all__ = [
    "SIGNALS", "ControlChartDetector", "FixedThresholdDetector", "IsolationForestDetector", "SensorDataError",
    "SensorFeatures", "alert_episodes", "alert_lead_times", "daily_readings", "grouped_huber_line",
]

#: The telemetry signals and the direction in which each degrades (+1 up, -1 down).
SIGNALS = {"vibration": 1, "temperature": 1, "pressure": -1}
_MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of normal data


class SensorDataError(QuantError, ValueError):
    """Telemetry that cannot be used: names the column or unit at fault."""


def daily_readings(telemetry: pd.DataFrame, equipment: pd.DataFrame | None = None,
                   weather: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per unit and day: the day's mean readings, the unit's kind and its region's ambient temperature.

    Parameters
    ----------
    telemetry : DataFrame
        ``equipment_id, ts`` and the signals in :data:`SIGNALS`.
    equipment : DataFrame, optional
        ``equipment_id, kind, region``.
    weather : DataFrame, optional
        ``date, region, temp_c`` (needs ``equipment``).

    Returns
    -------
    DataFrame
        ``equipment_id, date, vibration, temperature, pressure`` (+ ``kind``, ``ambient``).
    """
    missing = [c for c in ("equipment_id", "ts", *SIGNALS) if c not in telemetry.columns]
    if missing:
        raise SensorDataError(f"telemetry: missing column(s) {', '.join(missing)}")
    frame = telemetry.assign(date=pd.to_datetime(telemetry["ts"]).dt.normalize())
    daily = frame.groupby(["equipment_id", "date"], sort=True)[list(SIGNALS)].mean().reset_index()
    if equipment is not None:
        daily = daily.merge(equipment[["equipment_id", "kind", "region"]], on="equipment_id", how="left")
        if weather is not None:
            ambient = weather[["date", "region", "temp_c"]].assign(date=lambda w: pd.to_datetime(w["date"]))
            daily = daily.merge(ambient.rename(columns={"temp_c": "ambient"}), on=["date", "region"], how="left")
        daily = daily.drop(columns="region")
    return daily.sort_values(["equipment_id", "date"], kind="stable").reset_index(drop=True)


def _rolling_slope(values: pd.Series, groups: pd.Series, window: int) -> np.ndarray:
    """Least-squares slope per day of ``values`` over the last ``window`` rows of each group."""
    x = values.groupby(groups).cumcount().astype(float)
    grouped = pd.DataFrame({"x": x, "y": values, "xy": x * values, "xx": x * x, "g": groups}).groupby("g")
    sums = grouped[["x", "y", "xy", "xx"]].rolling(window, min_periods=max(3, window // 2)).sum()
    counts = grouped["y"].rolling(window, min_periods=max(3, window // 2)).count()
    sums = sums.reset_index(level=0, drop=True).sort_index()
    n = counts.reset_index(level=0, drop=True).sort_index()
    denominator = n * sums["xx"] - sums["x"] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (n * sums["xy"] - sums["x"] * sums["y"]) / denominator
    return slope.where(denominator > 0).to_numpy()


def grouped_huber_line(x, y, groups, c: float = 1.345, max_iter: int = 100, tol: float = 1e-8) -> pd.DataFrame:
    """Huber M-estimate of ``y = intercept + slope x`` in every group at once.

    The algorithm of statsmodels' ``RLM(y, X, M=HuberT(c)).fit()`` (iteratively reweighted least
    squares, the scale re-estimated each step as the normalised median absolute deviation of the
    residuals), with every group's weighted least squares solved in closed form from grouped
    sums, so thousands of units cost a few array passes per iteration instead of one optimiser
    run each (``benchmarks/thermal_baseline.py``).

    Parameters
    ----------
    x, y : array-like
    groups : array-like
        Group labels, one per row.
    c : float, default 1.345
        Huber's tuning constant (95 % efficiency under normal errors).

    Returns
    -------
    DataFrame
        Indexed by group: ``intercept, slope, scale, iterations``.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    codes, labels = pd.factorize(np.asarray(groups), sort=True)
    k = len(labels)
    w = np.ones(len(x))
    a, b = np.zeros(k), np.zeros(k)
    scale = np.full(k, np.nan)
    iterations = np.zeros(k, int)
    for step in range(max_iter):
        sw = np.bincount(codes, w, k)
        sx, sy = np.bincount(codes, w * x, k), np.bincount(codes, w * y, k)
        sxx, sxy = np.bincount(codes, w * x * x, k), np.bincount(codes, w * x * y, k)
        det = sw * sxx - sx * sx
        with np.errstate(divide="ignore", invalid="ignore"):
            new_b = np.where(np.abs(det) > 1e-12 * np.maximum(sw * sxx, 1e-300), (sw * sxy - sx * sy) / det, 0.0)
            new_a = (sy - new_b * sx) / sw
        done = (np.abs(new_a - a) <= tol * (1 + np.abs(a))) & (np.abs(new_b - b) <= tol * (1 + np.abs(b)))
        a, b = new_a, new_b
        iterations += ~done
        if step and done.all():
            break
        resid = y - a[codes] - b[codes] * x
        # statsmodels' RLM scale: the median absolute residual (centred at 0) / Phi^-1(3/4)
        scale = pd.Series(np.abs(resid)).groupby(codes).median().reindex(range(k)).to_numpy() / 0.6744897501960817
        u = np.abs(resid) / np.maximum(scale[codes], 1e-12)
        w = np.where(u <= c, 1.0, c / np.maximum(u, 1e-300))
    return pd.DataFrame({"intercept": a, "slope": b, "scale": scale, "iterations": iterations},
                        index=pd.Index(labels, name="group"))


class SensorFeatures(BaseEstimator):
    """Per-unit standardised telemetry features (see the module docstring).

    Parameters
    ----------
    baseline_days : int, default 90
        Days of a unit's own past that make its baseline.
    min_baseline : int, default 20
        Fewest past days for a baseline; earlier days get no ``_z`` (NaN).
    slope_days : int, default 7
        Window of the rolling slopes.

    Attributes
    ----------
    thermal_coef_ : DataFrame
        Per unit, ``intercept, ambient`` of the robust regression of temperature on the
        ambient temperature (zero ambient coefficient when no weather was given).
    feature_names_ : list of str
    """

    def __init__(self, baseline_days: int = 90, min_baseline: int = 20, slope_days: int = 7):
        self.baseline_days = baseline_days
        self.min_baseline = min_baseline
        self.slope_days = slope_days

    def fit(self, readings: pd.DataFrame):
        """Learn each unit's thermal response to the ambient temperature.

        Parameters
        ----------
        readings : DataFrame
            From :func:`daily_readings` (with ``ambient`` when weather is known).

        Returns
        -------
        self
        """
        units = np.sort(readings["equipment_id"].unique())
        temperature = readings["temperature"].to_numpy(float)
        ambient = readings["ambient"].to_numpy(float) if "ambient" in readings else np.full(len(readings), np.nan)
        paired = ~np.isnan(temperature) & ~np.isnan(ambient)
        pairs = pd.Series(paired).groupby(readings["equipment_id"].to_numpy()).sum()
        fitted = pairs.index[pairs >= 30]
        use = paired & readings["equipment_id"].isin(fitted).to_numpy()
        # Huber: the few drift days before failures pull a least-squares fit, not this one
        robust = grouped_huber_line(ambient[use], temperature[use], readings["equipment_id"].to_numpy()[use])
        level = readings.groupby("equipment_id")["temperature"].median()
        rows = [(unit, float(robust.at[unit, "intercept"]), float(robust.at[unit, "slope"])) if unit in robust.index
                else (unit, float(level.get(unit, np.nan)), 0.0) for unit in units]
        self.thermal_coef_ = pd.DataFrame(rows, columns=["equipment_id", "intercept", "ambient"]).set_index(
            "equipment_id")
        self.feature_names_ = [f"{s}_z" for s in SIGNALS] + [f"{s}_slope" for s in SIGNALS]
        return self

    def transform(self, readings: pd.DataFrame) -> pd.DataFrame:
        """Add the ``_z`` and ``_slope`` features to ``readings`` (one row per unit and day)."""
        if not hasattr(self, "thermal_coef_"):
            raise NotFittedError("SensorFeatures is not fitted yet: call fit first")
        out = readings.sort_values(["equipment_id", "date"], kind="stable").reset_index(drop=True)
        coef = self.thermal_coef_.reindex(out["equipment_id"])
        ambient = out["ambient"].to_numpy(float) if "ambient" in out else np.zeros(len(out))
        expected = coef["intercept"].to_numpy() + coef["ambient"].to_numpy() * np.nan_to_num(ambient)
        series = {
            "vibration": np.log(out["vibration"].clip(lower=1e-6)),
            # a unit fitted without weather has a zero ambient coefficient: its excess is temperature - level
            "temperature": out["temperature"] - np.where(np.isnan(expected),
                                                         out.groupby("equipment_id")["temperature"].transform("median"),
                                                         expected),
            "pressure": out["pressure"],
        }
        groups = out["equipment_id"]
        for name, direction in SIGNALS.items():
            values = pd.Series(np.asarray(series[name], float), index=out.index)
            past = values.groupby(groups).shift(1)
            rolling = past.groupby(groups).rolling(self.baseline_days, min_periods=self.min_baseline)
            centre = rolling.median().reset_index(level=0, drop=True).sort_index()
            spread = (past - centre).abs().groupby(groups).rolling(
                self.baseline_days, min_periods=self.min_baseline).median().reset_index(level=0, drop=True).sort_index()
            scale = (_MAD_SCALE * spread).where(lambda s: s > 0)
            z = direction * (values - centre) / scale
            out[f"{name}_z"] = z.to_numpy()
            out[f"{name}_slope"] = _rolling_slope(out[f"{name}_z"], groups, self.slope_days)
        return out

    def fit_transform(self, readings: pd.DataFrame, y=None) -> pd.DataFrame:
        return self.fit(readings).transform(readings)


def _check_features(features: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise SensorDataError(f"features: missing column(s) {', '.join(missing)}; build them with SensorFeatures")


class ControlChartDetector(BaseEstimator):
    """EWMA or CUSUM charts per unit and signal on the standardised readings.

    Parameters
    ----------
    method : {"cusum", "ewma"}
    smoothing : float, default 0.2
        EWMA weight of the newest value.
    limit : float, default 4.0
        EWMA limit in standard deviations of the EWMA statistic.
    drift : float, default 0.5
        CUSUM reference value ``k`` (half the shift to detect, in standard deviations).
    threshold : float, default 8.0
        CUSUM decision interval ``h``; the chart restarts after each alarm.

    The default limits (CUSUM ``h`` = 8, EWMA ``L`` = 4; textbook values are 5 and 3 for a
    single chart) were chosen on one generated company (seed 3) for few false alarms over
    three charts a unit, and are reported on another (benchmarks/README.md).
    signals : sequence of str, optional
        Default all of :data:`SIGNALS`.

    Attributes
    ----------
    signals_ : list of str
    limit_ : float
        The alarm limit of the chart statistic.
    """

    def __init__(self, method: str = "cusum", smoothing: float = 0.2, limit: float = 4.0, drift: float = 0.5,
                 threshold: float = 8.0, signals=None):
        self.method = method
        self.smoothing = smoothing
        self.limit = limit
        self.drift = drift
        self.threshold = threshold
        self.signals = signals

    def fit(self, features: pd.DataFrame, y=None):
        """Check the features and set the chart limit (the charts are self-baselined per unit).

        Returns
        -------
        self
        """
        if self.method not in ("ewma", "cusum"):
            raise ValueError(f"method must be 'ewma' or 'cusum', got {self.method!r}")
        self.signals_ = list(self.signals or SIGNALS)
        _check_features(features, [f"{s}_z" for s in self.signals_])
        lam = self.smoothing
        self.limit_ = (self.limit * np.sqrt(lam / (2 - lam))) if self.method == "ewma" else self.threshold
        return self

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """``equipment_id, date, statistic, alarm``: the largest chart statistic over the signals."""
        if not hasattr(self, "limit_"):
            raise NotFittedError("ControlChartDetector is not fitted yet: call fit first")
        _check_features(features, [f"{s}_z" for s in self.signals_])
        frame = features.sort_values(["equipment_id", "date"], kind="stable").reset_index(drop=True)
        stats = []
        for signal in self.signals_:
            z = frame[f"{signal}_z"].clip(-10, 10).fillna(0.0)  # a missing baseline adds nothing
            if self.method == "ewma":
                stat = z.groupby(frame["equipment_id"]).transform(
                    lambda s: s.ewm(alpha=self.smoothing, adjust=False).mean())
            else:
                stat = z.groupby(frame["equipment_id"]).transform(
                    lambda s: _cusum(s.to_numpy(), self.drift, self.threshold))
            stats.append(stat.to_numpy())
        statistic = np.max(np.vstack(stats), axis=0)
        return pd.DataFrame({"equipment_id": frame["equipment_id"], "date": frame["date"],
                             "statistic": statistic, "alarm": statistic > self.limit_})


def _cusum(z: np.ndarray, k: float, h: float) -> np.ndarray:
    """Upper CUSUM, restarted at zero the day after it crosses ``h`` (one alarm per shift)."""
    out = np.empty(len(z))
    s = 0.0
    for i, v in enumerate(z):
        s = max(0.0, s + v - k)
        out[i] = s
        if s > h:
            s = 0.0
    return out


class IsolationForestDetector(BaseEstimator):
    """An isolation forest over the fleet's features, with a persistence rule.

    Parameters
    ----------
    contamination : float, default 0.03
        Share of training days taken as anomalous: the score threshold is that quantile.
    persistence : int, default 3
        Alarm when at least this many of the last ``persistence + 2`` days are anomalous.
    n_estimators : int, default 200
    random_state : int, default 0

    Attributes
    ----------
    model_ : sklearn.ensemble.IsolationForest
    threshold_ : float
        Anomaly score (``-score_samples``) above which a day is anomalous.
    feature_names_ : list of str
    """

    def __init__(self, contamination: float = 0.03, persistence: int = 3, n_estimators: int = 200,
                 random_state: int = 0):
        self.contamination = contamination
        self.persistence = persistence
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _matrix(self, features):
        return features[self.feature_names_].clip(-10, 10).fillna(0.0).to_numpy()

    def fit(self, features: pd.DataFrame, y=None):
        """Fit the forest on the training days.

        Returns
        -------
        self
        """
        from sklearn.ensemble import IsolationForest

        self.feature_names_ = [f"{s}_z" for s in SIGNALS] + [f"{s}_slope" for s in SIGNALS]
        _check_features(features, self.feature_names_)
        X = self._matrix(features)
        self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state).fit(X)
        self.threshold_ = float(np.quantile(-self.model_.score_samples(X), 1 - self.contamination))
        return self

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """``equipment_id, date, statistic, alarm``; the statistic is the anomaly score."""
        if not hasattr(self, "model_"):
            raise NotFittedError("IsolationForestDetector is not fitted yet: call fit first")
        _check_features(features, self.feature_names_)
        frame = features.sort_values(["equipment_id", "date"], kind="stable").reset_index(drop=True)
        score = -self.model_.score_samples(self._matrix(frame))
        anomalous = pd.Series(score > self.threshold_, dtype=float)
        recent = anomalous.groupby(frame["equipment_id"]).transform(
            lambda s: s.rolling(self.persistence + 2, min_periods=1).sum())
        return pd.DataFrame({"equipment_id": frame["equipment_id"], "date": frame["date"], "statistic": score,
                             "alarm": (recent >= self.persistence).to_numpy()})


class FixedThresholdDetector(BaseEstimator):
    """Fixed limits per equipment kind on the raw readings (the platforms' rule).

    Parameters
    ----------
    quantile : float, default 0.99
        Upper limits at this quantile of the kind's training readings (lower limits, for
        signals that degrade downwards, at ``1 - quantile``).

    Attributes
    ----------
    limits_ : DataFrame
        Per kind, one limit per signal.
    """

    def __init__(self, quantile: float = 0.99):
        self.quantile = quantile

    def fit(self, readings: pd.DataFrame, y=None):
        """Learn the limits from the training readings.

        Returns
        -------
        self
        """
        _check_features(readings, list(SIGNALS))
        kind = readings["kind"] if "kind" in readings else pd.Series("all", index=readings.index)
        limits = {}
        for signal, direction in SIGNALS.items():
            q = self.quantile if direction > 0 else 1 - self.quantile
            limits[signal] = readings[signal].groupby(kind).quantile(q)
        self.limits_ = pd.DataFrame(limits)
        return self

    def predict(self, readings: pd.DataFrame) -> pd.DataFrame:
        """``equipment_id, date, statistic, alarm``; the statistic counts the signals beyond their limit."""
        if not hasattr(self, "limits_"):
            raise NotFittedError("FixedThresholdDetector is not fitted yet: call fit first")
        frame = readings.sort_values(["equipment_id", "date"], kind="stable").reset_index(drop=True)
        kind = frame["kind"] if "kind" in frame else pd.Series("all", index=frame.index)
        beyond = np.zeros(len(frame))
        for signal, direction in SIGNALS.items():
            limit = kind.map(self.limits_[signal]).to_numpy(float)
            beyond += (direction * (frame[signal].to_numpy(float) - limit) > 0)
        return pd.DataFrame({"equipment_id": frame["equipment_id"], "date": frame["date"], "statistic": beyond,
                             "alarm": beyond > 0})


def alert_episodes(alarms: pd.DataFrame, merge_gap_days: int = 3) -> pd.DataFrame:
    """Consecutive alarm days of a unit (gaps up to ``merge_gap_days`` bridged) as one episode.

    Returns
    -------
    DataFrame
        ``equipment_id, start, end, days``: one row per episode; ``start`` is when the alert fires.
    """
    on = alarms.loc[alarms["alarm"].astype(bool), ["equipment_id", "date"]].sort_values(["equipment_id", "date"])
    if on.empty:
        return pd.DataFrame({"equipment_id": pd.Series(dtype=object), "start": pd.Series(dtype="datetime64[ns]"),
                             "end": pd.Series(dtype="datetime64[ns]"), "days": pd.Series(dtype=int)})
    gap = on.groupby("equipment_id")["date"].diff().dt.days
    new = gap.isna() | (gap > merge_gap_days)
    episode = new.cumsum()
    out = on.groupby(episode).agg(equipment_id=("equipment_id", "first"), start=("date", "min"),
                                  end=("date", "max"), days=("date", "size"))
    return out.reset_index(drop=True)


def alert_lead_times(episodes: pd.DataFrame, failures: pd.DataFrame, exposure_days: float,
                     window_days: int = 60, warned_days: int = 7,
                     observed_from=None) -> tuple[dict, pd.DataFrame]:
    """Score alert episodes against known failures.

    A failure is *warned* when an episode of its unit starts in the ``window_days`` before it
    (or on its day); its lead time is the days from the first such start to the failure. An
    episode that starts with no failure of its unit in the next ``window_days`` is a false
    alarm.

    Parameters
    ----------
    episodes : DataFrame
        From :func:`alert_episodes`.
    failures : DataFrame
        ``equipment_id, failure_date``.
    exposure_days : float
        Unit-days observed (for the false-alarm rate).
    window_days, warned_days : int
    observed_from : date, optional
        First day the alarms cover: failures within ``window_days`` after it (whose warning
        window was not fully observed) are left out of the recall and lead times, but still
        excuse the alerts before them.

    Returns
    -------
    summary : dict
        ``failures, detected, recall, median_lead_days, warned_share`` (share of failures
        warned at least ``warned_days`` ahead), ``alerts, false_alarms,
        false_alarms_per_100_unit_months``.
    per_failure : DataFrame
        ``equipment_id, failure_date, first_alert, lead_days``.
    """
    fails = failures[["equipment_id", "failure_date"]].copy()
    fails["failure_date"] = pd.to_datetime(fails["failure_date"])
    pairs = fails.reset_index().merge(episodes, on="equipment_id", how="left")
    before = (pairs["start"] <= pairs["failure_date"]) & (
        pairs["start"] >= pairs["failure_date"] - pd.Timedelta(days=window_days))
    first = pairs[before].groupby("index")["start"].min()
    per_failure = fails.assign(first_alert=first.reindex(fails.index).to_numpy())
    per_failure["lead_days"] = (per_failure["failure_date"] - per_failure["first_alert"]).dt.days
    if observed_from is not None:
        per_failure = per_failure[per_failure["failure_date"]
                                  >= pd.Timestamp(observed_from) + pd.Timedelta(days=window_days)]
    ep = episodes.reset_index().merge(fails, on="equipment_id", how="left")
    horizon = ep["start"] + pd.Timedelta(days=window_days)
    followed = (ep["failure_date"] >= ep["start"]) & (ep["failure_date"] <= horizon)
    true_alert = ep[followed]["index"].unique()
    n_false = int(len(episodes) - len(true_alert))
    lead = per_failure["lead_days"].dropna()
    n = len(per_failure)
    summary = {
        "failures": n, "detected": int(len(lead)), "recall": round(len(lead) / n, 4) if n else None,
        "median_lead_days": float(lead.median()) if len(lead) else None,
        "warned_share": round(float((per_failure["lead_days"] >= warned_days).sum()) / n, 4) if n else None,
        "alerts": int(len(episodes)), "false_alarms": n_false,
        "false_alarms_per_100_unit_months": round(100 * n_false / (exposure_days / 30.4375), 3)
        if exposure_days else None,
    }
    return summary, per_failure
