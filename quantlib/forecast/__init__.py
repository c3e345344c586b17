"""Forecasting: one estimator contract for many series (see :mod:`quantlib.forecast.base`).

>>> from quantlib.forecast import AutoForecaster
>>> fc = AutoForecaster(n_jobs=-1).fit(df, freq="MS")      # df: series_id, ds, y
>>> fc.predict(h=12, level=(80, 95))
"""

from quantlib.forecast.base import ForecastInputError, Forecaster, prepare_long, season_length_for
from quantlib.forecast.metrics import accuracy, coverage, mase, smape, wape
from quantlib.forecast.selection import AutoForecaster, cross_validate
from quantlib.forecast.models import AutoARIMA, AutoETS, Drift, Ensemble, Naive, SeasonalNaive, Theta

__all__ = [
    "ForecastInputError",
    "Forecaster",
    "prepare_long",
    "season_length_for",
    "Naive",
    "SeasonalNaive",
    "Drift",
    "AutoETS",
    "AutoARIMA",
    "Theta",
    "Ensemble",
    "AutoForecaster",
    "cross_validate",
    "smape",
    "mase",
    "wape",
    "coverage",
    "accuracy",
]
