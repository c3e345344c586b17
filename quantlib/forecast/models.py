"""The forecaster family: baselines, ETS, ARIMA, Theta and their combination.

All share the contract of :class:`quantlib.forecast.base.Forecaster`. Intervals are
analytic where the model provides them (naive family, ETS, ARIMA, Theta) and the
combination takes the members' median bounds.
"""

from __future__ import annotations

import warnings

import numpy as np

from quantlib.forecast.base import Forecaster, normal_intervals

__all__ = ["Naive", "SeasonalNaive", "Drift"]


def _rmse(resid: np.ndarray) -> float:
    resid = resid[np.isfinite(resid)]
    return float(np.sqrt(np.mean(resid**2))) if len(resid) else 0.0


class Naive(Forecaster):
    """The last value, repeated; random-walk intervals ``sigma * sqrt(h)``.

    Parameters
    ----------
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    def __init__(self, n_jobs=1, backend="loky", dask_address=None, fill=None):
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _fit_series(self, y, season_length, X, series_id=None):
        return {"last": float(y[-1]), "sigma": _rmse(np.diff(y))}

    def _predict_series(self, state, h, level, X_future):
        mean = np.full(h, state["last"])
        sd = state["sigma"] * np.sqrt(np.arange(1, h + 1))
        return mean, normal_intervals(mean, sd, level)


class SeasonalNaive(Forecaster):
    """The value one season earlier; intervals ``sigma * sqrt(k + 1)``, k full seasons ahead.

    With season length 1 (or a series shorter than one season and a step) it is the
    naive forecast.

    Parameters
    ----------
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    min_seasons = 1

    def __init__(self, n_jobs=1, backend="loky", dask_address=None, fill=None):
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _fit_series(self, y, season_length, X, series_id=None):
        m = season_length if len(y) > season_length else 1
        return {"season": y[-m:].astype(float).copy(), "m": m, "sigma": _rmse(y[m:] - y[:-m])}

    def _predict_series(self, state, h, level, X_future):
        m = state["m"]
        steps = np.arange(h)
        mean = state["season"][steps % m]
        sd = state["sigma"] * np.sqrt(steps // m + 1)
        return mean, normal_intervals(mean, sd, level)

    def _describe(self, state):
        return f"SeasonalNaive({state['m']})"


class Drift(Forecaster):
    """The line from the first to the last observation, extended (random walk with drift).

    Intervals ``sigma * sqrt(h * (1 + h / (n - 1)))`` include the slope's uncertainty.

    Parameters
    ----------
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    def __init__(self, n_jobs=1, backend="loky", dask_address=None, fill=None):
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _fit_series(self, y, season_length, X, series_id=None):
        n = len(y)
        slope = (y[-1] - y[0]) / (n - 1)
        resid = np.diff(y) - slope
        dof = max(n - 2, 1)
        sigma = float(np.sqrt(np.sum(resid**2) / dof))
        return {"last": float(y[-1]), "slope": float(slope), "sigma": sigma, "n": n}

    def _predict_series(self, state, h, level, X_future):
        steps = np.arange(1, h + 1)
        mean = state["last"] + state["slope"] * steps
        sd = state["sigma"] * np.sqrt(steps * (1 + steps / (state["n"] - 1)))
        return mean, normal_intervals(mean, sd, level)
