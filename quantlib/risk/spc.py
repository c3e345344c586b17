"""Statistical process control for the quality indicators: EWMA and CUSUM charts.

Both take a monitored series and a baseline (in-control) series; the centre line and the
standard deviation come from the baseline only (Phase I), so a shift in the monitored
period cannot widen its own limits. The statistic is reported in standard deviations, on
the side that is bad for the series (``worse="lower"`` for satisfaction, ``"higher"`` for
complaints), so one threshold (``L`` for EWMA, ``h`` for CUSUM) reads the same for both.

EWMA: ``z_t = lam x_t + (1 - lam) z_{t-1}``, ``z_0`` = centre; its standard deviation at
step t is ``sigma sqrt(lam / (2 - lam) (1 - (1 - lam)^(2t)))`` (Montgomery, *Introduction to
Statistical Quality Control*, 6.2). Statistic = the EWMA's distance from the centre in those
units.

CUSUM (tabular, one-sided on the bad side): ``C_t = max(0, C_{t-1} + d_t - k)`` with ``d_t``
the observation's distance from the centre in baseline standard deviations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["control_chart", "cusum", "ewma"]


def _baseline(baseline) -> tuple[float, float]:
    values = np.asarray(baseline, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        raise ValueError("a control chart needs at least two baseline values")
    sigma = float(values.std(ddof=1))
    return float(values.mean()), sigma


def _sign(worse: str) -> float:
    if worse not in ("higher", "lower"):
        raise ValueError(f"worse must be 'higher' or 'lower', got {worse!r}")
    return 1.0 if worse == "higher" else -1.0


def ewma(values, baseline, lam: float = 0.2, worse: str = "lower") -> pd.DataFrame:
    """EWMA chart of ``values`` with centre and sigma from ``baseline``.

    Missing values (a week without data) carry the EWMA forward unchanged.

    Returns
    -------
    DataFrame
        ``x, ewma, center, sigma_ewma, statistic`` (index of ``values``): ``statistic`` is
        ``(ewma - center) / sigma_ewma`` signed so that positive is the bad side.
    """
    center, sigma = _baseline(baseline)
    x = pd.Series(values, dtype=float)
    z, out, t = center, [], 0
    for value in x.to_numpy():
        if np.isfinite(value):
            t += 1
            z = lam * value + (1 - lam) * z
        out.append((z, max(t, 1)))
    z_values = np.array([o[0] for o in out])
    steps = np.array([o[1] for o in out], dtype=float)
    sigma_z = sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * steps)))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = _sign(worse) * (z_values - center) / sigma_z
    stat = np.where(sigma_z > 0, stat, 0.0)
    return pd.DataFrame({"x": x.to_numpy(), "ewma": z_values, "center": center, "sigma_ewma": sigma_z,
                         "statistic": stat}, index=x.index)


def cusum(values, baseline, k: float = 0.5, worse: str = "lower") -> pd.DataFrame:
    """One-sided tabular CUSUM of ``values`` on the bad side, centre and sigma from ``baseline``.

    Returns
    -------
    DataFrame
        ``x, center, sigma, statistic``: ``statistic`` is ``C_t`` in standard deviations.
    """
    center, sigma = _baseline(baseline)
    x = pd.Series(values, dtype=float)
    c, stats = 0.0, []
    for value in x.to_numpy():
        if np.isfinite(value) and sigma > 0:
            c = max(0.0, c + _sign(worse) * (value - center) / sigma - k)
        stats.append(c)
    return pd.DataFrame({"x": x.to_numpy(), "center": center, "sigma": sigma, "statistic": stats}, index=x.index)


def control_chart(values, baseline, method: str = "ewma", worse: str = "lower", lam: float = 0.2,
                  k: float = 0.5) -> pd.DataFrame:
    """:func:`ewma` or :func:`cusum` by ``method``; both return a ``statistic`` column in sigmas."""
    if method == "ewma":
        return ewma(values, baseline, lam=lam, worse=worse)
    if method == "cusum":
        return cusum(values, baseline, k=k, worse=worse)
    raise ValueError(f"method must be 'ewma' or 'cusum', got {method!r}")
