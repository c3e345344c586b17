"""Maintenance decisions: what preventive maintenance is worth, how often to do it, and when.

Three steps, each usable alone:

* :func:`maintenance_costs` reads gold and gives, per equipment kind, the cost of a preventive
  intervention and of a failure (repair + lost revenue while down), the company's current
  preventive interval, and the lives between failures (right-censored at ``as_of``) that the
  Weibull fit needs.
* :class:`AgeReplacementPolicy` fits a Weibull life per kind and finds the age-replacement
  optimum: renew a unit preventively at age ``T`` or at failure, whichever comes first, with
  ``T`` minimising the long-run cost per day

  .. math:: C(T) = \\frac{C_p R(T) + C_f (1 - R(T))}{\\int_0^T R(t)\\,dt}

  (Barlow and Proschan's age-replacement model; ``R`` the Weibull survival). It is compared
  with run-to-failure (``C_f`` / mean life) and with the company's current interval.
* :func:`fleet_schedule` plans interventions week by week over a horizon: a dynamic programme
  per unit (state = age in weeks since the last renewal, action = maintain or wait) whose
  coupling through the technicians' weekly hours is priced by Lagrangian relaxation.

The model's assumption is the textbook one: a preventive intervention renews the unit (as good
as new), as a failure repair does. The lives are measured between failures, so the data say
nothing about whether the company's own preventive visits renew units; the policy says what
preventive renewal would be worth under that assumption.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import gamma, gammainc
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from quantlib.data.gold import as_of_date, open_gold
from quantlib.errors import DropReason, QuantError
from quantlib.maintenance.survival import LifeDataError, WeibullLifeModel

__all__ = ["AgeReplacementPolicy", "FleetSchedule", "MaintenanceCosts", "MaintenancePolicyError",
           "age_replacement_cost_rate", "fleet_schedule", "maintenance_costs", "technician_capacity",
           "unit_plan"]

HOURS_PER_WEEK = 168.0
DAYS_PER_WEEK = 7.0


class MaintenancePolicyError(QuantError, ValueError):
    """Inputs a maintenance policy or schedule cannot use: names the kind, unit or column."""


# ----------------------------------------------------------------------------- costs and lives

@dataclass
class MaintenanceCosts:
    """What :func:`maintenance_costs` read from gold.

    Attributes
    ----------
    costs : pandas.DataFrame
        Indexed by equipment ``kind``: ``units``, ``preventive_events``, ``preventive_repair_cost``
        (mean cost of a completed preventive event), ``preventive_downtime_hours`` (mean),
        ``failure_events``, ``repair_cost`` (mean cost of a failure event), ``failure_downtime_hours``
        (mean), ``lost_revenue_per_hour`` (job revenue per available hour), ``preventive_cost``,
        ``failure_cost``, ``preventive_hours`` (hours one intervention takes, for the technician
        capacity) and ``current_interval_days`` (median days between a unit's completed
        preventive events; NaN when no unit of the kind has two).
    lives : pandas.DataFrame
        One row per life: ``equipment_id, kind, start, end, time`` (days) and ``event`` (1 =
        ended by a failure, 0 = still running at ``as_of``).
    units : pandas.DataFrame
        One row per unit: ``equipment_id, kind, age_days`` (days since the last failure repair
        was completed, or since the start of the records when it has not failed since; then
        ``age_known`` is False and the age is a lower bound).
    start, as_of : datetime.date
        The period the records cover.
    history : pandas.DataFrame
        Each unit's records as segments of known virtual age
        (:func:`quantlib.maintenance.repair.maintenance_history`), for the imperfect-repair model.
    """

    costs: pd.DataFrame
    lives: pd.DataFrame
    units: pd.DataFrame
    start: object
    as_of: object
    history: pd.DataFrame = field(default_factory=pd.DataFrame)


def _days(delta) -> np.ndarray:
    return np.asarray(pd.to_timedelta(delta) / pd.Timedelta(days=1), float)


def maintenance_costs(source, as_of=None, from_observation_start: bool = False) -> MaintenanceCosts:
    """Preventive and failure costs, current practice and lives between failures, per equipment kind.

    Costs (all means over the events of the kind scheduled from the start of the records up to
    ``as_of``)::

        lost_revenue_per_hour = job revenue of the units / their available hours   (equipment_kpis)
        lost_revenue(event)   = downtime_hours * available_hours_per_week / 168 * lost_revenue_per_hour
        preventive_cost       = mean cost of completed preventive events + lost revenue of their mean downtime
        failure_cost          = mean cost of failure events (the repair)  + lost revenue of their mean downtime

    Downtime is clock time (a failure down two days records 48 hours), so it is converted to the
    hours the unit would have been available (``available_hours_per_week / 168`` of them) before
    it is priced at the revenue a unit earns per available hour. That assumes the work a down unit
    would have done is lost, not moved to another unit: an upper bound when the fleet has slack.
    ``quantlib.finance.profitability`` has no maintenance activity pool yet (its activities are
    charged to jobs), so the preventive cost comes from the maintenance events themselves.
    ``preventive_hours``, the technician hours one intervention takes, is the mean downtime of the
    completed preventive events (the unit is down while it is worked on).

    Lives: a unit's life runs from the completion of a failure repair to its next failure (an
    event) or to ``as_of`` (right-censored); a unit bought after the records start also has the
    life from its purchase. The interval from the start of the records to a unit's first failure
    is dropped by default: the unit's age then is unknown, so it is not a whole life (it is the
    remaining life of a unit of unknown age, which is shorter). ``from_observation_start=True``
    keeps it as if the unit had been new at the start of the records.

    Parameters
    ----------
    source
        Anything :func:`quantlib.data.gold.open_gold` accepts.
    as_of : date-like, optional
        Default: gold's build date.
    from_observation_start : bool, default False
        Count the first interval (records start -> first failure, or -> ``as_of``) as a life.

    Returns
    -------
    MaintenanceCosts
    """
    with open_gold(source) as con:
        end = as_of_date(con, as_of)
        start = con.execute("SELECT data_start FROM build_params").fetchone()[0]
        equipment = con.execute("""SELECT equipment_id, kind, purchase_date, available_hours_per_week
                                   FROM equipment ORDER BY equipment_id""").df()
        events = con.execute("""SELECT equipment_id, kind AS event_kind, scheduled_date, completed_date,
                                       downtime_hours, cost
                                FROM maintenance_events WHERE scheduled_date::DATE <= ?
                                ORDER BY equipment_id, scheduled_date""", [end]).df()
        revenue = con.execute("""SELECT e.kind, sum(k.job_revenue) AS job_revenue,
                                        sum(k.available_hours) AS available_hours
                                 FROM equipment_kpis_between(?::DATE, ?::DATE) k
                                 JOIN equipment e USING (equipment_id) GROUP BY e.kind""", [start, end]).df()
    if equipment.empty:
        raise MaintenancePolicyError("gold has no equipment: nothing to maintain")
    as_of_ts = pd.Timestamp(end)
    start_ts = pd.Timestamp(start)
    kind_of = dict(zip(equipment["equipment_id"], equipment["kind"]))
    events["kind"] = events["equipment_id"].map(kind_of)
    events["completed_date"] = pd.to_datetime(events["completed_date"]).where(
        pd.to_datetime(events["completed_date"]) <= as_of_ts)
    availability = dict(zip(equipment["kind"], equipment.groupby("kind")["available_hours_per_week"].transform("mean")))
    rev = revenue.set_index("kind")
    lost_per_hour = (rev["job_revenue"] / rev["available_hours"].where(rev["available_hours"] > 0)).to_dict()

    preventive = events[(events["event_kind"] == "preventive") & events["completed_date"].notna()]
    failures = events[events["event_kind"] == "failure"]
    rows = []
    for kind, units in equipment.groupby("kind"):
        pm = preventive[preventive["kind"] == kind]
        fl = failures[failures["kind"] == kind]
        lost = lost_per_hour.get(kind, np.nan)
        share = availability[kind] / HOURS_PER_WEEK
        gaps = pm.groupby("equipment_id")["completed_date"].diff().dropna()
        pm_cost, pm_down = pm["cost"].mean(), pm["downtime_hours"].mean()
        repair, f_down = fl["cost"].mean(), fl["downtime_hours"].mean()
        rows.append({
            "kind": kind, "units": len(units), "preventive_events": len(pm), "preventive_repair_cost": pm_cost,
            "preventive_downtime_hours": pm_down, "failure_events": len(fl), "repair_cost": repair,
            "failure_downtime_hours": f_down, "lost_revenue_per_hour": lost,
            "preventive_cost": pm_cost + pm_down * share * lost, "failure_cost": repair + f_down * share * lost,
            "preventive_hours": pm_down,
            "current_interval_days": float(np.median(_days(gaps))) if len(gaps) else np.nan,
        })
    costs = pd.DataFrame(rows).set_index("kind")

    lives, ages = [], []
    for unit in equipment.itertuples(index=False):
        fl = failures[failures["equipment_id"] == unit.equipment_id]
        bought = pd.Timestamp(unit.purchase_date)
        if bought >= start_ts:
            clock, known = bought, True
        else:
            clock, known = (start_ts if from_observation_start else None), False
        last_renewal = start_ts
        for failed, repaired in zip(pd.to_datetime(fl["scheduled_date"]), fl["completed_date"]):
            if clock is not None and failed > clock:
                lives.append((unit.equipment_id, unit.kind, clock, failed, 1))
            clock = repaired if pd.notna(repaired) else None
            if pd.notna(repaired):
                last_renewal, known = repaired, True
        if clock is not None and as_of_ts > clock:
            lives.append((unit.equipment_id, unit.kind, clock, as_of_ts, 0))
        ages.append((unit.equipment_id, unit.kind, float(_days(as_of_ts - max(last_renewal, bought))), known))
    lives = pd.DataFrame(lives, columns=["equipment_id", "kind", "start", "end", "event"])
    lives.insert(4, "time", _days(lives["end"] - lives["start"]))
    units = pd.DataFrame(ages, columns=["equipment_id", "kind", "age_days", "age_known"])
    history = maintenance_history(equipment, events, start, end)
    return MaintenanceCosts(costs, lives, units, start, end, history)


#: How a history segment ends.
SEGMENT_ENDS = ("failure", "preventive", "censored")


def maintenance_history(equipment: pd.DataFrame, events: pd.DataFrame, start, as_of,
                        from_records_start: bool = False) -> pd.DataFrame:
    """Each unit's records as segments of known virtual age (up to the restoration factor).

    Parameters
    ----------
    equipment : DataFrame
        ``equipment_id, kind, purchase_date``.
    events : DataFrame
        ``equipment_id, event_kind`` (``preventive`` or ``failure``; others are ignored),
        ``scheduled_date, completed_date``. A failure happens on its scheduled date and the unit
        restarts as new when its repair is completed; a preventive visit counts when completed.
    start, as_of : date-like
        The period the records cover; segments still running at ``as_of`` are censored.
    from_records_start : bool, default False
        Also keep the time before a unit's first failure, as if the unit had been new at
        ``start`` (its chain 0 then has ``age_known`` False): for current ages (a lower bound),
        not for fitting.

    Returns
    -------
    DataFrame
        ``equipment_id, kind, chain, position, start, end, days, ends, age_known`` with ``ends``
        one of :data:`SEGMENT_ENDS`. A chain starts at age 0 (a repair completed, or a purchase
        after ``start``); ``position`` counts the preventive visits since.
    """
    for column in ("equipment_id", "kind", "purchase_date"):
        if column not in equipment.columns:
            raise MaintenancePolicyError(f"equipment: no column {column!r}")
    for column in ("equipment_id", "event_kind", "scheduled_date", "completed_date"):
        if column not in events.columns:
            raise MaintenancePolicyError(f"maintenance events: no column {column!r}")
    start_ts, as_of_ts = pd.Timestamp(start), pd.Timestamp(as_of)
    ev = events[events["event_kind"].isin(["preventive", "failure"])].copy()
    ev["scheduled_date"] = pd.to_datetime(ev["scheduled_date"])
    ev["completed_date"] = pd.to_datetime(ev["completed_date"])
    ev = ev[ev["scheduled_date"] <= as_of_ts]
    # a preventive visit takes effect when done; a failure when it happens
    ev["at"] = np.where(ev["event_kind"] == "failure", ev["scheduled_date"], ev["completed_date"])
    ev = ev[ev["at"].notna() & (ev["at"] <= as_of_ts)].sort_values(["equipment_id", "at"])
    by_unit = dict(tuple(ev.groupby("equipment_id")))
    rows = []
    for unit in equipment.itertuples(index=False):
        bought = pd.Timestamp(unit.purchase_date)
        known = bought >= start_ts
        clock = bought if known else (start_ts if from_records_start else None)  # None: the age is unknown
        chain, position = 0, 0
        unit_events = by_unit.get(unit.equipment_id)
        for e in ([] if unit_events is None else unit_events.itertuples(index=False)):
            at = pd.Timestamp(e.at)
            if e.event_kind == "failure":
                if clock is not None and at > clock:
                    rows.append((unit.equipment_id, unit.kind, chain, position, clock, at, "failure", known))
                repaired = pd.Timestamp(e.completed_date) if pd.notna(e.completed_date) else None
                clock = repaired if repaired is not None and repaired <= as_of_ts else None
                chain, position, known = chain + 1, 0, True
            elif clock is not None and at > clock:
                rows.append((unit.equipment_id, unit.kind, chain, position, clock, at, "preventive", known))
                clock, position = at, position + 1
        if clock is not None and as_of_ts > clock:
            rows.append((unit.equipment_id, unit.kind, chain, position, clock, as_of_ts, "censored", known))
    out = pd.DataFrame(rows, columns=["equipment_id", "kind", "chain", "position", "start", "end", "ends",
                                      "age_known"])
    out.insert(6, "days", _days(out["end"] - out["start"]))
    return out



# ----------------------------------------------------------------------------- age replacement

def _integral_survival(T, shape: float, scale: float):
    """``int_0^T exp(-(t/scale)**shape) dt`` in closed form (regularised lower incomplete gamma)."""
    T = np.asarray(T, float)
    return scale * gamma(1 + 1 / shape) * gammainc(1 / shape, (T / scale) ** shape)


def age_replacement_cost_rate(T, shape: float, scale: float, preventive_cost: float, failure_cost: float):
    """Long-run cost per unit time of renewing at age ``T`` or at failure (Weibull lives).

    ``C(T) = (Cp R(T) + Cf (1 - R(T))) / int_0^T R(t) dt``; ``T = inf`` is run-to-failure,
    ``Cf / mean life``.
    """
    T = np.asarray(T, float)
    survive = np.exp(-(T / scale) ** shape)
    expected_cost = preventive_cost * survive + failure_cost * (1 - survive)
    out = expected_cost / _integral_survival(T, shape, scale)
    return out[()] if out.ndim == 0 else out


def _optimal_age(shape: float, scale: float, cp: float, cf: float) -> tuple[float, float]:
    """The age-replacement optimum ``(T*, C(T*))``; ``(inf, Cf / mean)`` when none is finite."""
    run_to_failure = cf / (scale * gamma(1 + 1 / shape))
    if shape <= 1 or cf <= cp:
        return np.inf, run_to_failure
    # C(T) is unimodal for an increasing hazard; a log grid brackets the minimum, then Brent refines it.
    grid = scale * np.logspace(-4, np.log10(max(5.0, (np.log(1e6)) ** (1 / shape))), 400)
    rates = age_replacement_cost_rate(grid, shape, scale, cp, cf)
    i = int(np.argmin(rates))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = minimize_scalar(lambda t: age_replacement_cost_rate(t, shape, scale, cp, cf), bounds=(lo, hi),
                           method="bounded", options={"xatol": 1e-9 * scale})
    if best.fun >= run_to_failure:
        return np.inf, run_to_failure
    return float(best.x), float(best.fun)


class AgeReplacementPolicy(BaseEstimator):
    """Optimal preventive interval per equipment kind: age replacement on a Weibull life.

    Per kind, a :class:`~quantlib.maintenance.survival.WeibullLifeModel` is fitted on the lives
    (right-censored), then ``T*`` minimises the long-run cost rate
    ``C(T) = (Cp R(T) + Cf (1 - R(T))) / int_0^T R(t) dt`` (closed-form integral, Brent's method
    from a grid bracket). When the fitted shape is at most 1 the hazard does not rise with age,
    preventive renewal buys nothing, and no finite optimum exists: the interval is infinite and
    the decision is ``"run to failure"`` (likewise when a failure costs no more than a
    preventive intervention).

    Parameters
    ----------
    min_failures : int, default 3
        Kinds with fewer failures are not fitted: they are listed in ``skipped_`` with the reason
        (:class:`MaintenancePolicyError` when no kind has enough).

    Attributes
    ----------
    models_ : dict
        Kind -> fitted :class:`WeibullLifeModel` (time in the lives' unit, days from
        :func:`maintenance_costs`).
    table_ : pandas.DataFrame
        Indexed by kind: ``shape, scale, mean_life, failures, lives, preventive_cost,
        failure_cost, optimal_interval, cost_rate, run_to_failure_cost_rate, current_interval,
        current_cost_rate, saving_vs_run_to_failure, saving_vs_current, decision``. Cost rates
        are per unit per time unit of the lives; savings are rate differences (positive: the
        optimum is cheaper).
    kinds_ : list of str
        The kinds fitted.
    skipped_ : pandas.DataFrame
        ``kind, reason``: kinds with too few failures to fit.
    """

    def __init__(self, min_failures: int = 3):
        self.min_failures = min_failures

    def fit(self, lives: pd.DataFrame, costs: pd.DataFrame):
        """Fit on lives and costs, e.g. ``maintenance_costs(...).lives`` and ``.costs``.

        Parameters
        ----------
        lives : pandas.DataFrame
            ``kind, time, event`` (1 failed, 0 censored), one row per life.
        costs : pandas.DataFrame
            Indexed by kind: ``preventive_cost``, ``failure_cost`` and optionally
            ``current_interval_days`` (the current preventive interval, same unit as ``time``).

        Returns
        -------
        self
        """
        for column in ("kind", "time", "event"):
            if column not in lives.columns:
                raise MaintenancePolicyError(f"lives: no column {column!r}; columns are {', '.join(lives.columns)}")
        for column in ("preventive_cost", "failure_cost"):
            if column not in costs.columns:
                raise MaintenancePolicyError(f"costs: no column {column!r}; columns are {', '.join(costs.columns)}")
        models, rows, skipped = {}, [], []
        for kind, group in lives.groupby("kind", sort=True):
            if kind not in costs.index:
                raise MaintenancePolicyError(f"costs: no row for equipment kind {kind!r}")
            failures = int(pd.to_numeric(group["event"]).sum())
            if failures < self.min_failures:
                skipped.append((kind, f"{failures} failure(s), fewer than min_failures={self.min_failures}: "
                                      "its life cannot be fitted"))
                continue
            cp, cf = float(costs.at[kind, "preventive_cost"]), float(costs.at[kind, "failure_cost"])
            if not (np.isfinite(cp) and np.isfinite(cf) and cp >= 0 and cf > 0):
                raise MaintenancePolicyError(f"kind {kind!r}: preventive cost {cp!r} and failure cost {cf!r} must be "
                                             "finite, non-negative and the failure cost positive")
            try:
                model = WeibullLifeModel().fit(group, time="time", event="event", source=f"lives of kind {kind!r}")
            except LifeDataError as error:
                raise MaintenancePolicyError(str(error)) from error
            models[kind] = model
            k, lam = model.shape_, model.scale_
            interval, rate = _optimal_age(k, lam, cp, cf)
            rtf = cf / (lam * gamma(1 + 1 / k))
            current = float(costs.at[kind, "current_interval_days"]) if "current_interval_days" in costs else np.nan
            current_rate = float(age_replacement_cost_rate(current, k, lam, cp, cf)) if current > 0 else np.nan
            rows.append({
                "kind": kind, "shape": k, "scale": lam, "mean_life": lam * gamma(1 + 1 / k), "failures": failures,
                "lives": len(group), "preventive_cost": cp, "failure_cost": cf, "optimal_interval": interval,
                "cost_rate": rate, "run_to_failure_cost_rate": rtf, "current_interval": current,
                "current_cost_rate": current_rate, "saving_vs_run_to_failure": rtf - rate,
                "saving_vs_current": current_rate - rate,
                "decision": "preventive at optimal interval" if np.isfinite(interval) else "run to failure",
            })
        if not rows:
            reasons = "; ".join(f"kind {k!r}: {r}" for k, r in skipped) or "no rows"
            raise MaintenancePolicyError(f"lives: no kind can be fitted ({reasons})")
        self.skipped_ = pd.DataFrame(skipped, columns=["kind", "reason"])
        self.models_ = models
        self.table_ = pd.DataFrame(rows).set_index("kind")
        self.kinds_ = list(self.table_.index)
        return self

    def _check(self):
        if not hasattr(self, "table_"):
            raise NotFittedError("AgeReplacementPolicy is not fitted yet: call fit first")

    def _row(self, kind):
        self._check()
        if kind not in self.table_.index:
            raise MaintenancePolicyError(f"unknown equipment kind {kind!r}; fitted kinds: {', '.join(self.kinds_)}")
        return self.table_.loc[kind]

    def cost_rate(self, kind: str, interval) -> np.ndarray | float:
        """Long-run cost rate of kind ``kind`` when renewed at age ``interval`` (``inf``: run to failure)."""
        row = self._row(kind)
        return age_replacement_cost_rate(interval, row["shape"], row["scale"], row["preventive_cost"],
                                         row["failure_cost"])

    def optimal_interval(self, kind: str) -> float:
        """The optimal preventive interval of ``kind`` (``inf`` when run-to-failure is best)."""
        return float(self._row(kind)["optimal_interval"])


# ----------------------------------------------------------------------------- fleet schedule

def technician_capacity(source, share: float, as_of=None) -> float:
    """Technician hours a week available for maintenance: ``share`` of the weekly hours of the
    technicians employed at ``as_of`` (hired by then, not terminated)."""
    if not 0 < share <= 1:
        raise MaintenancePolicyError(f"share of technician hours for maintenance must be in (0, 1], got {share!r}")
    with open_gold(source) as con:
        end = as_of_date(con, as_of)
        hours = con.execute("""SELECT coalesce(sum(weekly_hours), 0) FROM technicians
                               WHERE hire_date::DATE <= ?
                                 AND (termination_date IS NULL OR termination_date::DATE > ?)""",
                            [end, end]).fetchone()[0]
    if hours <= 0:
        raise MaintenancePolicyError(f"no technician employed on {end}: no capacity for maintenance")
    return float(share * hours)


@dataclass
class _Kind:
    """A kind's weekly chain: failure probability per week of age, costs, terminal values."""

    shape: float
    scale_weeks: float
    preventive_cost: float
    failure_cost: float
    hours: float
    restoration: float = 1.0  # share of the age an intervention takes off (1: as good as new)
    _terminal: dict = field(default_factory=dict, repr=False)

    def after_visit(self, n_ages: int) -> np.ndarray:
        """The age index an intervention at each age leaves (0 when it renews)."""
        return np.floor((1 - self.restoration) * np.arange(n_ages) + 1e-9).astype(int)

    def failure_probability(self, n_ages: int) -> np.ndarray:
        a = np.arange(n_ages, dtype=float)
        log_r = -(a / self.scale_weeks) ** self.shape
        log_r1 = -((a + 1) / self.scale_weeks) ** self.shape
        return -np.expm1(log_r1 - log_r)

    def terminal(self, n_ages: int) -> np.ndarray:
        """Relative values of the infinite-horizon average-cost problem (relative value iteration)."""
        if n_ages not in self._terminal:
            self._terminal[n_ages] = self._relative_values(n_ages)
        return self._terminal[n_ages]

    def _relative_values(self, n_ages: int) -> np.ndarray:
        q = self.failure_probability(n_ages)
        h = np.zeros(n_ages)
        nxt = np.minimum(np.arange(n_ages) + 1, n_ages - 1)
        reset = self.after_visit(n_ages)
        for _ in range(20000):
            wait = q * (self.failure_cost + h[0]) + (1 - q) * h[nxt]
            new = np.minimum(self.preventive_cost + wait[reset], wait)
            new -= new[0]
            if np.max(np.abs(new - h)) < 1e-9 * max(self.failure_cost, 1.0):
                return new
            h = new
        return h


def _backward(kind: _Kind, horizon: int, n_ages: int, prices: np.ndarray, blocked: np.ndarray | None = None):
    """Finite-horizon DP over (week, age): the decision table and the wait / maintain values.

    ``prices[t]`` is added to the cost of maintaining in week ``t`` (the Lagrange price times the
    hours); ``blocked[t]`` forbids maintaining in week ``t``.
    """
    q = kind.failure_probability(n_ages)
    nxt = np.minimum(np.arange(n_ages) + 1, n_ages - 1)
    reset = kind.after_visit(n_ages)
    value = kind.terminal(n_ages)
    maintain = np.zeros((horizon, n_ages), bool)
    wait_value = np.zeros((horizon, n_ages))
    for t in range(horizon - 1, -1, -1):
        wait = q * (kind.failure_cost + value[0]) + (1 - q) * value[nxt]
        renew = kind.preventive_cost + prices[t] + wait[reset]
        choose = renew < wait
        if blocked is not None and blocked[t]:
            choose[:] = False
        maintain[t] = choose
        wait_value[t] = wait
        value = np.where(choose, renew, wait)
    return maintain, wait_value


def _path(maintain: np.ndarray, age: int, restoration: float = 1.0) -> list[tuple[int, int]]:
    """Weeks (and the age then) at which the plan maintains, if the unit does not fail meanwhile."""
    n_ages = maintain.shape[1]
    out = []
    for t in range(maintain.shape[0]):
        age = min(age, n_ages - 1)
        if maintain[t, age]:
            out.append((t, age))
            age = int(np.floor((1 - restoration) * age + 1e-9))
        age += 1
    return out


def _kinds(policy: AgeReplacementPolicy, hours: dict | None) -> dict[str, _Kind]:
    policy._check()
    out = {}
    for kind, row in policy.table_.iterrows():
        h = float((hours or {}).get(kind, np.nan))
        if not np.isfinite(h) or h <= 0:
            raise MaintenancePolicyError(f"kind {kind!r}: no positive hours per intervention (got {h!r})")
        # a policy fitted with imperfect repair (PeriodicMaintenancePolicy) says how much a visit restores
        out[kind] = _Kind(row["shape"], row["scale"] / DAYS_PER_WEEK, row["preventive_cost"], row["failure_cost"], h,
                          float(row.get("restoration", 1.0)))
    return out


def _unit_frame(units: pd.DataFrame, kinds: dict) -> pd.DataFrame:
    for column in ("equipment_id", "kind", "age_days"):
        if column not in units.columns:
            raise MaintenancePolicyError(f"units: no column {column!r}; columns are {', '.join(units.columns)}")
    ages = pd.to_numeric(units["age_days"], errors="coerce")
    if ages.isna().any() or (ages < 0).any():
        row = int(np.flatnonzero((ages.isna() | (ages < 0)).to_numpy())[0])
        raise MaintenancePolicyError(f"units: row {row + 1}, age_days {units['age_days'].iloc[row]!r} is not an age")
    return units.assign(age_weeks=np.floor(ages / DAYS_PER_WEEK).astype(int)).reset_index(drop=True)


def unit_plan(policy: AgeReplacementPolicy, kind: str, age_days: float, horizon_weeks: int = 52,
              hours: dict | None = None) -> list[int]:
    """The weeks one unit's own DP (no capacity limit) maintains it, if it does not fail meanwhile."""
    kinds = _kinds(policy, hours or {k: 1.0 for k in policy.kinds_})
    if kind not in kinds:
        raise MaintenancePolicyError(f"unknown equipment kind {kind!r}; fitted kinds: {', '.join(kinds)}")
    age = int(np.floor(age_days / DAYS_PER_WEEK))
    n_ages = _n_ages(kinds[kind])
    maintain, _ = _backward(kinds[kind], horizon_weeks, n_ages, np.zeros(horizon_weeks))
    return [t for t, _ in _path(maintain, age, kinds[kind].restoration)]


def _n_ages(kind: _Kind) -> int:
    """Ages tracked, in weeks: up to four Weibull scales (older units are treated as that old; by
    then a wear-out unit has almost surely failed, and a flat or falling hazard has flattened)."""
    return int(max(np.ceil(kind.scale_weeks * 4), 16))


@dataclass
class FleetSchedule:
    """A fleet's maintenance plan over a horizon of weeks.

    Attributes
    ----------
    plan : pandas.DataFrame
        One row per planned intervention: ``equipment_id, kind, week`` (0 = the first week),
        ``age_weeks`` (the unit's age then, if it has not failed meanwhile),
        ``expected_cost_avoided`` (expected failure and later maintenance cost over the rest
        of the horizon and beyond saved by renewing the unit that week rather than letting it
        run, under the uncapacitated DP's values; the intervention's own cost not deducted),
        ``preventive_cost`` and ``hours``.
    load : pandas.DataFrame
        ``week, hours, capacity``.
    dropped : pandas.DataFrame
        ``equipment_id, kind, reason_code`` (a :class:`quantlib.errors.DropReason`), ``reason``:
        units not planned: their kind was not fitted, or their intervention can never fit a week.
    prices : numpy.ndarray
        The final Lagrange price of an hour of technician time in each week.
    iterations : int
        Price updates made.
    """

    plan: pd.DataFrame
    load: pd.DataFrame
    dropped: pd.DataFrame
    prices: np.ndarray
    iterations: int

    def validate(self) -> None:
        """Re-check the plan independently of the solver: hours per week within capacity, one
        intervention per unit and week, weeks inside the horizon."""
        hours = self.plan.groupby("week")["hours"].sum()
        capacity = self.load.set_index("week")["capacity"]
        over = hours[hours > capacity.reindex(hours.index) + 1e-9]
        if len(over):
            week = int(over.index[0])
            raise MaintenancePolicyError(f"week {week}: {over.iloc[0]:g} hours planned, capacity "
                                         f"{capacity[week]:g}")
        if self.plan.duplicated(["equipment_id", "week"]).any():
            raise MaintenancePolicyError("a unit is planned twice in one week")
        if len(self.plan) and not self.plan["week"].between(0, len(self.load) - 1).all():
            raise MaintenancePolicyError("an intervention lies outside the horizon")


def fleet_schedule(policy: AgeReplacementPolicy, units: pd.DataFrame, hours: dict, capacity_hours,
                   horizon_weeks: int = 52, max_iterations: int = 200, step: float = 0.5) -> FleetSchedule:
    """Plan preventive interventions for a fleet, week by week, within technician capacity.

    Method. Each unit's problem is a finite-horizon Markov decision process in weeks: the state
    is its age in weeks since the last renewal (its virtual age, under imperfect repair); each week
    it is either maintained (cost ``Cp``, age back to 0, or to ``(1 - rho)`` of it when the policy
    is a :class:`~quantlib.maintenance.repair.PeriodicMaintenancePolicy` with restoration ``rho``)
    or left to run; it fails during the week with probability
    ``1 - R(a + 1) / R(a)`` from its kind's fitted Weibull (cost ``Cf``, age back to 0). The
    values after the horizon are the relative values of the infinite-horizon average-cost problem
    (relative value iteration), so the plan does not stop maintaining because the horizon ends.
    Backward induction gives the decision for every week and age; the *plan* is the path it
    follows if the unit does not fail (after a failure one re-plans). Units of one kind share one
    backward pass.

    Units are coupled only through the technicians' hours a week. Lagrangian relaxation prices
    them: an intervention in week ``t`` costs ``Cp + price[t] * hours``; prices of overloaded weeks
    rise (subgradient steps, ``step`` times the mean preventive cost per hour of overload
    relative to capacity, decaying as ``1 / sqrt(k)``) and those of weeks with spare hours fall
    towards 0, until the plan fits. If it still does not fit after ``max_iterations``, the
    overloaded weeks are repaired: the interventions worth least per hour are forbidden there
    and their units re-planned with the prices kept, week after week, until every week fits. A
    unit whose intervention needs more hours than any week has, or whose kind the policy could not
    fit, is dropped with the reason.

    Parameters
    ----------
    policy : AgeReplacementPolicy or PeriodicMaintenancePolicy
        Fitted; its lives in days.
    units : pandas.DataFrame
        ``equipment_id, kind, age_days`` (e.g. ``maintenance_costs(...).units``, or the virtual
        ages of :func:`quantlib.maintenance.repair.virtual_ages` for a periodic policy).
    hours : dict
        Kind -> technician hours one intervention takes (e.g. ``costs["preventive_hours"]``).
    capacity_hours : float or array of length ``horizon_weeks``
        Technician hours a week available for maintenance (``numpy.inf``: no limit); see
        :func:`technician_capacity`.
    horizon_weeks : int, default 52
    max_iterations : int, default 200
    step : float, default 0.5

    Returns
    -------
    FleetSchedule
        Validated before it is returned.
    """
    if horizon_weeks < 1:
        raise MaintenancePolicyError(f"horizon_weeks must be at least 1, got {horizon_weeks!r}")
    kinds = _kinds(policy, hours)
    frame = _unit_frame(units, kinds)
    skipped = dict(zip(policy.skipped_["kind"], policy.skipped_["reason"]))
    dropped = [(u.equipment_id, u.kind, DropReason.KIND_NOT_FITTED,
                f"kind not fitted: {skipped.get(u.kind, 'not in the lives')}")
               for u in frame.itertuples() if u.kind not in kinds]
    frame = frame[frame["kind"].isin(list(kinds))].reset_index(drop=True)
    capacity = np.broadcast_to(np.asarray(capacity_hours, float), (horizon_weeks,)).copy()
    if (capacity < 0).any() or np.isnan(capacity).any():
        raise MaintenancePolicyError("capacity_hours must be non-negative numbers")
    n_ages = {k: _n_ages(v) for k, v in kinds.items()}
    dropped += [(u.equipment_id, u.kind, DropReason.EXCEEDS_WEEKLY_CAPACITY,
                 f"an intervention takes {kinds[u.kind].hours:g} h, more than any week's capacity "
                 f"({capacity.max():g} h)")
                for u in frame.itertuples() if kinds[u.kind].hours > capacity.max()]
    frame = frame[~frame["equipment_id"].isin([d[0] for d in dropped])].reset_index(drop=True)
    by_kind = {k: g.index.to_numpy() for k, g in frame.groupby("kind")}
    unit_hours = frame["kind"].map({k: v.hours for k, v in kinds.items()}).to_numpy(float)

    def plan_of(prices, blocked=None):
        paths = [None] * len(frame)
        for k, idx in by_kind.items():
            maintain, _ = _backward(kinds[k], horizon_weeks, n_ages[k], prices * kinds[k].hours)
            for i in idx:
                if blocked and i in blocked:
                    continue
                paths[i] = _path(maintain, int(frame.at[i, "age_weeks"]), kinds[k].restoration)
        if blocked:
            for i, weeks in blocked.items():
                k = frame.at[i, "kind"]
                forbid = np.zeros(horizon_weeks, bool)
                forbid[list(weeks)] = True
                maintain, _ = _backward(kinds[k], horizon_weeks, n_ages[k], prices * kinds[k].hours, forbid)
                paths[i] = _path(maintain, int(frame.at[i, "age_weeks"]), kinds[k].restoration)
        return paths

    def load_of(paths):
        load = np.zeros(horizon_weeks)
        for i, path in enumerate(paths):
            for t, _ in path:
                load[t] += unit_hours[i]
        return load

    prices = np.zeros(horizon_weeks)
    finite = np.isfinite(capacity)
    scale = np.mean([v.preventive_cost / v.hours for v in kinds.values()])
    paths = plan_of(prices)
    iterations = 0
    while iterations < max_iterations:
        load = load_of(paths)
        if (load[finite] <= capacity[finite] + 1e-9).all():
            break
        iterations += 1
        gap = np.where(finite, (load - np.where(finite, capacity, 0)) / np.maximum(np.where(finite, capacity, 1), 1),
                       0.0)
        prices = np.maximum(0.0, prices + step * scale * gap / np.sqrt(iterations))
        paths = plan_of(prices)

    # Repair: forbid the least valuable interventions (per hour) in overloaded weeks, in week order.
    zero_values = {k: _backward(kinds[k], horizon_weeks, n_ages[k], np.zeros(horizon_weeks))[1] for k in kinds}

    def avoided(i, t, a):
        kind = kinds[frame.at[i, "kind"]]
        values = zero_values[frame.at[i, "kind"]][t]
        a = min(a, len(values) - 1)
        return float(values[a] - values[kind.after_visit(len(values))[a]])

    blocked: dict[int, set] = {}
    for _ in range(len(frame) * horizon_weeks + 1):
        load = load_of(paths)
        over = np.flatnonzero(finite & (load > capacity + 1e-9))
        if not len(over):
            break
        t = int(over[0])
        here = sorted(((avoided(i, t, a) / unit_hours[i], i) for i, path in enumerate(paths)
                       for w, a in path if w == t), reverse=True)
        used, keep = 0.0, set()
        for _value, i in here:
            if used + unit_hours[i] <= capacity[t] + 1e-9:
                keep.add(i)
                used += unit_hours[i]
        for _value, i in here:
            if i not in keep:
                blocked.setdefault(i, set()).add(t)
        paths = plan_of(prices, blocked)

    rows = [{"equipment_id": frame.at[i, "equipment_id"], "kind": frame.at[i, "kind"], "week": t, "age_weeks": a,
             "expected_cost_avoided": avoided(i, t, a), "preventive_cost": kinds[frame.at[i, "kind"]].preventive_cost,
             "hours": unit_hours[i]}
            for i, path in enumerate(paths) for t, a in path]
    plan = pd.DataFrame(rows, columns=["equipment_id", "kind", "week", "age_weeks", "expected_cost_avoided",
                                       "preventive_cost", "hours"]).sort_values(["week", "equipment_id"],
                                                                                 kind="stable").reset_index(drop=True)
    load = pd.DataFrame({"week": np.arange(horizon_weeks), "hours": load_of(paths), "capacity": capacity})
    dropped = pd.DataFrame(dropped, columns=["equipment_id", "kind", "reason_code", "reason"])
    schedule = FleetSchedule(plan, load, dropped, prices, iterations)
    schedule.validate()
    return schedule
