"""A combination of diverse forecasters with conformal intervals: the default for seasonal data.

:class:`CombinationForecaster` forecasts each series with the median (or mean, or
trimmed mean) of its members' forecasts. Forecast combinations beat per-series
selection on the M competitions (Petropoulos & Svetunkov 2020's SCUM; the M4 "Comb"
benchmark), because selection from a few noisy cross-validation scores often picks the
wrong model, while the median of diverse models is rarely far from the best.

Intervals are conformal: each series is cut once more ``h`` steps before its end (the
*calibration window*), the members are refitted on the part before the cut and
forecast the ``h`` held-out values, and the errors of the combination on those values,
in units of the combination's own 80 % interval width, are pooled over all the series
of the fit. Their quantiles rescale the combination's intervals per horizon step. The
calibration window is used for nothing else (no member is chosen on it).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from quantlib.forecast.base import ID, Forecaster, _lv
from quantlib.forecast.models import Comb, Drift, SeasonalNaive, Theta, naive_fallback

__all__ = ["CombinationForecaster", "default_members", "default_member_sets", "step_statistic"]

_REF_LEVEL = 80.0
_Z_REF = float(stats.norm.ppf(0.5 + _REF_LEVEL / 200.0))


def default_members() -> list[Forecaster]:
    """The default members (see :class:`CombinationForecaster` for how they were chosen)."""
    from quantlib.forecast.statsforecast_models import SFAutoETS, SFDOTheta

    return [SFAutoETS(), SFDOTheta(), Theta(), Comb(), SeasonalNaive(), Drift()]


def default_member_sets() -> dict:
    """The default members per season length (``None``: any other season length).

    Chosen per season-length class on the validation split of M1 and Tourism (training
    rows only): among every subset of two or more candidate members, combined by median
    or mean, the one with the lowest mean validation sMAPE over the two sets' series of
    that class (benchmarks/README.md, "Issue 12, the combination").

    - 1 (yearly / non-seasonal): DOTheta, Theta, drift
    - 4 (quarterly): AutoETS, DOTheta, seasonal naive
    - 12 (monthly): AutoETS, Theta, seasonal naive
    - any other: :func:`default_members` (chosen over all six frequencies).
    """
    from quantlib.forecast.statsforecast_models import SFAutoETS, SFDOTheta

    return {
        1: [SFDOTheta(), Theta(), Drift()],
        4: [SFAutoETS(), SFDOTheta(), SeasonalNaive()],
        12: [SFAutoETS(), Theta(), SeasonalNaive()],
        None: default_members(),
    }


def _aggregate(stack: np.ndarray, how: str, trim: float) -> np.ndarray:
    if how == "median":
        return np.median(stack, axis=0)
    if how == "mean":
        return np.mean(stack, axis=0)
    return stats.trim_mean(stack, trim, axis=0)


def step_statistic(z: np.ndarray, h: int, statistic, min_calibration: int) -> np.ndarray:
    """Per step 1..h, ``statistic`` of the calibration scores ``z``'s column (windows x steps).

    All steps pooled where a step has fewer than ``min_calibration`` finite scores; steps beyond
    the window repeat the last. The one per-step rule of the intervals and of ``debias``.
    """
    base = statistic(z[np.isfinite(z)])
    out = np.full(h, base, dtype=float)
    last = base
    for k in range(h):
        if k < z.shape[1]:
            col = z[:, k][np.isfinite(z[:, k])]
            last = statistic(col) if len(col) >= min_calibration else base
        out[k] = last
    return out


def _conformal_quantile(z: np.ndarray, level: float) -> float:
    """Rank ``ceil((n + 1) level / 100)`` of ``n`` sorted scores (the largest when beyond ``n``)."""
    n = len(z)
    rank = min(n, int(np.ceil((n + 1) * level / 100.0)))
    return float(np.sort(z)[rank - 1])


class CombinationForecaster(Forecaster):
    """The median (or mean, trimmed mean) of diverse forecasters, with conformal intervals.

    Per series, every member is fitted on the whole series and the point forecast is the
    median of the members' forecasts per step; interval bounds are combined the same way
    and then rescaled by the conformal calibration below. A member that fails on a series
    is left out of that series' combination; when all fail, the seasonal naive (or
    naive) forecast is used and recorded in ``fallbacks_``.

    Conformal calibration (``calibrate=True``): each series of at least
    ``min_train + h`` observations is cut ``h`` steps before its end; the members are
    refitted on the part before the cut (members that offer it refit the form chosen on
    the whole series, e.g. the same ETS model, re-estimating its parameters, which costs
    a fraction of a full search) and their combination forecasts the ``h`` held-out
    values. Each error is put in units of the combination's own 80 % interval at that
    step, ``z = |y - yhat| / ((hi_80 - lo_80) / (2 * z_80))`` (``intervals="signed"``: each
    side on its own tail of the signed ``z``, below). Over all the series of the
    fit, the multiplier of a level-``L`` interval at step ``k`` is ``q_L(k) / z_L``,
    where ``q_L(k)`` is the conformal quantile (rank ``ceil((n + 1) L / 100)`` of the
    ``n`` scores) of the step-``k`` scores; steps beyond ``h`` use step ``h``'s. Both
    half-widths of the combined interval are multiplied by it. Series too short for the
    calibration window get the same multipliers. With fewer than ``min_calibration``
    scores at a step, the scores of all steps are pooled. With ``calibration_windows``
    above 1, each series is also cut ``calibration_step``, ``2 calibration_step``, ...
    steps earlier (while at least ``min_train`` observations stay before the cut), and
    every window's scores join the pool.

    Parameters
    ----------
    members : sequence of Forecaster, or mapping of season length to sequence, optional
        A sequence is used for every series. A mapping ``{season_length: members}``
        picks the members by each series' season length, the key ``None`` serving any
        season length not listed (without it, :func:`default_members`). Default
        :func:`default_member_sets`: per season-length class (1, 4, 12) the subset with
        the lowest mean validation sMAPE on that class's M1 and Tourism series, and
        otherwise :func:`default_members` (statsforecast's ``AutoETS`` and
        ``DynamicOptimizedTheta``, quantlib's ``Theta``, ``Comb``, ``SeasonalNaive``
        and ``Drift``, the lowest mean over all six frequencies). All were chosen on a
        validation split made from the training rows of M1 and Tourism only (the last
        horizon of each training series held out), among members fast enough for the
        speed aim (AutoCES and AutoARIMA cost 2x and 25x AutoETS alone;
        benchmarks/README.md, "Issue 12, the combination").
    combine : {"median", "mean", "trimmed"}
        How member forecasts are combined per step.
    trim : float
        Share cut from each end for ``combine="trimmed"``.
    h : int, optional
        The calibration horizon; default the season length (at least 4 when that is 1).
        Pass the horizon you will predict.
    calibrate : bool
        Whether intervals are conformally calibrated (see above); with False the
        combined member intervals are returned as they are.
    min_train : int
        Fewest observations before the calibration cut.
    min_calibration : int
        Fewest scores at a step for a step's own multiplier.
    calibration_windows : int
        Calibration windows per series (the last one first).
    calibration_step : int, optional
        Steps between successive calibration cuts; default 1.
    intervals : {"symmetric", "signed"}
        ``"symmetric"`` scales both half-widths by the quantile of the absolute scores;
        ``"signed"`` calibrates each side on its own tail of the signed scores (the upper
        half-width by the ``50 + L/2`` % quantile of ``z``, the lower by that of ``-z``,
        neither below zero), so a combination that runs low gets a wider upper side.
    debias : bool
        Whether the point forecast is moved by the combination's typical calibration error:
        per step, the median of the signed scores ``z`` (``bias_``) times the series' own
        80 % half-width in normal units; the intervals are then centred there and calibrated
        on ``z - bias_``, each bound ``centre -+ q_L(k) * sd`` with that unit ``sd``. Rows
        whose combined interval is degenerate keep the plain forecast and interval. With
        one window the median follows the last window's luck; use several.
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.

    Attributes
    ----------
    models_ : dict
        Per series, the fitted members.
    calibration_scores_ : numpy.ndarray
        The signed calibration scores ``(y - yhat) / sd``, one row per calibration window (a series' windows
        in a row, the last cut first), one column per step
        (NaN where a member interval was degenerate); ``None`` without calibration.
    n_calibrated_ : int
        Series that had a calibration window.
    bias_ : numpy.ndarray or None
        Per calibration step, the median signed score (``debias``), else ``None``.

    Notes
    -----
    Exogenous columns are passed to the members that use them (``uses_exog``); the
    default members do not use any, so regressors are ignored by the default
    combination.
    """

    fallback_model = staticmethod(naive_fallback)
    reports_model = True

    def __init__(
        self,
        members: Sequence[Forecaster] | None = None,
        combine: str = "median",
        trim: float = 0.2,
        h: int | None = None,
        calibrate: bool = True,
        min_train: int = 6,
        min_calibration: int = 20,
        calibration_windows: int = 1,
        calibration_step: int | None = None,
        intervals: str = "symmetric",
        debias: bool = False,
        n_jobs=1,
        backend="loky",
        dask_address=None,
        fill=None,
    ):
        self.members = members
        self.combine = combine
        self.trim = trim
        self.h = h
        self.calibrate = calibrate
        self.min_train = min_train
        self.min_calibration = min_calibration
        self.calibration_windows = calibration_windows
        self.calibration_step = calibration_step
        self.intervals = intervals
        self.debias = debias
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _member_sets(self) -> dict:
        if self.members is None:
            sets = default_member_sets()
        elif isinstance(self.members, Mapping):
            sets = {k: list(v) for k, v in self.members.items()}
        else:
            return {None: list(self.members)}
        sets.setdefault(None, default_members())
        return sets

    def _members(self, season_length: int | None = None) -> list[Forecaster]:
        """The members used for series of season length ``season_length``."""
        sets = self._member_sets()
        return sets.get(season_length, sets[None])

    @property
    def uses_exog(self):  # type: ignore[override]
        return any(m.uses_exog for ms in self._member_sets().values() for m in ms)

    # -- fitting
    def fit(self, df, freq=None, season_length=None):
        """Fit every member per series and calibrate the intervals.

        Parameters
        ----------
        df : pandas.DataFrame
            Long format ``series_id, ds, y`` (+ exogenous columns).
        freq : str, optional
            Frequency alias of ``ds``; inferred per series when omitted.
        season_length : int, optional
            Season length; default from the frequency.

        Returns
        -------
        self
        """
        if self.combine not in ("median", "mean", "trimmed"):
            raise ValueError(f"combine must be 'median', 'mean' or 'trimmed', got {self.combine!r}")
        if self.intervals not in ("symmetric", "signed"):
            raise ValueError(f"intervals must be 'symmetric' or 'signed', got {self.intervals!r}")
        if not 0 <= self.trim < 0.5:
            raise ValueError(f"trim must be in [0, 0.5), got {self.trim!r}")
        if not all(self._member_sets().values()):
            raise ValueError("a combination needs at least one member")
        super().fit(df, freq=freq, season_length=season_length)
        per_series = [fs.state["cv_z"] for fs in self.models_.values()
                      if isinstance(fs.state, dict) and fs.state.get("cv_z") is not None]
        self.n_calibrated_ = len(per_series)
        rows = [r for windows in per_series for r in windows]
        if self.calibrate and rows:
            width = max(len(r) for r in rows)
            z = np.full((len(rows), width), np.nan)
            for i, r in enumerate(rows):
                z[i, : len(r)] = r
            self.calibration_scores_ = z
        else:
            self.calibration_scores_ = None
        self.bias_ = None
        if self.debias and self.calibration_scores_ is not None and np.isfinite(self.calibration_scores_).any():
            z = self.calibration_scores_
            self.bias_ = step_statistic(z, z.shape[1], np.median, self.min_calibration)
        return self

    def _fit_members(self, y, m, X, series_id, like=None, members=None):
        fitted = []
        for j, member in enumerate(members if members is not None else self._members(m)):
            exog = X if member.uses_exog else None
            try:
                if like is not None and like[j] is not None and hasattr(member, "_refit_like"):
                    state = member._refit_like(like[j], y, m, exog, series_id)
                else:
                    state = member._fit_series(y, m, exog, series_id)
            # A failing member is dropped for this series only; the combination uses the others.
            except Exception:  # nosec B112
                state = None
            fitted.append((member, state))
        return fitted

    def _combine(self, fitted, h, level, X_future):
        preds = []
        for member, st in fitted:
            if st is None:
                continue
            try:
                mean, iv = member._predict_series(st, h, level, X_future if member.uses_exog else None)
            except Exception:  # nosec B112
                continue
            if np.all(np.isfinite(mean)):
                preds.append((mean, iv))
        if not preds:
            raise RuntimeError("no combination member could forecast")
        mean = _aggregate(np.array([p[0] for p in preds]), self.combine, self.trim)
        out = {}
        for lv in level:
            lo = _aggregate(np.array([p[1][lv][0] for p in preds]), self.combine, self.trim)
            hi = _aggregate(np.array([p[1][lv][1] for p in preds]), self.combine, self.trim)
            out[lv] = (lo, hi)
        return mean, out

    def _fit_series(self, y, season_length, X, series_id=None):
        m = season_length
        members = self._members(m)
        fitted = self._fit_members(y, m, X, series_id, members=members)
        if all(st is None for _, st in fitted):
            raise RuntimeError("no combination member could be fitted")
        h = int(self.h or (m if m > 1 else 4))
        step = int(self.calibration_step or 1)
        windows = []
        for k in range(int(self.calibration_windows) if self.calibrate else 0):
            c = len(y) - h - k * step
            if c < self.min_train:
                break
            z = self._window_scores(y, c, h, m, X, series_id, fitted, members)
            if z is not None:
                windows.append(z)
        cv_z = np.array(windows) if windows else None
        return {"fitted": fitted, "cv_z": cv_z}

    def _window_forecast(self, y, c, h, m, X, series_id, fitted, members):
        """The combination refitted on ``y[:c]``: its ``h``-step forecast and 80 % bounds, or None."""
        # the season is kept only where the shorter part holds two
        mc = m if c >= 2 * m else 1
        like = [st if mc == m else None for _, st in fitted]
        part = self._fit_members(y[:c], mc, None if X is None else X[:c], series_id, like=like, members=members)
        try:
            mean, iv = self._combine(part, h, (_REF_LEVEL,), None if X is None else X[c:c + h])
        except RuntimeError:
            return None
        lo, hi = iv[_REF_LEVEL]
        return mean, np.asarray(lo), np.asarray(hi)

    def _window_scores(self, y, c, h, m, X, series_id, fitted, members):
        """Scores ``z`` of the combination cut at ``c``, forecasting the ``h`` values after it."""
        window = self._window_forecast(y, c, h, m, X, series_id, fitted, members)
        if window is None:
            return None
        mean, lo, hi = window
        sd = (hi - lo) / (2.0 * _Z_REF)
        err = y[c:c + h] - mean  # signed: "symmetric" intervals use its size, "signed" ones each tail
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd > 0, err / sd, np.nan)
        return np.where(np.isfinite(z), z, np.nan)

    def _predict_series(self, state, h, level, X_future):
        return self._combine(state["fitted"], h, level, X_future)

    def _describe(self, state):
        names = [m._describe(s) for m, s in state["fitted"] if s is not None]
        return f"{self.combine}(" + "+".join(names) + ")"

    # -- prediction
    def interval_scale(self, h: int, level: float) -> np.ndarray:
        """The conformal multiplier of the level-``level`` half-widths at steps 1..h (symmetric).

        Parameters
        ----------
        h : int
            Steps.
        level : float
            Interval level in percent.

        Returns
        -------
        numpy.ndarray
            ``h`` multipliers (ones without calibration scores).
        """
        if self.calibration_scores_ is None:
            return np.ones(h)
        return self._scale(np.abs(self._residual_scores()), h, level, stats.norm.ppf(0.5 + level / 200.0))

    def interval_scales(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray]:
        """The multipliers of the lower and of the upper half-widths at steps 1..h.

        Both are :meth:`interval_scale` for ``intervals="symmetric"``; for ``"signed"`` the
        upper one is the conformal ``50 + level/2`` % quantile of the signed scores, the lower
        one that of their negatives, each over the one-sided normal quantile and at least 0.
        """
        if self.calibration_scores_ is None or self.intervals == "symmetric":
            scale = self.interval_scale(h, level)
            return scale, scale
        z = self._residual_scores()
        one_sided = 50.0 + level / 2.0
        z_side = stats.norm.ppf(one_sided / 100.0)
        lower = self._scale(-z, h, one_sided, z_side)
        upper = self._scale(z, h, one_sided, z_side)
        return np.maximum(lower, 0.0), np.maximum(upper, 0.0)

    def _scale(self, z: np.ndarray, h: int, level: float, z_level: float) -> np.ndarray:
        """Per step, the conformal ``level`` quantile of ``z``'s column over ``z_level`` (ones without scores)."""
        if not np.isfinite(z).any():
            return np.ones(h)
        return step_statistic(z, h, lambda col: _conformal_quantile(col, level), self.min_calibration) / z_level

    def _residual_scores(self) -> np.ndarray:
        """The calibration scores less the per-step bias (``debias``), else as they are."""
        z = self.calibration_scores_
        if getattr(self, "bias_", None) is None:
            return z
        return z - self.bias_[np.newaxis, : z.shape[1]]

    def predict(self, h, level=(80, 95), X_future=None):
        """Forecast ``h`` steps; intervals rescaled by the conformal calibration.

        Parameters
        ----------
        h : int
            Horizon (steps).
        level : sequence of float
            Interval levels in percent.
        X_future : pandas.DataFrame, optional
            Future exogenous values (for members that use them).

        Returns
        -------
        pandas.DataFrame
            ``series_id, ds, yhat, model`` and ``yhat_lo_<l>, yhat_hi_<l>`` per level.
        """
        debiased = self.calibrate and getattr(self, "bias_", None) is not None
        levels = tuple(level) + ((_REF_LEVEL,) if debiased and _REF_LEVEL not in level else ())
        out = super().predict(h, level=levels, X_future=X_future)
        if not self.calibrate or self.calibration_scores_ is None or not levels:
            return out
        step = out.groupby(ID, sort=False).cumcount().to_numpy()
        mean = out["yhat"].to_numpy(float)
        if debiased:
            # the scores' unit: the combination's own 80 % half-width in normal units, per row
            ref_lo, ref_hi = (out[f"yhat_{side}_{_lv(_REF_LEVEL)}"].to_numpy(float) for side in ("lo", "hi"))
            sd = (ref_hi - ref_lo) / (2.0 * _Z_REF)
            usable = np.isfinite(sd) & (sd > 0)
            shift = np.where(usable, self.bias_[np.minimum(step, len(self.bias_) - 1)] * np.where(usable, sd, 0), 0)
            centre = mean + shift
        for lv in level:
            lower, upper = self.interval_scales(int(h), float(lv))
            lo_col, hi_col = f"yhat_lo_{_lv(lv)}", f"yhat_hi_{_lv(lv)}"
            lo = mean - lower[step] * (mean - out[lo_col].to_numpy(float))
            hi = mean + upper[step] * (out[hi_col].to_numpy(float) - mean)
            if debiased:
                z_level = stats.norm.ppf(0.5 + float(lv) / 200.0)
                lo = np.where(usable, centre - lower[step] * z_level * sd, lo)
                hi = np.where(usable, centre + upper[step] * z_level * sd, hi)
            out[lo_col], out[hi_col] = lo, hi
        if debiased:
            out["yhat"] = centre
            if _REF_LEVEL not in level:
                out = out.drop(columns=[f"yhat_lo_{_lv(_REF_LEVEL)}", f"yhat_hi_{_lv(_REF_LEVEL)}"])
        return out

