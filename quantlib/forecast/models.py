"""The forecaster family: baselines, ETS, ARIMA, Theta and their combination.

All share the contract of :class:`quantlib.forecast.base.Forecaster`. Intervals are
analytic where the model provides them (naive family, ETS, ARIMA, Theta) and the
combination takes the members' median bounds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from quantlib.forecast.base import Forecaster, normal_intervals, series_seed

__all__ = ["Naive", "SeasonalNaive", "Drift", "AutoETS", "AutoARIMA", "Theta", "Comb", "Ensemble", "naive_fallback",
           "is_seasonal", "seasonal_strength"]


def naive_fallback(n_obs: int, season_length: int) -> Forecaster:
    """The family's fallback (``Forecaster.fallback_model``): seasonal naive when a season fits, else naive.

    Parameters
    ----------
    n_obs : int
        Observations of the series.
    season_length : int
        The season length in use (1 for series too short for any model).

    Returns
    -------
    Forecaster
        ``SeasonalNaive()`` if ``season_length > 1`` and the series holds a season,
        otherwise ``Naive()``.
    """
    return SeasonalNaive() if season_length > 1 and n_obs >= season_length else Naive()


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

    fallback_model = staticmethod(naive_fallback)

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

    fallback_model = staticmethod(naive_fallback)
    min_seasons = 1

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

    fallback_model = staticmethod(naive_fallback)

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


# --------------------------------------------------------------------------- ETS

_ETS_NONSEASONAL = ("ANN", "AAdN", "MNN", "MAdN")
_ETS_SEASONAL = ("ANA", "AAdA", "MNM", "MAdM")


def _parse_ets(spec: str) -> tuple[str, str | None, bool, str | None]:
    """``"MAdM"`` -> error "mul", trend "add" damped, season "mul"."""
    names = {"A": "add", "M": "mul", "N": None}
    error, rest = spec[0], spec[1:]
    damped = rest[1:2] == "d"
    trend = rest[0]
    season = rest[2] if damped else rest[1]
    if error not in "AM" or trend not in "NA" or season not in "NAM" or len(spec) != 3 + damped:
        raise ValueError(f"ETS spec {spec!r} is not of the form E T[d] S, e.g. 'AAdN', 'MNM'")
    return names[error], names[trend], damped, names[season]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter, per series
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)


class AutoETS(Forecaster):
    """Exponential smoothing (statsmodels ``ETSModel``) chosen per series by AICc.

    Parameters
    ----------
    candidates : sequence of str, optional
        ETS specs ``E T[d] S`` (error, trend, season: A additive, M multiplicative, N
        none, ``d`` damped), e.g. ``("ANN", "AAdN", "MAdM")``. Default: ``ANN, AAdN, MNN,
        MAdN`` and, when the season length is above 1, ``ANA, AAdA, MNM, MAdM``.
        Multiplicative specs are dropped for series with values <= 0 (their additive
        variants remain); seasonal specs are dropped when the season length is 1.
    maxiter : int
        Optimiser iterations per candidate (small keeps many-series fits cheap).
    simulate_repetitions : int
        Sample paths for intervals of models without analytic variance.
    random_state : int
        Seed for those simulations (combined with the series id, so results do not
        depend on how series are split over workers).
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    fallback_model = staticmethod(naive_fallback)
    reports_model = True

    def __init__(
        self,
        candidates=None,
        maxiter: int = 200,
        simulate_repetitions: int = 500,
        random_state: int = 0,
        n_jobs=1,
        backend="loky",
        dask_address=None,
        fill=None,
    ):
        self.candidates = candidates
        self.maxiter = maxiter
        self.simulate_repetitions = simulate_repetitions
        self.random_state = random_state
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _specs(self, y, m) -> list[str]:
        specs = list(self.candidates) if self.candidates else list(_ETS_NONSEASONAL) + (
            list(_ETS_SEASONAL) if m > 1 else []
        )
        positive = bool(np.all(y > 0))
        out = []
        for spec in specs:
            error, trend, damped, season = _parse_ets(spec)
            if season is not None and m == 1:
                continue
            if not positive and "mul" in (error, season):
                # fallback: the additive variant of a multiplicative spec
                spec = "A" + spec[1:-1] + ("A" if season else "N")
            if spec not in out:
                out.append(spec)
        return out

    def _fit_series(self, y, season_length, X, series_id=None):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        n = len(y)
        best, best_aicc = None, np.inf
        for spec in self._specs(y, season_length):
            error, trend, damped, season = _parse_ets(spec)
            k = 2 + (trend is not None) * (2 + damped) + (season is not None) * season_length
            if n - k - 1 <= 0:  # AICc undefined: too many parameters for the data
                continue
            model = ETSModel(
                pd.Series(y),  # get_prediction needs an index
                error=error,
                trend=trend,
                damped_trend=damped,
                seasonal=season,
                seasonal_periods=season_length if season else None,
            )
            try:
                res = _quiet(model.fit, disp=False, maxiter=self.maxiter)
            except (ValueError, np.linalg.LinAlgError):
                continue
            aicc = res.aicc
            if np.isfinite(aicc) and aicc < best_aicc and np.all(np.isfinite(res.fittedvalues)):
                best, best_aicc = (spec, res), aicc
        if best is None:
            raise RuntimeError("no ETS candidate could be fitted")
        spec, res = best
        return {"spec": spec, "res": res, "n": n, "seed": series_seed(series_id, self.random_state)}

    def _predict_series(self, state, h, level, X_future):
        res, n = state["res"], state["n"]
        pred = _quiet(
            res.get_prediction,
            start=n,
            end=n + h - 1,
            simulate_repetitions=self.simulate_repetitions,
            rng=np.random.default_rng(state["seed"]),
        )
        mean = np.asarray(pred.predicted_mean, dtype=float)
        out = {}
        for lv in level:
            frame = pred.summary_frame(alpha=1 - lv / 100)
            out[lv] = (frame["pi_lower"].to_numpy(float), frame["pi_upper"].to_numpy(float))
        return mean, out

    def _describe(self, state):
        return f"ETS({state['spec']})"


# --------------------------------------------------------------------------- ARIMA


def _kpss_differences(y: np.ndarray, max_d: int = 1) -> int:
    from statsmodels.tsa.stattools import kpss

    d = 0
    x = y
    while d < max_d and len(x) > 8:
        if np.ptp(x) == 0:
            break
        stat, pvalue, *_ = _quiet(kpss, x, regression="c", nlags="auto")
        if pvalue >= 0.05:
            break
        d += 1
        x = np.diff(x)
    return d


class AutoARIMA(Forecaster):
    """Seasonal ARIMA (statsmodels ``SARIMAX``) on a small stepwise grid, chosen by AICc.

    The differencing orders come from tests (KPSS for ``d``, seasonal strength > 0.64 on a
    classical decomposition for ``D``, as the forecast package's auto.arima does); then
    ``(p, q)`` is chosen from ``(0,0) (1,0) (0,1) (1,1) (2,0)`` with no seasonal terms, and
    ``(P, Q)`` from ``(1,0) (0,1)`` around the best. A constant (no differencing) or drift
    (one difference) is included. Exogenous columns are used as regressors.

    Parameters
    ----------
    maxiter : int
        Optimiser iterations per candidate.
    seasonal : bool
        Whether seasonal terms are considered when the season length is above 1.
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    fallback_model = staticmethod(naive_fallback)
    reports_model = True
    uses_exog = True

    def __init__(self, maxiter: int = 50, seasonal: bool = True, n_jobs=1, backend="loky", dask_address=None,
                 fill=None):
        self.maxiter = maxiter
        self.seasonal = seasonal
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _fit_series(self, y, season_length, X, series_id=None):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        m = season_length if self.seasonal else 1
        n = len(y)
        D = int(m > 1 and n >= 3 * m and seasonal_strength(y, m, log=False) > 0.64)
        yd = y[m:] - y[:-m] if D else y
        d = _kpss_differences(yd)
        trend = "c" if d + D == 0 else ("t" if d + D == 1 else "n")
        # SARIMAX's drift 't' is a trend in the undifferenced series: a constant after one difference.

        def fit(order, sorder):
            k = sum(order[::2]) + sum(sorder[::2]) + (trend != "n") + 1 + (0 if X is None else X.shape[1])
            if n - d - D * m - k - 1 <= 0:
                return None, np.inf
            model = SARIMAX(y, exog=X, order=order, seasonal_order=sorder, trend=trend)
            try:
                res = _quiet(model.fit, disp=False, maxiter=self.maxiter)
            except (ValueError, np.linalg.LinAlgError):
                return None, np.inf
            aicc = res.aicc
            return (res, aicc) if np.isfinite(aicc) else (None, np.inf)

        base_seasonal = (0, D, 0, m) if m > 1 else (0, 0, 0, 0)
        best = (None, np.inf, None, None)
        for p, q in ((0, 0), (1, 0), (0, 1), (1, 1), (2, 0)):
            res, aicc = fit((p, d, q), base_seasonal)
            if aicc < best[1]:
                best = (res, aicc, (p, d, q), base_seasonal)
        if m > 1 and best[0] is not None:
            for P, Q in ((1, 0), (0, 1)):
                res, aicc = fit(best[2], (P, D, Q, m))
                if aicc < best[1]:
                    best = (res, aicc, best[2], (P, D, Q, m))
        if best[0] is None:
            raise RuntimeError("no ARIMA candidate could be fitted")
        return {"res": best[0], "order": best[2], "sorder": best[3], "k": 0 if X is None else X.shape[1]}

    def _predict_series(self, state, h, level, X_future):
        if state["k"] and (X_future is None or len(X_future) != h):
            raise ValueError("this ARIMA uses exogenous regressors; X_future must give h rows")
        fc = _quiet(state["res"].get_forecast, steps=h, exog=X_future if state["k"] else None)
        mean = np.asarray(fc.predicted_mean, dtype=float)
        out = {}
        for lv in level:
            ci = np.asarray(fc.conf_int(alpha=1 - lv / 100), dtype=float)
            out[lv] = (ci[:, 0], ci[:, 1])
        return mean, out

    def _describe(self, state):
        (p, d, q), (P, D, Q, m) = state["order"], state["sorder"]
        seasonal = f"({P},{D},{Q})[{m}]" if m > 1 else ""
        return f"ARIMA({p},{d},{q}){seasonal}"


# --------------------------------------------------------------------------- Theta


def _acf_significant(x: np.ndarray, m: int, positive: bool = False) -> bool:
    """|acf(m)| of ``x`` (acf(m) itself with ``positive``) above its 90 % limit under Bartlett's formula."""
    n = len(x)
    x = x - x.mean()
    denom = np.dot(x, x)
    if denom == 0 or n <= m:
        return False
    acf = np.array([np.dot(x[k:], x[: n - k]) / denom for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / n)
    return bool((acf[-1] if positive else abs(acf[-1])) > limit)


def seasonal_strength(y: np.ndarray, m: int, log: bool = True) -> float:
    """Seasonal strength ``max(0, 1 - var(R) / var(S + R))`` of a classical decomposition.

    The decomposition (statsmodels' ``seasonal_decompose``, centred moving-average trend
    of length ``m``) is additive on the logarithm when ``log`` and every value is positive
    (so a multiplicative season counts as strong whatever the level), additive otherwise.
    Needs two full seasons.

    Parameters
    ----------
    y : numpy.ndarray
        The series.
    m : int
        Season length.
    log : bool
        Decompose the logarithm of positive series.

    Returns
    -------
    float
        In [0, 1]; 0 when ``m <= 1`` or the series is shorter than ``2 * m``.
    """
    from statsmodels.tsa.seasonal import seasonal_decompose

    y = np.asarray(y, dtype=float)
    if m <= 1 or len(y) < 2 * m:
        return 0.0
    x = np.log(y) if log and np.all(y > 0) else y
    dec = seasonal_decompose(x, period=m, model="additive", two_sided=True)
    resid, seas = dec.resid, dec.seasonal
    ok = np.isfinite(resid)
    total = np.var(seas[ok] + resid[ok])
    return float(max(0.0, 1 - np.var(resid[ok]) / total)) if total > 0 else 0.0


#: Seasonal strength from which a series counts as seasonal (Wang, Smith & Hyndman's 0.64).
SEASONAL_STRENGTH_THRESHOLD = 0.64


def is_seasonal(y: np.ndarray, m: int) -> bool:
    """Whether a series is seasonal at lag ``m``.

    Seasonal when any of these holds:

    * the M4 benchmarks' test: ``|acf(m)|`` of the series above its 90 % limit under
      Bartlett's formula (with at least three full seasons);
    * ``acf(m)`` of the first differences above the same limit (with at least two full
      seasons and a step): a trend inflates the autocorrelations at every lag and
      hides the season from the first test;
    * a seasonal strength (:func:`seasonal_strength`) of at least
      :data:`SEASONAL_STRENGTH_THRESHOLD` (with at least two full seasons).

    On the validation split of M1 monthly (training rows only; benchmarks/README.md,
    "Issue 12, the combination") the first test alone calls 28 % of the series
    seasonal and the three together 64 %; Theta's sMAPE there falls from 19.20 to 17.77.

    Parameters
    ----------
    y : numpy.ndarray
        The series.
    m : int
        Season length.

    Returns
    -------
    bool
        False when ``m <= 1`` or the series is shorter than two seasons.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if m <= 1 or n < 2 * m:
        return False
    if n >= 3 * m and _acf_significant(y, m):
        return True
    if n >= 2 * m + 1 and _acf_significant(np.diff(y), m, positive=True):
        return True
    return seasonal_strength(y, m) >= SEASONAL_STRENGTH_THRESHOLD


def _classical_seasonal_indices(y: np.ndarray, m: int, multiplicative: bool) -> np.ndarray:
    """Seasonal indices by classical decomposition (centred moving average), per position."""
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")
    offset = (len(weights) - 1) // 2
    core = y[offset : offset + len(trend)]
    detrended = core / trend if multiplicative else core - trend
    positions = (np.arange(len(trend)) + offset) % m
    idx = np.array([detrended[positions == j].mean() for j in range(m)])
    return idx / idx.mean() if multiplicative else idx - idx.mean()


def _ses(x: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """One-step SES errors and the final level, level started at the first value."""
    from scipy.signal import lfilter

    # level_t = alpha * x_t + (1 - alpha) * level_{t-1}, level_0 = x_0
    levels = lfilter([alpha], [1, -(1 - alpha)], x[1:], zi=[(1 - alpha) * x[0]])[0]
    fitted = np.r_[x[0], levels[:-1]]
    return x[1:] - fitted, float(levels[-1]) if len(levels) else float(x[0])


class Theta(Forecaster):
    """The standard theta method (Assimakopoulos & Nikolopoulos 2000; Hyndman & Billah 2003).

    Simple exponential smoothing with drift equal to half the slope of the linear trend
    (``theta = 2``), on data seasonally adjusted by classical multiplicative decomposition
    when :func:`is_seasonal` says the series is seasonal (the M4 benchmarks' 90 %
    autocorrelation test at the seasonal lag, the same test on the first differences, or
    a seasonal strength of at least 0.64); series with values <= 0 use an additive
    decomposition. Implemented in
    numpy (statsmodels' ``ThetaModel`` gives the same forecasts but its intervals cost
    ~50 ms a series). Intervals: the SES variance ``sigma^2 (1 + alpha^2 (h - 1))``,
    reseasonalised.

    Parameters
    ----------
    theta : float
        The theta coefficient; the drift is ``(1 - 1/theta)`` times the linear slope.
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    fallback_model = staticmethod(naive_fallback)

    def __init__(self, theta: float = 2.0, n_jobs=1, backend="loky", dask_address=None, fill=None):
        self.theta = theta
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    def _fit_series(self, y, season_length, X, series_id=None):
        from scipy.optimize import minimize_scalar

        m, n = season_length, len(y)
        multiplicative = bool(np.all(y > 0))
        seasonal = is_seasonal(y, m)
        idx = _classical_seasonal_indices(y, m, multiplicative) if seasonal else None
        if idx is not None:
            s = idx[np.arange(n) % m]
            x = y / s if multiplicative else y - s
        else:
            x = y.astype(float)
        slope = np.polyfit(np.arange(n), x, 1)[0]
        fit = minimize_scalar(
            lambda a: float(np.sum(_ses(x, a)[0] ** 2)), bounds=(0.01, 0.99), method="bounded",
            options={"xatol": 1e-4},
        )
        alpha = float(fit.x)
        resid, level = _ses(x, alpha)
        sigma = float(np.sqrt(np.mean(resid**2))) if len(resid) else 0.0
        return {
            "alpha": alpha, "level": level, "slope": float(slope), "n": n, "sigma": sigma,
            "idx": idx, "m": m, "multiplicative": multiplicative,
        }

    def _predict_series(self, state, h, level, X_future):
        a, n = state["alpha"], state["n"]
        steps = np.arange(h)
        drift = (1 - 1 / self.theta) * state["slope"]
        mean = state["level"] + drift * (steps + 1 / a - (1 - a) ** n / a)
        sd = state["sigma"] * np.sqrt(1 + a**2 * steps)
        iv = normal_intervals(mean, sd, level)
        if state["idx"] is not None:
            s = state["idx"][(n + steps) % state["m"]]
            if state["multiplicative"]:
                mean = mean * s
                iv = {lv: (lo * s, hi * s) for lv, (lo, hi) in iv.items()}
            else:
                mean = mean + s
                iv = {lv: (lo + s, hi + s) for lv, (lo, hi) in iv.items()}
        return mean, iv


# --------------------------------------------------------------------------- Comb


def _deseasonalise(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """The M4 benchmarks' adjustment: classical decomposition when :func:`is_seasonal` says seasonal.

    Multiplicative when every value is positive, additive otherwise. Returns the adjusted
    series, the per-position indices (None when not seasonal) and the decomposition type.
    """
    multiplicative = bool(np.all(y > 0))
    idx = _classical_seasonal_indices(y, m, multiplicative) if is_seasonal(y, m) else None
    if idx is None:
        return y.astype(float), None, multiplicative
    s = idx[np.arange(len(y)) % m]
    return (y / s if multiplicative else y - s), idx, multiplicative


def _reseasonalise(mean, iv, state, steps):
    if state["idx"] is None:
        return mean, iv
    s = state["idx"][(state["n"] + steps) % state["m"]]
    if state["multiplicative"]:
        return mean * s, {lv: (lo * s, hi * s) for lv, (lo, hi) in iv.items()}
    return mean + s, {lv: (lo + s, hi + s) for lv, (lo, hi) in iv.items()}


# the smoothing grid: SES (no trend), Holt (phi = 1) and damped Holt; beta as a share of alpha
_ALPHAS = np.array([0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99])
_BETA_SHARES = np.array([0.01, 0.05, 0.1, 0.2, 0.4])
_PHIS = np.array([0.8, 0.85, 0.9, 0.95, 0.98])


def _smoothing_grid() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    a_ses = _ALPHAS
    a_h, b_h = (g.ravel() for g in np.meshgrid(_ALPHAS, _BETA_SHARES, indexing="ij"))
    a_d, b_d, p_d = (g.ravel() for g in np.meshgrid(_ALPHAS, _BETA_SHARES, _PHIS, indexing="ij"))
    return {
        "ses": (a_ses, np.zeros_like(a_ses), np.ones_like(a_ses)),
        "holt": (a_h, a_h * b_h, np.ones_like(a_h)),
        "damped": (a_d, a_d * b_d, p_d),
    }


def _fit_smoothers(x: np.ndarray) -> dict[str, dict]:
    """SES, Holt and damped Holt (additive errors), each the least-squares point of a grid.

    All parameter sets run at once, vectorised over the grid, so one pass over the
    series fits the three methods. Level starts at the first value, trend at the mean
    first difference of the first (up to) five values.
    """
    grid = _smoothing_grid()
    alpha = np.concatenate([g[0] for g in grid.values()])
    beta = np.concatenate([g[1] for g in grid.values()])
    phi = np.concatenate([g[2] for g in grid.values()])
    trend_on = beta > 0
    n = len(x)
    b0 = float(np.mean(np.diff(x[: min(n, 5)]))) if n > 1 else 0.0
    level = np.full(len(alpha), float(x[0]))
    trend = np.where(trend_on, b0, 0.0)
    sse = np.zeros(len(alpha))
    for t in range(1, n):
        f = level + phi * trend
        e = x[t] - f
        sse += e * e
        level = f + alpha * e
        trend = phi * trend + beta * e
    out, start = {}, 0
    for name, g in grid.items():
        sl = slice(start, start + len(g[0]))
        start += len(g[0])
        j = sl.start + int(np.argmin(sse[sl]))
        out[name] = {
            "alpha": float(alpha[j]), "beta": float(beta[j]), "phi": float(phi[j]),
            "level": float(level[j]), "trend": float(trend[j]),
            "sigma": float(np.sqrt(sse[j] / max(n - 1, 1))),
        }
    return out


def _smoother_forecast(p: dict, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Point forecast and standard deviation (the ETS(A,Ad,N) variance) for steps 1..h."""
    k = np.arange(1, h + 1)
    phi = p["phi"]
    cum = k.astype(float) if phi == 1 else phi * (1 - phi**k) / (1 - phi)  # sum_{j=1..k} phi^j
    mean = p["level"] + cum * p["trend"]
    c = p["alpha"] + p["beta"] * np.r_[0.0, cum[:-1]]  # c_j for j = 0..h-1; c_0 unused
    var = 1 + np.r_[0.0, np.cumsum(c[1:] ** 2)]
    return mean, p["sigma"] * np.sqrt(var)


class Comb(Forecaster):
    """The M4 "Comb" benchmark: the mean of SES, Holt and damped Holt on seasonally adjusted data.

    The series is seasonally adjusted as in :class:`Theta` (classical multiplicative
    decomposition when :func:`is_seasonal` says seasonal;
    additive when some value is <= 0), the three exponential-smoothing methods are fitted
    by least squares over a fixed parameter grid (vectorised in numpy: ~1 ms a series,
    where statsmodels takes ~20 ms a model), their forecasts are averaged and
    reseasonalised. Intervals: the mean of the three methods' analytic ETS standard
    deviations around the combined forecast (a combination's errors are usually smaller
    than its members', so these lean wide).

    Parameters
    ----------
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    fallback_model = staticmethod(naive_fallback)

    def _fit_series(self, y, season_length, X, series_id=None):
        x, idx, multiplicative = _deseasonalise(np.asarray(y, dtype=float), season_length)
        return {
            "members": _fit_smoothers(x), "idx": idx, "m": season_length, "n": len(y),
            "multiplicative": multiplicative,
        }

    def _predict_series(self, state, h, level, X_future):
        fc = [_smoother_forecast(p, h) for p in state["members"].values()]
        mean = np.mean([f[0] for f in fc], axis=0)
        sd = np.mean([f[1] for f in fc], axis=0)
        return _reseasonalise(mean, normal_intervals(mean, sd, level), state, np.arange(h))


# --------------------------------------------------------------------------- Ensemble


class Ensemble(Forecaster):
    """A combination of forecasters: the median (or mean) of the members' forecasts.

    Intervals combine the members' bounds the same way (median or mean of the lower and
    of the upper bounds per level). A member that fails on a series is left out of that
    series' combination.

    Parameters
    ----------
    members : sequence of Forecaster, optional
        Default ``AutoETS(), Theta(), AutoARIMA()``.
    combine : {"median", "mean"}
    n_jobs, backend, dask_address, fill
        See :class:`~quantlib.forecast.base.Forecaster`.
    """

    fallback_model = staticmethod(naive_fallback)
    reports_model = True

    def __init__(self, members=None, combine: str = "median", n_jobs=1, backend="loky", dask_address=None, fill=None):
        self.members = members
        self.combine = combine
        super().__init__(n_jobs=n_jobs, backend=backend, dask_address=dask_address, fill=fill)

    @property
    def uses_exog(self):  # type: ignore[override]
        return any(m.uses_exog for m in self._members())

    def _members(self):
        return list(self.members) if self.members is not None else [AutoETS(), Theta(), AutoARIMA()]

    def _fit_series(self, y, season_length, X, series_id=None):
        if self.combine not in ("median", "mean"):
            raise ValueError(f"combine must be 'median' or 'mean', got {self.combine!r}")
        fitted = []
        for member in self._members():
            try:
                exog = X if member.uses_exog else None
                fitted.append((member, member._fit_series(y, season_length, exog, series_id)))
            # A failing member is dropped for this series only; the ensemble uses the others.
            except Exception:  # nosec B112
                continue
        if not fitted:
            raise RuntimeError("no ensemble member could be fitted")
        return {"fitted": fitted}

    def _predict_series(self, state, h, level, X_future):
        agg = np.median if self.combine == "median" else np.mean
        means, bounds = [], {lv: ([], []) for lv in level}
        for member, st in state["fitted"]:
            mean, iv = member._predict_series(st, h, level, X_future if member.uses_exog else None)
            means.append(mean)
            for lv in level:
                bounds[lv][0].append(iv[lv][0])
                bounds[lv][1].append(iv[lv][1])
        out = {lv: (agg(lo, axis=0), agg(hi, axis=0)) for lv, (lo, hi) in bounds.items()}
        return agg(means, axis=0), out

    def _describe(self, state):
        return "Ensemble(" + "+".join(m._describe(s) for m, s in state["fitted"]) + ")"
