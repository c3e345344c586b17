"""Model choice per series by rolling-origin cross-validation, and backtests.

:class:`AutoForecaster` scores each candidate on the last ``cv_windows`` forecast origins
of each series (each forecasting ``h`` steps from data up to the origin only) and keeps
the best per series. :func:`cross_validate` is the backtest every engine uses: the long
table of forecasts made at past cutoffs next to what happened.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from quantlib.forecast import metrics
from quantlib.forecast.base import (
    DS,
    ID,
    Forecaster,
    ForecastInputError,
    SeriesData,
    Y,
    _lv,
    prepare_long,
)
from quantlib.forecast.models import Naive, SeasonalNaive, Theta, naive_fallback

__all__ = ["AutoForecaster", "cross_validate"]

_METRICS = ("mase", "smape", "mae", "rmse")


def _score(metric: str, actual, forecast, train, m: int) -> float:
    if metric == "mase":
        return metrics.mase(actual, forecast, train, m)
    if metric == "smape":
        return metrics.smape(actual, forecast)
    if metric == "mae":
        return float(np.mean(np.abs(np.asarray(actual) - forecast)))
    return float(np.sqrt(np.mean((np.asarray(actual) - forecast) ** 2)))


_REF_LEVEL = 80.0
_MIN_STEP_POINTS = 10
_SHRINK_POINTS = 5.0


def _standardized_errors(actual, mean, interval) -> np.ndarray:
    """``|actual - mean|`` in standard-deviation units of a model's 80 % interval."""
    lo, hi = (np.asarray(a, dtype=float) for a in interval)
    sd = (hi - lo) / (2.0 * stats.norm.ppf(0.5 + _REF_LEVEL / 200.0))
    err = np.abs(np.asarray(actual, dtype=float) - np.asarray(mean, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, err / sd, np.nan)
    return np.where(np.isfinite(z), z, np.nan)


def _conformal_quantile(z: np.ndarray, level: float) -> float:
    n = len(z)
    rank = min(n, int(np.ceil((n + 1) * level / 100.0)))
    return float(np.sort(z)[rank - 1])


def _interval_scale(cv_z: np.ndarray, h: int, level: float) -> np.ndarray:
    """Per step multipliers of a level's half-widths; see ``calibrate_intervals``."""
    z_level = stats.norm.ppf(0.5 + level / 200.0)

    def shrunk(z):
        z = z[np.isfinite(z)]
        if len(z) == 0:
            return 1.0
        raw = _conformal_quantile(z, level) / z_level
        return (len(z) * raw + _SHRINK_POINTS) / (len(z) + _SHRINK_POINTS)

    pooled = shrunk(cv_z.ravel())
    scale = np.full(h, pooled)
    for k in range(min(h, cv_z.shape[1])):
        col = cv_z[:, k]
        if np.isfinite(col).sum() >= _MIN_STEP_POINTS:
            scale[k] = shrunk(col)
    return scale


def _name(model: Forecaster) -> str:
    return type(model).__name__


class AutoForecaster(Forecaster):
    """Per series, the candidate with the best rolling-origin cross-validation score.

    For each series, each candidate is fitted on the data up to each of the last
    ``cv_windows`` origins (``cv_step`` apart) and forecasts the next ``h`` steps; the
    candidate with the lowest mean ``metric`` over the windows is then refitted on the
    whole series. Windows whose training part would be shorter than ``min_train`` are
    dropped; a series too short for any window gets the first candidate (recorded in
    ``fallbacks_``). Ties go to the earlier candidate.

    Parameters
    ----------
    candidates : sequence of Forecaster, optional
        Default ``SeasonalNaive(), Naive(), Theta()``; add ``AutoETS()``,
        ``AutoARIMA()`` or ``Ensemble()`` where the extra fitting time is affordable.
    cv_windows : int
        Forecast origins per series.
    metric : {"mase", "smape", "mae", "rmse"}
    h : int, optional
        Cross-validation horizon; default the season length (at least 4 when that is 1).
        Use the horizon you will predict.
    cv_step : int, optional
        Steps between origins; default ``h`` (non-overlapping windows).
    min_train : int
        Fewest observations a window's training part may have.
    calibrate_intervals : bool
        Default True: widen each series' intervals with the cross-validation errors of
        the chosen candidate (its own intervals come from in-sample errors and are
        usually too narrow out of sample); forecasts (``yhat``) are unchanged. The rule:
        each CV error is put in standard-deviation units of the candidate's own 80 %
        interval at that step, ``z = |y - yhat| / ((hi_80 - lo_80) / (2 * z_80))``
        (``z_80`` the normal 80 % quantile). For a level ``L`` and step ``k`` the
        multiplier is ``q / z_L``, where ``q`` is the conformal quantile (rank
        ``ceil((n + 1) L / 100)`` of ``n``, or the largest when that exceeds ``n``)
        of the ``z`` of step ``k`` over the windows, or of all steps pooled when step
        ``k`` has fewer than 10 CV errors (the usual case: ``cv_windows`` is small)
        or is beyond the CV horizon. It is shrunk toward 1 as ``(n * m + 5) / (n + 5)``
        (``m`` the raw multiplier, ``n`` the number of errors used) and scales both
        half-widths of the candidate's level-``L`` interval around ``yhat``: intervals
        are widened where the CV errors were larger than the model expected and
        narrowed where they were smaller. Series without CV errors keep their
        intervals. With False the chosen candidate's intervals are returned as they
        are.
    top_k : int
        Default 1: the single best candidate. With ``k > 1`` the forecast is the mean of
        the ``k`` best candidates' forecasts (each refitted on the whole series), and the
        intervals the mean of their bounds, calibrated with the CV errors of that mean.
        With few CV windows, averaging the two best is steadier than picking one.
        Candidates scored on different windows are not averaged (the best is used alone).
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.

    Attributes
    ----------
    models_ : dict
        Per series, the fitted state (chosen candidate, refitted on all data).
    cv_results_ : pandas.DataFrame
        ``series_id, model, score, windows, chosen`` for every series and candidate
        (``chosen`` is True for each of the ``top_k`` averaged candidates).
    """

    fallback_model = staticmethod(naive_fallback)
    reports_model = True

    def __init__(
        self,
        candidates: Sequence[Forecaster] | None = None,
        cv_windows: int = 3,
        metric: str = "mase",
        h: int | None = None,
        cv_step: int | None = None,
        min_train: int = 4,
        calibrate_intervals: bool = True,
        top_k: int = 1,
        n_jobs=1,
        backend="loky",
        dask_address=None,
        fill=None,
    ):
        self.candidates = candidates
        self.cv_windows = cv_windows
        self.metric = metric
        self.h = h
        self.cv_step = cv_step
        self.min_train = min_train
        self.calibrate_intervals = calibrate_intervals
        self.top_k = top_k
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _candidates(self) -> list[Forecaster]:
        return list(self.candidates) if self.candidates is not None else [SeasonalNaive(), Naive(), Theta()]

    @property
    def uses_exog(self):  # type: ignore[override]
        return any(c.uses_exog for c in self._candidates())

    def fit(self, df, freq=None, season_length=None):
        if self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {self.metric!r}")
        if self.cv_windows < 1:
            raise ValueError("cv_windows must be >= 1")
        if int(self.top_k) < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k!r}")
        super().fit(df, freq=freq, season_length=season_length)
        rows = []
        for sid, fs in self.models_.items():
            for name, (score, windows) in fs.state.get("scores", {}).items():
                rows.append((sid, name, score, windows, name in fs.state["chosen"].split("+")))
        self.cv_results_ = pd.DataFrame(rows, columns=[ID, "model", "score", "windows", "chosen"])
        return self

    def _fit_one(self, s: SeriesData, m: int):
        # CV runs on the full SeriesData so each candidate applies its own fallbacks
        fs = super()._fit_one(s, m)
        return fs

    def _fit_series(self, y, season_length, X, series_id=None):
        candidates = self._candidates()
        names = [_name(c) for c in candidates]
        if len(set(names)) != len(names):
            names = [f"{n}_{i}" for i, n in enumerate(names)]
        n, m = len(y), season_length
        h = self.h or (m if m > 1 else 4)
        step = self.cv_step or h
        cutoffs = [n - h - i * step for i in range(self.cv_windows)]
        cutoffs = [c for c in cutoffs if c >= self.min_train]
        scores: dict[str, tuple[float, int]] = {}
        cv_means: dict[str, np.ndarray] = {}
        cv_ivs: dict[str, np.ndarray] = {}
        cv_ok: dict[str, list[int]] = {}
        ref = (_REF_LEVEL,) if self.calibrate_intervals else ()
        for name, cand in zip(names, candidates):
            errs = []
            means = np.full((len(cutoffs), h), np.nan)
            ivs_ref = np.full((len(cutoffs), 2, h), np.nan)
            for i, c in enumerate(cutoffs):
                part = SeriesData(series_id, pd.RangeIndex(c), y[:c], None if X is None else X[:c], None)
                fs = cand._fit_one(part, m)
                xf = None if X is None or not cand.uses_exog else X[c : c + h]
                mean, ivs = fs.impl._predict_series(fs.state, h, ref, xf)
                errs.append(_score(self.metric, y[c : c + h], mean, y[:c], m))
                means[i] = mean
                if ref:
                    ivs_ref[i] = ivs[_REF_LEVEL]
            ok = [j for j, e in enumerate(errs) if np.isfinite(e)]
            errs = [errs[j] for j in ok]
            cv_means[name], cv_ivs[name], cv_ok[name] = means[ok], ivs_ref[ok], ok
            scores[name] = (float(np.mean(errs)) if errs else np.inf, len(errs))
        finite = {k: v[0] for k, v in scores.items() if np.isfinite(v[0])}
        ranked = sorted(finite, key=lambda k: (finite[k], names.index(k))) if finite else [names[0]]
        top = ranked[: max(1, int(self.top_k))]
        # a combination needs the same windows for its members; otherwise keep the best alone
        if any(cv_ok[k] != cv_ok[top[0]] for k in top):
            top = top[:1]
        fitted = [
            candidates[names.index(k)]._fit_one(SeriesData(series_id, pd.RangeIndex(n), y, X, None), m) for k in top
        ]
        cv_z = None
        if self.calibrate_intervals and finite:
            mean = np.mean([cv_means[k] for k in top], axis=0)
            lo_hi = np.mean([cv_ivs[k] for k in top], axis=0)
            actual = [y[cutoffs[j] : cutoffs[j] + h] for j in cv_ok[top[0]]]
            cv_z = np.array([_standardized_errors(a, mu, iv) for a, mu, iv in zip(actual, mean, lo_hi)]).reshape(-1, h)
        chosen = "+".join(top)
        return {"chosen": chosen, "fitted": fitted[0] if len(fitted) == 1 else fitted, "scores": scores,
                "no_cv": not finite, "cv_z": cv_z}

    def _predict_series(self, state, h, level, X_future):
        members = state["fitted"] if isinstance(state["fitted"], list) else [state["fitted"]]
        preds = [
            fs.impl._predict_series(fs.state, h, level, X_future if fs.impl.uses_exog else None) for fs in members
        ]
        mean = np.mean([p[0] for p in preds], axis=0)
        ivs = {lv: (np.mean([p[1][lv][0] for p in preds], axis=0), np.mean([p[1][lv][1] for p in preds], axis=0))
               for lv in level}
        cv_z = state.get("cv_z")
        if cv_z is None or not level:
            return mean, ivs
        out = {}
        for lv in level:
            lo, hi = (np.asarray(a, dtype=float) for a in ivs[lv])
            scale = _interval_scale(cv_z, h, lv)
            out[lv] = (mean - scale * (mean - lo), mean + scale * (hi - mean))
        return mean, out

    def _describe(self, state):
        fs = state["fitted"]
        if isinstance(fs, list):
            return "mean(" + "+".join(f.impl._describe(f.state) if f.impl.reports_model else _name(f.impl)
                                      for f in fs) + ")"
        return fs.impl._describe(fs.state) if fs.impl.reports_model else state["chosen"]


def cross_validate(
    model: Forecaster,
    df: pd.DataFrame,
    h: int,
    n_windows: int = 3,
    step: int | None = None,
    level: Sequence[float] = (80, 95),
    freq: str | None = None,
    season_length: int | None = None,
) -> pd.DataFrame:
    """Rolling-origin backtest: forecasts made at past cutoffs next to the actuals.

    For window ``i`` (0 = the latest) each series is cut at its own position
    ``n - h - i * step``; a clone of ``model`` is fitted on the rows up to the cutoff
    only (no later value can influence it) and forecasts ``h`` steps, which are joined
    to the actual values. Series too short for a window (fewer than 2 rows before the
    cutoff) are left out of that window.

    Parameters
    ----------
    model : Forecaster
        Cloned for every window; its parameters (``n_jobs``, backend) apply.
    df : pandas.DataFrame
        Long format ``series_id, ds, y`` (+ exogenous columns, whose future values are
        passed as ``X_future``).
    h : int
        Steps forecast from each cutoff.
    n_windows : int
        Number of cutoffs.
    step : int, optional
        Steps between cutoffs; default ``h``.
    level : sequence of float
        Interval levels.
    freq, season_length
        Passed to ``fit``.

    Returns
    -------
    pandas.DataFrame
        ``series_id, cutoff, ds, y, yhat`` and ``yhat_lo_<l>, yhat_hi_<l>`` (and
        ``model`` when the forecaster reports one), one row per series, cutoff and step.
    """
    h = int(h)
    step = int(step or h)
    series = prepare_long(df, freq=freq, fill=model.fill)
    exog_cols = [c for c in df.columns if c not in (ID, DS, Y)]
    frames = []
    for i in range(n_windows):
        train_parts, future_parts, actual_parts = [], [], []
        for s in series:
            c = len(s.y) - h - i * step
            if c < 2:
                continue
            cols = {ID: np.repeat(np.array([s.series_id], dtype=object), len(s.y)), DS: s.ds, Y: s.y}
            for j, col in enumerate(exog_cols):
                cols[col] = s.X[:, j] if s.X is not None else np.nan
            full = pd.DataFrame(cols)
            train_parts.append(full.iloc[:c])
            future_parts.append(full.iloc[c : c + h].drop(columns=[Y]))
            actual_parts.append(full.iloc[c : c + h][[ID, DS, Y]].assign(cutoff=s.ds[c - 1]))
        if not train_parts:
            continue
        train = pd.concat(train_parts, ignore_index=True)
        train[ID] = train[ID].infer_objects()
        fitted = model.clone().fit(train, freq=freq, season_length=season_length)
        X_future = pd.concat(future_parts, ignore_index=True) if exog_cols else None
        if X_future is not None:
            X_future[ID] = X_future[ID].infer_objects()
        pred = fitted.predict(h, level=level, X_future=X_future)
        actual = pd.concat(actual_parts, ignore_index=True)
        actual[ID] = actual[ID].infer_objects()
        merged = actual.merge(pred, on=[ID, DS], how="left", validate="one_to_one")
        frames.append(merged)
    if not frames:
        raise ForecastInputError(f"no series is long enough for a backtest with h={h}")
    out = pd.concat(frames, ignore_index=True)
    lead = [ID, "cutoff", DS, Y, "yhat"]
    ivs = [f"yhat_{side}_{_lv(lv)}" for lv in level for side in ("lo", "hi")]
    rest = [c for c in out.columns if c not in lead + ivs]
    return out[lead + ivs + rest].sort_values([ID, "cutoff", DS], kind="stable").reset_index(drop=True)
