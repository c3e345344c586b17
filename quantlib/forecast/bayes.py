"""A hierarchical Bayesian demand model (PyMC, sampled with nutpie).

Job counts per service line x region (weekly by default, daily works too) follow a
negative binomial whose log mean is

.. math::

    \\log \\mu_{s,t} = a_{line} + a_{region} + a_{line,region}
        + \\log \\textstyle\\sum_k f_{t,k} e^{\\sigma_{line,k}}         \\quad\\text{(season)}
        + b_{line} \\, t                                               \\quad\\text{(trend)}
        + \\log(1 + (m_{line} - 1) \\, w^{storm}_{r,t})                  \\quad\\text{(storm)}
        + \\log(1 + (h - 1) \\, w^{hol}_{t})                             \\quad\\text{(holidays)}
        + \\beta^\\top z_{t}                                            \\quad\\text{(economy)}
        [+ d_{weekday}]                                                 \\quad\\text{(daily only)}

* Partial pooling: region and line x region intercepts are zero-sum deviations with
  learned scales around each line's level; each line's
  seasonal profile is drawn around a shared one; each line's trend around a shared trend;
  each line's storm effect ``log m_line`` around zero with a learned spread (most trades do
  not react to storms, roofing does, and the spread lets the data say so).
* Periods are aggregates of days, so season, storm and holiday enter as the *share* of the
  period's days they cover (``f``, ``w``): a week with three storm-window days gets
  ``1 + (m - 1) 3/7``, which is exactly the weekly sum of a daily multiplicative model
  with equal days. ``m_line`` therefore reads as the daily storm multiplier of the
  product spec (2.5 for roofing) and ``exp(sigma)`` as its seasonal factors.
* The economy enters as standardised indicators (default: consumer confidence).

``fit`` records ``sampling_seconds_`` (and ``compile_seconds_``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from quantlib.forecast.demand import (
    MONTH_SEASON,
    SEASONS,
    STORM_WINDOW_DAYS,
    future_periods,
    holiday_flags,
    split_series_id,
    storm_window,
)

os.environ.setdefault("PYTENSOR_FLAGS", "base_compiledir=" + os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".cache", "pytensor"))

_NEEDED = ("region", "ds", "storm_window", "holiday")


def _lib_log1p_share(lib, log_mult, share):
    """``log(1 + (exp(log_mult) - 1) * share)``: a daily multiplier applied to a share of days."""
    return lib.log1p(lib.expm1(log_mult) * share)


class HierarchicalDemandModel(BaseEstimator):
    """Hierarchical negative-binomial demand model with storm and economic effects.

    Parameters
    ----------
    economic : sequence of str
        Economic indicator columns of the factors used as regressors (standardised on
        the training data). Default ``("consumer_confidence",)``.
    draws, tune, chains : int
        Sampler settings (nutpie). The defaults sample in seconds for a few series.
    sampler : {"nutpie", "pymc"}
        ``"pymc"`` uses PyMC's own NUTS (the benchmark's baseline); much slower.
    cutoff : date-like, optional
        Use only periods starting on or before ``cutoff`` (and their factors): a
        backtest's fit then cannot see anything later.
    seed : int
        Random seed of the sampler and of the predictive draws.

    Attributes
    ----------
    idata_ : arviz.InferenceData
        The posterior.
    sampling_seconds_, compile_seconds_ : float
        Wall time of sampling and of compiling the model.
    series_ : pandas.DataFrame
        ``series_id, service_line, region`` of the fitted series.
    freq_ : {"D", "W"}
        Frequency of the fitted data.
    """

    def __init__(self, economic: Sequence[str] = ("consumer_confidence",), draws: int = 500,
                 tune: int = 500, chains: int = 2, sampler: str = "nutpie", cutoff=None,
                 seed: int = 0) -> None:
        self.economic = economic
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.sampler = sampler
        self.cutoff = cutoff
        self.seed = seed

    # ------------------------------------------------------------------ data
    def _check(self, df: pd.DataFrame, regressors: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        missing = {"series_id", "ds", "y"} - set(df.columns)
        if missing:
            raise ValueError(f"df needs columns series_id, ds, y; missing {sorted(missing)}")
        need = set(_NEEDED) | set(self.economic)
        missing = need - set(regressors.columns)
        if missing:
            raise ValueError(f"regressors need columns {sorted(need)}; missing {sorted(missing)} "
                             "(use quantlib.forecast.demand.external_factors(con, freq='D'))")
        df = df.copy()
        df["ds"] = pd.to_datetime(df["ds"])
        reg = regressors.copy()
        reg["ds"] = pd.to_datetime(reg["ds"])
        if reg.groupby("region")["ds"].diff().dropna().ne(pd.Timedelta(days=1)).any():
            raise ValueError("regressors must be daily and gap-free per region "
                             "(external_factors(con, freq='D')); the model aggregates them itself")
        if self.cutoff is not None:
            cut = pd.Timestamp(self.cutoff)
            df = df[df["ds"] <= cut]
        if df["y"].isna().any():
            raise ValueError("y has missing values; fill them (0 = no job) or drop the periods")
        if (df["y"] < 0).any():
            raise ValueError("y has negative counts")
        if df.duplicated(["series_id", "ds"]).any():
            raise ValueError("duplicate (series_id, ds) rows")
        steps = df.sort_values("ds").groupby("series_id")["ds"].diff().dropna().unique()
        if len(steps) != 1 or pd.Timedelta(steps[0]) not in (pd.Timedelta(days=1), pd.Timedelta(days=7)):
            raise ValueError("each series must be regular and gap-free, daily or weekly (same step for all)")
        self.freq_ = "D" if pd.Timedelta(steps[0]) == pd.Timedelta(days=1) else "W"
        n_periods = df.groupby("series_id").size().min()
        if n_periods < (104 if self.freq_ == "W" else 730):
            raise ValueError(f"need two years of history per series to separate season from trend; "
                             f"shortest series has {n_periods} periods")
        if {"service_line", "region"} - set(df.columns):
            df = pd.concat([df.drop(columns=[c for c in ("service_line", "region") if c in df]),
                            split_series_id(df["series_id"])], axis=1)
        if self.cutoff is not None:
            # Factors up to the end of the last period fitted: not one day more.
            last_day = df["ds"].max() + pd.Timedelta(days=0 if self.freq_ == "D" else 6)
            reg = reg[reg["ds"] <= last_day]
        return df, reg

    def _period_factors(self, periods: pd.DatetimeIndex, daily: pd.DataFrame) -> pd.DataFrame:
        """Per (region, period): season shares, storm-window share, holiday share, economy.

        ``daily`` holds ``region, ds, storm_window, holiday`` and the economic columns for
        every day of ``periods``.
        """
        span = 1 if self.freq_ == "D" else 7
        days = pd.DataFrame({"period": np.repeat(periods.values, span)})
        days["ds"] = days["period"] + pd.to_timedelta(np.tile(np.arange(span), len(periods)), unit="D")
        season = days["ds"].dt.month.map(MONTH_SEASON).to_numpy()
        for k, name in enumerate(SEASONS):
            days[f"season_{name}"] = (season == k).astype(float)
        frames = []
        for region, d in daily.groupby("region"):
            x = days.merge(d, on="ds", how="left")
            x["region"] = region
            frames.append(x)
        x = pd.concat(frames, ignore_index=True)
        cols = [f"season_{s}" for s in SEASONS] + ["storm_window", "holiday", *self.economic]
        if x[cols].isna().any().any():
            bad = x.loc[x[cols].isna().any(axis=1), ["region", "ds"]].head(3)
            raise ValueError(f"regressors do not cover every day of the series, e.g. {bad.to_dict('records')}")
        return x.groupby(["region", "period"])[cols].mean().reset_index().rename(columns={"period": "ds"})

    def _design(self, rows: pd.DataFrame, per: pd.DataFrame) -> dict:
        """Arrays for the linear predictor, one entry per row of ``rows`` (series_id, ds)."""
        x = rows[["series_id", "ds"]].merge(self.series_, on="series_id", how="left") \
            .merge(per, on=["region", "ds"], how="left")
        season = x[[f"season_{s}" for s in SEASONS]].to_numpy(float)
        econ = ((x[list(self.economic)].to_numpy(float) - self._econ_mean) / self._econ_std
                if self.economic else np.zeros((len(x), 0)))
        return {
            "series": x["series_id"].map(self._series_index).to_numpy(int),
            "line": x["service_line"].map(self._line_index).to_numpy(int),
            "region": x["region"].map(self._region_index).to_numpy(int),
            "season": season,
            "t": ((x["ds"] - self._t0).dt.days.to_numpy(float) / 365.25) - self._t_center,
            "storm": x["storm_window"].to_numpy(float),
            "holiday": x["holiday"].to_numpy(float),
            "econ": econ,
            "weekday": x["ds"].dt.day_of_week.to_numpy(int),
        }

    def _log_mu(self, p: Mapping, X: Mapping, lib):
        """The linear predictor, written once for PyMC (``lib`` = pytensor.tensor) and NumPy."""
        eta = (p["a_line"][X["line"]] + p["a_region"][X["region"]] + p["a_cell"][X["line"], X["region"]]
               + lib.log((X["season"] * lib.exp(p["season"][X["line"]])).sum(axis=1))
               + p["trend"][X["line"]] * X["t"]
               + _lib_log1p_share(lib, p["storm"][X["line"]], X["storm"])
               + _lib_log1p_share(lib, p["holiday"], X["holiday"]))
        if X["econ"].shape[1]:
            eta = eta + lib.dot(X["econ"], p["econ"])
        if self.freq_ == "D":
            eta = eta + p["weekday"][X["weekday"]]
        return eta

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame, regressors: pd.DataFrame) -> "HierarchicalDemandModel":
        """Sample the posterior.

        Parameters
        ----------
        df : pandas.DataFrame
            ``series_id, ds, y`` (``demand_series(con, freq="W")``); ``series_id`` is
            ``"<service_line>/<region>"`` unless ``service_line`` and ``region`` columns
            are given. Regular, gap-free, at least two years per series.
        regressors : pandas.DataFrame
            Daily factors ``region, ds, storm_window, holiday`` and the economic columns
            (``external_factors(con, freq="D")``), covering every day of ``df``.

        Returns
        -------
        self
        """
        import pymc as pm
        import pytensor.tensor as pt

        df, reg = self._check(df, regressors)
        self.series_ = df[["series_id", "service_line", "region"]].drop_duplicates().sort_values("series_id") \
            .reset_index(drop=True)
        self.lines_ = sorted(self.series_["service_line"].unique())
        self.regions_ = sorted(self.series_["region"].unique())
        if set(self.regions_) - set(reg["region"]):
            raise ValueError(f"no regressors for region(s) {sorted(set(self.regions_) - set(reg['region']))}")
        self._series_index = {s: i for i, s in enumerate(self.series_["series_id"])}
        self._line_index = {s: i for i, s in enumerate(self.lines_)}
        self._region_index = {s: i for i, s in enumerate(self.regions_)}
        self._t0 = df["ds"].min()
        t_years = (df["ds"] - self._t0).dt.days / 365.25
        self._t_center = float(t_years.mean())
        econ_hist = reg[list(self.economic)].to_numpy(float)
        self._econ_mean = econ_hist.mean(axis=0) if self.economic else np.zeros(0)
        self._econ_std = np.where(econ_hist.std(axis=0) > 0, econ_hist.std(axis=0), 1.0) if self.economic \
            else np.ones(0)
        # What the forecast needs later: the daily storm record (climatology, replays) and
        # the last economic values.
        self._daily_ = reg[reg["region"].isin(self.regions_)][["region", "ds", "storm", "storm_window", "holiday",
                                                              *self.economic]].copy() \
            if "storm" in reg else reg[["region", "ds", "storm_window", "holiday", *self.economic]].copy()
        self.last_ds_ = df["ds"].max()
        periods = pd.DatetimeIndex(sorted(df["ds"].unique()))
        X = self._design(df, self._period_factors(periods, reg))
        y = df["y"].to_numpy(int)
        L, R = len(self.lines_), len(self.regions_)
        log_level = float(np.log(max(y.mean(), 0.1)))

        with pm.Model() as model:
            # Identified parameterisation (no redundant additive levels, which make ridges
            # that NUTS crawls along): a level per line; region and line x region deviations
            # sum to zero and are partially pooled through their learned scales. Centred
            # forms throughout: with hundreds of jobs a week the data pin each effect down,
            # and there the non-centred form is the one with the funnel.
            a_line = pm.Normal("a_line", log_level, 2.0, shape=L)
            if R > 1:
                sd_region = pm.HalfNormal("sd_region", 0.5)
                a_region = pm.ZeroSumNormal("a_region", sigma=sd_region, shape=R)
            else:
                a_region = pm.Deterministic("a_region", pt.zeros(1))
            if L > 1 and R > 1:
                sd_cell = pm.HalfNormal("sd_cell", 0.3)
                a_cell = pm.ZeroSumNormal("a_cell", sigma=sd_cell, shape=(L, R), n_zerosum_axes=2)
            else:
                a_cell = pm.Deterministic("a_cell", pt.zeros((L, R)))
            # Seasonal profiles: a shared one and each line's deviation, both summing to zero
            # over the seasons (the level lives in the intercepts; the season only in ratios).
            # Shared seasonal profile and per-line deviations, centred: the data pin each
            # line's profile down, and there the non-centred form is the one with the funnel.
            season_mu = pm.ZeroSumNormal("season_mu", 0.7, shape=4)
            sd_season = pm.HalfNormal("sd_season", 0.5)
            season_dev = pm.ZeroSumNormal("season_dev", sigma=sd_season, shape=(L, 4), n_zerosum_axes=1)
            season = pm.Deterministic("season", season_mu[None, :] + season_dev)
            # Growth is company-wide in most firms, so lines differ little: non-centred.
            trend_mu = pm.Normal("trend_mu", 0, 0.3)
            sd_trend = pm.HalfNormal("sd_trend", 0.1)
            trend = pm.Deterministic("trend", trend_mu + sd_trend * pm.Normal("z_trend", 0, 1, shape=L))
            # Storm effects pooled towards "no effect": most trades do not react to storms.
            sd_storm = pm.HalfNormal("sd_storm", 1.0)
            storm = pm.Normal("storm", 0.0, sd_storm, shape=L)
            holiday = pm.Normal("holiday", 0, 1.0)
            econ = pm.Normal("econ", 0, 0.3, shape=len(self.economic))
            params = {"a_line": a_line, "a_region": a_region, "a_cell": a_cell,
                      "season": season, "trend": trend, "storm": storm, "holiday": holiday, "econ": econ}
            if self.freq_ == "D":
                wd = pm.Normal("weekday_raw", 0, 1, shape=7)
                params["weekday"] = pm.Deterministic("weekday", wd - wd.mean())
            # Overdispersion on the scale NUTS likes: 1/sqrt(alpha) near 0 is "almost Poisson".
            inv_sqrt_alpha = pm.HalfNormal("inv_sqrt_alpha", 0.3)
            alpha = pm.Deterministic("alpha", 1.0 / inv_sqrt_alpha**2)
            mu = pt.exp(self._log_mu(params, X, pt))
            pm.NegativeBinomial("y", mu=mu, alpha=alpha, observed=y)
        self.model_ = model
        self._param_names = list(params) + ["alpha"]

        if self.sampler == "nutpie":
            import nutpie

            t = time.perf_counter()
            compiled = nutpie.compile_pymc_model(model)
            self.compile_seconds_ = time.perf_counter() - t
            t = time.perf_counter()
            self.idata_ = nutpie.sample(compiled, draws=self.draws, tune=self.tune, chains=self.chains,
                                        cores=min(self.chains, os.cpu_count() or 1), seed=self.seed,
                                        progress_bar=False, save_warmup=False,
                                        # Dense-ish adaptation: the shared and per-line effects
                                        # are correlated; this cuts tree sizes ~5x here.
                                        low_rank_modified_mass_matrix=True)
            self.sampling_seconds_ = time.perf_counter() - t
        elif self.sampler == "pymc":
            t = time.perf_counter()
            with model:
                self.idata_ = pm.sample(draws=self.draws, tune=self.tune, chains=self.chains,
                                        cores=min(self.chains, os.cpu_count() or 1), random_seed=self.seed,
                                        progressbar=False, compute_convergence_checks=False)
            self.compile_seconds_ = float("nan")  # PyMC compiles inside pm.sample
            self.sampling_seconds_ = time.perf_counter() - t
        else:
            raise ValueError(f"sampler must be 'nutpie' or 'pymc'; got {self.sampler!r}")
        post = self.idata_.posterior
        self._draws = {k: post[k].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()
                       for k in self._param_names}
        return self

    # ------------------------------------------------------------------ effects
    def _check_fitted(self) -> None:
        check_is_fitted(self, "idata_")

    def seasonal_factors(self) -> pd.DataFrame:
        """Each line's seasonal factors, normalised to a mean of 1 over the four seasons.

        Returns ``service_line, season, factor`` (posterior mean), ``lo_90``, ``hi_90``.
        """
        self._check_fitted()
        f = np.exp(self._draws["season"])  # draws x L x 4
        f = f / f.mean(axis=2, keepdims=True)
        rows = []
        for li, line in enumerate(self.lines_):
            for k, s in enumerate(SEASONS):
                v = f[:, li, k]
                rows.append((line, s, v.mean(), *np.quantile(v, [0.05, 0.95])))
        return pd.DataFrame(rows, columns=["service_line", "season", "factor", "lo_90", "hi_90"])

    def storm_multipliers(self) -> pd.DataFrame:
        """Daily demand multiplier in a storm window, per line: ``service_line, multiplier, lo_90, hi_90``."""
        self._check_fitted()
        m = np.exp(self._draws["storm"])
        return pd.DataFrame({"service_line": self.lines_, "multiplier": m.mean(axis=0),
                             "lo_90": np.quantile(m, 0.05, axis=0), "hi_90": np.quantile(m, 0.95, axis=0)})

    # ------------------------------------------------------------------ forecast
    def _future_daily(self, days: pd.DatetimeIndex, scenario: Mapping | None) -> pd.DataFrame:
        """Daily factors for the horizon: storm climatology (or the scenario's storms),
        calendar holidays, the last economic values (plus the scenario's shifts)."""
        scenario = dict(scenario or {})
        unknown = set(scenario) - {"storm_days", "storm_window", *self.economic}
        if unknown:
            raise ValueError(f"unknown scenario keys {sorted(unknown)}; use 'storm_days', 'storm_window' "
                             f"or an economic column of {list(self.economic)}")
        hist = self._daily_
        frames = []
        for region in self.regions_:
            h = hist[hist["region"] == region]
            f = pd.DataFrame({"region": region, "ds": days})
            if "storm_window" in scenario:  # precomputed daily windows (what_if_storm_season)
                sw = scenario["storm_window"]
                f["storm_window"] = sw[region].reindex(days).fillna(0.0).to_numpy() \
                    if isinstance(sw, Mapping) else np.asarray(sw, float)
            elif "storm_days" in scenario:
                sd = scenario["storm_days"]
                dates = sd.get(region, []) if isinstance(sd, Mapping) else sd
                # Storms shortly before the horizon still open a window inside it.
                span = pd.date_range(days.min() - pd.Timedelta(days=STORM_WINDOW_DAYS), days.max())
                flags = pd.Series(0.0, index=span)
                for d in pd.to_datetime(list(dates)):
                    if d in flags.index:
                        flags[d] = 1.0
                recent = h.set_index("ds")["storm"].reindex(span).fillna(0.0) if "storm" in h else 0.0
                flags = np.maximum(flags, recent)
                f["storm_window"] = pd.Series(storm_window(flags.to_numpy()), index=span).reindex(days).to_numpy()
            else:
                # No storm forecast: the expected share of storm-window days of that month.
                clim = h.groupby(h["ds"].dt.month)["storm_window"].mean()
                f["storm_window"] = days.month.map(clim).fillna(0.0).to_numpy()
            for c in self.economic:
                f[c] = float(h.sort_values("ds")[c].iloc[-1]) + float(scenario.get(c, 0.0))
            frames.append(f)
        out = pd.concat(frames, ignore_index=True)
        out["holiday"] = np.tile(holiday_flags(days), len(self.regions_))
        return out

    def _predictive_draws(self, h: int, scenario: Mapping | None):
        """Periods, rows and (draws x rows) arrays of the mean and of predictive counts."""
        periods = future_periods(self.last_ds_, h, self.freq_)
        span = 1 if self.freq_ == "D" else 7
        days = pd.date_range(periods.min(), periods.max() + pd.Timedelta(days=span - 1))
        per = self._period_factors(periods, self._future_daily(days, scenario))
        rows = pd.DataFrame({"series_id": np.repeat(self.series_["series_id"].to_numpy(), len(periods)),
                             "ds": np.tile(periods.values, len(self.series_))})
        X = self._design(rows, per)
        n = len(self._draws["a_line"])
        mu = np.empty((n, len(rows)))
        for i in range(n):
            p = {k: v[i] for k, v in self._draws.items()}
            mu[i] = np.exp(self._log_mu(p, X, np))
        return rows, mu

    def _sample_counts(self, mu: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        alpha = self._draws["alpha"][:, None]
        return rng.negative_binomial(alpha, alpha / (alpha + mu))

    def predict(self, h: int, level: Sequence[int] = (80, 95), scenario: Mapping | None = None) -> pd.DataFrame:
        """Posterior predictive forecast for the ``h`` periods after the data.

        Parameters
        ----------
        h : int
            Periods ahead (weeks or days, as fitted).
        level : sequence of int
            Credible-interval levels in percent.
        scenario : dict, optional
            ``{"storm_days": [dates]}`` or ``{"storm_days": {region: [dates]}}``: the
            horizon's storms are exactly these (each opens a 7-day window); default is the
            storm climatology of the history (expected share of storm-window days by month).
            ``{"consumer_confidence": +10}`` (any economic column): shift of the indicator
            from its last value, which is otherwise held.

        Returns
        -------
        pandas.DataFrame
            ``series_id, ds, yhat`` (posterior predictive mean), ``yhat_lo_<L>``,
            ``yhat_hi_<L>`` per level (quantiles of the posterior predictive counts).
        """
        self._check_fitted()
        if not isinstance(h, (int, np.integer)) or h < 1:
            raise ValueError(f"h must be a positive integer; got {h!r}")
        rows, mu = self._predictive_draws(int(h), scenario)
        counts = self._sample_counts(mu)
        out = rows.copy()
        out["yhat"] = mu.mean(axis=0)
        for lv in level:
            if not 0 < lv < 100:
                raise ValueError(f"levels are percentages in (0, 100); got {lv}")
            a = (100 - lv) / 200
            out[f"yhat_lo_{lv}"] = np.quantile(counts, a, axis=0)
            out[f"yhat_hi_{lv}"] = np.quantile(counts, 1 - a, axis=0)
        return out

    def what_if_storm_season(self, year: int, h: int | None = None, level: Sequence[int] = (80, 95)) -> pd.DataFrame:
        """"What if a storm season like ``year``": replay that year's storms in the horizon.

        Each storm day of ``year`` (per region, from the fitted factors) is moved to the
        same month and day in every year of the horizon; the baseline is the usual
        forecast (storm climatology). Both use the same posterior draws, so the difference
        and its interval are of the effect alone.

        Parameters
        ----------
        year : int
            A year inside the fitted history.
        h : int, optional
            Periods ahead; default one year (52 weeks or 365 days).
        level : sequence of int
            Credible-interval levels of the difference, in percent.

        Returns
        -------
        pandas.DataFrame
            ``series_id, ds, baseline, scenario, difference`` (posterior means) and
            ``difference_lo_<L>``, ``difference_hi_<L>``.
        """
        self._check_fitted()
        if "storm" not in self._daily_:
            raise ValueError("the fitted regressors have no daily 'storm' column to replay")
        hist = self._daily_[self._daily_["ds"].dt.year == year]
        if hist["ds"].nunique() < 365:
            raise ValueError(f"{year} is not a full year of the fitted history")
        h = h or (52 if self.freq_ == "W" else 365)
        periods = future_periods(self.last_ds_, h, self.freq_)
        span = 1 if self.freq_ == "D" else 7
        days = pd.date_range(periods.min() - pd.Timedelta(days=STORM_WINDOW_DAYS),
                             periods.max() + pd.Timedelta(days=span - 1))
        windows = {}
        for region in self.regions_:
            storms = hist[(hist["region"] == region) & (hist["storm"] > 0)]["ds"]
            md = set(zip(storms.dt.month, storms.dt.day))
            flags = np.array([(d.month, d.day) in md for d in days], float)
            windows[region] = pd.Series(storm_window(flags), index=days)
        rows, base = self._predictive_draws(h, None)
        _, scen = self._predictive_draws(h, {"storm_window": windows})
        diff = scen - base
        out = rows.copy()
        out["baseline"] = base.mean(axis=0)
        out["scenario"] = scen.mean(axis=0)
        out["difference"] = diff.mean(axis=0)
        for lv in level:
            a = (100 - lv) / 200
            out[f"difference_lo_{lv}"] = np.quantile(diff, a, axis=0)
            out[f"difference_hi_{lv}"] = np.quantile(diff, 1 - a, axis=0)
        return out
