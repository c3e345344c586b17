"""Live re-routing: re-plan the rest of the day from the current state after events.

:func:`reroute` takes the plan in force, the time now and a list of events:

* :class:`Cancel` - a customer cancels a job not yet started;
* :class:`AddEmergency` - a new job, inserted as an emergency (soft window from now, high drop
  penalty);
* :class:`TechnicianSick` - a technician goes home: their jobs not yet done (a started one too)
  go back into the pool;
* :class:`Delay` - a technician runs late by N minutes (their started job takes longer, or they
  are free later);
* :class:`Lock` - the dispatcher locks a job to a technician: this re-plan and every later one
  keep it there (the lock goes when that technician goes home sick).

Jobs stay with their technician unless moving one pays: every job carries its technician in
the plan in force (``current_technician``) and serving it by another one costs
``RerouteSettings.move_cost`` in the objective.

The current state is read from the plan at ``now`` (or overridden per technician by
:class:`TechnicianState`, e.g. from GPS / the mobile app): jobs that ended by ``now`` are done
and leave the problem; a job under way is *started*: pinned to its technician at its start
time (the technician's day continues from that job's location); a technician between stops
continues from where they are at ``now`` (on the straight line between the last stop and the
next one, in proportion to the drive's planned time; or the given position), free from ``now``;
a break already taken (or under way) is not owed again.

The rest of the day is re-solved warm-started from the remaining routes, and
:class:`RerouteResult` reports what changed: moved jobs, new ETAs, dropped jobs with reasons,
the cost delta (rest-of-day cost and drop penalties, before vs after) and the seconds it took;
a dropped job's row carries the solver's ``reason`` and its ``reason_code``
(:class:`~quantlib.errors.DropReason`), a moved job's row why it moved and its code
(:class:`~quantlib.errors.MoveReason`: technician sick, locked, made room for an emergency,
technician delayed, no room left on its route, cheaper by $X in travel).

Some rules cannot hold for the rest of the day and the re-plan relaxes them: a lunch window
that closed before ``now`` with no break taken (lunch is owed from now on), a job under way
that runs past the lunch window (lunch right after it), a job under way that started outside
its time window (its start is kept), a lock whose technician has gone home (released). The new
plan lists each in ``relaxations`` (:class:`~quantlib.ops.plan.Relaxation`, with a
:class:`~quantlib.errors.RelaxReason`) and keeps the rest of the day with the rules as given
in ``original_problem``, which its ``validate()`` checks: a relaxed rule shows up as a
violation marked with its relaxation. A later re-plan starts from those rules as given, not
from the relaxed ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Union

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quantlib.errors import MoveReason, QuantError, RelaxReason
from quantlib.ops.plan import Relaxation, RoutePlan, end_key, hhmm, job_key, start_key
from quantlib.ops.problem import Job, RoutingProblem, Technician
from quantlib.ops.routing import SolverSettings, problem_matrix, schedule_route, solve
from quantlib.ops.travel import MatrixProvider

#: Default cost of moving a job to another technician (money units): 40 minutes of driving at $0.50.
DEFAULT_MOVE_COST = 20.0


class Cancel(BaseModel):
    kind: Literal["cancel"] = "cancel"
    job_id: str


class AddEmergency(BaseModel):
    """A new job; it becomes an emergency with a soft window [now, now + response_minutes]."""

    kind: Literal["emergency"] = "emergency"
    job: Job
    response_minutes: int = Field(120, gt=0)
    lateness_cost_per_minute: float = Field(5.0, ge=0)


class Lock(BaseModel):
    """The dispatcher locks a job to a technician: no re-plan moves it (from this one on)."""

    kind: Literal["lock"] = "lock"
    job_id: str
    technician_id: str


class TechnicianSick(BaseModel):
    kind: Literal["sick"] = "sick"
    technician_id: str


class Delay(BaseModel):
    kind: Literal["delay"] = "delay"
    technician_id: str
    minutes: int = Field(gt=0)


Event = Union[Cancel, AddEmergency, TechnicianSick, Delay, Lock]


class RerouteSettings(SolverSettings):
    """Search settings of a re-plan (:class:`~quantlib.ops.routing.SolverSettings`) and its move cost.

    ``move_cost`` is what moving a job to another technician costs in the objective (money
    units per moved job): a re-plan moves a job only when the move saves more than this
    (in travel, overtime, lateness or drop penalties). Jobs of a technician off sick carry
    no move cost; locked jobs never move.
    """

    move_cost: float = Field(DEFAULT_MOVE_COST, ge=0, description="Objective cost per job moved to another technician")


class TechnicianState(BaseModel):
    """What the field reports about a technician (overrides what the plan implies)."""

    model_config = ConfigDict(frozen=True)

    technician_id: str
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    done: tuple[str, ...] | None = None
    started: str | None = None
    started_at: int | None = None
    break_taken: bool | None = None


class RerouteError(QuantError, ValueError):
    """An event that cannot apply (unknown job, a job already done, ...)."""


@dataclass
class RerouteResult:
    """The re-plan of the rest of the day and what changed."""

    now: int
    before: RoutePlan
    after: RoutePlan
    done: dict[str, list[str]]
    started: dict[str, str]
    changes: pd.DataFrame
    cost_before: float
    cost_after: float
    seconds: float
    events: list = field(default_factory=list)

    @property
    def cost_delta(self) -> float:
        return self.cost_after - self.cost_before

    @property
    def moved(self) -> list[str]:
        """Jobs now with another technician."""
        return list(self.changes.loc[self.changes["change"] == "moved", "job_id"])

    @property
    def moves(self) -> pd.DataFrame:
        """The moved jobs: technician before and after, the ``reason`` and its ``reason_code`` (:class:`MoveReason`)."""
        rows = self.changes[self.changes["change"] == "moved"]
        return rows[["job_id", "technician_before", "technician_after", "reason", "reason_code"]].reset_index(drop=True)

    def summary(self) -> dict:
        counts = self.changes["change"].value_counts().to_dict()
        return {"now": self.now, "seconds": self.seconds, "cost_before": self.cost_before,
                "cost_after": self.cost_after, "cost_delta": self.cost_delta, "changes": counts,
                "moved": len(self.moved),
                "moved_by_reason": self.moves["reason_code"].value_counts().to_dict(),
                "rules_relaxed": len(self.after.relaxations),
                "relaxed_by_reason": self.after.kpis()["relaxed_by_reason"],
                "valid": not self.after.validate()}


def _rest_cost(plan: RoutePlan, moves: bool = False) -> float:
    k = plan.kpis()
    return k["operating_cost"] + k["drop_penalty"] + (k["move_cost"] if moves else 0.0)


def current_state(plan: RoutePlan, now: int, states: list[TechnicianState] | None = None):
    """Done jobs, started jobs and each technician's residual (position, free-from, break) at ``now``."""
    overrides = {s.technician_id: s for s in (states or [])}
    done: dict[str, list[str]] = {}
    started: dict[str, tuple[str, int]] = {}
    residual: dict[str, dict] = {}
    jobs = {j.id: j for j in plan.problem.jobs}
    for t in plan.problem.technicians:
        try:
            r = plan.route(t.id)
            visits = r.visits
        except KeyError:
            r, visits = None, []
        s = overrides.get(t.id)
        if s is not None and s.done is not None:
            done[t.id] = list(s.done)
        else:
            done[t.id] = [v.job_id for v in visits if v.end <= now]
        if s is not None and s.started is not None:
            started[t.id] = (s.started, s.started_at if s.started_at is not None else now)
        elif s is None or s.done is None:
            for v in visits:
                if v.start <= now < v.end:
                    started[t.id] = (v.job_id, v.start)
        pos = (t.lat, t.lon)
        last = [v for v in visits if v.job_id in set(done[t.id])]
        if last and last[-1].job_id in jobs:
            j = jobs[last[-1].job_id]
            pos = (j.lat, j.lon)
        if r is not None and t.id not in started and (s is None or s.done is None):
            pos = _on_the_road(plan, r, now, pos)
        if s is not None and s.lat is not None and s.lon is not None:
            pos = (s.lat, s.lon)
        free = max(now, t.departure)
        break_taken = False
        if r is not None and r.break_start is not None and r.break_start < now and visits:
            break_taken = True
            free = max(free, r.break_start + t.break_minutes)
        if s is not None and s.break_taken is not None:
            break_taken = s.break_taken
        residual[t.id] = {"pos": pos, "free": free, "break_taken": break_taken}
    return done, started, residual


def _on_the_road(plan: RoutePlan, r, now: int, pos: tuple[float, float]) -> tuple[float, float]:
    """Where a technician between stops is at ``now``: on the straight line from the last stop to the next.

    The drive to the next stop (or home) leaves when it must to arrive as planned (arrival -
    travel minutes; any wait is spent at the next stop). Before it leaves the technician is
    at ``pos``, the last stop; once it arrives, at the next stop.
    """
    jobs = {j.id: j for j in plan.problem.jobs}
    prev_key, prev_pos = start_key(r.technician_id), r.start_location or pos
    for v in r.visits:
        if v.end <= now:
            prev_key, prev_pos = job_key(v.job_id), (jobs[v.job_id].lat, jobs[v.job_id].lon)
            continue
        nxt_key, nxt_pos, arrival = job_key(v.job_id), (jobs[v.job_id].lat, jobs[v.job_id].lon), v.arrival
        break
    else:
        if not r.visits:
            return pos
        nxt_key, nxt_pos, arrival = end_key(r.technician_id), r.end_location or pos, r.return_time
    leave = arrival - plan.travel.time(prev_key, nxt_key)
    if now <= leave:
        return prev_pos
    if now >= arrival:
        return nxt_pos
    share = (now - leave) / (arrival - leave)
    return (prev_pos[0] + share * (nxt_pos[0] - prev_pos[0]), prev_pos[1] + share * (nxt_pos[1] - prev_pos[1]))


def reroute(plan: RoutePlan, now: int, events: list[Event] = (), states: list[TechnicianState] | None = None,
            settings: SolverSettings | None = None, provider: MatrixProvider | None = None) -> RerouteResult:
    """Re-plan the rest of the day after ``events``, keeping done and started jobs fixed.

    Parameters
    ----------
    plan : RoutePlan
        The plan in force (its problem is the day's problem).
    now : int
        Minutes after midnight.
    events : list of Cancel, AddEmergency, TechnicianSick, Delay
    states : list of TechnicianState, optional
        Field reports overriding what the plan implies (position, done / started jobs, break).
    settings : RerouteSettings or SolverSettings, optional
        Default: guided local search for 2 s, warm-started from the remaining routes, and a
        move cost of :data:`DEFAULT_MOVE_COST` per job moved to another technician (plain
        :class:`SolverSettings` get that default too).
    provider : MatrixProvider, optional
        Travel-matrix provider (default great circle).

    Returns
    -------
    RerouteResult
        Its ``after`` plan lists the rules relaxed (``relaxations``) and keeps the rules as
        given (``original_problem``), which its ``validate()`` checks.
    """
    tic = time.perf_counter()
    settings = settings or RerouteSettings(time_limit_seconds=2.0)
    move_cost = settings.move_cost if isinstance(settings, RerouteSettings) else DEFAULT_MOVE_COST
    problem = plan.problem
    # Start from the rules as given (a plan from an earlier re-plan solved a relaxed problem):
    # the technicians still working and the jobs of the plan, each with its rules as given.
    rules = plan.rules
    everyone = {t.id: t for t in rules.technicians}
    given_jobs = {j.id: j for j in rules.jobs}
    jobs = {j.id: given_jobs.get(j.id, j) for j in problem.jobs}
    techs = {t.id: everyone.get(t.id, t) for t in problem.technicians}
    everyone = {**techs, **everyone}
    done, started, residual = current_state(plan, now, states)
    done_ids = {jid for ids in done.values() for jid in ids}
    sick: set[str] = set()
    cancelled: set[str] = set()
    delays: dict[str, int] = {}
    locks: dict[str, str] = {}
    new_jobs: list[Job] = []
    for ev in events:
        if isinstance(ev, Cancel):
            if ev.job_id not in jobs:
                raise RerouteError(f"cancel: job {ev.job_id!r} is not in the plan")
            if ev.job_id in done_ids:
                raise RerouteError(f"cancel: job {ev.job_id!r} is already done")
            if any(jid == ev.job_id for jid, _ in started.values()):
                raise RerouteError(f"cancel: job {ev.job_id!r} has started")
            cancelled.add(ev.job_id)
        elif isinstance(ev, AddEmergency):
            if ev.job.id in jobs or any(j.id == ev.job.id for j in new_jobs):
                raise RerouteError(f"emergency: job id {ev.job.id!r} already exists")
            new_jobs.append(ev.job.model_copy(update={
                "priority": "emergency", "hard_window": False, "window_start": now,
                "window_end": now + ev.response_minutes, "lateness_cost_per_minute": ev.lateness_cost_per_minute}))
        elif isinstance(ev, TechnicianSick):
            if ev.technician_id not in techs:
                raise RerouteError(f"sick: technician {ev.technician_id!r} is not in the plan")
            sick.add(ev.technician_id)
        elif isinstance(ev, Delay):
            if ev.technician_id not in techs:
                raise RerouteError(f"delay: technician {ev.technician_id!r} is not in the plan")
            delays[ev.technician_id] = delays.get(ev.technician_id, 0) + ev.minutes
        elif isinstance(ev, Lock):
            if ev.job_id not in jobs:
                raise RerouteError(f"lock: job {ev.job_id!r} is not in the plan")
            if ev.technician_id not in techs:
                raise RerouteError(f"lock: technician {ev.technician_id!r} is not in the plan")
            if ev.job_id in done_ids or any(jid == ev.job_id for jid, _ in started.values()):
                raise RerouteError(f"lock: job {ev.job_id!r} is done or under way")
            locks[ev.job_id] = ev.technician_id
        else:
            raise RerouteError(f"unknown event {ev!r}")

    def residual_problem(apply_events: bool):
        """The rest of the day: (rules as given, relaxed problem solved, relaxations, warm-start routes).

        Both problems hold the same state (positions, done and started jobs, delays, events); the
        relaxed one differs only in the rules listed in the relaxations.
        """
        given_techs: list[Technician] = []
        out_techs: list[Technician] = []
        given_jobs: list[Job] = []
        out_jobs: list[Job] = []
        relaxed: list[Relaxation] = []
        pinned: dict[str, str] = {}
        for tid, t in techs.items():
            if apply_events and tid in sick:
                continue
            res = residual[tid]
            update = {"break_minutes": 0 if res["break_taken"] else t.break_minutes}
            extra = delays.get(tid, 0) if apply_events else 0
            if tid in started:
                jid, at = started[tid]
                j = jobs[jid]
                pinned[jid] = tid
                as_given = j.model_copy(update={"pinned_technician": tid, "pinned_start": at,
                                                "duration": j.duration + extra})
                given_jobs.append(as_given)
                # Its start is a fact: a window it started outside of is widened to it.
                out_jobs.append(as_given.model_copy(update={
                    "window_start": min(j.window_start, at), "window_end": max(j.window_end, at)}))
                if at < j.window_start or (j.hard_window and at > j.window_end):
                    relaxed.append(Relaxation(
                        "window", RelaxReason.STARTED_OUTSIDE_WINDOW,
                        f"job {jid} started at {hhmm(at)}, outside its window {hhmm(j.window_start)}-"
                        f"{hhmm(j.window_end)}: the re-plan keeps its start", (tid,), (jid,)))
                update.update(lat=j.lat, lon=j.lon, available_from=at)
            else:
                update.update(lat=res["pos"][0], lon=res["pos"][1], available_from=res["free"] + extra)
            if t.end_lat is None:
                update.update(end_lat=t.lat, end_lon=t.lon)
            as_given_tech = t.model_copy(update=update)
            given_techs.append(as_given_tech)
            lunch = {}
            if not res["break_taken"] and t.break_minutes > 0:
                # A break not taken yet is owed from now on; a job under way through the lunch
                # window pushes lunch to right after it.
                earliest = max(t.break_earliest, now)
                latest = max(t.break_latest, earliest)
                if tid in started:
                    job_end = started[tid][1] + jobs[started[tid][0]].duration + extra
                    latest = max(latest, job_end)
                if earliest > t.break_latest:
                    relaxed.append(Relaxation(
                        "break", RelaxReason.BREAK_WINDOW_PASSED,
                        f"{tid}'s lunch window {hhmm(t.break_earliest)}-{hhmm(t.break_latest)} closed before the "
                        f"re-plan at {hhmm(now)} with no break taken: lunch is owed from {hhmm(now)}", (tid,)))
                elif latest > t.break_latest:
                    relaxed.append(Relaxation(
                        "break", RelaxReason.BREAK_AFTER_STARTED_JOB,
                        f"{tid}'s job under way ({started[tid][0]}) ends at {hhmm(job_end)}, after the latest lunch "
                        f"start {hhmm(t.break_latest)}: lunch may start until {hhmm(latest)}", (tid,)))
                lunch = {"break_earliest": earliest, "break_latest": latest}
            out_techs.append(as_given_tech.model_copy(update=lunch))
        tech_ids = {t.id for t in out_techs}
        gone: list[str] = []
        for j in jobs.values():
            if j.id in done_ids or j.id in pinned or (apply_events and j.id in cancelled):
                continue
            update = {}
            if apply_events:
                # Where it is now (no move cost once its technician is gone), and a new lock.
                holder = assignment.get(j.id)
                update["current_technician"] = holder if holder in tech_ids else None
                if j.id in locks:
                    update["pinned_technician"] = locks[j.id]
            as_given = j.model_copy(update=update)
            given_jobs.append(as_given)
            holder = as_given.pinned_technician
            if holder is not None and holder not in tech_ids:
                # Its technician has gone home: a started job goes back into the pool; a lock is released.
                update.update(pinned_technician=None, pinned_start=None)
                if as_given.pinned_start is None:
                    relaxed.append(Relaxation(
                        "pinned", RelaxReason.LOCKED_TECHNICIAN_GONE,
                        f"job {j.id} was locked to {holder}, who has gone home: the lock is released",
                        (holder,), (j.id,)))
                    if holder not in gone:
                        gone.append(holder)
                else:
                    given_jobs[-1] = j.model_copy(update=update)
            out_jobs.append(j.model_copy(update=update))
        if apply_events:
            out_jobs += new_jobs
            given_jobs += new_jobs
        keep = {j.id for j in out_jobs}
        routes = {r.technician_id: [jid for jid in ([started[r.technician_id][0]] if r.technician_id in started
                                                  else []) + [v.job_id for v in r.visits]
                                   if jid in keep and (jid not in done_ids)]
                  for r in plan.routes if r.technician_id in tech_ids}
        for tid in routes:  # keep order, drop duplicates of the started job
            seen: set[str] = set()
            routes[tid] = [x for x in routes[tid] if not (x in seen or seen.add(x))]
        objective = problem.objective.model_copy(update={"move_cost": move_cost if apply_events else 0.0})
        # The rules as given keep a released lock, so they keep the technician it names (no route).
        given = RoutingProblem(technicians=tuple(given_techs) + tuple(everyone[g] for g in gone if g in everyone),
                               jobs=tuple(given_jobs), objective=objective, day=problem.day)
        solved = RoutingProblem(technicians=tuple(out_techs), jobs=tuple(out_jobs), objective=objective,
                                day=problem.day)
        return given, solved, relaxed, routes

    assignment = plan.assignment()
    before_rules, before_problem, before_relaxed, before_routes = residual_problem(apply_events=False)
    after_rules, after_problem, after_relaxed, warm_routes = residual_problem(apply_events=True)
    # Two searches share the time budget: one warm-started from the remaining routes (stable:
    # few moves), one from scratch (a warm start can sit in a local optimum where an emergency
    # only fits after several moves). The cheaper plan wins; ties go to the warm start.
    half = settings.model_copy(update={"time_limit_seconds": settings.time_limit_seconds / 2})
    travel = problem_matrix(after_problem, provider)
    warm = solve(after_problem, half, travel=travel, initial_routes=warm_routes)
    cold = solve(after_problem, half, travel=travel)
    # Compared on the plans' own costs (the solver's objective is missing when routes were timed
    # directly), the move cost included: a search from scratch moves many jobs for small savings.
    after = warm if _rest_cost(warm, moves=True) <= _rest_cost(cold, moves=True) else cold
    after.stats["search"] = "warm start" if after is warm else "from scratch"
    after.original_problem, after.relaxations = after_rules, after_relaxed
    seconds = time.perf_counter() - tic
    # The rest of the day as it stood: same search from the plan's routes, no events (a
    # baseline for the cost delta, not timed).
    before = _replay(before_problem, before_routes, provider)
    before.original_problem, before.relaxations = before_rules, before_relaxed
    changes = _changes(plan, after, now, done, started, cancelled, sick, {j.id for j in new_jobs}, locks, delays)
    return RerouteResult(now, before, after, done, {t: s[0] for t, s in started.items()}, changes,
                         _rest_cost(before), _rest_cost(after), seconds, list(events))


def _replay(problem: RoutingProblem, routes: dict[str, list[str]], provider) -> RoutePlan:
    """The remaining routes as planned (OR-Tools' warm start, no search beyond the first solution)."""
    # OR-Tools, not PyVRP: its first solution from a warm start is the given routes, timed.
    settings = SolverSettings(time_limit_seconds=1.0, solution_limit=1, solver="ortools")
    return solve(problem, settings, provider, initial_routes=routes)


def _move_reason(jid: str, was: str, now_with: str, after: RoutePlan, sick, new, locks,
                 delays) -> tuple[MoveReason, str]:
    """Why ``jid`` moved from technician ``was`` to ``now_with`` (code and message)."""
    # The dispatcher's lock is the more specific reason (it also names where the job went).
    if locks.get(jid) == now_with:
        return MoveReason.LOCKED, f"locked to {now_with} by the dispatcher"
    if was in sick:
        return MoveReason.TECHNICIAN_SICK, f"technician {was} off sick"
    try:
        route = after.route(was)
    except KeyError:
        return MoveReason.CHEAPER, "cheaper overall, the move cost included"
    room_for = [v.job_id for v in route.visits if v.job_id in new]
    if room_for:
        return MoveReason.MADE_ROOM_FOR_EMERGENCY, f"made room for emergency {', '.join(room_for)} on {was}'s route"
    if was in delays:
        return MoveReason.TECHNICIAN_DELAYED, f"technician {was} delayed {delays[was]} min"
    # What keeping it would cost: the cheapest feasible place on its technician's new route
    # versus what it adds where it went (travel and fuel; the move cost is not money spent).
    p, tm = after.problem, after.travel
    jobs = {j.id: j for j in p.jobs}
    job = jobs[jid]
    obj = p.objective

    def leg(a: str, b: str) -> float:
        return obj.travel_cost_per_minute * tm.time(a, b) + obj.fuel_cost_per_mile * tm.distance(a, b)

    def added(tid: str, ids: list[str]) -> float:
        keys = [start_key(tid)] + [job_key(i) for i in ids] + [end_key(tid)]
        return [leg(keys[k], job_key(jid)) + leg(job_key(jid), keys[k + 1]) - leg(keys[k], keys[k + 1])
                for k in range(len(ids) + 1)]

    ids = [v.job_id for v in route.visits]
    t = p.technician(was)
    keep = [c for k, c in enumerate(added(was, ids))
            if schedule_route(t, [jobs[i] for i in ids[:k]] + [job] + [jobs[i] for i in ids[k:]], tm) is not None]
    if not keep:
        return MoveReason.NO_ROOM, f"no longer fits {was}'s rest of the day (windows, shift, break)"
    others = [v.job_id for v in after.route(now_with).visits if v.job_id != jid]
    saving = min(keep) - min(added(now_with, others))
    if saving >= 0.5:
        return MoveReason.CHEAPER, f"cheaper by ${saving:,.0f} in travel than on {was}'s route"
    return MoveReason.CHEAPER, "cheaper overall, the move cost included (this move alone saves no travel)"


def _changes(before: RoutePlan, after: RoutePlan, now: int, done, started, cancelled, sick, new,
             locks=None, delays=None) -> pd.DataFrame:
    locks, delays = locks or {}, delays or {}
    b_assign = before.assignment()
    a_assign = after.assignment()
    a_drop = {d.job_id: d for d in after.dropped}
    rows = []
    ids = [j.id for j in before.problem.jobs] + sorted(new)
    done_ids = {jid for v in done.values() for jid in v}
    started_ids = {s[0] for s in started.values()}
    for jid in ids:
        bv = before.visit(jid)
        av = after.visit(jid)
        if jid in done_ids:
            change = "done"
        elif jid in cancelled:
            change = "cancelled"
        elif jid in a_drop:
            change = "dropped" if jid in b_assign or jid in new else "still dropped"
        elif jid in new:
            change = "new"
        elif jid in started_ids:
            change = "started"
        elif jid not in b_assign:
            change = "added"
        elif b_assign[jid] != a_assign.get(jid):
            change = "moved"
        elif bv is not None and av is not None and bv.arrival != av.arrival:
            change = "new eta"
        else:
            change = "same"
        if change == "moved":
            move_code, move_reason = _move_reason(jid, b_assign[jid], a_assign[jid], after, sick, new, locks, delays)
        rows.append({
            "job_id": jid, "change": change,
            "technician_before": b_assign.get(jid), "technician_after": a_assign.get(jid),
            "eta_before": bv.arrival if bv else None, "eta_after": av.arrival if av else None,
            "start_before": bv.start if bv else None, "start_after": av.start if av else None,
            "eta_shift_minutes": (av.arrival - bv.arrival) if (av and bv and change not in ("done",)) else None,
            "reason": a_drop[jid].reason if jid in a_drop else (move_reason if change == "moved" else ""),
            # What a dropped (DropReason) or moved (MoveReason) job's reason is counted as; None otherwise.
            "reason_code": (a_drop[jid].reason_code.value if jid in a_drop
                            else move_code.value if change == "moved" else None),
        })
    return pd.DataFrame(rows)
