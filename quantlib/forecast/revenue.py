"""Revenue forecast at 30, 90 and 365 days from four parts, weighted by backtests.

The four parts (each a full estimate of daily completed revenue over the horizon):

``history``
    A time-series forecast of seasonally adjusted weekly completed revenue (a damped-trend
    exponential smoothing by default, or any forecaster of :mod:`quantlib.forecast` passed
    as ``base_model``), re-seasonalised by the annual index of each day and spread over the
    week by the last year's weekday profile.
``pipeline``
    The open quotes x their win probability (:class:`~quantlib.forecast.pipeline.QuoteConversionModel`),
    spread over their expected decision and job dates, plus the backlog of won quotes whose
    job is not done yet, plus quotes not yet made (the recent daily rate of quote revenue,
    phased in by the same timing), plus work that does not go through quotes at its recent
    (91-day) daily rate; both rates follow the annual seasonal index.
``seasonal``
    The same days a year earlier (52 weeks, so weekdays align) x the year-on-year growth
    (over the last year, or the part of it that has a year before it, at least 91 days).
``market``
    The recent deseasonalised level x the month-of-year seasonal index x the trend and the
    consumer-confidence / housing-starts effect, both learned by a regression of monthly
    deseasonalised log revenue on time and the indicators.

The weights are learned per horizon from rolling-origin backtests inside ``fit`` (origins
before ``as_of`` whose horizon ends by ``as_of``): non-negative, summing to one, and
shrunk towards the product spec's prior 0.4 / 0.3 / 0.2 / 0.1 with a ridge penalty of
strength ``prior_strength``. A horizon with fewer than two such origins (a year ahead
needs two years of history) learns at a proxy horizon, halved until it has two; with
no usable origin at all the weights are the prior. The scenario intervals come from the
same backtests: the root-mean-square of log(actual / forecast) with Student-t quantiles
(origins - 1 degrees of freedom), scaled by H / proxy for a proxy horizon.

``backtest`` evaluates the whole procedure (learning included) at rolling origins and
reports the spec's accuracy ``1 - |sum forecast - sum actual| / sum actual``, WAPE (on
weekly sums within the horizon), 80 % interval coverage and the same for a seasonal-naive
baseline (the same days a year earlier).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from quantlib.forecast.pipeline import QuoteConversionModel, Snapshot, censor_snapshot, warehouse_snapshot

COMPONENTS = ("history", "pipeline", "seasonal", "market")
PRIOR_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
#: The product spec's accuracy targets for revenue, by horizon in days.
REVENUE_TARGETS = {30: 0.92, 90: 0.87, 365: 0.78}
MIN_HISTORY_DAYS = 400


# --------------------------------------------------------------------------
# Metrics (the spec's definitions)
# --------------------------------------------------------------------------

def horizon_accuracy(actual, forecast) -> float:
    """The spec's accuracy: ``1 - |sum forecast - sum actual| / sum actual``."""
    a, f = float(np.sum(actual)), float(np.sum(forecast))
    if a == 0:
        return np.nan
    return 1.0 - abs(f - a) / abs(a)


def weekly_wape(actual, forecast) -> float:
    """WAPE of weekly sums (consecutive 7-day blocks; a last partial block counts too)."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    idx = np.arange(len(a)) // 7
    A, F = np.bincount(idx, a), np.bincount(idx, f)
    return float(np.abs(A - F).sum() / np.abs(A).sum()) if A.sum() else np.nan


def _as_snapshot(data, as_of=None) -> Snapshot:
    if isinstance(data, Snapshot):
        return data if as_of is None or pd.Timestamp(as_of) == data.as_of else censor_snapshot(data, as_of)
    return warehouse_snapshot(data, as_of=as_of)


def daily_revenue(snapshot: Snapshot) -> pd.DataFrame:
    """Daily completed revenue up to the snapshot's date: ``ds, total, quote, other``.

    ``quote`` is revenue of jobs from a quote, ``other`` the rest; every day from the first
    completed job to ``as_of`` is present (zero-filled).
    """
    j = snapshot["jobs"]
    j = j[j["is_completed"]]
    if j.empty:
        raise ValueError("no completed jobs before as_of: no revenue history to forecast from")
    is_quote = j["quote_id"].notna().to_numpy()
    day = pd.to_datetime(j["completed_date"]).dt.normalize()
    frame = pd.DataFrame({"ds": day.to_numpy(), "quote": np.where(is_quote, j["revenue"], 0.0),
                          "other": np.where(is_quote, 0.0, j["revenue"])})
    g = frame.groupby("ds")[["quote", "other"]].sum()
    idx = pd.date_range(g.index.min(), snapshot.as_of, freq="D")
    g = g.reindex(idx, fill_value=0.0)
    g.index.name = "ds"
    g["total"] = g["quote"] + g["other"]
    return g.reset_index()[["ds", "total", "quote", "other"]]


# --------------------------------------------------------------------------
# The four parts at one origin
# --------------------------------------------------------------------------

def _day_index(idx: pd.Series, days: pd.DatetimeIndex) -> np.ndarray:
    """The month-of-year index interpolated to each day (anchored mid-month, periodic)."""
    anchor = np.array([pd.Timestamp(2001, m, 15).day_of_year for m in range(1, 13)], float)
    x = np.r_[anchor - 365, anchor, anchor + 365]
    v = np.tile(idx.reindex(range(1, 13)).to_numpy(float), 3)
    return np.interp(days.day_of_year.to_numpy(float), x, v)


def _weekday_profile(y: pd.Series) -> np.ndarray:
    """Share of a week's revenue by weekday (Monday = 0) x 7, from the last 52 weeks."""
    last = y.iloc[-364:]
    prof = last.groupby(last.index.day_of_week).mean().reindex(range(7)).fillna(0.0).to_numpy()
    return prof * 7 / prof.sum() if prof.sum() > 0 else np.ones(7)


def _history_part(y: pd.Series, H: int, base_model, idx: pd.Series | None = None) -> np.ndarray:
    """Seasonally adjusted weekly forecast, re-seasonalised by day of year and weekday.

    ``y`` is daily revenue, last day = origin. Weekly sums are divided by the annual
    index (``idx``, month of year interpolated to days), forecast by a damped-trend
    exponential smoothing (or ``base_model``), multiplied back by the index of each future
    day and spread over the week by the weekday profile of the last year.
    """
    n_weeks = min(len(y) // 7, 156)
    tail = y.iloc[len(y) - 7 * n_weeks:]
    season = _day_index(idx, tail.index) if idx is not None else np.ones(len(tail))
    w = (tail.to_numpy() / season).reshape(n_weeks, 7).sum(axis=1)
    h_weeks = int(np.ceil(H / 7)) + 1
    if base_model is not None:
        df = pd.DataFrame({"series_id": "revenue", "ds": np.arange(n_weeks), "y": w})
        fc = base_model.fit(df, season_length=1).predict(h_weeks, level=(80,))
        weekly = fc["yhat"].to_numpy(float)
    else:
        import warnings

        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(w, trend="add", damped_trend=True,
                                       initialization_method="estimated").fit()
            weekly = np.asarray(fit.forecast(h_weeks), float)
    weekly = np.maximum(weekly, 0.0)
    future = pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=H, freq="D")
    level = np.repeat(weekly / 7.0, 7)[:H]
    seas = _day_index(idx, future) if idx is not None else np.ones(H)
    return level * seas * _weekday_profile(y)[future.day_of_week]


def _seasonal_index(daily: pd.DataFrame) -> pd.Series:
    """Month-of-year index (mean 1) from whole years of history; flat without a full year."""
    s = daily.set_index("ds")["total"]
    n_years = len(s) // 364
    if n_years < 1:
        return pd.Series(1.0, index=range(1, 13))
    s = s.iloc[len(s) - 364 * n_years:]
    # Detrend by the centred yearly mean so growth does not look like seasonality; only
    # full windows (a partial one at either end would be the mean of one half of the
    # season and bias those months toward 1). With one year: the year's mean.
    if n_years >= 2:
        level = s.rolling(364, center=True, min_periods=364).mean()
    else:
        level = pd.Series(s.mean(), index=s.index)
    ratio = (s / level.replace(0, np.nan)).groupby(s.index.month).mean()
    ratio = ratio.reindex(range(1, 13)).fillna(1.0)
    return ratio / ratio.mean()


def _timing_cdf(model: QuoteConversionModel, H: int) -> np.ndarray:
    """P(a quote created on day 0 has its revenue recognised by day d), d = 1..H."""
    pmf = np.convolve(np.bincount(model.decision_days_, minlength=H)[:H] / len(model.decision_days_),
                      model._lag_pmf(H))[:H]
    return np.cumsum(pmf)


class _Parts:
    """The four parts at one origin, for ``H`` days."""

    def __init__(self, snap: Snapshot, daily: pd.DataFrame, H: int, base_model, min_quotes: int):
        T = snap.as_of
        self.ds = pd.date_range(T + pd.Timedelta(days=1), periods=H, freq="D")
        y = daily.set_index("ds")["total"]
        recent = daily.iloc[-91:]
        parts = {}
        idx = _seasonal_index(daily)
        parts["history"] = _history_part(y, H, base_model, idx)
        # Pipeline.
        other_rate = recent["other"].mean()
        quote_rate = recent["quote"].mean()
        pipe = np.zeros(H)
        new = np.full(H, quote_rate)
        self.conversion = None
        quotes = snap.tables.get("quotes")
        if quotes is not None and len(quotes):
            try:
                conv = QuoteConversionModel(min_quotes=min_quotes).fit(
                    quotes, as_of=T, jobs=snap.tables.get("jobs"),
                    economic=snap.tables.get("economic_indicators"))
                open_q = quotes[quotes["status"] == "open"]
                pipe = (conv.pipeline_schedule(open_q, H, as_of=T)["expected_revenue"].to_numpy()
                        + conv.backlog_schedule(quotes, snap.tables.get("jobs"), H, as_of=T)[
                            "expected_revenue"].to_numpy())
                new = quote_rate * _timing_cdf(conv, H)
                self.conversion = conv
            except ValueError:
                pass  # too few decided quotes: the recent quote revenue rate stands in
        # The recent rates (work outside quotes, quotes not yet made) follow the season:
        # scaled by the annual index of each future day over that of the last 91 days.
        season_ratio = _day_index(idx, self.ds) / max(float(_day_index(idx, pd.DatetimeIndex(recent["ds"])).mean()),
                                                      1e-9)
        parts["pipeline"] = (other_rate + new) * season_ratio + pipe
        self.pipeline_open = pipe
        # Seasonal: the same days 52 weeks earlier x growth.
        # Growth: the last k days over the same k days a year earlier (k up to a year,
        # at least a quarter; flat otherwise).
        k = min(364, len(y) - 364)
        last, prev = y.iloc[-k:], y.iloc[-k - 364:-364]
        growth = float(last.sum() / prev.sum()) if k >= 91 and prev.sum() > 0 else 1.0
        growth = float(np.clip(growth, 0.5, 2.0))
        lagged = y.reindex(self.ds - pd.Timedelta(days=364)).to_numpy()
        # Beyond a year the lag runs past the origin: repeat the last year.
        lagged = np.where(np.isnan(lagged), y.reindex(self.ds - pd.Timedelta(days=728)).to_numpy() * growth,
                          lagged)
        parts["seasonal"] = np.nan_to_num(lagged) * growth
        # Market.
        season_recent = idx.reindex(recent["ds"].dt.month).to_numpy()
        level = float((recent["total"].to_numpy() / season_recent).mean())
        trend, effect = self._market(daily, idx, snap.tables.get("economic_indicators"), T)
        days_ahead = np.arange(1, H + 1)
        parts["market"] = (level * idx.reindex(self.ds.month).to_numpy()
                           * np.exp(trend * (days_ahead + 45) / 30.4) * effect)
        self.parts = parts

    @staticmethod
    def _market(daily, idx, econ, T) -> tuple[float, float]:
        """Monthly log-revenue trend and the indicators' effect; (0, 1) without indicators."""
        m = daily.set_index("ds")["total"].resample("MS").sum()
        m = m.iloc[1:-1] if len(m) > 3 else m  # drop partial first and last months
        if len(m) < 12 or (m <= 0).any():
            return 0.0, 1.0
        logm = np.log(m / idx.reindex(m.index.month).to_numpy())
        t = np.arange(len(m), dtype=float)
        cols = [np.ones_like(t), t]
        z_now = []
        if econ is not None and len(econ) >= 12:
            e = econ.set_index("month").reindex(m.index)
            for name in ("consumer_confidence", "housing_starts"):
                x = e[name].to_numpy(float)
                if np.isnan(x).any() or x.std() == 0:
                    continue
                mu, sd = x.mean(), x.std()
                cols.append((x - mu) / sd)
                now = econ[name].iloc[-3:].mean()
                z_now.append(((now - mu) / sd, ((x[-3:] - mu) / sd).mean()))
        X = np.column_stack(cols)
        # Ridge (not on the intercept): a few dozen months cannot carry free coefficients.
        pen = np.diag([0.0] + [1.0] * (X.shape[1] - 1)) * 2.0
        beta = np.linalg.solve(X.T @ X + pen, X.T @ logm)
        trend = float(np.clip(beta[1], -0.03, 0.03))
        effect = 1.0
        for b, (now, recent) in zip(beta[2:], z_now):
            effect *= float(np.exp(np.clip(b * (now - recent), -0.1, 0.1)))
        return trend, effect

    def matrix(self) -> np.ndarray:
        return np.column_stack([self.parts[c] for c in COMPONENTS])


def _learn_weights(F: np.ndarray, A: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """argmin mean((F w / A - 1)^2) + strength |w - prior|^2, w >= 0, sum w = 1."""
    R = F / A[:, None]

    def loss(w):
        return np.mean((R @ w - 1.0) ** 2) + strength * np.sum((w - prior) ** 2)

    res = optimize.minimize(loss, prior, method="SLSQP", bounds=[(0, 1)] * len(prior),
                            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}])
    w = np.clip(res.x if res.success else prior, 0, None)
    return w / w.sum()


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------

class RevenueModel(BaseEstimator):
    """Revenue at several horizons: best / likely / worst with intervals.

    Parameters
    ----------
    horizons : tuple of int
        Horizons in days (default 30, 90, 365).
    prior_weights : tuple of 4 floats
        Starting weights of history, pipeline, seasonal, market (the spec's 0.4 / 0.3 /
        0.2 / 0.1).
    prior_strength : float
        Ridge penalty pulling the learned weights towards the prior (0 = pure backtest fit).
    n_origins : int
        Most backtest origins used per horizon to learn weights and intervals.
    origin_step_days : int
        Spacing of those origins.
    base_model : Forecaster, optional
        A forecaster of :mod:`quantlib.forecast` (``fit(df, season_length=...)``,
        ``predict(h, level)``) for the weekly history part; default a damped-trend
        exponential smoothing (statsmodels).
    min_quotes : int
        Fewest decided quotes to learn conversion; below it the pipeline part uses the
        recent quote revenue rate only.
    min_sigma : float
        Floor of the log-scale standard deviation of the scenario intervals.

    Attributes
    ----------
    as_of_ : pandas.Timestamp
    weights_ : DataFrame
        Horizon x component weights; ``weights_source_`` says ``backtest`` or ``prior``.
    sigma_ : dict
        Log-scale error spread per horizon from the backtests.
    dof_ : dict
        Degrees of freedom of the Student-t interval quantiles per horizon (origins - 1;
        1 when the spread is borrowed).
    parts_ : dict
        Horizon -> DataFrame ``ds, history, pipeline, seasonal, market, likely``.
    training_backtest_ : DataFrame
        The origins used to learn the weights: origin, horizon, actual, each part.
    conversion_ : QuoteConversionModel or None
    """

    def __init__(self, horizons=(30, 90, 365), prior_weights=PRIOR_WEIGHTS, prior_strength: float = 0.01,
                 n_origins: int = 8, origin_step_days: int = 30, base_model=None, min_quotes: int = 30,
                 min_sigma: float = 0.03) -> None:
        self.horizons = horizons
        self.prior_weights = prior_weights
        self.prior_strength = prior_strength
        self.n_origins = n_origins
        self.origin_step_days = origin_step_days
        self.base_model = base_model
        self.min_quotes = min_quotes
        self.min_sigma = min_sigma

    def _check_params(self) -> None:
        hs = list(self.horizons)
        if not hs or any(int(h) != h or h < 1 for h in hs):
            raise ValueError(f"horizons must be positive whole numbers of days, got {self.horizons}")
        p = np.asarray(self.prior_weights, float)
        if p.shape != (4,) or (p < 0).any() or p.sum() <= 0:
            raise ValueError("prior_weights must be 4 non-negative numbers (history, pipeline, seasonal, market)")
        if self.prior_strength < 0:
            raise ValueError("prior_strength must be >= 0")

    def _parts_at(self, snap: Snapshot, H: int) -> _Parts:
        daily = daily_revenue(snap)
        if len(daily) < MIN_HISTORY_DAYS:
            raise ValueError(f"revenue history before {snap.as_of.date()} is {len(daily)} days; "
                             f"need at least {MIN_HISTORY_DAYS}")
        return _Parts(snap, daily, H, self.base_model, self.min_quotes)

    def fit(self, data, as_of=None) -> "RevenueModel":
        """Learn the parts, the weights and the intervals from the data known at ``as_of``.

        Parameters
        ----------
        data : path, Lake, duckdb connection or Snapshot
            The gold warehouse (or a :class:`~quantlib.forecast.pipeline.Snapshot`).
        as_of : date-like, optional
            Forecast origin; defaults to the data's as-of date. Nothing later is used.

        Returns
        -------
        self
        """
        self._check_params()
        snap = _as_snapshot(data, as_of)
        full = daily_revenue(snap)
        if len(full) < MIN_HISTORY_DAYS:
            raise ValueError(f"revenue history before {snap.as_of.date()} is {len(full)} days; "
                             f"need at least {MIN_HISTORY_DAYS}")
        self.as_of_ = snap.as_of
        horizons = sorted(int(h) for h in self.horizons)
        H_max = max(horizons)
        first = full["ds"].iloc[0]
        actual = full.set_index("ds")["total"]
        # Inner backtests: origins before as_of whose horizon ends by as_of.
        def origins_for(H: int) -> list[pd.Timestamp]:
            last = snap.as_of - pd.Timedelta(days=H)
            o = [last - pd.Timedelta(days=self.origin_step_days * k) for k in range(self.n_origins)]
            return [x for x in o if (x - first).days >= MIN_HISTORY_DAYS]

        # A horizon with fewer than two origins learns at a proxy horizon (halved until it
        # has two, not below four weeks): a year-long horizon needs two years of history.
        learn_at = {}
        for H in horizons:
            h = H
            while len(origins_for(h)) < 2 and h // 2 >= 28:
                h //= 2
            learn_at[H] = h
        eval_h = sorted(set(horizons) | set(learn_at.values()))
        origins = {H: origins_for(H) for H in eval_h}
        rows = []
        cache: dict[pd.Timestamp, _Parts] = {}
        for H in eval_h:
            for o in origins[H]:
                if o not in cache:
                    need = max(h for h in eval_h if o in origins[h])
                    cache[o] = self._parts_at(censor_snapshot(snap, o), need)
                P = cache[o]
                F = P.matrix()[:H].sum(axis=0)
                A = float(actual.reindex(P.ds[:H]).sum())
                rows.append({"origin": o, "horizon": H, "actual": A, **dict(zip(COMPONENTS, F))})
        tb = pd.DataFrame(rows, columns=["origin", "horizon", "actual", *COMPONENTS])
        prior = np.asarray(self.prior_weights, float)
        prior = prior / prior.sum()
        weights, source, sigma, dof = {}, {}, {}, {}
        for H in horizons:
            h = learn_at[H]
            sub = tb[(tb["horizon"] == h) & (tb["actual"] > 0)]
            if len(sub) >= 2:
                F, A = sub[list(COMPONENTS)].to_numpy(), sub["actual"].to_numpy()
                w = _learn_weights(F, A, prior, self.prior_strength)
                source[H] = "backtest" if h == H else f"backtest ({h} d)"
                err = np.log(A / np.maximum(F @ w, 1e-9))
                # Small samples: root mean square (bias counts as spread) inflated by
                # n / (n - 1), and Student-t quantiles with n - 1 degrees of freedom. A
                # proxy horizon's spread grows in proportion to H / h: over months the
                # errors are level and growth errors, which accumulate, not average out.
                sigma[H] = float(np.sqrt(np.mean(err ** 2) * len(err) / (len(err) - 1)) * H / h)
                dof[H] = len(err) - 1
            else:
                w, source[H], sigma[H] = None, "prior", np.nan
            weights[H] = w
        # A horizon without origins borrows the weights of the longest horizon that has
        # some, else the prior.
        learned = [h for h in horizons if weights[h] is not None]
        for H in horizons:
            if weights[H] is None:
                if learned:
                    ref = max(learned)
                    weights[H], source[H] = weights[ref], f"backtest ({ref} d)"
                else:
                    weights[H] = prior
        # A horizon without origins borrows the spread of the longest one that has some,
        # growing with the square root of the horizon.
        known = [h for h in horizons if np.isfinite(sigma[h])]
        for H in horizons:
            if not np.isfinite(sigma[H]):
                ref = max(known) if known else None
                sigma[H] = sigma[ref] * np.sqrt(H / ref) if ref else 0.15
            sigma[H] = max(sigma[H], self.min_sigma)
            dof.setdefault(H, 1)
        self.training_backtest_ = tb
        self.weights_ = pd.DataFrame(weights, index=list(COMPONENTS)).T.rename_axis("horizon")
        self.weights_source_ = source
        self.sigma_ = sigma
        self.dof_ = dof
        P = self._parts_at(snap, H_max)
        self.conversion_ = P.conversion
        self.parts_ = {}
        for H in horizons:
            df = pd.DataFrame({"ds": P.ds[:H], **{c: P.parts[c][:H] for c in COMPONENTS}})
            df["likely"] = df[list(COMPONENTS)].to_numpy() @ weights[H]
            self.parts_[H] = df
        self.history_ = full
        return self

    def _check_fitted(self) -> None:
        check_is_fitted(self, "parts_")

    def forecast(self, level=(80, 95)) -> pd.DataFrame:
        """Best / likely / worst revenue per horizon, with intervals.

        Returns
        -------
        DataFrame
            One row per horizon: ``horizon, start, end, likely, worst, best`` (worst and best
            are the bounds of the 80 % interval), ``lo_<l>, hi_<l>`` for each level, each
            part's total, ``last_year`` (the same days a year earlier) and ``target_accuracy``.
        """
        self._check_fitted()
        rows = []
        y = self.history_.set_index("ds")["total"]
        for H, df in self.parts_.items():
            likely = float(df["likely"].sum())
            s = self.sigma_[H]
            row = {"horizon": H, "start": df["ds"].iloc[0], "end": df["ds"].iloc[-1], "likely": likely}
            z80 = stats.t.ppf(0.9, self.dof_[H])
            row["worst"] = likely * np.exp(-z80 * s)
            row["best"] = likely * np.exp(z80 * s)
            for lv in level:
                z = stats.t.ppf(0.5 + lv / 200, self.dof_[H])
                row[f"lo_{lv:g}"] = likely * np.exp(-z * s)
                row[f"hi_{lv:g}"] = likely * np.exp(z * s)
            for c in COMPONENTS:
                row[c] = float(df[c].sum())
            row["last_year"] = float(y.reindex(df["ds"] - pd.Timedelta(days=364)).sum())
            row["target_accuracy"] = REVENUE_TARGETS.get(H, np.nan)
            rows.append(row)
        return pd.DataFrame(rows)

    predict = forecast

    def backtest(self, data, n_origins: int = 4, step_days: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Rolling-origin backtest with this model's parameters (see :func:`backtest_revenue`)."""
        self._check_params()
        return backtest_revenue(data, horizons=self.horizons, n_origins=n_origins, step_days=step_days,
                                model=self)

    def scenarios(self) -> pd.DataFrame:
        """Long table ``horizon, scenario, revenue`` (worst, likely, best)."""
        f = self.forecast(level=(80,))
        return f.melt(id_vars="horizon", value_vars=["worst", "likely", "best"], var_name="scenario",
                      value_name="revenue").sort_values(["horizon", "scenario"]).reset_index(drop=True)

    def predict_daily(self, h: int) -> pd.DataFrame:
        """The likely daily path for ``h`` days, with the weights of the shortest horizon >= ``h``.

        Returns
        -------
        DataFrame
            ``ds, likely`` and the four parts.
        """
        self._check_fitted()
        fits = [H for H in sorted(self.parts_) if H >= h]
        if not fits:
            raise ValueError(f"h={h} is beyond the longest fitted horizon {max(self.parts_)}")
        return self.parts_[fits[0]].iloc[:h].reset_index(drop=True)


# --------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------

def backtest_revenue(data, horizons=(30, 90, 365), n_origins: int = 4, step_days: int = 30,
                     model: RevenueModel | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin backtest of :class:`RevenueModel` (weights re-learned at each origin).

    Parameters
    ----------
    data : path, Lake, duckdb connection or Snapshot
    horizons : tuple of int
    n_origins : int
        Origins per horizon: the last one ends its horizon at the data's as-of date, the
        others ``step_days`` apart before it.
    step_days : int
    model : RevenueModel, optional
        Parameters to use (cloned per origin); default ``RevenueModel()``.

    Returns
    -------
    (detail, summary) : tuple of DataFrame
        ``detail``: one row per origin and horizon with forecast, actual, lo_80, hi_80,
        accuracy, WAPE and the seasonal-naive baseline's forecast, accuracy and WAPE.
        ``summary``: per horizon the mean accuracy, WAPE, 80 % coverage, the baseline's and
        the spec's target.
    """
    snap = _as_snapshot(data)
    proto = model or RevenueModel()
    params = {k: getattr(proto, k) for k in ("prior_weights", "prior_strength", "n_origins",
                                            "origin_step_days", "base_model", "min_quotes", "min_sigma")}
    full = daily_revenue(snap).set_index("ds")["total"]
    first = full.index[0]
    rows = []
    for H in sorted(int(h) for h in horizons):
        for k in range(n_origins):
            origin = snap.as_of - pd.Timedelta(days=H + step_days * k)
            if (origin - first).days < MIN_HISTORY_DAYS:
                continue
            fc = RevenueModel(horizons=(H,), **params).fit(snap, as_of=origin)
            f = fc.forecast(level=(80,)).iloc[0]
            days = fc.parts_[H]["ds"]
            a = full.reindex(days).fillna(0.0).to_numpy()
            path = fc.parts_[H]["likely"].to_numpy()
            base = full.reindex(days - pd.Timedelta(days=364)).fillna(0.0).to_numpy()
            rows.append({
                "origin": origin, "horizon": H, "forecast": f["likely"], "actual": a.sum(),
                "lo_80": f["lo_80"], "hi_80": f["hi_80"],
                "accuracy": horizon_accuracy(a, path), "wape": weekly_wape(a, path),
                "covered_80": bool(f["lo_80"] <= a.sum() <= f["hi_80"]),
                "baseline_forecast": base.sum(), "baseline_accuracy": horizon_accuracy(a, base),
                "baseline_wape": weekly_wape(a, base),
                "weights": dict(fc.weights_.loc[H]),
            })
    detail = pd.DataFrame(rows)
    if detail.empty:
        raise ValueError(f"no backtest origin has {MIN_HISTORY_DAYS} days of history before it "
                         f"and its horizon inside the data")
    summary = detail.groupby("horizon").agg(
        origins=("origin", "size"), accuracy=("accuracy", "mean"), wape=("wape", "mean"),
        coverage_80=("covered_80", "mean"), baseline_accuracy=("baseline_accuracy", "mean"),
        baseline_wape=("baseline_wape", "mean")).reset_index()
    summary["target_accuracy"] = summary["horizon"].map(REVENUE_TARGETS)
    return detail, summary
