"""Maintenance visits scheduled around the booked jobs with the routing engine (issue 15).

:func:`schedule_maintenance` gives each open work order (:func:`~quantlib.maintenance.health.plan_work_orders`)
a day inside its window, a technician with its skill and an arrival time, without moving any
booked job out of the plan:

1. **The booked days.** Each day of the horizon is built from gold by
   :func:`~quantlib.ops.problem.problem_from_warehouse` (the day's jobs, the technicians working,
   shifts, lunch, half-day windows); its booked jobs are ``required`` (and, with ``pin_booked``,
   pinned to the technician gold books them on) and solved by :func:`quantlib.ops.routing.solve`:
   the *base plan* of the day.
2. **Where a visit fits.** A visit is a job at the unit's place (gold has no customer site for a
   unit: it is where the unit's last job before the horizon was, else the mean customer location
   of its region), of the order's estimated hours, needing the order's skill, to start within
   the shift. For every order, day of its window and qualified technician working that day, the
   cheapest feasible insertion into the technician's route
   (:func:`~quantlib.ops.routing.schedule_route`: windows, lunch, shift + overtime) gives the
   added drive minutes and overtime.
3. **Which day and technician.** A CP-SAT model over (order, day, technician) picks at most one
   slot per order: it maximises the visits placed, weighted by risk (``2 - health``, so the
   lower health is served first when capacity is short), minus the added travel and overtime
   cost (and, with ``delay_cost_per_day``, a cost per day of delay times the risk); the visits
   given to a technician must fit the free minutes of the day (shift + overtime minus the
   booked route's drive, service and lunch).
4. **Confirming the day.** The routing engine re-plans each chosen day with the booked jobs
   required and the chosen visits as optional jobs whose drop penalty grows with risk,
   warm-started from the base routes with the visits inserted (the re-plan may give a visit to
   another qualified technician of the day than the one CP-SAT had in mind). Of the solved plan
   and the warm start (as timed by ``schedule_route``), those that validate and keep every
   booked job the base plan served are compared: more of the chosen visits served, then less
   drive. A visit the day could not take loses that day, and the next round (steps 2-4 against
   the routes now planned, the visits already placed required) tries its other days.

Only the days some window covers are planned. A booked job the base plan already could not
serve (an overbooked day) stays in that plan's ``dropped`` with its reason: the visits do not
cause it. An order without a slot says why: ``no qualified technician`` (nobody working in the
window has the skill), ``no room in window`` (no qualified route takes the visit anywhere, or
the re-plans dropped it on every day), ``rounds exhausted`` or ``window outside the planning
horizon``.

:meth:`MaintenanceSchedule.validate` checks the result without the solver:
:meth:`~quantlib.ops.plan.RoutePlan.validate` of every day (skills, windows, shifts, lunch,
travel times), every booked job of the base plan still served, and every visit inside its
order's window with a technician holding the skill.

:func:`naive_schedule` is the baseline of the rule it replaces: the first day of the window,
the qualified technician nearest the unit, the visit appended after the route's last job.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from quantlib.data.gold import as_of_date, open_gold
from quantlib.errors import DropReason, QuantError
from quantlib.ops.plan import DroppedJob, RoutePlan, end_key, hhmm, job_key, start_key
from quantlib.ops.problem import Job, RoutingProblem, Technician, WarehouseDayOptions, problem_from_warehouse
from quantlib.ops.routing import (
    CAPACITY_REASON,
    SolverSettings,
    insert_unserved,
    problem_matrix,
    schedule_route,
    solve,
)
from quantlib.ops.travel import TravelMatrix

__all__ = ["MaintenanceSchedule", "MaintenanceScheduleError", "ORDER_COLUMNS", "SLOT_COLUMNS", "naive_schedule",
           "schedule_maintenance", "visit_id"]

#: Columns :func:`schedule_maintenance` needs in ``orders`` (the store's work orders have them).
ORDER_COLUMNS = ("id", "equipment_id", "health", "window_start", "window_end", "skill", "estimated_hours")
#: Columns of :attr:`MaintenanceSchedule.slots`.
SLOT_COLUMNS = ("order_id", "equipment_id", "health", "skill", "estimated_hours", "window_start", "window_end",
                "status", "date", "technician_id", "arrival", "start_minute", "added_drive_minutes", "reason")
NO_TECHNICIAN = "no qualified technician"
NO_ROOM = "no room in window"
OUTSIDE_HORIZON = "window outside the planning horizon"


class MaintenanceScheduleError(QuantError, ValueError):
    """The work orders cannot be scheduled as given (a missing column, a unit gold does not know)."""


def visit_id(order_id) -> str:
    """The job id of an order's visit in a day's routing problem."""
    return f"WO{order_id}"


@dataclass
class MaintenanceSchedule:
    """The slot of every order and the day plans they were placed in.

    Attributes
    ----------
    slots : DataFrame
        One row per order (:data:`SLOT_COLUMNS`), lowest health first: ``status`` ``scheduled``
        with ``date``, ``technician_id``, ``arrival`` (HH:MM), ``start_minute`` and
        ``added_drive_minutes`` (drive to and from the visit minus the leg it replaces, in the
        final route), or ``unscheduled`` with the ``reason``.
    plans : dict of date to RoutePlan
        The final plan of each day of the horizon some window covers (the base plan where
        nothing was added).
    base_plans : dict of date to RoutePlan
        The booked jobs alone, as first planned.
    problems : dict of date to RoutingProblem
        Each day's booked jobs (required) and every visit that may go on that day.
    stats : dict
        ``seconds``, ``rounds``, ``days`` (planned), ``drive_minutes_base``, ``drive_minutes_final``.
    """

    slots: pd.DataFrame
    plans: dict
    base_plans: dict
    problems: dict
    travel: dict
    stats: dict = field(default_factory=dict)

    def validate(self) -> list[str]:
        """Every broken rule, checked from the problems and the travel matrices, not the solver.

        Each day's plan against its own rules (:meth:`RoutePlan.validate`); every booked job the
        base plan served still served that day; every scheduled visit on a day inside its
        order's window, on the route of the technician named, who holds the order's skill.
        Empty when the schedule is sound.
        """
        problems = []
        for day, plan in self.plans.items():
            problems += [f"{day}: [{v.kind}] {v.message}" for v in plan.validate()]
            served = set(plan.assignment())
            booked = {v.job_id for r in self.base_plans[day].routes for v in r.visits}
            problems += [f"{day}: booked job {j} no longer served" for j in sorted(booked - served)]
        for row in self.slots[self.slots["status"] == "scheduled"].itertuples(index=False):
            day = row.date
            if not (pd.Timestamp(row.window_start).date() <= day <= pd.Timestamp(row.window_end).date()):
                problems.append(f"order {row.order_id}: {day} is outside its window "
                                f"{row.window_start}..{row.window_end}")
            plan = self.plans.get(day)
            if plan is None or plan.assignment().get(visit_id(row.order_id)) != row.technician_id:
                problems.append(f"order {row.order_id}: not on {row.technician_id}'s route of {day}")
                continue
            tech = plan.problem.technician(row.technician_id)
            if row.skill not in tech.skills:
                problems.append(f"order {row.order_id}: {row.technician_id} lacks skill {row.skill}")
        return problems


# ----------------------------------------------------------------------------- inputs

def _check_orders(orders: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise MaintenanceScheduleError(f"work orders lack column(s) {', '.join(missing)}")
    twice = orders["id"][orders["id"].duplicated()]
    if not twice.empty:
        raise MaintenanceScheduleError(f"work order id {twice.iloc[0]} appears twice")
    out = orders.loc[:, list(ORDER_COLUMNS)].copy()
    out["window_start"] = pd.to_datetime(out["window_start"]).dt.date
    out["window_end"] = pd.to_datetime(out["window_end"]).dt.date
    bad = out[out["window_end"] < out["window_start"]]
    if not bad.empty:
        raise MaintenanceScheduleError(f"work order {bad['id'].iloc[0]}: window_end is before window_start")
    return out.sort_values(["health", "id"], ignore_index=True)


def _unit_places(con, units: list[str], before: dt.date) -> dict[str, tuple[float, float]]:
    """Where each unit is: the site of its last job before ``before``, else its region's mean customer location."""
    rows = con.execute("""
        SELECT e.equipment_id,
               arg_max(c.lat, j.scheduled_start) AS lat, arg_max(c.lon, j.scheduled_start) AS lon,
               any_value(r.lat) AS region_lat, any_value(r.lon) AS region_lon
        FROM equipment e
        LEFT JOIN jobs j ON j.equipment_id = e.equipment_id AND j.scheduled_start::DATE < ?
        LEFT JOIN customers c ON c.customer_id = j.customer_id
        LEFT JOIN (SELECT region, avg(lat) AS lat, avg(lon) AS lon FROM customers GROUP BY region) r
               ON r.region = e.region
        WHERE list_contains(?, e.equipment_id)
        GROUP BY e.equipment_id
    """, [before, units]).fetchall()
    places = {}
    for unit, lat, lon, rlat, rlon in rows:
        if lat is not None:
            places[unit] = (float(lat), float(lon))
        elif rlat is not None:
            places[unit] = (float(rlat), float(rlon))
    unknown = sorted(set(units) - set(places))
    if unknown:
        raise MaintenanceScheduleError(f"equipment_id {', '.join(unknown)}: not in gold's equipment (or no location)")
    return places


def _booked_day(con, day: dt.date, opts: WarehouseDayOptions, pin_booked: bool) -> RoutingProblem:
    problem = problem_from_warehouse(con, day, opts)
    techs = {t.id for t in problem.technicians}
    booked_with = {}
    if pin_booked:
        booked_with = dict(con.execute("SELECT job_id, technician_id FROM jobs WHERE scheduled_start::DATE = ?",
                                       [day]).fetchall())
    jobs = []
    for j in problem.jobs:
        tech = booked_with.get(j.id)
        # a booking whose technician is not working that day (leave, roster) stays unpinned, still required
        pin = tech if tech in techs else None
        jobs.append(j.model_copy(update={"required": True, "pinned_technician": pin}))
    return problem.replace(jobs=tuple(jobs))


# ----------------------------------------------------------------------------- insertion

def _route_seq(plan: RoutePlan, problem: RoutingProblem) -> dict[str, list[str]]:
    routes = {t.id: [] for t in problem.technicians}
    for r in plan.routes:
        routes[r.technician_id] = [v.job_id for v in r.visits]
    return routes


def _overtime(t: Technician, return_time: int) -> int:
    return max(0, return_time - (t.shift_start + t.shift_minutes))


def _best_insertion(t: Technician, seq: list[Job], visit: Job, tm: TravelMatrix) -> tuple[float, int, int] | None:
    """Cheapest feasible place of ``visit`` in ``t``'s route ``seq``: (added drive min, added overtime, position)."""
    keys = [start_key(t.id)] + [job_key(j.id) for j in seq] + [end_key(t.id)]
    now = schedule_route(t, seq, tm)
    if now is None:  # the base route itself does not time (should not happen for a valid plan)
        return None
    best = None
    v = job_key(visit.id)
    for pos in range(len(seq) + 1):
        added = tm.time(keys[pos], v) + tm.time(v, keys[pos + 1]) - tm.time(keys[pos], keys[pos + 1])
        if best is not None and added >= best[0]:
            continue
        route = schedule_route(t, seq[:pos] + [visit] + seq[pos:], tm)
        if route is not None:
            best = (added, _overtime(t, route.return_time) - _overtime(t, now.return_time), pos)
    return best


def _free_minutes(t: Technician, seq: list[Job], tm: TravelMatrix) -> int:
    """Minutes of the day not taken by the route's drive, service and lunch (shift + overtime)."""
    keys = [start_key(t.id)] + [job_key(j.id) for j in seq] + [end_key(t.id)]
    drive = sum(math.ceil(tm.time(a, b) - 1e-9) for a, b in zip(keys, keys[1:])) if seq else 0
    lunch = t.break_minutes if seq else 0
    return t.latest_end - t.departure - drive - sum(j.duration for j in seq) - lunch


def _drive_minutes(plan: RoutePlan) -> float:
    """Drive minutes of every route (RoutePlan.kpis needs a technician on the day; a Sunday may have none)."""
    total = 0.0
    for r in plan.routes:
        keys = [start_key(r.technician_id)] + [job_key(v.job_id) for v in r.visits] + [end_key(r.technician_id)]
        total += sum(plan.travel.time(a, b) for a, b in zip(keys, keys[1:])) if r.visits else 0.0
    return total


def _added_drive(plan: RoutePlan, jid: str) -> float | None:
    tm = plan.travel
    for r in plan.routes:
        ids = [v.job_id for v in r.visits]
        if jid in ids:
            k = ids.index(jid)
            keys = [start_key(r.technician_id)] + [job_key(i) for i in ids] + [end_key(r.technician_id)]
            prev, here, nxt = keys[k], keys[k + 1], keys[k + 2]
            return tm.time(prev, here) + tm.time(here, nxt) - tm.time(prev, nxt)
    return None


def _timed_plan(problem: RoutingProblem, routes: dict[str, list[str]], tm: TravelMatrix,
                stats: dict) -> RoutePlan | None:
    """A plan of ``routes`` as :func:`schedule_route` times them; None when one does not fit."""
    jobs = {j.id: j for j in problem.jobs}
    timed = []
    for t in problem.technicians:
        ids = routes.get(t.id, [])
        if not ids:
            continue
        route = schedule_route(t, [jobs[i] for i in ids], tm)
        if route is None:
            return None
        timed.append(route)
    served = {i for ids in routes.values() for i in ids}
    dropped = [DroppedJob(j.id, CAPACITY_REASON, DropReason.CAPACITY) for j in problem.jobs if j.id not in served]
    return RoutePlan(problem, tm, timed, dropped, stats)


# ----------------------------------------------------------------------------- the assignment

def _assign(candidates: list[dict], free: dict[tuple, int], objective, seconds: float) -> dict:
    """CP-SAT: at most one (day, technician) per order within the free minutes; order id -> candidate."""
    model = cp_model.CpModel()
    x = [model.NewBoolVar(f"x{k}") for k in range(len(candidates))]
    by_order: dict = {}
    by_slot: dict = {}
    for k, c in enumerate(candidates):
        by_order.setdefault(c["order"], []).append(k)
        by_slot.setdefault((c["day"], c["tech"]), []).append(k)
    for ks in by_order.values():
        model.AddAtMostOne(x[k] for k in ks)
    for slot, ks in by_slot.items():
        model.Add(sum(x[k] * (candidates[k]["duration"] + math.ceil(max(candidates[k]["drive"], 0.0)))
                      for k in ks) <= max(free[slot], 0))
    # placing a visit is worth far more than any travel it adds, more the riskier the unit
    terms = []
    for k, c in enumerate(candidates):
        cost = (objective.travel_cost_per_minute * c["drive"] + c["overtime"] * c["overtime_rate"]
                + c["delay_cost"])
        terms.append(x[k] * int(round(100 * (10_000 * (2 - c["health"]) - cost))))
    model.Maximize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {}
    return {candidates[k]["order"]: candidates[k] for k in range(len(candidates)) if solver.Value(x[k])}


def schedule_maintenance(source, orders: pd.DataFrame, start=None, days: int = 14,
                         options: WarehouseDayOptions | None = None, settings: SolverSettings | None = None,
                         pin_booked: bool = True, default_hours: float = 2.0, max_rounds: int = 5,
                         assign_seconds: float = 10.0, delay_cost_per_day: float = 0.0) -> MaintenanceSchedule:
    """Place each work order's visit on a day of its window, around the booked jobs.

    Parameters
    ----------
    source
        Gold (a lake, its folder, a connection; see :func:`quantlib.data.gold.open_gold`).
    orders : DataFrame
        Open work orders with :data:`ORDER_COLUMNS` (``id``, ``equipment_id``, ``health``,
        ``window_start``, ``window_end``, ``skill``, ``estimated_hours``), e.g.
        :func:`~quantlib.maintenance.health.work_orders` ``(status="open")``.
    start : date, optional
        First day of the horizon; default the earliest window start.
    days : int
        Days in the horizon; a window's days outside it are not used.
    options : WarehouseDayOptions, optional
        How a day is built from gold (shift, overtime, lunch, windows of the booked jobs).
    settings : SolverSettings, optional
        The routing search of each day (default 2 s, 500 solutions, OR-Tools' reproducible stop).
    pin_booked : bool
        Keep each booked job with the technician gold books it on (when working that day);
        otherwise the booked jobs stay required but may change technician.
    default_hours : float
        Time on site of an order without ``estimated_hours``.
    max_rounds : int
        Rounds of assignment and confirmation (a visit a day could not take tries its other days).
    assign_seconds : float
        Time limit of each CP-SAT assignment.
    delay_cost_per_day : float
        Money per day after the window start, times the unit's failure risk (``1 - health``),
        added to a slot's cost; 0 (default) weighs only the added travel and overtime.

    Returns
    -------
    MaintenanceSchedule

    Raises
    ------
    MaintenanceScheduleError
        A column missing in ``orders``, a window ending before it starts, a unit not in gold.
    """
    tic = time.perf_counter()
    opts = options or WarehouseDayOptions()
    settings = settings or SolverSettings(time_limit_seconds=2.0, solution_limit=500)
    todo = _check_orders(orders)
    with open_gold(source) as con:
        if start is not None:
            first = pd.Timestamp(start).date()
        else:  # nothing to place: the day after gold's as-of date
            first = min(todo["window_start"]) if len(todo) else as_of_date(con) + dt.timedelta(days=1)
        horizon = [first + dt.timedelta(days=k) for k in range(max(int(days), 1))]
        window_days = {o.id: [d for d in horizon if o.window_start <= d <= o.window_end]
                       for o in todo.itertuples(index=False)}
        # only the days some window covers are planned (a day no visit may take is left as booked)
        active = sorted({d for ds in window_days.values() for d in ds})
        places = _unit_places(con, sorted(set(todo["equipment_id"])), first) if len(todo) else {}
        booked = {d: _booked_day(con, d, opts, pin_booked) for d in active}
    visits = {}
    for o in todo.itertuples(index=False):
        hours = o.estimated_hours if pd.notna(o.estimated_hours) else default_hours
        lat, lon = places[o.equipment_id]
        visits[o.id] = Job(id=visit_id(o.id), lat=lat, lon=lon, duration=max(1, int(round(hours * 60))),
                           skills=frozenset({o.skill}), window_start=opts.shift_start,
                           window_end=opts.shift_start + opts.shift_minutes,
                           revenue=1000.0 * (2 - float(o.health)), customer_id=str(o.equipment_id))
    problems, travel, base_plans, plans = {}, {}, {}, {}
    for d in active:
        maybe = tuple(visits[i] for i, ds in window_days.items() if d in ds)
        problems[d] = booked[d].replace(jobs=booked[d].jobs + maybe)
        travel[d] = problem_matrix(problems[d])
        base_plans[d] = solve(booked[d], settings, travel=travel[d])
        plans[d] = base_plans[d]
    health = dict(zip(todo["id"], todo["health"]))
    placed: dict = {}  # order id -> day
    options_left = {i: set(ds) for i, ds in window_days.items()}
    qualified_somewhere = {i: any(visits[i].skills <= t.skills for d in ds for t in booked[d].technicians)
                           for i, ds in window_days.items()}
    rounds, open_places = 0, set()
    for rounds in range(1, max_rounds + 1):
        candidates, free = [], {}
        for i in (i for i in todo["id"] if i not in placed):
            for d in sorted(options_left[i]):
                plan, tm = plans[d], travel[d]
                seqs = _route_seq(plan, problems[d])
                jobs = {j.id: j for j in problems[d].jobs}
                for t in problems[d].technicians:
                    if not visits[i].skills <= t.skills:
                        continue
                    seq = [jobs[j] for j in seqs[t.id]]
                    fit = _best_insertion(t, seq, visits[i], tm)
                    if fit is None:
                        continue
                    free.setdefault((d, t.id), _free_minutes(t, seq, tm))
                    candidates.append({"order": i, "day": d, "tech": t.id, "drive": fit[0], "overtime": fit[1],
                                       "overtime_rate": t.overtime_cost_per_minute, "health": health[i],
                                       "delay_cost": delay_cost_per_day * (1 - health[i])
                                       * (d - window_days[i][0]).days,
                                       "duration": visits[i].duration})
        chosen = _assign(candidates, free, opts.objective, assign_seconds) if candidates else {}
        # a round that places nothing ends it: every visit left has no feasible place in the routes now planned
        open_places = {c["order"] for c in candidates}
        if not chosen:
            break
        for d in sorted({c["day"] for c in chosen.values()}):
            new = {i for i, c in chosen.items() if c["day"] == d}
            keep = {i for i, day in placed.items() if day == d}
            day_jobs = [j for j in booked[d].jobs] + [visits[i].model_copy(update={"required": True}) for i in keep]
            day_jobs += [visits[i] for i in new]
            day_problem = problems[d].replace(jobs=tuple(day_jobs))
            warm = insert_unserved(day_problem, _route_seq(plans[d], problems[d]), travel[d], seconds=2.0)
            solved = solve(day_problem, settings, travel=travel[d], initial_routes=warm)
            inserted = _timed_plan(day_problem, warm, travel[d], {"engine": "insertion"})
            must = {v.job_id for r in base_plans[d].routes for v in r.visits} | {visit_id(i) for i in keep}

            def score(plan):
                if plan is None or plan.validate() or not must <= set(plan.assignment()):
                    return None
                return (-sum(visit_id(i) in plan.assignment() for i in new), _drive_minutes(plan))

            ranked = [p for p in (solved, inserted) if score(p) is not None]
            if not ranked:
                options_left.update({i: options_left[i] - {d} for i in new})
                continue
            best = min(ranked, key=score)
            plans[d] = best
            for i in new:
                if visit_id(i) in best.assignment():
                    placed[i] = d
                else:
                    options_left[i] = options_left[i] - {d}
    rows = []
    for o in todo.itertuples(index=False):
        row = {"order_id": o.id, "equipment_id": o.equipment_id, "health": o.health, "skill": o.skill,
               "estimated_hours": visits[o.id].duration / 60, "window_start": o.window_start,
               "window_end": o.window_end, "status": "unscheduled", "date": None, "technician_id": None,
               "arrival": None, "start_minute": np.nan, "added_drive_minutes": np.nan, "reason": None}
        if o.id in placed:
            d = placed[o.id]
            visit = plans[d].visit(visit_id(o.id))
            row.update({"status": "scheduled", "date": d, "technician_id": plans[d].assignment()[visit_id(o.id)],
                        "arrival": hhmm(visit.arrival), "start_minute": visit.start,
                        "added_drive_minutes": _added_drive(plans[d], visit_id(o.id))})
        elif not window_days[o.id]:
            row["reason"] = OUTSIDE_HORIZON
        elif o.id in open_places and rounds == max_rounds:
            row["reason"] = (f"rounds exhausted: {max_rounds} round(s) of day re-plans did not keep it; "
                             "a place may still exist (raise max_rounds)")
        elif not qualified_somewhere[o.id]:
            row["reason"] = f"{NO_TECHNICIAN}: none working in the window has skill {o.skill}"
        else:
            row["reason"] = f"{NO_ROOM}: no qualified technician's route has room for {row['estimated_hours']:.1f} h"
        rows.append(row)
    stats = {"seconds": time.perf_counter() - tic, "rounds": rounds, "days": len(active),
             "drive_minutes_base": sum(_drive_minutes(p) for p in base_plans.values()),
             "drive_minutes_final": sum(_drive_minutes(p) for p in plans.values())}
    return MaintenanceSchedule(pd.DataFrame(rows, columns=list(SLOT_COLUMNS)), plans, base_plans, problems, travel,
                               stats)


def naive_schedule(schedule: MaintenanceSchedule) -> pd.DataFrame:
    """The baseline rule on the same base plans: the first day of the window in the horizon, the
    qualified technician nearest the unit, the visit appended after the route's last job.

    Returns
    -------
    DataFrame
        :data:`SLOT_COLUMNS`; an order is unscheduled when that technician cannot take the visit
        at the end of the route (shift + overtime, lunch) or no one qualified works that day.
        Orders sharing a technician-day are appended one after the other, lowest health first.
    """
    routes = {d: _route_seq(p, schedule.problems[d]) for d, p in schedule.base_plans.items()}
    rows = []
    for o in schedule.slots.itertuples(index=False):
        row = {c: getattr(o, c) for c in ("equipment_id", "health", "skill", "estimated_hours", "window_start",
                                          "window_end")}
        row.update({"order_id": o.order_id, "status": "unscheduled", "date": None, "technician_id": None,
                    "arrival": None, "start_minute": np.nan, "added_drive_minutes": np.nan, "reason": None})
        days = [d for d in schedule.problems if o.window_start <= d <= o.window_end]
        if not days:
            row["reason"] = OUTSIDE_HORIZON
            rows.append(row)
            continue
        d = days[0]
        problem, tm = schedule.problems[d], schedule.travel[d]
        jobs = {j.id: j for j in problem.jobs}
        vid = visit_id(o.order_id)
        skilled = [t for t in problem.technicians if o.skill in t.skills]
        if not skilled:
            row["reason"] = f"{NO_TECHNICIAN}: none working on {d} has skill {o.skill}"
            rows.append(row)
            continue
        t = min(skilled, key=lambda t: (tm.time(start_key(t.id), job_key(vid)), t.id))
        ids = routes[d][t.id] + [vid]
        route = schedule_route(t, [jobs[i] for i in ids], tm)
        if route is None:
            row["reason"] = f"{NO_ROOM}: {t.id}'s route of {d} has no room at its end"
        else:
            routes[d][t.id] = ids
            keys = [start_key(t.id)] + [job_key(i) for i in ids] + [end_key(t.id)]
            prev, here, nxt = keys[-3], keys[-2], keys[-1]
            row.update({"status": "scheduled", "date": d, "technician_id": t.id,
                        "arrival": hhmm(route.visits[-1].arrival), "start_minute": route.visits[-1].start,
                        "added_drive_minutes": tm.time(prev, here) + tm.time(here, nxt) - tm.time(prev, nxt)})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SLOT_COLUMNS))
