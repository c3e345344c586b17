"""Imperfect preventive maintenance: a virtual-age model of wear and the periodic interval it implies.

The age-replacement policy (:class:`~quantlib.maintenance.policy.AgeReplacementPolicy`) assumes a
preventive visit renews a unit. Most do not: a service cleans, tightens and lubricates, and
takes off part of the wear. The textbook model of that is Kijima's virtual age (type I with a
restoration factor, the "arithmetic reduction of age" family of Doyen and Gaudoin): a unit's
hazard is Weibull in its *virtual* age ``v``,

.. math:: h(v) = \\frac{k}{\\lambda} \\left(\\frac{v}{\\lambda}\\right)^{k-1},

``v`` grows a day a day, a completed preventive visit multiplies it by ``1 - rho`` (``rho`` =
1: as good as new; 0: as bad as old) and a failure's repair resets it to 0.

* :func:`maintenance_history` cuts each unit's records into segments between events whose
  virtual age at the start is known up to ``rho``: from a failure repair (or a purchase inside
  the records) onwards; the time before a unit's first failure is dropped, its age then being
  unknown.
* :class:`VirtualAgeModel` fits ``k`` and ``lambda`` per equipment kind and one ``rho`` for the
  company's preventive visits by maximum likelihood over those segments (right censoring at
  ``as_of``), with standard errors from the observed information.
* :func:`periodic_cost_rate` is the long-run cost per day of a visit every ``T`` days (the
  clock restarting at a failure's repair) or at failure: a cycle runs from a repair to the next
  failure, ``C(T) = (C_f + C_p E[visits]) / E[cycle length]``, computed exactly segment by
  segment (the virtual age after the ``j``-th visit, ``s_j = (1 - rho)(s_{j-1} + T)``, converges
  geometrically to ``T (1 - rho) / rho``; the remaining segments then repeat and their sum is a
  geometric series). With ``rho = 1`` it is the age-replacement cost rate.
* :class:`PeriodicMaintenancePolicy` gives the optimal interval per kind, compared with the
  company's current interval and with run to failure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, gamma, logit
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from statsmodels.tools.numdiff import approx_hess3

# the history is built in policy (its costs need it); repair re-exports it beside the model it feeds
from quantlib.maintenance.policy import SEGMENT_ENDS, MaintenancePolicyError, maintenance_history

__all__ = ["PeriodicMaintenancePolicy", "VirtualAgeModel", "maintenance_history", "periodic_cost_rate",
           "virtual_ages"]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)


def _days(delta) -> np.ndarray:
    return np.asarray(pd.to_timedelta(delta) / pd.Timedelta(days=1), float)


def virtual_ages(history: pd.DataFrame, restoration: float) -> pd.DataFrame:
    """Each unit's virtual age at the end of its history (the ``censored`` segment's end).

    Parameters
    ----------
    history : DataFrame
        From :func:`maintenance_history` (``from_records_start=True`` gives every unit an age).
    restoration : float
        ``rho``, e.g. ``VirtualAgeModel().fit(...).restoration_``.

    Returns
    -------
    DataFrame
        ``equipment_id, kind, age_days, age_known``; a unit down for repair at the end has none.
    """
    if history.empty:
        return pd.DataFrame(columns=["equipment_id", "kind", "age_days", "age_known"])
    chain_id = history.groupby(["equipment_id", "chain"], sort=False).ngroup().to_numpy()
    ages = _segment_ages(history["days"].to_numpy(float), chain_id, history["position"].to_numpy(), restoration)
    last = history.assign(age_days=ages + history["days"].to_numpy(float))
    last = last[last["ends"] == "censored"]
    known = last["age_known"] if "age_known" in last else True
    return last.assign(age_known=known)[["equipment_id", "kind", "age_days", "age_known"]].reset_index(drop=True)


def _segment_ages(days: np.ndarray, chain_id: np.ndarray, position: np.ndarray, rho: float) -> np.ndarray:
    """Virtual age at each segment's start: ``s_j = (1 - rho) (s_{j-1} + d_{j-1})`` along a chain."""
    # positions run 0, 1, 2, ... along a chain, so sorted by (chain, position) a segment's
    # predecessor is the row before it; one vectorised step per position
    order = np.lexsort((position, chain_id))
    d, p = days[order], position[order]
    s = np.zeros(len(d))
    for step in range(1, int(p.max(initial=0)) + 1):
        at = np.flatnonzero(p == step)
        s[at] = (1 - rho) * (s[at - 1] + d[at - 1])
    start_age = np.empty(len(days))
    start_age[order] = s
    return start_age


class VirtualAgeModel(BaseEstimator):
    """Weibull hazard in a virtual age that preventive visits reduce (Kijima type I).

    Parameters
    ----------
    restoration : float, optional
        Fix ``rho`` (0 to 1) instead of estimating it.
    alpha : float, default 0.05
        Level of the reported intervals.

    Attributes
    ----------
    table_ : DataFrame
        Indexed by kind: ``shape, scale, failures, segments, unit_days``.
    restoration_ : float
        The fitted ``rho`` (the share of the wear age a preventive visit removes).
    restoration_interval_ : tuple of float
        Its ``1 - alpha`` interval (logit scale Wald interval; ``(rho, rho)`` when fixed).
    log_likelihood_ : float
    """

    def __init__(self, restoration: float | None = None, alpha: float = 0.05):
        self.restoration = restoration
        self.alpha = alpha

    @staticmethod
    def _loglik(shape, scale, start_age, days, failed):
        end_age = start_age + days
        cumulative = (end_age / scale) ** shape - (start_age / scale) ** shape
        log_hazard = np.log(shape / scale) + (shape - 1) * np.log(np.maximum(end_age, 1e-12) / scale)
        return float(np.sum(failed * log_hazard) - np.sum(cumulative))

    def fit(self, history: pd.DataFrame):
        """Fit on :func:`maintenance_history` segments.

        Returns
        -------
        self
        """
        for column in ("equipment_id", "kind", "chain", "position", "days", "ends"):
            if column not in history.columns:
                raise MaintenancePolicyError(f"history: no column {column!r}")
        bad = ~history["ends"].isin(SEGMENT_ENDS)
        if bad.any():
            row = history.index[bad][0]
            raise MaintenancePolicyError(f"history row {row}: ends {history.at[row, 'ends']!r} is not one of "
                                         f"{', '.join(SEGMENT_ENDS)}")
        fixed = self.restoration
        if fixed is not None and not 0 <= fixed <= 1:
            raise MaintenancePolicyError(f"restoration must be between 0 and 1, got {fixed!r}")
        h = history.reset_index(drop=True)
        if "age_known" in h:
            h = h[h["age_known"].astype(bool)].reset_index(drop=True)
        kinds = sorted(h["kind"].unique())
        if not kinds:
            raise MaintenancePolicyError("history: no segment of known age to fit")
        for kind in kinds:
            n = int(((h["kind"] == kind) & (h["ends"] == "failure") & (h["days"] > 0)).sum())
            if n < 2:
                raise MaintenancePolicyError(f"kind {kind!r}: {n} failure(s) of known age, too few to fit a life")
        days = h["days"].to_numpy(float)
        # a zero-length segment (a visit on the day of a repair) still reduces the age, but adds no exposure
        used = days > 0
        failed = ((h["ends"] == "failure").to_numpy() & used).astype(float)
        kind_idx = np.searchsorted(kinds, h["kind"].to_numpy())
        chain_id = h.groupby(["equipment_id", "chain"], sort=False).ngroup().to_numpy()
        position = h["position"].to_numpy()
        k = len(kinds)
        estimate_rho = fixed is None and (h["ends"] == "preventive").any()
        rho_fixed = 0.5 if fixed is None else float(fixed)  # 0.5 only when no visit informs it

        def unpack(theta):
            shapes, scales = np.exp(theta[:k]), np.exp(theta[k:2 * k])
            rho = float(expit(theta[2 * k])) if estimate_rho else rho_fixed
            return shapes, scales, rho

        def negative(theta):
            shapes, scales, rho = unpack(theta)
            ages = _segment_ages(days, chain_id, position, rho)
            return -self._loglik(shapes[kind_idx][used], scales[kind_idx][used], ages[used], days[used],
                                 failed[used])

        mean_life = np.array([days[kind_idx == i].sum() / max(failed[kind_idx == i].sum(), 1) for i in range(k)])
        theta0 = np.concatenate([np.full(k, np.log(1.5)), np.log(mean_life)] + ([[0.0]] if estimate_rho else []))
        result = minimize(negative, theta0, method="L-BFGS-B")
        if not np.isfinite(result.fun):
            raise MaintenancePolicyError(f"the virtual-age likelihood did not converge: {result.message}")
        shapes, scales, rho = unpack(result.x)
        self.restoration_ = rho
        self.restoration_interval_ = (rho, rho)
        if estimate_rho:
            hess = approx_hess3(result.x, negative)
            try:
                cov = np.linalg.inv(hess)
                se = float(np.sqrt(cov[-1, -1])) if cov[-1, -1] > 0 else np.nan
            except np.linalg.LinAlgError:
                se = np.nan
            z = norm.ppf(1 - self.alpha / 2)
            centre = logit(min(max(rho, 1e-9), 1 - 1e-9))
            self.restoration_interval_ = (float(expit(centre - z * se)), float(expit(centre + z * se)))
        self.table_ = pd.DataFrame({
            "shape": shapes, "scale": scales,
            "failures": [int(failed[kind_idx == i].sum()) for i in range(k)],
            "segments": [int((kind_idx == i).sum()) for i in range(k)],
            "unit_days": [float(days[kind_idx == i].sum()) for i in range(k)],
        }, index=pd.Index(kinds, name="kind"))
        self.log_likelihood_ = float(-result.fun)
        self.kinds_ = kinds
        return self

    def _check(self):
        if not hasattr(self, "table_"):
            raise NotFittedError("VirtualAgeModel is not fitted yet: call fit first")


def periodic_cost_rate(T, shape: float, scale: float, restoration: float, preventive_cost: float,
                       failure_cost: float, max_segments: int = 20_000, tol: float = 1e-10):
    """Long-run cost per day of a preventive visit every ``T`` days or at failure, under imperfect repair.

    A cycle runs from a failure's repair (age 0) to the next failure; visits every ``T`` days of
    the cycle multiply the virtual age by ``1 - restoration``. ``T = inf`` is run to failure,
    ``Cf / mean life``. Exact up to the Gauss-Legendre quadrature of each segment's survival.

    Parameters
    ----------
    T : float or array
        Intervals in days.
    shape, scale : float
        Weibull hazard in the virtual age (days).
    restoration : float
        ``rho`` in [0, 1].
    preventive_cost, failure_cost : float

    Returns
    -------
    float or ndarray
    """
    T = np.atleast_1d(np.asarray(T, float))
    out = np.full(T.shape, failure_cost / (scale * gamma(1 + 1 / shape)))
    finite = np.isfinite(T) & (T > 0)
    t = T[finite]
    if t.size == 0:
        return out[0] if np.ndim(out) and out.size == 1 else out
    rho = float(restoration)

    def H(v):
        return (v / scale) ** shape

    u = (_NODES + 1) / 2  # quadrature points on [0, 1]
    s = np.zeros_like(t)
    alive = np.ones_like(t)   # P(no failure before this segment)
    length = np.zeros_like(t)
    visits = np.zeros_like(t)
    done = np.zeros(t.shape, bool)
    for _ in range(max_segments):
        a = np.where(done, 0.0, alive)
        pass_prob = np.exp(-(H(s + t) - H(s)))
        # expected time spent in this segment given alive at its start
        inside = (np.exp(-(H(s[:, None] + t[:, None] * u[None, :]) - H(s)[:, None])) @ _WEIGHTS) * t / 2
        nxt = (1 - rho) * (s + t)
        settled = np.abs(nxt - s) <= 1e-9 * scale
        # a settled chain repeats this segment forever: close it as a geometric series
        closing = settled & ~done
        geometric = np.where(closing, 1 / np.maximum(1 - pass_prob, 1e-300), 1.0)
        length += a * inside * geometric
        visits += a * pass_prob * geometric
        done |= closing
        alive = alive * pass_prob
        done |= alive < tol
        s = nxt
        if done.all():
            break
    out[finite] = (failure_cost + preventive_cost * visits) / length
    return out[0] if out.size == 1 else out


class PeriodicMaintenancePolicy(BaseEstimator):
    """Optimal preventive interval per kind when a visit takes off part of the wear.

    Fits a :class:`VirtualAgeModel` on :func:`maintenance_history` and minimises
    :func:`periodic_cost_rate` per kind (grid bracket, then Brent).

    Parameters
    ----------
    restoration : float, optional
        Fix the restoration factor instead of estimating it.
    max_interval_days : float, default 3650
        Intervals beyond are run to failure.
    min_failures : int, default 3
        Kinds with fewer failures of known age are not fitted (``skipped_`` says why).

    Attributes
    ----------
    model_ : VirtualAgeModel
    kinds_ : list of str
    skipped_ : DataFrame
        ``kind, reason``.
    table_ : DataFrame
        Indexed by kind: ``shape, scale, restoration, preventive_cost, failure_cost,
        optimal_interval, cost_rate, run_to_failure_cost_rate, current_interval,
        current_cost_rate, saving_vs_run_to_failure, saving_vs_current, decision`` (cost rates
        per unit per day).
    """

    def __init__(self, restoration: float | None = None, max_interval_days: float = 3650.0, min_failures: int = 3):
        self.restoration = restoration
        self.max_interval_days = max_interval_days
        self.min_failures = min_failures

    def fit(self, history: pd.DataFrame, costs: pd.DataFrame):
        """Fit on a history (:func:`maintenance_history`) and costs (``maintenance_costs(...).costs``).

        Returns
        -------
        self
        """
        for column in ("preventive_cost", "failure_cost"):
            if column not in costs.columns:
                raise MaintenancePolicyError(f"costs: no column {column!r}; columns are {', '.join(costs.columns)}")
        for column in ("kind", "ends", "days"):
            if column not in history.columns:
                raise MaintenancePolicyError(f"history: no column {column!r}")
        known = history["age_known"].astype(bool) if "age_known" in history else True
        failures = history[known & (history["ends"] == "failure") & (history["days"] > 0)].groupby("kind").size()
        skipped = [(kind, f"{int(failures.get(kind, 0))} failure(s) of known age, fewer than "
                          f"min_failures={self.min_failures}: its wear cannot be fitted")
                   for kind in sorted(history["kind"].unique()) if failures.get(kind, 0) < self.min_failures]
        fit_kinds = [k for k in sorted(history["kind"].unique()) if k not in dict(skipped)]
        if not fit_kinds:
            reasons = "; ".join(f"kind {k!r}: {r}" for k, r in skipped) or "no rows"
            raise MaintenancePolicyError(f"history: no kind can be fitted ({reasons})")
        model = VirtualAgeModel(restoration=self.restoration).fit(history[history["kind"].isin(fit_kinds)])
        rho = model.restoration_
        rows = []
        for kind, fitted in model.table_.iterrows():
            if kind not in costs.index:
                raise MaintenancePolicyError(f"costs: no row for equipment kind {kind!r}")
            cp, cf = float(costs.at[kind, "preventive_cost"]), float(costs.at[kind, "failure_cost"])
            k, lam = float(fitted["shape"]), float(fitted["scale"])
            interval, rate = self._optimum(k, lam, rho, cp, cf)
            rtf = cf / (lam * gamma(1 + 1 / k))
            current = float(costs.at[kind, "current_interval_days"]) if "current_interval_days" in costs else np.nan
            current_rate = float(periodic_cost_rate(current, k, lam, rho, cp, cf)) if current > 0 else np.nan
            rows.append({"kind": kind, "shape": k, "scale": lam, "restoration": rho, "preventive_cost": cp,
                         "failure_cost": cf, "optimal_interval": interval, "cost_rate": rate,
                         "run_to_failure_cost_rate": rtf, "current_interval": current,
                         "current_cost_rate": current_rate, "saving_vs_run_to_failure": rtf - rate,
                         "saving_vs_current": current_rate - rate,
                         "decision": "preventive at optimal interval" if np.isfinite(interval) else "run to failure"})
        self.model_ = model
        self.table_ = pd.DataFrame(rows).set_index("kind")
        self.kinds_ = list(self.table_.index)
        self.skipped_ = pd.DataFrame(skipped, columns=["kind", "reason"])
        return self

    def _check(self):
        if not hasattr(self, "table_"):
            raise NotFittedError("PeriodicMaintenancePolicy is not fitted yet: call fit first")

    def _optimum(self, k, lam, rho, cp, cf) -> tuple[float, float]:
        rtf = cf / (lam * gamma(1 + 1 / k))
        if k <= 1 or cf <= cp or rho <= 0:
            return np.inf, rtf
        grid = np.geomspace(max(lam * 1e-3, 1.0), self.max_interval_days, 120)
        rates = periodic_cost_rate(grid, k, lam, rho, cp, cf)
        i = int(np.argmin(rates))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        best = minimize_scalar(lambda x: float(periodic_cost_rate(x, k, lam, rho, cp, cf)), bounds=(lo, hi),
                               method="bounded", options={"xatol": 1e-3})
        if best.fun >= rtf:
            return np.inf, rtf
        return float(best.x), float(best.fun)

    def optimal_interval(self, kind: str) -> float:
        """The optimal interval of ``kind`` in days (``inf``: run to failure)."""
        self._check()
        if kind not in self.table_.index:
            raise MaintenancePolicyError(f"unknown equipment kind {kind!r}; fitted: {', '.join(self.table_.index)}")
        return float(self.table_.at[kind, "optimal_interval"])
