"""Forecast accuracy measures (M-competition definitions and the product spec's accuracy).

All functions take array-likes of equal length over one forecast horizon (``mase`` also
takes the training series) and return a float. Percent measures (``smape``) are on the
0-200 scale used by M3/M4.
"""

from __future__ import annotations

import numpy as np

__all__ = ["smape", "mase", "wape", "coverage", "accuracy"]


def _arrays(*xs):
    arrs = [np.asarray(x, dtype=float) for x in xs]
    if len({a.shape for a in arrs}) != 1:
        raise ValueError(f"arrays must have the same shape, got {[a.shape for a in arrs]}")
    if arrs[0].size == 0:
        raise ValueError("empty input")
    return arrs


def smape(y, yhat) -> float:
    """Symmetric MAPE in percent, M4 definition: ``200/h * sum |y - f| / (|y| + |f|)``.

    Terms where both ``y`` and ``f`` are 0 count as 0 (a perfect forecast of zero).
    """
    y, f = _arrays(y, yhat)
    denom = np.abs(y) + np.abs(f)
    terms = np.divide(np.abs(y - f), denom, out=np.zeros_like(y), where=denom > 0)
    return float(200.0 * terms.mean())


def mase(y, yhat, y_train, season_length: int = 1) -> float:
    """Mean absolute scaled error, M4 definition.

    The scale is the in-sample mean absolute error of the seasonal naive forecast on the
    training data, ``mean |y_t - y_{t-m}|``, ``m = season_length``; when the training
    series is not longer than one season, ``m = 1`` is used.

    Returns
    -------
    float
        ``mean |y - f| / scale``; ``nan`` when the scale is 0 (a constant series).
    """
    y, f = _arrays(y, yhat)
    train = np.asarray(y_train, dtype=float)
    m = int(season_length) if len(train) > int(season_length) else 1
    if len(train) <= m:
        raise ValueError("the training series needs more than one observation")
    scale = np.mean(np.abs(train[m:] - train[:-m]))
    if scale == 0:
        return float("nan")
    return float(np.mean(np.abs(y - f)) / scale)


def wape(y, yhat) -> float:
    """Weighted absolute percentage error ``sum |y - f| / sum |y|`` (a fraction)."""
    y, f = _arrays(y, yhat)
    total = np.sum(np.abs(y))
    return float(np.sum(np.abs(y - f)) / total) if total > 0 else float("nan")


def coverage(y, lo, hi) -> float:
    """Share of actuals inside their interval ``lo <= y <= hi``."""
    y, lo, hi = _arrays(y, lo, hi)
    return float(np.mean((y >= lo) & (y <= hi)))


def accuracy(y, yhat) -> float:
    """The product spec's accuracy over a horizon: ``1 - |sum(f) - sum(y)| / sum(y)``.

    It measures the total over the horizon (errors of opposite sign cancel), as the
    spec's revenue and cash-flow targets do. ``nan`` when ``sum(y)`` is 0.
    """
    y, f = _arrays(y, yhat)
    total = np.sum(y)
    if total == 0:
        return float("nan")
    return float(1.0 - abs(np.sum(f) - total) / abs(total))
