"""Performance degradation by regression: how fast each unit's energy efficiency wears between services.

A unit that wears uses more energy for the same work. :class:`DegradationModel` regresses, per
unit, the day's log energy (``equipment_states.energy_kwh``) on the time since the unit's last
service, after what the day's usage and weather explain:

``log(energy_kwh) = log(sum_s hours_s x power_s[kind]) + f_kind(temp_c) + a_(unit, interval)
+ rate_unit x age_years + e``

* **usage**: the day's hours in each operating state (idle, normal, heavy, fault) times the
  kind's power draw in that state, learned first by non-negative least squares of the kWh on
  the hours over the kind's unit-days (``power_kw_``); units that draw more or less than their
  kind's average are absorbed by their intercepts;
* **weather**: a cubic spline of the region's daily temperature per kind (``f_kind``, shared by
  the kind's units, learned by backfitting with the unit slopes), when ``weather`` is given;
* **age**: the days since the unit's last *service*, the ``completed_date`` of its latest
  maintenance event of a kind in ``reset_kinds`` (preventive maintenance and failures'
  repairs by default; the generator's corrective repairs do not restore efficiency) on or
  before the day. Days before a unit's first service have no known age and are left out.

Only observable data are used: the events' kinds and completion dates, not the true wear
age. **What the rate means.** With ``per_interval=True`` (the default) each service interval
has its own intercept ``a_(unit, interval)``, so the rate is learned from how the energy rises
*within* intervals, day after day since a service: the relative rise of the energy per year
of operation (``exp(rate) - 1`` is the rise after a year without service; for small values the
rate is the fraction per year). A service need not restore the unit fully: the generator's
preventive maintenance only halves the wear age, so the unit's true wear age and the
observable age since service differ by an amount that is constant within an interval; the
interval intercepts absorb it, and the rate estimates the true wear rate whatever a service
restores. With ``per_interval=False`` (one intercept per unit) the observable age stands for
the wear age, and the rate is biased when services restore only part of the wear. The model
is linear in log energy; if the energy grows as ``1 + rate x age`` the log slope is
``rate / (1 + rate x age)``, a little below ``rate`` for units long past their service.

Two estimators of the per-unit rates, ``method`` (the default, ``"mixed"``, gives the same
rates as ``"ols"`` on the generator's data and intervals nearer their nominal level):

* ``"ols"``: one least-squares regression per unit on the within-interval data, with
  Newey-West (HAC) standard errors (``hac_lags`` days) for the days' correlated errors; the
  kind's rate and interval pool the units' rates by a random-effects meta-analysis
  (DerSimonian-Laird, :func:`statsmodels.stats.meta_analysis.combine_effects`);
* ``"mixed"``: a linear mixed model per kind (:class:`statsmodels.regression.mixed_linear_model.MixedLM`)
  with a random slope per unit: the kind's rate is the fixed slope, a unit's rate the fixed
  slope plus its predicted random slope, which shrinks units with little or noisy data to the
  kind's rate; its interval adds the fixed slope's variance to the random slope's conditional
  variance.

**Learned restore** (``learn_restore=True``, with ``"ols"``): how much of the accumulated wear
each kind of service removes is learned from the data (``restore_``, a share per reset kind),
and the rates are then estimated on the resulting *effective wear age*, ``w`` (reset to the
kept share of the wear at each service; the wear before the records begin is unknown and
taken as 0), in levels: the energy relative to usage and temperature is ``p_unit (1 + rate x
w)``, least squares per unit, ``rate = slope / intercept`` with a delta-method interval. The
shares minimise the units' squared errors (coordinate-wise, bounded scalar search). This
estimates the rate of a unit growing linearly with its wear age from as new (the
generator's law) rather than the log slope at its typical wear.

On the generator's data (``python -m benchmarks.degradation``) all recover the true rates;
the figures are in ``benchmarks/README.md``. :func:`calendar_trend_rates` is the naive
baseline (the trend of the raw daily kWh over calendar time, as a fraction of the mean a
year) and :func:`compare_rates` scores estimated rates against known ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from scipy.optimize import minimize_scalar, nnls
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import SplineTransformer
from statsmodels.stats.meta_analysis import combine_effects

from quantlib.errors import QuantError

__all__ = ["STATE_HOURS", "DegradationDataError", "DegradationModel", "calendar_trend_rates", "compare_rates"]

#: The operating-state hour columns of ``equipment_states``.
STATE_HOURS = ("idle_hours", "normal_hours", "heavy_hours", "fault_hours")
_YEAR = 365.25
_ALL = "all"  # the kind of every unit when no equipment table is given


class DegradationDataError(QuantError, ValueError):
    """Data the degradation model cannot use: names the table, column or unit at fault."""


def _require(frame: pd.DataFrame, columns, table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DegradationDataError(f"{table} lacks column(s) {', '.join(missing)}")


def _service_age(states: pd.DataFrame, events: pd.DataFrame, reset_kinds) -> pd.DataFrame:
    """``states`` with ``last_service`` and ``age_days``: the days since the unit's last service (NaN before any)."""
    services = events.loc[events["kind"].isin(reset_kinds) & events["completed_date"].notna(),
                          ["equipment_id", "completed_date"]]
    services = (services.assign(last_service=pd.to_datetime(services["completed_date"]).dt.normalize())
                [["equipment_id", "last_service"]].drop_duplicates().sort_values("last_service"))
    days = states.assign(date=pd.to_datetime(states["date"]).dt.normalize(),
                         equipment_id=states["equipment_id"].astype(str)).sort_values("date")
    services["equipment_id"] = services["equipment_id"].astype(str)
    days = pd.merge_asof(days, services, left_on="date", right_on="last_service", by="equipment_id",
                         direction="backward", allow_exact_matches=True)
    days["age_days"] = (days["date"] - days["last_service"]).dt.days.astype(float)
    return days.sort_values(["equipment_id", "date"], kind="stable").reset_index(drop=True)


def _group_demean(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Subtract each group's mean (the within transformation: group intercepts, no columns for them)."""
    counts = np.bincount(groups).astype(float)
    if values.ndim == 1:
        return values - (np.bincount(groups, values) / counts)[groups]
    return np.column_stack([_group_demean(values[:, j], groups) for j in range(values.shape[1])])


class DegradationModel(BaseEstimator):
    """Per-unit degradation rate of energy efficiency against the time since the last service.

    Parameters
    ----------
    method : {"mixed", "ols"}, default "mixed"
        A mixed model with a random slope per unit, or per-unit least squares with HAC errors
        pooled by meta-analysis (see the module docstring). Both give the same rates to within
        a few thousandths on the generator's data; the mixed model's intervals hold their level
        better (95 % against 88 % at scale 42), the OLS fit is twice as fast.
    reset_kinds : tuple of str, default ("preventive", "failure")
        The maintenance event kinds whose ``completed_date`` starts a new service interval.
    per_interval : bool, default True
        One intercept per service interval (the rate is learned within intervals, whatever a
        service restores) rather than one per unit.
    alpha : float, default 0.05
        The intervals are at level ``1 - alpha``.
    spline_knots : int, default 5
        Knots of the temperature spline (cubic) per kind, when weather is given.
    min_days : int, default 60
        Units with fewer days of known age get no rate (NaN).
    hac_lags : int, default 7
        Lags of the Newey-West standard errors (``method="ols"``).
    backfit_iterations : int, default 20
        At most this many rounds of alternating the unit slopes and the temperature curve.
    learn_restore : bool, default False
        Also learn how much of the accumulated wear each kind of service removes (``restore_``)
        and estimate the rates on the resulting effective wear age in levels (see the module
        docstring); ``method="ols"`` only.

    Attributes
    ----------
    rates_ : DataFrame
        ``equipment_id, kind, rate_per_year, lower, upper, se, n_days, n_intervals``.
    kind_rates_ : DataFrame
        ``kind, rate_per_year, lower, upper, n_units``: the kind's (fleet's when no equipment
        table is given) rate.
    power_kw_ : DataFrame
        The learned power draw (kWh per hour) of each kind (rows) in each state (columns).
    residual_sd_ : dict
        The residual standard deviation of log energy per kind.
    restore_ : dict
        With ``learn_restore``: the share of the accumulated wear each reset kind removes.
    """

    def __init__(self, method: str = "mixed", reset_kinds: tuple[str, ...] = ("preventive", "failure"),
                 per_interval: bool = True, alpha: float = 0.05, spline_knots: int = 5, min_days: int = 60,
                 hac_lags: int = 7, backfit_iterations: int = 20, learn_restore: bool = False) -> None:
        self.method = method
        self.reset_kinds = reset_kinds
        self.per_interval = per_interval
        self.alpha = alpha
        self.spline_knots = spline_knots
        self.min_days = min_days
        self.hac_lags = hac_lags
        self.backfit_iterations = backfit_iterations
        self.learn_restore = learn_restore

    # ------------------------------------------------------------------ data
    def _days(self, states, events, weather, equipment) -> pd.DataFrame:
        _require(states, ["equipment_id", "date", *STATE_HOURS, "energy_kwh"], "equipment_states")
        _require(events, ["equipment_id", "kind", "completed_date"], "maintenance_events")
        if weather is not None:
            if equipment is None:
                raise DegradationDataError("weather needs the equipment table (its region column) to reach the units")
            _require(weather, ["date", "region", "temp_c"], "weather")
        if equipment is not None:
            _require(equipment, ["equipment_id", "kind"] + (["region"] if weather is not None else []), "equipment")
        days = _service_age(states[["equipment_id", "date", *STATE_HOURS, "energy_kwh"]], events, self.reset_kinds)
        if equipment is not None:
            eq = equipment.assign(equipment_id=equipment["equipment_id"].astype(str))
            cols = ["equipment_id", "kind"] + (["region"] if weather is not None else [])
            days = days.merge(eq[cols], on="equipment_id", how="left")
            unknown = days.loc[days["kind"].isna(), "equipment_id"].unique()
            if len(unknown):
                raise DegradationDataError(f"equipment has no row for unit(s) {', '.join(map(str, unknown[:5]))}")
            days["kind"] = days["kind"].astype(str)
        else:
            days["kind"] = _ALL
        if weather is not None:
            w = weather.assign(date=pd.to_datetime(weather["date"]).dt.normalize())[["date", "region", "temp_c"]]
            days = days.merge(w.drop_duplicates(["date", "region"]), on=["date", "region"], how="left")
        return days

    # ------------------------------------------------------------------ fit
    def fit(self, states: pd.DataFrame, events: pd.DataFrame, weather: pd.DataFrame | None = None,
            equipment: pd.DataFrame | None = None) -> DegradationModel:
        """Learn the kinds' power draws, the temperature curves and the per-unit degradation rates.

        Parameters
        ----------
        states : DataFrame
            ``equipment_states``: ``equipment_id, date``, the state hours (:data:`STATE_HOURS`)
            and ``energy_kwh`` (rows without a positive reading are left out).
        events : DataFrame
            ``maintenance_events``: ``equipment_id, kind, completed_date``.
        weather : DataFrame, optional
            ``date, region, temp_c``; needs ``equipment``. Without it no temperature term.
        equipment : DataFrame, optional
            ``equipment_id, kind`` (and ``region`` with weather). Without it the fleet is one kind.

        Returns
        -------
        DegradationModel
            ``self``, fitted.
        """
        if self.method not in ("ols", "mixed"):
            raise DegradationDataError(f"method must be 'ols' or 'mixed', not {self.method!r}")
        if not 0 < self.alpha < 1:
            raise DegradationDataError(f"alpha must be in (0, 1), not {self.alpha}")
        days = self._days(states, events, weather, equipment)
        self._with_weather = weather is not None
        days = days[days["energy_kwh"].notna() & (days["energy_kwh"] > 0)]
        if self._with_weather:
            days = days[days["temp_c"].notna()]
        if days.empty:
            raise DegradationDataError("equipment_states has no day with a positive energy_kwh to learn from")
        if self.learn_restore and self.method != "ols":
            raise DegradationDataError("learn_restore works with method='ols' only (set method='ols')")
        power, splines, curves, unit_rows, kind_rows, resid_sd, levels = {}, {}, {}, [], [], {}, []
        for kind, kd in days.groupby("kind", sort=True):
            hours = kd[list(STATE_HOURS)].to_numpy(dtype=float)
            draw, _ = nnls(hours, kd["energy_kwh"].to_numpy(dtype=float))
            power[kind] = draw
            usable = kd.assign(base=hours @ draw)
            usable = usable[usable["age_days"].notna() & (usable["base"] > 0)]
            if usable.empty:
                continue
            spline = None
            if self._with_weather:
                spline = SplineTransformer(n_knots=self.spline_knots, degree=3, extrapolation="linear",
                                           include_bias=False).fit(usable[["temp_c"]])
                splines[kind] = spline
            units, curve, resid, fixed = self._fit_kind(usable, spline)
            curves[kind] = curve
            resid_sd[kind] = resid
            unit_rows.append(units.assign(kind=kind))
            kind_rows.append(self._kind_rate(kind, units, fixed))
            if self.learn_restore:
                # The energy relative to what the usage and the temperature explain, in levels.
                curve_effect = spline.transform(usable[["temp_c"]]) @ curve if spline is not None else 0.0
                levels.append(usable[["equipment_id", "kind", "date", "last_service", "age_days"]].assign(
                    ratio=usable["energy_kwh"].to_numpy() / usable["base"].to_numpy() / np.exp(curve_effect)))
        if not unit_rows:
            raise DegradationDataError("no unit has a day after a service (maintenance_events.completed_date of kinds "
                                       f"{', '.join(self.reset_kinds)})")
        self.power_kw_ = pd.DataFrame.from_dict(power, orient="index", columns=[s.removesuffix("_hours")
                                                                                 for s in STATE_HOURS])
        self.power_kw_.index.name = "kind"
        self._splines, self._curves = splines, curves
        self.rates_ = (pd.concat(unit_rows, ignore_index=True)
                       [["equipment_id", "kind", "rate_per_year", "lower", "upper", "se", "n_days", "n_intervals"]]
                       .sort_values("equipment_id").reset_index(drop=True))
        self.kind_rates_ = pd.DataFrame(kind_rows)
        self.residual_sd_ = resid_sd
        if self.learn_restore:
            first_day = days.groupby("equipment_id")["date"].min()
            level = pd.concat(levels, ignore_index=True).sort_values(["equipment_id", "date"], kind="stable")
            self.restore_ = self._learn_restore(level, events, first_day)
            units = self._fit_levels(level, events, first_day)
            units = units.merge(self.rates_[["equipment_id", "kind"]], on="equipment_id")
            self.rates_ = units[self.rates_.columns].sort_values("equipment_id").reset_index(drop=True)
            self.kind_rates_ = pd.DataFrame([self._kind_rate(k, u, None) for k, u in self.rates_.groupby("kind")])
        return self

    # ------------------------------------------------------------------ learned restore
    def _services(self, events: pd.DataFrame, first_day: pd.Series) -> pd.DataFrame:
        """One row per unit and service day: which reset kinds happened, the days since the previous one."""
        ev = events.loc[events["kind"].isin(self.reset_kinds) & events["completed_date"].notna(),
                        ["equipment_id", "kind", "completed_date"]]
        ev = ev.assign(equipment_id=ev["equipment_id"].astype(str),
                       last_service=pd.to_datetime(ev["completed_date"]).dt.normalize())
        flags = pd.crosstab([ev["equipment_id"], ev["last_service"]], ev["kind"]).gt(0)
        flags = flags.reindex(columns=list(self.reset_kinds), fill_value=False).reset_index()
        flags = flags[flags["equipment_id"].isin(first_day.index)].sort_values(["equipment_id", "last_service"])
        previous = flags.groupby("equipment_id")["last_service"].shift()
        start = flags["equipment_id"].map(first_day)
        # Before the first service the records' start stands for the unknown age when they begin.
        gap = (flags["last_service"] - previous.fillna(start)).dt.days.clip(lower=0)
        return flags.assign(gap_days=gap.astype(float), rank=flags.groupby("equipment_id").cumcount()).reset_index(
            drop=True)

    def _offsets(self, services: pd.DataFrame, restore: dict) -> np.ndarray:
        """The effective wear age (days) each service leaves: the age before it x (1 - the share it removes)."""
        removed = np.zeros(len(services))
        for kind, share in restore.items():
            removed = np.where(services[kind].to_numpy(), np.maximum(removed, share), removed)
        keep, gap, rank = 1.0 - removed, services["gap_days"].to_numpy(), services["rank"].to_numpy()
        offset = np.zeros(len(services))
        for k in range(int(rank.max()) + 1 if len(rank) else 0):  # a few services per unit: loop over their rank
            at = np.flatnonzero(rank == k)
            offset[at] = keep[at] * ((offset[at - 1] if k else 0.0) + gap[at])
        return offset

    def _effective_age(self, level: pd.DataFrame, services: pd.DataFrame, restore: dict) -> np.ndarray:
        index = pd.MultiIndex.from_frame(services[["equipment_id", "last_service"]])
        at = index.get_indexer(pd.MultiIndex.from_frame(level[["equipment_id", "last_service"]]))
        if (at < 0).any():  # cannot happen when both come from the same events; a wrong age would be silent
            raise DegradationDataError("a day's last service is missing from maintenance_events")
        return self._offsets(services, restore)[at] + level["age_days"].to_numpy(dtype=float)

    def _learn_restore(self, level: pd.DataFrame, events: pd.DataFrame, first_day: pd.Series) -> dict:
        """The share of the wear each reset kind removes, by least squares of the units' linear fits in levels."""
        services = self._services(events, first_day)
        codes = pd.factorize(level["equipment_id"])[0]
        ratio = level["ratio"].to_numpy() / level.groupby("equipment_id")["ratio"].transform("mean").to_numpy()
        n = np.bincount(codes).astype(float)

        def rss(restore: dict) -> float:
            x = self._effective_age(level, services, restore)
            xc = x - (np.bincount(codes, x) / n)[codes]
            yc = ratio - (np.bincount(codes, ratio) / n)[codes]
            sxx, sxy, syy = (np.bincount(codes, a * b) for a, b in ((xc, xc), (xc, yc), (yc, yc)))
            return float(np.sum(syy - np.where(sxx > 0, sxy ** 2 / np.where(sxx > 0, sxx, 1.0), 0.0)))

        restore = dict.fromkeys(self.reset_kinds, 1.0)
        for _ in range(2):  # coordinate descent: one share at a time
            for kind in self.reset_kinds:
                best = minimize_scalar(lambda share, k=kind: rss({**restore, k: share}), bounds=(0.0, 1.0),
                                       method="bounded", options={"xatol": 1e-3})
                restore[kind] = float(best.x)
        return restore

    def _fit_levels(self, level: pd.DataFrame, events: pd.DataFrame, first_day: pd.Series) -> pd.DataFrame:
        """Per unit, energy ratio = p (1 + rate x effective age): least squares, HAC errors, the delta method."""
        services = self._services(events, first_day)
        level = level.assign(wear=self._effective_age(level, services, self.restore_) / _YEAR)
        q = stats.norm.ppf(1 - self.alpha / 2)
        rows = []
        for unit, d in level.groupby("equipment_id", sort=True):
            rate = se = np.nan
            if len(d) >= self.min_days and np.ptp(d["wear"]) > 0:
                res = sm.OLS(d["ratio"].to_numpy(), sm.add_constant(d["wear"].to_numpy(), has_constant="add")).fit(
                    cov_type="HAC", cov_kwds={"maxlags": self.hac_lags})
                (b0, b1), cov = res.params, np.asarray(res.cov_params())
                rate = b1 / b0
                grad = np.array([-b1 / b0 ** 2, 1.0 / b0])
                se = float(np.sqrt(grad @ cov @ grad))
            rows.append({"equipment_id": unit, "rate_per_year": rate, "lower": rate - q * se,
                         "upper": rate + q * se, "se": se, "n_days": len(d),
                         "n_intervals": d["last_service"].nunique()})
        return pd.DataFrame(rows)

    def _fit_kind(self, kd: pd.DataFrame, spline):
        """The unit rates of one kind: within-interval regression, backfitted with the kind's temperature curve.

        Returns the units' rates, the temperature curve's coefficients (None without weather),
        the residual sd and the mixed model's fixed slope and its se (None for ``"ols"``).
        """
        unit_codes, unit_ids = pd.factorize(kd["equipment_id"], sort=True)
        group_keys = [kd["equipment_id"], kd["last_service"]] if self.per_interval else [kd["equipment_id"]]
        groups = kd.groupby(group_keys, sort=False).ngroup().to_numpy()
        y = _group_demean(np.log(kd["energy_kwh"].to_numpy(dtype=float) / kd["base"].to_numpy(dtype=float)), groups)
        x = _group_demean(kd["age_days"].to_numpy(dtype=float) / _YEAR, groups)
        basis = _group_demean(spline.transform(kd[["temp_c"]]), groups) if spline is not None else None
        n_units = len(unit_ids)
        sxx = np.bincount(unit_codes, x * x, minlength=n_units)
        n_days = np.bincount(unit_codes, minlength=n_units)
        # Units without enough days or without age variation (one day per interval) get no slope.
        estimable = (n_days >= self.min_days) & (sxx > 1e-12)
        keep_row = estimable[unit_codes]
        coef = np.zeros(0 if basis is None else basis.shape[1])
        slope = np.zeros(n_units)
        for _ in range(self.backfit_iterations if basis is not None else 1):
            target = y - (basis @ coef if basis is not None else 0.0)
            new_slope = np.where(estimable, np.bincount(unit_codes, x * target, minlength=n_units)
                                 / np.where(sxx > 0, sxx, 1.0), 0.0)
            if basis is None:
                slope = new_slope
                break
            new_coef = np.linalg.lstsq(basis[keep_row], (y - new_slope[unit_codes] * x)[keep_row], rcond=None)[0]
            done = np.max(np.abs(new_slope - slope)) < 1e-7 and np.max(np.abs(new_coef - coef)) < 1e-7
            slope, coef = new_slope, new_coef
            if done:
                break
        z = y - (basis @ coef if basis is not None else 0.0)
        n_groups = pd.Series(groups).groupby(unit_codes).nunique().reindex(range(n_units), fill_value=0).to_numpy()
        fixed = None
        if self.method == "ols":
            rate, se = self._unit_ols(z, x, unit_codes, estimable, n_groups)
        else:
            rate, se, fixed = self._unit_mixed(z[keep_row], x[keep_row], unit_codes[keep_row], n_units)
        q = stats.norm.ppf(1 - self.alpha / 2)
        rate, se = np.where(estimable, rate, np.nan), np.where(estimable, se, np.nan)
        units = pd.DataFrame({"equipment_id": np.asarray(unit_ids, dtype=object), "rate_per_year": rate,
                              "lower": rate - q * se, "upper": rate + q * se, "se": se, "n_days": n_days,
                              "n_intervals": n_groups})
        resid = z[keep_row] - np.where(estimable, slope, 0.0)[unit_codes[keep_row]] * x[keep_row]
        return (units, (coef if basis is not None else None), float(np.std(resid)) if len(resid) else float("nan"),
                fixed)

    def _unit_ols(self, z, x, unit_codes, estimable, n_groups):
        """Per-unit least squares through the origin on within-interval data, Newey-West standard errors."""
        n_units = len(estimable)
        rate, se = np.full(n_units, np.nan), np.full(n_units, np.nan)
        order = np.argsort(unit_codes, kind="stable")  # rows are in date order within a unit
        bounds = np.searchsorted(unit_codes[order], np.arange(n_units + 1))
        for u in np.flatnonzero(estimable):
            rows = order[bounds[u]:bounds[u + 1]]
            res = sm.OLS(z[rows], x[rows, None]).fit(cov_type="HAC", cov_kwds={"maxlags": self.hac_lags})
            # The within transformation spent one degree of freedom per interval that OLS does not see.
            n = len(rows)
            correction = np.sqrt((n - 1) / max(n - n_groups[u] - 1, 1))
            rate[u], se[u] = res.params[0], res.bse[0] * correction
        return rate, se

    def _unit_mixed(self, z, x, unit_codes, n_units):
        """A mixed model with a random slope per unit; each unit's rate and its variance."""
        rate, se = np.full(n_units, np.nan), np.full(n_units, np.nan)
        if len(np.unique(unit_codes)) < 2:
            raise DegradationDataError("method='mixed' needs at least two units of a kind with enough days; "
                                       "use method='ols'")
        model = sm.MixedLM(z, x[:, None], groups=unit_codes, exog_re=x[:, None])
        res = model.fit(reml=True)
        fixed, fixed_var = float(res.fe_params[0]), float(np.asarray(res.cov_params())[0, 0])
        for u, effect in res.random_effects.items():
            cond_var = float(np.asarray(res.random_effects_cov[u])[0, 0])
            rate[u] = fixed + float(np.asarray(effect)[0])
            se[u] = np.sqrt(fixed_var + cond_var)
        return rate, se, (fixed, np.sqrt(fixed_var))

    def _kind_rate(self, kind: str, units: pd.DataFrame, fixed) -> dict:
        """The kind's rate: the mixed model's fixed slope, or the unit rates pooled by meta-analysis."""
        ok = units.dropna(subset=["rate_per_year", "se"])
        row = {"kind": kind, "rate_per_year": np.nan, "lower": np.nan, "upper": np.nan, "n_units": len(ok)}
        if ok.empty:
            return row
        if self.method == "mixed":
            slope, slope_se = fixed
            q = stats.norm.ppf(1 - self.alpha / 2)
            row.update(rate_per_year=slope, lower=slope - q * slope_se, upper=slope + q * slope_se)
        elif len(ok) == 1:
            row.update(rate_per_year=ok["rate_per_year"].iloc[0], lower=ok["lower"].iloc[0], upper=ok["upper"].iloc[0])
        else:
            res = combine_effects(ok["rate_per_year"].to_numpy(), ok["se"].to_numpy() ** 2, method_re="dl",
                                  alpha=self.alpha)
            lo, hi = res.conf_int(alpha=self.alpha)[1]  # (fixed, random effects): the random-effects interval
            row.update(rate_per_year=float(res.mean_effect_re), lower=float(lo), upper=float(hi))
        return row

    # ------------------------------------------------------------------ use
    def transform(self, states: pd.DataFrame, events: pd.DataFrame, weather: pd.DataFrame | None = None,
                  equipment: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each day's excess consumption: the energy the unit's wear since its last service costs.

        ``excess_share = 1 - exp(-rate x age_years)`` of the day's ``energy_kwh`` is what the
        same day's work and weather would have cost just after the last service less; with
        ``learn_restore`` it is ``rate x w / (1 + rate x w)``, ``w`` the effective wear age in
        years: what the unit would have used as new less. Units without a rate take their
        kind's (when ``equipment`` is given); days before a unit's first service have none (NaN).
        ``weather`` is not needed (the excess is a share of the metered energy).

        Returns
        -------
        DataFrame
            ``equipment_id, date, age_days, rate_per_year, excess_share, excess_kwh``, by unit and date.
        """
        if not hasattr(self, "rates_"):
            raise NotFittedError("DegradationModel is not fitted; call fit first")
        _require(states, ["equipment_id", "date", "energy_kwh"], "equipment_states")
        _require(events, ["equipment_id", "kind", "completed_date"], "maintenance_events")
        days = _service_age(states[["equipment_id", "date", "energy_kwh"]], events, self.reset_kinds)
        days = days.merge(self.rates_[["equipment_id", "rate_per_year"]], on="equipment_id", how="left")
        if equipment is not None:
            _require(equipment, ["equipment_id", "kind"], "equipment")
            kinds = equipment[["equipment_id", "kind"]].assign(equipment_id=equipment["equipment_id"].astype(str))
            kind_rate = days[["equipment_id"]].merge(kinds, on="equipment_id", how="left").merge(
                self.kind_rates_[["kind", "rate_per_year"]], on="kind", how="left")["rate_per_year"].to_numpy()
            days["rate_per_year"] = days["rate_per_year"].fillna(pd.Series(kind_rate, index=days.index))
        elif (self.kind_rates_["kind"] == _ALL).any():
            days["rate_per_year"] = days["rate_per_year"].fillna(
                float(self.kind_rates_.loc[self.kind_rates_["kind"] == _ALL, "rate_per_year"].iloc[0]))
        if self.learn_restore:
            known = days["last_service"].notna().to_numpy()
            services = self._services(events, days.groupby("equipment_id")["date"].min())
            wear = np.full(len(days), np.nan)
            wear[known] = self._effective_age(days[known], services, self.restore_) / _YEAR
            share = days["rate_per_year"] * wear / (1.0 + days["rate_per_year"] * wear)
        else:
            share = 1.0 - np.exp(-days["rate_per_year"] * days["age_days"] / _YEAR)
        return pd.DataFrame({"equipment_id": days["equipment_id"], "date": days["date"], "age_days": days["age_days"],
                             "rate_per_year": days["rate_per_year"], "excess_share": share,
                             "excess_kwh": share * days["energy_kwh"]})

    def predict(self, states: pd.DataFrame, events: pd.DataFrame, weather: pd.DataFrame | None = None,
                equipment: pd.DataFrame | None = None) -> np.ndarray:
        """The day's excess consumption in kWh (``transform``'s ``excess_kwh``), in the order of ``transform``."""
        return self.transform(states, events, weather, equipment)["excess_kwh"].to_numpy()


def calendar_trend_rates(states: pd.DataFrame) -> pd.DataFrame:
    """The naive baseline: each unit's least-squares trend of raw daily kWh over calendar time.

    The slope per year divided by the unit's mean daily kWh, with its ordinary 95 % interval;
    it ignores services, usage and weather.

    Returns
    -------
    DataFrame
        ``equipment_id, rate_per_year, lower, upper, n_days``.
    """
    _require(states, ["equipment_id", "date", "energy_kwh"], "equipment_states")
    rows = []
    for unit, d in states.dropna(subset=["energy_kwh"]).groupby("equipment_id", sort=True):
        t = (pd.to_datetime(d["date"]) - pd.to_datetime(d["date"]).min()).dt.days.to_numpy(dtype=float) / _YEAR
        e = d["energy_kwh"].to_numpy(dtype=float)
        if len(e) < 3 or np.ptp(t) == 0 or e.mean() <= 0:
            rows.append((unit, np.nan, np.nan, np.nan, len(e)))
            continue
        res = stats.linregress(t, e)
        q = stats.t.ppf(0.975, len(e) - 2)
        rows.append((unit, res.slope / e.mean(), (res.slope - q * res.stderr) / e.mean(),
                     (res.slope + q * res.stderr) / e.mean(), len(e)))
    return pd.DataFrame(rows, columns=["equipment_id", "rate_per_year", "lower", "upper", "n_days"])


def compare_rates(estimated: pd.DataFrame, true: pd.DataFrame, true_column: str = "degradation_rate_per_year") -> dict:
    """Score estimated rates against known ones, unit by unit.

    Parameters
    ----------
    estimated : DataFrame
        ``equipment_id, rate_per_year, lower, upper`` (``rates_`` or :func:`calendar_trend_rates`).
    true : DataFrame
        ``equipment_id`` and ``true_column``.

    Returns
    -------
    dict
        ``units`` (with both), ``pearson`` and ``spearman`` correlations, ``coverage`` (share
        of intervals holding the true rate), ``median_abs_error`` and ``bias`` (mean error).
    """
    _require(estimated, ["equipment_id", "rate_per_year", "lower", "upper"], "estimated rates")
    _require(true, ["equipment_id", true_column], "true rates")
    both = estimated.merge(true[["equipment_id", true_column]], on="equipment_id").dropna(
        subset=["rate_per_year", true_column])
    if len(both) < 3:
        raise DegradationDataError(f"only {len(both)} unit(s) have both an estimated and a true rate; need 3")
    est, tru = both["rate_per_year"].to_numpy(), both[true_column].to_numpy()
    return {"units": int(len(both)), "pearson": float(stats.pearsonr(est, tru)[0]),
            "spearman": float(stats.spearmanr(est, tru)[0]),
            "coverage": float(np.mean((both["lower"] <= tru) & (tru <= both["upper"]))),
            "median_abs_error": float(np.median(np.abs(est - tru))), "bias": float(np.mean(est - tru))}
