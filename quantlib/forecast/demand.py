"""Demand per service line and region: the series, their external factors, a forecaster.

Three pieces, each usable on its own:

``demand_series(con, freq, by)``
    Job counts from the gold mart ``job_facts`` in the long format ``series_id, ds, y``
    (zero-filled, full periods only).
``external_factors(con, freq)``
    Per region and period: temperature, precipitation, storm days, the storm window
    (storm day and the six days after), US federal holidays and the monthly economic
    indicators forward-filled.
``estimate_demand_factors(series, factors)``
    A Poisson GLM on daily demand that reads the multiplicative drivers back out
    (seasonal factors, weekday, holiday, storm multiplier, growth): a quick, transparent
    check of what drives demand.
``DemandForecaster``
    One forecast per service line x region with the forecaster family of
    :mod:`quantlib.forecast` (exogenous regressors where a model takes them), intervals,
    and a scenario hook (storm days, economic shocks).

Conventions: ``series_id`` is ``"<service_line>/<region>"`` (the ``by`` values joined by
``"/"``); weekly periods start on Monday and ``ds`` is that Monday.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import holidays as _holidays
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from quantlib.data.contracts import default_published_at
from quantlib.data.gold import as_of_date, open_gold
from quantlib.forecast.pipeline import published_indicators

SEASONS = ("winter", "spring", "summer", "fall")
MONTH_SEASON = {12: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3}
STORM_WINDOW_DAYS = 7  # the storm day and the six days after it (product spec)
ECONOMIC_COLUMNS = ("unemployment_rate", "housing_starts", "consumer_confidence")
FACTOR_COLUMNS = ("temp_c", "precip_mm", "storm", "storm_window", "holiday") + ECONOMIC_COLUMNS
_FREQS = {"D": "D", "W": "W-MON"}
_BY_ALLOWED = ("service_line", "region", "job_type", "urgency")


# ---------------------------------------------------------------------------- helpers
def _check_freq(freq: str) -> str:
    if freq not in _FREQS:
        raise ValueError(f"freq must be 'D' (daily) or 'W' (weeks starting Monday); got {freq!r}")
    return freq


def _period_start(dates: pd.Series | pd.DatetimeIndex, freq: str):
    """The start of each date's period: the date itself (D) or its Monday (W)."""
    d = pd.to_datetime(dates)
    if freq == "D":
        return d.normalize() if isinstance(d, pd.DatetimeIndex) else d.dt.normalize()
    dow = d.day_of_week if isinstance(d, pd.DatetimeIndex) else d.dt.day_of_week
    out = d - pd.to_timedelta(dow, unit="D")
    return out.normalize() if isinstance(out, pd.DatetimeIndex) else out.dt.normalize()


def full_periods(start, end, freq: str) -> pd.DatetimeIndex:
    """Period starts of the periods lying entirely within ``[start, end]``.

    A partial first or last week would look like a demand drop, so weeks are kept only
    when all seven days are inside the data.
    """
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if freq == "D":
        return pd.date_range(start, end, freq="D")
    first = start + pd.Timedelta(days=(7 - start.day_of_week) % 7)
    last = end - pd.Timedelta(days=6)
    return pd.date_range(first, last, freq="W-MON") if last >= first else pd.DatetimeIndex([])


def future_periods(last_ds, h: int, freq: str) -> pd.DatetimeIndex:
    """The ``h`` period starts after ``last_ds``."""
    step = pd.Timedelta(days=1 if freq == "D" else 7)
    return pd.date_range(pd.Timestamp(last_ds) + step, periods=h, freq=_FREQS[freq])


def holiday_flags(dates: Iterable) -> np.ndarray:
    """1 where a date is a US federal holiday (the calendar the generator and most US firms use)."""
    d = pd.DatetimeIndex(pd.to_datetime(list(dates) if not isinstance(dates, pd.DatetimeIndex) else dates))
    if len(d) == 0:
        return np.zeros(0)
    cal = _holidays.US(years=range(d.year.min(), d.year.max() + 1))
    return np.fromiter((x.date() in cal for x in d), dtype=float, count=len(d))


def storm_window(storm: np.ndarray, days: int = STORM_WINDOW_DAYS) -> np.ndarray:
    """1 on a storm day and the ``days - 1`` days after it (consecutive daily flags of one region)."""
    s = np.asarray(storm, dtype=float)
    return (np.convolve(s, np.ones(days))[: len(s)] > 0).astype(float)


def split_series_id(series_id: pd.Series, by: Sequence[str] = ("service_line", "region")) -> pd.DataFrame:
    """The ``by`` columns of ``"<line>/<region>"`` series ids."""
    parts = series_id.astype(str).str.split("/", n=len(by) - 1, expand=True)
    if parts.shape[1] != len(by):
        raise ValueError(f"series_id must look like {'/'.join('<' + b + '>' for b in by)}")
    parts.columns = list(by)
    return parts


# ---------------------------------------------------------------------------- series
def demand_series(con, freq: str = "D", by: Sequence[str] = ("service_line", "region"),
                  exclude_contract_visits: bool = True, start=None, end=None,
                  include_cancelled: bool = True) -> pd.DataFrame:
    """Job counts per ``by`` group and period, zero-filled, in the long format.

    A job counts on the day it was asked for (``requested_date``), or its scheduled day when
    that is not recorded: when the technicians are full, jobs are booked days later, and the
    scheduled day then measures capacity rather than demand.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection, path or Lake
        The gold database (the mart ``job_facts`` and ``build_params``).
    freq : {"D", "W"}
        Daily, or weeks starting Monday (``ds`` is the Monday). Only full weeks are kept.
    by : sequence of str
        Columns of ``job_facts`` that define a series; ``series_id`` joins their values
        with ``"/"``. One of ``service_line``, ``region``, ``job_type``, ``urgency``.
    exclude_contract_visits : bool
        Drop maintenance-contract visits. They are booked on a fixed calendar, not by
        demand, so they would dilute the seasonal and storm signal a forecast needs.
    start, end : date-like, optional
        The period covered. Default: the first scheduled job to ``build_params.as_of``
        (the latest actual event; jobs booked beyond it are only the ones known so far
        and would look like a collapse in demand).
    include_cancelled : bool
        Count cancelled jobs. Default True: a cancelled request was still demand.

    Returns
    -------
    pandas.DataFrame
        ``series_id, ds, y`` then the ``by`` columns; one row per series and period,
        ``y`` an integer count (0 where no job).
    """
    freq = _check_freq(freq)
    by = tuple(by)
    if not by or any(b not in _BY_ALLOWED for b in by):
        raise ValueError(f"by must be a non-empty subset of {_BY_ALLOWED}; got {by!r}")
    with open_gold(con) as db:
        columns = {row[0] for row in db.execute("DESCRIBE job_facts").fetchall()}
        day = "coalesce(requested_date, scheduled_date)" if "requested_date" in columns else "scheduled_date"
        where = [f"{day} IS NOT NULL"]
        if exclude_contract_visits:
            where.append("contract_id IS NULL")
        if not include_cancelled:
            where.append("status <> 'cancelled'")
        cols = ", ".join(by)
        counts = db.execute(
            f"SELECT {cols}, {day} AS date, count(*) AS y FROM job_facts "
            f"WHERE {' AND '.join(where)} GROUP BY ALL").df()
        bounds = db.execute(f"SELECT (SELECT min({day}) FROM job_facts), "
                            "(SELECT as_of FROM build_params)").fetchone()
    if counts.empty:
        raise ValueError("job_facts has no jobs to count")
    start = pd.Timestamp(start if start is not None else bounds[0])
    end = pd.Timestamp(end if end is not None else bounds[1])
    periods = full_periods(start, end, freq)
    if len(periods) == 0:
        raise ValueError(f"no full {'day' if freq == 'D' else 'week'} between {start.date()} and {end.date()}")
    counts["date"] = pd.to_datetime(counts["date"])
    counts = counts[(counts["date"] >= start) & (counts["date"] <= end)]
    counts["ds"] = _period_start(counts["date"], freq)
    for b in by:
        counts[b] = counts[b].astype(str)
    counts["series_id"] = counts[list(by)].agg("/".join, axis=1) if len(by) > 1 else counts[by[0]]
    agg = counts.groupby(["series_id", "ds"], observed=True)["y"].sum()
    ids = sorted(counts["series_id"].unique())
    full = pd.MultiIndex.from_product([ids, periods], names=["series_id", "ds"])
    out = agg.reindex(full, fill_value=0).reset_index()
    out["y"] = out["y"].astype("int64")
    out = pd.concat([out, split_series_id(out["series_id"], by)], axis=1)
    return out


# ---------------------------------------------------------------------------- factors
def _daily_factors(weather: pd.DataFrame, econ: pd.DataFrame, dates: pd.DatetimeIndex,
                   regions: Sequence[str]) -> pd.DataFrame:
    """Daily factors per region on ``dates`` (weather may be missing at the ends: NaN there)."""
    frames = []
    econ = econ.sort_values("month")
    for region in regions:
        w = weather[weather["region"] == region].set_index("date").sort_index()
        w = w[~w.index.duplicated(keep="last")]
        # Storm window from the region's own full daily record, so a storm just before
        # `dates` still opens its window inside them.
        full_days = pd.date_range(min(w.index.min(), dates.min()) if len(w) else dates.min(),
                                  max(w.index.max(), dates.max()) if len(w) else dates.max())
        storm_full = w["storm"].astype(float).reindex(full_days).fillna(0.0).to_numpy()
        window = pd.Series(storm_window(storm_full), index=full_days).reindex(dates)
        f = pd.DataFrame({"region": region, "ds": dates})
        f["temp_c"] = w["temp_c"].reindex(dates).to_numpy()
        f["precip_mm"] = w["precip_mm"].reindex(dates).to_numpy()
        f["storm"] = w["storm"].astype(float).reindex(dates).to_numpy()
        f["storm_window"] = window.to_numpy()
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out["holiday"] = np.tile(holiday_flags(dates), len(regions))
    # Monthly indicators hold for every day of their month, and the last one is carried
    # forward (it is what anyone would know on those days).
    month = out["ds"].dt.to_period("M").dt.to_timestamp()
    e = econ.assign(month=pd.to_datetime(econ["month"])).set_index("month")[list(ECONOMIC_COLUMNS)]
    e = e.reindex(e.index.union(month.unique())).sort_index().ffill()
    for c in ECONOMIC_COLUMNS:
        out[c] = month.map(e[c]).to_numpy()
    return out


def aggregate_factors(daily: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Daily factors to ``freq``: means of temperature, storm window, holidays (= the share
    of the period's days) and indicators; sums of precipitation and storm days."""
    freq = _check_freq(freq)
    if freq == "D":
        return daily.reset_index(drop=True)
    d = daily.assign(ds=_period_start(daily["ds"], freq))
    how = {c: "mean" for c in FACTOR_COLUMNS}
    how.update(precip_mm="sum", storm="sum")
    return d.groupby(["region", "ds"], sort=True).agg(how).reset_index()


def external_factors(con, freq: str = "D", regions: Sequence[str] | None = None,
                     start=None, end=None, as_of=None) -> pd.DataFrame:
    """Regressors per region and period, aligned to :func:`demand_series`.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection, path or Lake
        The gold database (tables ``weather`` and ``economic_indicators``).
    freq : {"D", "W"}
        Daily, or weeks starting Monday.
    regions : sequence of str, optional
        Default: every region of the weather table.
    start, end : date-like, optional
        Default: the weather table's first and last day. Days after the last weather
        record get NaN weather and a zero storm window (no storm known), calendar
        holidays, and the last economic values carried forward.
    as_of : date-like, optional
        What is known: weather observed on or before it, and the months of economic
        indicators published on or before it (``published_at``; by default the 15th of
        the next month), the last one carried forward. Default: ``build_params.as_of``.
        A backtest at an origin passes the origin.

    Returns
    -------
    pandas.DataFrame
        ``region, ds, temp_c, precip_mm, storm, storm_window, holiday,
        unemployment_rate, housing_starts, consumer_confidence``. Daily: ``storm``,
        ``storm_window`` and ``holiday`` are 0/1. Weekly: ``storm`` and ``precip_mm``
        are sums over the week, the others means, so ``storm_window`` and ``holiday``
        are the share of the week's days in a storm window or on a holiday.
    """
    freq = _check_freq(freq)
    with open_gold(con) as db:
        known = pd.Timestamp(as_of_date(db, as_of))
        weather = db.execute("SELECT date, region, temp_c, precip_mm, storm FROM weather "
                             "WHERE date::DATE <= ?", [known.date()]).df()
        econ = db.execute("SELECT * FROM economic_indicators").df()
    if weather.empty:
        raise ValueError(f"the weather table has nothing on or before {known.date()}: no regional factors to build")
    if econ.empty:
        raise ValueError("the economic_indicators table is empty")
    econ = published_indicators(econ, known)
    if econ.empty:
        raise ValueError(f"no economic indicators were published by {known.date()}")
    weather["date"] = pd.to_datetime(weather["date"]).dt.normalize()
    regions = sorted(weather["region"].astype(str).unique()) if regions is None else list(regions)
    unknown = set(regions) - set(weather["region"].astype(str))
    if unknown:
        raise ValueError(f"no weather for region(s) {sorted(unknown)}")
    start = pd.Timestamp(start if start is not None else weather["date"].min()).normalize()
    end = pd.Timestamp(end if end is not None else weather["date"].max()).normalize()
    if end < start:
        raise ValueError(f"end {end.date()} is before start {start.date()}")
    if freq == "W":  # whole weeks, so a week's shares are over its seven days
        start = start - pd.Timedelta(days=start.day_of_week)
        end = end + pd.Timedelta(days=6 - end.day_of_week)
    daily = _daily_factors(weather, econ, pd.date_range(start, end, freq="D"), regions)
    return aggregate_factors(daily, freq)


# ---------------------------------------------------------------------------- drivers (GLM)
def estimate_demand_factors(series: pd.DataFrame, factors: pd.DataFrame, cutoff=None) -> pd.DataFrame:
    """Multiplicative demand drivers per service line from a Poisson GLM on daily counts.

    Per service line: ``log E[y] = region + season + weekday + holiday + storm window +
    growth``. Reads the generator's kind of truth straight back out, so it doubles as a
    check of the data and as a transparent table for analysts.

    Parameters
    ----------
    series : pandas.DataFrame
        Daily ``demand_series(con, freq="D")`` (``service_line`` and ``region`` columns).
    factors : pandas.DataFrame
        Daily ``external_factors(con, freq="D")``.
    cutoff : date-like, optional
        Use only days on or before it.

    Returns
    -------
    pandas.DataFrame
        ``service_line, effect, level, factor, lo_95, hi_95``: ``effect`` is ``season``
        (factors normalised to a mean of 1 over the four seasons), ``weekday`` (relative
        to Monday), ``holiday``, ``storm_window`` (the daily multiplier) or ``growth``
        (a year).
    """
    import statsmodels.api as sm

    need = {"ds", "y", "service_line", "region"}
    if need - set(series.columns):
        raise ValueError(f"series needs columns {sorted(need)} (demand_series(con, freq='D'))")
    if pd.to_datetime(series["ds"]).diff().dropna().abs().min() != pd.Timedelta(days=1):
        raise ValueError("estimate_demand_factors needs daily series")
    d = series.merge(factors[["region", "ds", "holiday", "storm_window"]], on=["region", "ds"], how="left")
    if cutoff is not None:
        d = d[d["ds"] <= pd.Timestamp(cutoff)]
    if d[["holiday", "storm_window"]].isna().any().any():
        raise ValueError("factors do not cover every day of the series")
    rows = []
    for line, g in d.groupby("service_line"):
        season = g["ds"].dt.month.map(MONTH_SEASON)
        X = pd.concat([
            pd.get_dummies(g["region"], prefix="r", dtype=float),
            pd.get_dummies(season, prefix="s", dtype=float).iloc[:, 1:],
            pd.get_dummies(g["ds"].dt.day_of_week, prefix="w", dtype=float).iloc[:, 1:],
            g[["holiday", "storm_window"]].astype(float),
            ((g["ds"] - g["ds"].min()).dt.days / 365.25).rename("growth"),
        ], axis=1)
        res = sm.GLM(g["y"].to_numpy(float), X, family=sm.families.Poisson()).fit()
        b, cov = res.params, res.cov_params()
        # Seasons normalised to a mean factor of 1: delta method by simulation (cheap, exact enough).
        s_cols = [c for c in X.columns if c.startswith("s_")]
        draws = np.random.default_rng(0).multivariate_normal(b[s_cols], cov.loc[s_cols, s_cols], 2000)
        f = np.exp(np.column_stack([np.zeros(len(draws)), draws]))
        f = f / f.mean(axis=1, keepdims=True)
        fit_f = np.exp(np.r_[0.0, b[s_cols]])
        fit_f = fit_f / fit_f.mean()
        for k, name in enumerate(SEASONS):
            rows.append((line, "season", name, fit_f[k], *np.quantile(f[:, k], [0.025, 0.975])))
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        rows.append((line, "weekday", "mon", 1.0, 1.0, 1.0))
        for k in range(1, 7):
            c = f"w_{k}"
            rows.append((line, "weekday", days[k], *np.exp([b[c], b[c] - 1.96 * res.bse[c], b[c] + 1.96 * res.bse[c]])))
        for c in ("holiday", "storm_window", "growth"):
            rows.append((line, c, "", *np.exp([b[c], b[c] - 1.96 * res.bse[c], b[c] + 1.96 * res.bse[c]])))
    return pd.DataFrame(rows, columns=["service_line", "effect", "level", "factor", "lo_95", "hi_95"])


# ---------------------------------------------------------------------------- forecaster
def _fourier(ds: pd.Series, k: int) -> pd.DataFrame:
    """Yearly Fourier terms: a smooth seasonal profile without a 52-lag seasonal model."""
    doy = pd.to_datetime(ds).dt.day_of_year.to_numpy() / 365.25
    cols = {}
    for i in range(1, k + 1):
        cols[f"sin{i}"] = np.sin(2 * np.pi * i * doy)
        cols[f"cos{i}"] = np.cos(2 * np.pi * i * doy)
    return pd.DataFrame(cols, index=ds.index)


def _hold_unpublished(factors: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Economic columns as known at ``as_of``: periods of months not published by then
    (default lag) take the last published value of their region."""
    cols = [c for c in ECONOMIC_COLUMNS if c in factors]
    if not cols or factors.empty:
        return factors
    f = factors.sort_values(["region", "ds"]).copy()
    month = f["ds"].dt.to_period("M").dt.to_timestamp()
    known = (default_published_at(month).to_numpy() <= as_of.normalize())
    for c in cols:
        f[c] = f[c].where(known).groupby(f["region"]).ffill()
    return f.sort_index()


class DemandForecaster(BaseEstimator):
    """Job-count forecasts per service line x region with external factors and scenarios.

    Each series is forecast by a model of the forecaster family (default
    :class:`~quantlib.forecast.models.AutoARIMA`) with regressors: yearly Fourier terms
    (the seasonal profile; a 52-week seasonal ARIMA would be slow and data-hungry), the
    storm-window share, the holiday share and economic indicators. A model without
    exogenous support (e.g. ``SeasonalNaive``) is fitted on the counts alone.

    Parameters
    ----------
    model : Forecaster, optional
        A forecaster of :mod:`quantlib.forecast`; default ``AutoARIMA(seasonal=False)``
        for weekly data (the Fourier terms carry the season) and ``AutoARIMA()`` for daily.
    regressors : sequence of str
        Columns of :func:`external_factors` used as regressors.
    fourier : int
        Pairs of yearly Fourier terms.
    cutoff : date-like, optional
        Fit only on periods on or before it (backtests: nothing later is read). The
        economic indicators of months not yet published at the cutoff (by the default
        lag, the 15th of the next month) are replaced by the last published value; for
        the exact publication dates build the factors with
        ``external_factors(con, freq, as_of=cutoff)``.
    effect_level : float or None
        Scenario shifts of economic indicators (``{"consumer_confidence": -10}``) act
        through each series' effect estimated by a Poisson GLM with a trend, the yearly
        Fourier terms and the regressors, with month-clustered standard errors
        (``effects_``; a regression of a trending count on a slowly drifting monthly
        indicator otherwise finds effects that are not there). The shift moves a series'
        forecast only when that effect differs from zero at this confidence level in
        percent (default 95); otherwise the forecast is unchanged rather than showing a
        sign the data cannot support. :meth:`scenario_effects` reports the estimate and
        its interval either way. ``None`` always applies the point estimate.

    Attributes
    ----------
    model_ : Forecaster
        The fitted forecaster.
    freq_ : {"D", "W"}
    last_ds_ : pandas.Timestamp
    effects_ : pandas.DataFrame
        ``series_id, regressor, coef, se``: the GLM's log-scale effects (see
        :meth:`regressor_effects`).
    """

    def __init__(self, model=None, regressors: Sequence[str] = ("storm_window", "holiday", "consumer_confidence"),
                 fourier: int = 3, cutoff=None, effect_level: float | None = 95) -> None:
        self.model = model
        self.regressors = regressors
        self.fourier = fourier
        self.cutoff = cutoff
        self.effect_level = effect_level

    def _exog(self, rows: pd.DataFrame, factors: pd.DataFrame) -> pd.DataFrame:
        x = rows[["series_id", "ds", "region"]].merge(factors[["region", "ds", *self.regressors]],
                                                      on=["region", "ds"], how="left")
        if x[list(self.regressors)].isna().any().any():
            raise ValueError("factors do not cover every period of the series "
                             "(use external_factors(con, freq) with the series' freq)")
        x = pd.concat([x, _fourier(x["ds"], self.fourier)], axis=1)
        return x.drop(columns="region")

    def fit(self, series: pd.DataFrame, factors: pd.DataFrame) -> "DemandForecaster":
        """Fit one model per series.

        Parameters
        ----------
        series : pandas.DataFrame
            :func:`demand_series` output (``series_id, ds, y, service_line, region``).
        factors : pandas.DataFrame
            :func:`external_factors` at the same frequency.

        Returns
        -------
        self
        """
        from quantlib.forecast.models import AutoARIMA

        need = {"series_id", "ds", "y", "region"}
        if need - set(series.columns):
            raise ValueError(f"series needs columns {sorted(need)} (demand_series output)")
        missing = set(self.regressors) - set(factors.columns)
        if missing:
            raise ValueError(f"factors lack regressor column(s) {sorted(missing)}")
        s = series.assign(ds=pd.to_datetime(series["ds"]))
        if self.cutoff is not None:
            s = s[s["ds"] <= pd.Timestamp(self.cutoff)]
        step = s.groupby("series_id")["ds"].diff().dropna()
        if step.empty or step.nunique() != 1 or step.iloc[0] not in (pd.Timedelta(days=1), pd.Timedelta(days=7)):
            raise ValueError("series must be regular and gap-free, daily or weekly")
        self.freq_ = "D" if step.iloc[0] == pd.Timedelta(days=1) else "W"
        if (s["y"] < 0).any() or s["y"].isna().any():
            raise ValueError("y must be non-negative counts without missing values")
        f = factors.assign(ds=pd.to_datetime(factors["ds"]))
        last_day = s["ds"].max() + pd.Timedelta(days=0 if self.freq_ == "D" else 6)
        f = f[f["ds"] <= last_day]  # nothing after the data: the fit cannot see the future
        if self.cutoff is not None:
            f = _hold_unpublished(f, pd.Timestamp(self.cutoff))
        self.series_ = s[["series_id", "region"]].drop_duplicates().reset_index(drop=True)
        self.last_ds_ = s["ds"].max()
        self.factors_ = f
        model = self.model if self.model is not None else AutoARIMA(seasonal=self.freq_ == "D")
        self.uses_exog_ = bool(getattr(model, "uses_exog", False))
        data = s[["series_id", "ds", "y"]]
        if self.uses_exog_:
            data = data.merge(self._exog(s, f), on=["series_id", "ds"])
        self.model_ = model.clone().fit(data, freq=_FREQS[self.freq_])
        self.effects_ = self._fit_effects(s, f)
        return self

    def future_factors(self, h: int, scenario: Mapping | None = None) -> pd.DataFrame:
        """The regressors of the ``h`` periods ahead, per region.

        Without a scenario: storm-window share = the history's mean share for the month,
        holidays from the calendar, economic indicators held at their last value.
        ``scenario`` may hold ``storm_days`` (dates, or ``{region: dates}``: the horizon's
        storms are exactly these) and shifts of economic columns, e.g.
        ``{"consumer_confidence": +10}``.
        """
        scenario = dict(scenario or {})
        unknown = set(scenario) - {"storm_days", *ECONOMIC_COLUMNS}
        if unknown:
            raise ValueError(f"unknown scenario keys {sorted(unknown)}; use 'storm_days' or {list(ECONOMIC_COLUMNS)}")
        periods = future_periods(self.last_ds_, h, self.freq_)
        span = 1 if self.freq_ == "D" else 7
        days = pd.date_range(periods.min(), periods.max() + pd.Timedelta(days=span - 1))
        hist = self.factors_
        frames = []
        for region in self.series_["region"].unique():
            hr = hist[hist["region"] == region].sort_values("ds")
            daily = pd.DataFrame({"region": region, "ds": days, "holiday": holiday_flags(days)})
            if "storm_days" in scenario:
                sd = scenario["storm_days"]
                dates = pd.to_datetime(list(sd.get(region, []) if isinstance(sd, Mapping) else sd))
                flags = np.isin(days.values, dates.values).astype(float)
                daily["storm_window"] = storm_window(flags)
                daily["storm"] = flags
            else:
                # The climatology per month (weekly shares are shares of days, so they average alike).
                clim = hr.groupby(hr["ds"].dt.month)["storm_window"].mean()
                daily["storm_window"] = days.month.map(clim).fillna(0.0).to_numpy()
                daily["storm"] = 0.0
            for c in ECONOMIC_COLUMNS:
                if c in hr:
                    daily[c] = float(hr[c].dropna().iloc[-1]) + float(scenario.get(c, 0.0))
            daily["temp_c"] = np.nan
            daily["precip_mm"] = np.nan
            frames.append(daily)
        return aggregate_factors(pd.concat(frames, ignore_index=True), self.freq_)

    def _fit_effects(self, s: pd.DataFrame, f: pd.DataFrame) -> pd.DataFrame:
        """Per series, a Poisson GLM of the counts on the regressors with month-clustered errors.

        ``log E[y] = const + trend + yearly Fourier terms + regressors``. The linear trend
        keeps slowly drifting indicators from standing in for growth, and the standard
        errors are clustered by calendar month (robust to over-dispersion and to the
        indicators being monthly: a few dozen independent values, not one per period).
        """
        import warnings

        import statsmodels.api as sm

        regs = list(self.regressors)
        d = s[["series_id", "ds", "region", "y"]].merge(f[["region", "ds", *regs]], on=["region", "ds"], how="left")
        rows = []
        for sid, g in d.groupby("series_id"):
            g = g.sort_values("ds")
            X = pd.concat([pd.Series(1.0, index=g.index, name="const"),
                           ((g["ds"] - g["ds"].min()).dt.days / 365.25).rename("trend"),
                           _fourier(g["ds"], self.fourier), g[regs].astype(float)], axis=1)
            keep = [c for c in X.columns if c in ("const", "trend") or X[c].std() > 0]
            groups = (g["ds"].dt.year * 12 + g["ds"].dt.month).to_numpy()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = sm.GLM(g["y"].to_numpy(float), X[keep], family=sm.families.Poisson()).fit(
                        cov_type="cluster", cov_kwds={"groups": groups})
            except (ValueError, np.linalg.LinAlgError):
                continue
            for c in regs:
                if c in keep:
                    rows.append((sid, c, float(res.params[c]), float(res.bse[c])))
        return pd.DataFrame(rows, columns=["series_id", "regressor", "coef", "se"])

    def regressor_effects(self, level: float = 95) -> pd.DataFrame:
        """Each series' estimated effect of each regressor, with its confidence interval.

        From the month-clustered Poisson GLM fitted alongside the forecasting model (see
        ``effects_``): ``coef`` is the change of log expected jobs per unit of the
        regressor, ``factor = exp(coef)`` the multiplier. A regressor constant over a
        series' history has no row.

        Returns
        -------
        pandas.DataFrame
            ``series_id, regressor, coef, se, lo, hi, factor, factor_lo, factor_hi,
            differs_from_zero`` (intervals at ``level`` percent, normal approximation).
        """
        from scipy import stats

        check_is_fitted(self, "effects_")
        z = stats.norm.ppf(0.5 + level / 200)
        e = self.effects_.copy()
        e["lo"], e["hi"] = e["coef"] - z * e["se"], e["coef"] + z * e["se"]
        for c in ("", "_lo", "_hi"):
            e[f"factor{c}"] = np.exp(e["coef" if not c else c[1:]])
        e["differs_from_zero"] = np.isfinite(e["se"]) & ((e["lo"] > 0) | (e["hi"] < 0))
        return e

    def scenario_effects(self, h: int, scenario: Mapping, level: float = 95) -> pd.DataFrame:
        """What a shift of economic indicators does to total jobs over ``h`` periods, with its interval.

        A shift ``delta`` of indicator ``c`` multiplies expected jobs by
        ``exp(coef_c x delta)`` (interval from that of ``coef_c``); the change is that
        multiplier minus one times the baseline forecast's total.

        Parameters
        ----------
        h : int
        scenario : dict
            Shifts of economic columns, e.g. ``{"consumer_confidence": -10}``; other keys
            are ignored here.
        level : float
            Interval level in percent.

        Returns
        -------
        pandas.DataFrame
            ``series_id, regressor, shift, baseline, change, change_lo, change_hi,
            differs_from_zero, applied`` (``applied``: whether :meth:`predict` moves the
            series' forecast for this shift, see ``effect_level``).
        """
        eff = self.regressor_effects(level)
        base = self.predict(h, level=(80,)).groupby("series_id")["yhat"].sum()
        applied = self.regressor_effects(self.effect_level) if self.effect_level is not None else None
        rows = []
        for c, delta in dict(scenario).items():
            if c not in ECONOMIC_COLUMNS:
                continue
            for _, r in eff[eff["regressor"] == c].iterrows():
                b = float(base.get(r["series_id"], 0.0))
                ends = sorted([b * (np.exp(r["lo"] * delta) - 1), b * (np.exp(r["hi"] * delta) - 1)])
                if applied is None:
                    used = True
                else:
                    hit = applied[(applied["series_id"] == r["series_id"]) & (applied["regressor"] == c)]
                    used = bool(hit["differs_from_zero"].iloc[0]) if len(hit) else False
                rows.append((r["series_id"], c, float(delta), b, b * (np.exp(r["coef"] * delta) - 1), ends[0], ends[1],
                             bool(r["differs_from_zero"]), used))
        return pd.DataFrame(rows, columns=["series_id", "regressor", "shift", "baseline", "change", "change_lo",
                                           "change_hi", "differs_from_zero", "applied"])

    def _economic_multiplier(self, scenario: Mapping | None) -> pd.Series:
        """Per series, the multiplier of an economic scenario (1 where it is not applied)."""
        mult = pd.Series(1.0, index=pd.Index(self.series_["series_id"].unique()))
        shifts = {c: float(v) for c, v in dict(scenario or {}).items() if c in ECONOMIC_COLUMNS and v}
        if not shifts:
            return mult
        eff = self.regressor_effects(self.effect_level if self.effect_level is not None else 95)
        for c, delta in shifts.items():
            for _, r in eff[eff["regressor"] == c].iterrows():
                if self.effect_level is None or r["differs_from_zero"]:
                    mult[r["series_id"]] *= float(np.exp(r["coef"] * delta))
        return mult

    def predict(self, h: int, level: Sequence[int] = (80, 95), scenario: Mapping | None = None) -> pd.DataFrame:
        """Forecast ``h`` periods per series, with intervals, optionally under a scenario.

        Parameters
        ----------
        h : int
            Periods ahead.
        level : sequence of int
            Interval levels in percent.
        scenario : dict, optional
            See :meth:`future_factors`: ``{"storm_days": [...]}`` or
            ``{"consumer_confidence": +10}``. Storm scenarios move only models with
            exogenous regressors; economic shifts act through ``effects_`` (see ``effect_level``).

        Returns
        -------
        pandas.DataFrame
            ``series_id, ds, yhat, yhat_lo_<L>, yhat_hi_<L>`` (``model`` too), counts
            clipped at zero.
        """
        check_is_fitted(self, "model_")
        if not isinstance(h, (int, np.integer)) or h < 1:
            raise ValueError(f"h must be a positive integer; got {h!r}")
        X_future = None
        if self.uses_exog_:
            fut = self.future_factors(h, scenario)
            periods = future_periods(self.last_ds_, h, self.freq_)
            rows = self.series_.merge(pd.DataFrame({"ds": periods}), how="cross")
            X_future = self._exog(rows, fut)
            # Economic shifts act through the GLM's effects (below), not the forecasting
            # model's own coefficients: undo them in the model's regressors.
            for c, delta in dict(scenario or {}).items():
                if c in ECONOMIC_COLUMNS and c in X_future.columns and delta:
                    X_future[c] = X_future[c] - float(delta)
        out = self.model_.predict(h, level=level, X_future=X_future)
        mult = self._economic_multiplier(scenario)
        if (mult != 1.0).any():
            num = [c for c in out.columns if c.startswith("yhat")]
            out[num] = out[num].mul(out["series_id"].map(mult).fillna(1.0).to_numpy(), axis=0)
        num = [c for c in out.columns if c.startswith("yhat")]
        out[num] = out[num].clip(lower=0)
        return out
