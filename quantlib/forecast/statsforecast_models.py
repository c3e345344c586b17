"""statsforecast's models behind quantlib's forecaster contract, and their median ("SCUM").

Each class here wraps one of statsforecast's model classes (``AutoETS``, ``AutoARIMA``,
``AutoCES``, ``DynamicOptimizedTheta``): it fits one statsforecast model per series
(``model.fit(y)``) and forecasts with ``model.predict(h, level=[...])``, so it gets the
contract of :class:`quantlib.forecast.base.Forecaster` (long format, fallbacks, interval
columns, ``n_jobs`` fan-out over chunks of series).

:class:`SCUM` is the combination of Petropoulos & Svetunkov (2020): the median of ETS,
CES, ARIMA and DOTheta point forecasts, with the median of the members' interval bounds.

statsforecast is a runtime dependency of quantlib (it pins ``pandas<3``). It is imported
when a model is fitted, not when this module is imported, so importing
:mod:`quantlib.forecast` stays cheap; its first fit in a process includes numba
compilation (seconds).
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from quantlib.forecast.base import Forecaster
from quantlib.forecast.models import Ensemble, naive_fallback

__all__ = ["ets_spec", "SFAutoETS", "SFAutoARIMA", "SFAutoCES", "SFDOTheta", "SCUM", "statsforecast_available"]


def statsforecast_available() -> bool:
    """Whether statsforecast can be imported."""
    try:
        import statsforecast.models  # noqa: F401
    except ImportError:
        return False
    return True


class _StatsForecastModel(Forecaster):
    """One statsforecast model per series; subclasses name the class in ``sf_name``.

    Parameters
    ----------
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    fallback_model = staticmethod(naive_fallback)
    #: The class name in ``statsforecast.models``.
    sf_name = ""

    def _make(self, season_length: int):
        import statsforecast.models as sfm

        return getattr(sfm, self.sf_name)(season_length=season_length)

    @staticmethod
    def _fit_quietly(model, y) -> dict:
        """Fit a statsforecast model with its warnings and floating-point notices silenced."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                model.fit(np.asarray(y, dtype=float))
        return {"model": model}

    def _fit_series(self, y, season_length, X, series_id=None):
        return self._fit_quietly(self._make(season_length), y)

    def _predict_series(self, state, h, level, X_future):
        levels = [int(lv) if float(lv).is_integer() else float(lv) for lv in level]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                fc = state["model"].predict(h=h, level=levels or None)
        mean = np.asarray(fc["mean"], dtype=float)
        if not np.all(np.isfinite(mean)):
            raise FloatingPointError(f"{self.sf_name} gave a non-finite forecast")
        out = {}
        for lv, key in zip(level, levels):
            lo = np.asarray(fc[f"lo-{key}"], dtype=float)
            hi = np.asarray(fc[f"hi-{key}"], dtype=float)
            # a model without a usable variance (e.g. a constant series) gives NaN bounds
            out[lv] = (np.where(np.isfinite(lo), lo, mean), np.where(np.isfinite(hi), hi, mean))
        return mean, out

    def _describe(self, state) -> str:
        return self.sf_name


_ETS_METHOD = re.compile(r"ETS\((\w),(\w)(d?),(\w)\)")


def ets_spec(method: str) -> tuple[str, bool] | None:
    """``"ETS(M,Ad,N)"`` -> ``("MAN", True)``; None if ``method`` is not of that form."""
    hit = _ETS_METHOD.fullmatch(str(method).strip())
    if hit is None:
        return None
    error, trend, damped, season = hit.groups()
    return error + trend + season, bool(damped)


class SFAutoETS(_StatsForecastModel):
    """statsforecast's ``AutoETS`` (ETS chosen per series by AICc, Hyndman et al. 2008)."""

    sf_name = "AutoETS"

    def _refit_like(self, state, y, season_length, X, series_id=None):
        """Refit the ETS form chosen in ``state`` on ``y`` (parameters re-estimated, no search).

        Used by :class:`~quantlib.forecast.combination.CombinationForecaster` on its
        calibration window; falls back to the full search when the form cannot be fitted.
        """
        import statsforecast.models as sfm

        spec = ets_spec(state["model"].model_.get("method", ""))
        if spec is None:
            return self._fit_series(y, season_length, X, series_id)
        model = sfm.AutoETS(season_length=season_length, model=spec[0], damped=spec[1])
        try:
            return self._fit_quietly(model, y)
        except Exception:
            return self._fit_series(y, season_length, X, series_id)


class SFAutoARIMA(_StatsForecastModel):
    """statsforecast's ``AutoARIMA`` (Hyndman & Khandakar 2008's stepwise search)."""

    sf_name = "AutoARIMA"


class SFAutoCES(_StatsForecastModel):
    """statsforecast's ``AutoCES`` (complex exponential smoothing, Svetunkov et al.)."""

    sf_name = "AutoCES"

    def _refit_like(self, state, y, season_length, X, series_id=None):
        """Refit the CES season type chosen in ``state`` on ``y`` (no search over types)."""
        import statsforecast.models as sfm

        kind = state["model"].model_.get("seasontype")
        if kind not in ("N", "S", "P", "F"):
            return self._fit_series(y, season_length, X, series_id)
        model = sfm.AutoCES(season_length=season_length, model=kind)
        try:
            return self._fit_quietly(model, y)
        except Exception:
            return self._fit_series(y, season_length, X, series_id)


class SFDOTheta(_StatsForecastModel):
    """statsforecast's ``DynamicOptimizedTheta`` (Fiorucci et al. 2016)."""

    sf_name = "DynamicOptimizedTheta"


class SCUM(Ensemble):
    """The median of ETS, CES, ARIMA and DOTheta (Petropoulos & Svetunkov 2020).

    Point forecasts are the median of the members' forecasts per step; interval bounds the
    median of their lower and of their upper bounds per level. A member that fails on a
    series (an optimiser error, a non-finite forecast) is left out of that series' median;
    if all fail, the seasonal naive (or naive) forecast is used and recorded in
    ``fallbacks_``.

    Parameters
    ----------
    members : sequence of Forecaster, optional
        Default ``SFAutoETS(), SFAutoCES(), SFAutoARIMA(), SFDOTheta()``.
    combine : {"median", "mean"}
        With four members the median is the mean of the middle two.
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    def __init__(self, members=None, combine: str = "median", n_jobs=1, backend="loky", dask_address=None,
                 fill=None):
        super().__init__(members=members, combine=combine, n_jobs=n_jobs, backend=backend,
                         dask_address=dask_address, fill=fill)

    def _members(self):
        if self.members is not None:
            return list(self.members)
        return [SFAutoETS(), SFAutoCES(), SFAutoARIMA(), SFDOTheta()]

    def _predict_series(self, state, h, level, X_future):
        # a member whose forecast is unusable on this series is dropped from its median
        kept = []
        for member, st in state["fitted"]:
            try:
                kept.append((member, st, member._predict_series(st, h, level, None)))
            except Exception:  # nosec B112
                continue
        if not kept:
            raise RuntimeError("no SCUM member could forecast")
        agg = np.median if self.combine == "median" else np.mean
        mean = agg([k[2][0] for k in kept], axis=0)
        out = {
            lv: (agg([k[2][1][lv][0] for k in kept], axis=0), agg([k[2][1][lv][1] for k in kept], axis=0))
            for lv in level
        }
        return mean, out

    def _describe(self, state):
        return "SCUM(" + "+".join(m._describe(s) for m, s in state["fitted"]) + ")"
