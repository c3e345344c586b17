"""RoutePlan: a day's routes, checked independently of the solver, with KPIs.

:meth:`RoutePlan.validate` re-derives every constraint from the problem and the travel matrix
(it never looks at the solver): technicians and jobs exist, each job served at most once and
every job either served or dropped with a reason, skills, equipment, pins of started jobs,
start / end locations, departure not before the technician is free, travel times between
consecutive stops, service start inside the window (hard windows), the shift plus overtime,
the lunch break (in its window, not overlapping work, room for it between stops), the van's
capacity (when it has one).

A re-plan (:func:`quantlib.ops.reroute.reroute`) may have to solve a *relaxed* problem (a
lunch window that closed before the re-plan, a job that started outside its window, a lock
whose technician went home): the plan then keeps the problem as given in
``original_problem`` and one :class:`Relaxation` per relaxed rule in ``relaxations``.
:meth:`RoutePlan.validate` checks the rules as given, never the relaxed ones, and marks each
violation a relaxation explains with that relaxation's :class:`~quantlib.errors.RelaxReason`.

KPIs (:meth:`RoutePlan.kpis`, :meth:`RoutePlan.technician_table`): drive minutes and miles,
cost (travel, fuel, overtime, lateness, balance), revenue served, utilisation (minutes on
site / regular shift minutes), lateness, jobs dropped by reason code (:class:`~quantlib.errors.DropReason`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from quantlib.errors import DropReason, QuantError, RelaxReason
from quantlib.ops.problem import RoutingProblem
from quantlib.ops.travel import TravelMatrix

# Times are whole minutes; the travel matrix is in float minutes and the solver rounds each
# leg up, so a plan may only be *slower* than the matrix. A tiny tolerance absorbs float noise.
_EPS = 1e-6


@dataclass
class Visit:
    """One job on a route: arrival at the customer, start and end of service (minutes)."""

    job_id: str
    arrival: int
    start: int
    end: int


@dataclass
class Route:
    """One technician's day: departure, the visits in order, return, the break."""

    technician_id: str
    departure: int
    return_time: int
    visits: list[Visit] = field(default_factory=list)
    break_start: int | None = None
    start_location: tuple[float, float] | None = None
    end_location: tuple[float, float] | None = None


@dataclass
class DroppedJob:
    """A job left out of the plan: the human ``reason`` and its ``reason_code`` (what reports count)."""

    job_id: str
    reason: str
    reason_code: DropReason

    def __post_init__(self) -> None:
        self.reason_code = DropReason(self.reason_code)  # a plain code string is accepted; a typo is not


@dataclass
class Violation:
    """One broken constraint; ``relaxation`` is the code of the relaxation that explains it, if any."""

    kind: str
    message: str
    technician_id: str | None = None
    job_id: str | None = None
    relaxation: RelaxReason | None = None


@dataclass(frozen=True)
class Relaxation:
    """A rule the planner relaxed to find a plan: which rule, why, and whom it affected.

    ``rule`` is the :class:`Violation` kind the relaxed rule shows up as when the plan is
    checked against the rules as given (``"break"``, ``"window"``, ``"pinned"``).
    """

    rule: str
    reason_code: RelaxReason
    reason: str
    technician_ids: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason_code", RelaxReason(self.reason_code))

    def explains(self, v: Violation) -> bool:
        """Whether ``v`` breaks the rule this relaxation relaxed, for a technician or job it affected."""
        return v.kind == self.rule and ((v.job_id is not None and v.job_id in self.job_ids)
                                        or (not self.job_ids and v.technician_id in self.technician_ids))


class PlanInvalidError(QuantError, ValueError):
    """A plan broke at least one constraint; ``violations`` lists them."""

    def __init__(self, violations: list[Violation]):
        self.violations = violations
        lines = "\n".join(f"- [{v.kind}] {v.message}" for v in violations[:20])
        more = f"\n... and {len(violations) - 20} more" if len(violations) > 20 else ""
        super().__init__(f"plan has {len(violations)} violation(s):\n{lines}{more}")


def start_key(tech_id: str) -> str:
    return f"start:{tech_id}"


def end_key(tech_id: str) -> str:
    return f"end:{tech_id}"


def job_key(job_id: str) -> str:
    return f"job:{job_id}"


def hhmm(minute: int | float | None) -> str:
    if minute is None:
        return ""
    minute = int(round(minute))
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass
class RoutePlan:
    """Routes for a :class:`~quantlib.ops.problem.RoutingProblem`, with the matrix they were planned on.

    ``problem`` is what the solver solved; when that relaxed some rules, ``original_problem``
    is the problem with the rules as given (same technicians working, same jobs) and
    ``relaxations`` says which rules were relaxed and why. :meth:`validate` checks
    ``original_problem`` (``problem`` when there is none); KPIs are of ``problem``.
    """

    problem: RoutingProblem
    travel: TravelMatrix
    routes: list[Route]
    dropped: list[DroppedJob]
    stats: dict = field(default_factory=dict)
    relaxations: list[Relaxation] = field(default_factory=list)
    original_problem: RoutingProblem | None = None

    @property
    def rules(self) -> RoutingProblem:
        """The problem with the rules as given: what :meth:`validate` checks."""
        return self.original_problem if self.original_problem is not None else self.problem

    # ------------------------------------------------------------------ lookups
    def route(self, tech_id: str) -> Route:
        for r in self.routes:
            if r.technician_id == tech_id:
                return r
        raise KeyError(tech_id)

    def assignment(self) -> dict[str, str]:
        """job id -> technician id of every served job."""
        return {v.job_id: r.technician_id for r in self.routes for v in r.visits}

    def visit(self, job_id: str) -> Visit | None:
        for r in self.routes:
            for v in r.visits:
                if v.job_id == job_id:
                    return v
        return None

    # ------------------------------------------------------------------ validation
    def validate(self) -> list[Violation]:
        """Every broken constraint of the rules as given (empty list: the plan is valid).

        Checks :attr:`rules` (the original problem, not a relaxed one); a violation that one of
        :attr:`relaxations` explains carries its code in ``relaxation`` and says so.
        """
        out = self._violations(self.rules)
        for v in out:
            for relaxed in self.relaxations:
                if relaxed.explains(v):
                    v.relaxation = relaxed.reason_code
                    v.message = f"{v.message} (rule relaxed: {relaxed.reason_code.value})"
                    break
        return out

    def _violations(self, p: RoutingProblem) -> list[Violation]:
        tm = self.travel
        out: list[Violation] = []
        techs = {t.id: t for t in p.technicians}
        jobs = {j.id: j for j in p.jobs}
        seen_tech: Counter = Counter(r.technician_id for r in self.routes)
        for tid, n in seen_tech.items():
            if tid not in techs:
                out.append(Violation("unknown_technician", f"route for unknown technician {tid}", tid))
            elif n > 1:
                out.append(Violation("duplicate_route", f"technician {tid} has {n} routes", tid))
        served = Counter(v.job_id for r in self.routes for v in r.visits)
        dropped = Counter(d.job_id for d in self.dropped)
        for jid in set(served) | set(dropped):
            if jid not in jobs:
                out.append(Violation("unknown_job", f"job {jid} is not in the problem", job_id=jid))
            elif served[jid] + dropped[jid] > 1:
                out.append(Violation("job_repeated",
                                     f"job {jid} is served {served[jid]} time(s) and dropped {dropped[jid]} time(s)",
                                     job_id=jid))
        for jid in jobs:
            if served[jid] + dropped[jid] == 0:
                out.append(Violation("job_lost", f"job {jid} is neither served nor dropped", job_id=jid))
        for d in self.dropped:
            if not d.reason or not d.reason.strip() or not isinstance(d.reason_code, DropReason):
                out.append(Violation("drop_without_reason", f"job {d.job_id} is dropped without a reason "
                                                            "(and its reason code)", job_id=d.job_id))
        for r in self.routes:
            t = techs.get(r.technician_id)
            if t is None:
                continue
            out.extend(self._check_route(r, t, jobs, tm))
        return out

    def _check_route(self, r: Route, t, jobs, tm: TravelMatrix) -> list[Violation]:
        out: list[Violation] = []
        tid = t.id

        def bad(kind, msg, job_id=None):
            out.append(Violation(kind, f"{tid}: {msg}", tid, job_id))

        if r.start_location is not None and _far(r.start_location, (t.lat, t.lon)):
            bad("start_location", f"starts at {r.start_location}, not at {(t.lat, t.lon)}")
        if r.end_location is not None and _far(r.end_location, t.end_location):
            bad("end_location", f"ends at {r.end_location}, not at {t.end_location}")
        if r.departure < t.departure:
            bad("departure", f"departs {hhmm(r.departure)}, before it is free at {hhmm(t.departure)}")
        prev_key, prev_time = start_key(tid), r.departure
        events = []  # (free from, busy from, travel minutes between) for the break check
        for v in r.visits:
            j = jobs.get(v.job_id)
            if j is None:
                continue
            key = job_key(j.id)
            if not j.skills <= t.skills:
                bad("skill", f"job {j.id} needs {sorted(j.skills - t.skills)}", j.id)
            if not j.equipment <= t.equipment:
                bad("equipment", f"job {j.id} needs equipment {sorted(j.equipment - t.equipment)} the van lacks",
                    j.id)
            if j.pinned_technician is not None and j.pinned_technician != tid:
                bad("pinned", f"job {j.id} is pinned to {j.pinned_technician}", j.id)
            if j.pinned_start is not None and v.start != j.pinned_start:
                bad("pinned", f"started job {j.id} moved from {hhmm(j.pinned_start)} to {hhmm(v.start)}", j.id)
            leg = tm.time(prev_key, key)
            if v.arrival + _EPS < prev_time + leg:
                bad("travel_time", f"arrives at {j.id} {hhmm(v.arrival)}, but leaving at {hhmm(prev_time)} "
                                   f"takes {leg:.1f} min", j.id)
            if v.start < v.arrival:
                bad("start_before_arrival", f"starts {j.id} at {hhmm(v.start)} before arriving {hhmm(v.arrival)}", j.id)
            if v.start < j.window_start:
                bad("window", f"starts {j.id} at {hhmm(v.start)}, before its window opens {hhmm(j.window_start)}",
                    j.id)
            if j.hard_window and v.start > j.window_end:
                bad("window", f"starts {j.id} at {hhmm(v.start)}, after its window closed {hhmm(j.window_end)}",
                    j.id)
            if v.end != v.start + j.duration:
                bad("duration", f"job {j.id} takes {v.end - v.start} min, not {j.duration}", j.id)
            events.append((prev_time, v.start, leg))
            prev_key, prev_time = key, v.end
        leg = tm.time(prev_key, end_key(tid))
        if r.return_time + _EPS < prev_time + leg:
            bad("travel_time", f"back at {hhmm(r.return_time)}, but leaving at {hhmm(prev_time)} takes {leg:.1f} min")
        events.append((prev_time, r.return_time, leg))
        if t.capacity is not None:
            load = sum(jobs[v.job_id].demand for v in r.visits if v.job_id in jobs)
            if load > t.capacity:
                bad("capacity", f"carries {load}, more than the van's capacity {t.capacity}")
        if r.return_time > t.latest_end:
            bad("shift", f"works until {hhmm(r.return_time)}, past shift + overtime end {hhmm(t.latest_end)}")
        if r.visits and t.break_minutes > 0:
            out.extend(self._check_break(r, t, events))
        return out

    def _check_break(self, r: Route, t, events) -> list[Violation]:
        tid = t.id
        b = r.break_start
        if b is None:
            return [Violation("break", f"{tid}: no lunch break", tid)]
        out = []
        e = b + t.break_minutes
        if not t.break_earliest <= b <= t.break_latest:
            out.append(Violation("break", f"{tid}: break at {hhmm(b)} outside {hhmm(t.break_earliest)}-"
                                          f"{hhmm(t.break_latest)}", tid))
        if e <= r.departure or b >= r.return_time:
            return out  # before leaving or after coming home: no work overlaps it
        for v in r.visits:
            if b < v.end and v.start < e:
                out.append(Violation("break", f"{tid}: break {hhmm(b)}-{hhmm(e)} overlaps job {v.job_id}",
                                     tid, v.job_id))
                return out
        for free_from, busy_from, leg in events:
            if free_from <= b and e <= busy_from:
                if busy_from - free_from + _EPS < leg + t.break_minutes:
                    out.append(Violation("break", f"{tid}: no room for the {t.break_minutes}-min break and "
                                                  f"{leg:.1f} min of driving between {hhmm(free_from)} and "
                                                  f"{hhmm(busy_from)}", tid))
                return out
        out.append(Violation("break", f"{tid}: break {hhmm(b)}-{hhmm(e)} overlaps work", tid))
        return out

    def raise_if_invalid(self) -> "RoutePlan":
        """Raise :class:`PlanInvalidError` listing the violations; return self when valid."""
        violations = self.validate()
        if violations:
            raise PlanInvalidError(violations)
        return self

    def relaxations_frame(self) -> pd.DataFrame:
        """One row per relaxed rule: ``rule, reason_code, reason, technician_ids, job_ids`` (ids comma-joined)."""
        return pd.DataFrame(
            [{"rule": r.rule, "reason_code": r.reason_code.value, "reason": r.reason,
              "technician_ids": ", ".join(r.technician_ids), "job_ids": ", ".join(r.job_ids)}
             for r in self.relaxations],
            columns=["rule", "reason_code", "reason", "technician_ids", "job_ids"])

    # ------------------------------------------------------------------ KPIs
    def technician_table(self) -> pd.DataFrame:
        """One row per technician: jobs, drive minutes and miles, on-site minutes, day, overtime, utilisation."""
        p, tm = self.problem, self.travel
        jobs = {j.id: j for j in p.jobs}
        rows = []
        for t in p.technicians:
            try:
                r = self.route(t.id)
            except KeyError:
                r = Route(t.id, t.departure, t.departure)
            keys = [start_key(t.id)] + [job_key(v.job_id) for v in r.visits] + [end_key(t.id)]
            drive = sum(tm.time(a, b) for a, b in zip(keys, keys[1:])) if r.visits else 0.0
            miles = sum(tm.distance(a, b) for a, b in zip(keys, keys[1:])) if r.visits else 0.0
            on_site = sum(v.end - v.start for v in r.visits)
            late = sum(max(0, v.start - jobs[v.job_id].window_end) for v in r.visits
                       if v.job_id in jobs and not jobs[v.job_id].hard_window)
            late_cost = sum(max(0, v.start - jobs[v.job_id].window_end) * jobs[v.job_id].lateness_cost_per_minute
                            for v in r.visits if v.job_id in jobs and not jobs[v.job_id].hard_window)
            worked_end = r.return_time if r.visits else t.shift_start
            overtime = max(0, worked_end - t.shift_start - t.shift_minutes)
            rows.append({
                "technician_id": t.id, "name": t.name, "jobs": len(r.visits),
                "departure": hhmm(r.departure) if r.visits else "", "return": hhmm(r.return_time) if r.visits else "",
                "drive_minutes": drive, "drive_miles": miles, "on_site_minutes": float(on_site),
                "day_minutes": float(r.return_time - r.departure) if r.visits else 0.0,
                "overtime_minutes": float(overtime), "late_minutes": float(late),
                "utilisation": on_site / t.shift_minutes,
                "revenue": sum(jobs[v.job_id].revenue for v in r.visits if v.job_id in jobs),
                "travel_cost": drive * p.objective.travel_cost_per_minute,
                "fuel_cost": miles * p.objective.fuel_cost_per_mile,
                "overtime_cost": overtime * t.overtime_cost_per_minute,
                "lateness_cost": late_cost,
            })
        return pd.DataFrame(rows)

    def visits_frame(self) -> pd.DataFrame:
        """One row per visit in route order, with locations and times (for maps and timelines)."""
        jobs = {j.id: j for j in self.problem.jobs}
        rows = []
        for r in self.routes:
            for k, v in enumerate(r.visits, start=1):
                j = jobs.get(v.job_id)
                rows.append({
                    "technician_id": r.technician_id, "stop": k, "job_id": v.job_id,
                    "lat": j.lat if j else None, "lon": j.lon if j else None,
                    "arrival": v.arrival, "start": v.start, "end": v.end,
                    "window_start": j.window_start if j else None, "window_end": j.window_end if j else None,
                    "late_minutes": max(0, v.start - j.window_end) if j else 0,
                    "priority": j.priority if j else None, "revenue": j.revenue if j else None,
                })
        return pd.DataFrame(rows, columns=["technician_id", "stop", "job_id", "lat", "lon", "arrival", "start",
                                           "end", "window_start", "window_end", "late_minutes", "priority",
                                           "revenue"])

    def dropped_frame(self) -> pd.DataFrame:
        jobs = {j.id: j for j in self.problem.jobs}
        return pd.DataFrame(
            [{"job_id": d.job_id, "reason_code": d.reason_code.value, "reason": d.reason,
              "priority": jobs[d.job_id].priority if d.job_id in jobs else None,
              "revenue": jobs[d.job_id].revenue if d.job_id in jobs else None} for d in self.dropped],
            columns=["job_id", "reason_code", "reason", "priority", "revenue"])

    def kpis(self) -> dict:
        """Plan totals: drive, cost, revenue, utilisation, lateness, drops by reason, re-routing moves, relaxations.

        ``rules_relaxed`` counts :attr:`relaxations` (``relaxed_by_reason`` by code).

        ``jobs_moved`` counts jobs served by another technician than their ``current_technician``;
        ``move_cost`` is that count x the objective's move cost (part of ``objective``, not of
        ``operating_cost``: it prices disruption, not money spent).
        """
        p = self.problem
        tt = self.technician_table()
        used = tt[tt["jobs"] > 0]
        routes_used = [r for r in self.routes if r.visits]
        if routes_used:
            span = max(r.return_time for r in routes_used) - min(r.departure for r in routes_used)
        else:
            span = 0
        balance = span * p.objective.balance_cost_per_minute
        operating = float(tt[["travel_cost", "fuel_cost", "overtime_cost", "lateness_cost"]].sum().sum())
        penalties = sum(p.objective.drop_penalty(p.job(d.job_id)) for d in self.dropped
                        if d.job_id in {j.id for j in p.jobs})
        reasons = Counter(d.reason_code.value for d in self.dropped)
        tech_ids = {t.id for t in p.technicians}
        jobs_by_id = {j.id: j for j in p.jobs}
        moved = sum(1 for r in self.routes for v in r.visits if v.job_id in jobs_by_id
                    and jobs_by_id[v.job_id].current_technician in tech_ids
                    and p.objective.moves(jobs_by_id[v.job_id], r.technician_id))
        move_cost = moved * p.objective.move_cost
        return {
            "jobs": len(p.jobs), "jobs_served": int(tt["jobs"].sum()), "jobs_dropped": len(self.dropped),
            "dropped_by_reason": dict(reasons),
            "technicians": len(p.technicians), "technicians_used": int(len(used)),
            "drive_minutes": float(tt["drive_minutes"].sum()), "drive_miles": float(tt["drive_miles"].sum()),
            "on_site_minutes": float(tt["on_site_minutes"].sum()),
            "overtime_minutes": float(tt["overtime_minutes"].sum()),
            "late_minutes": float(tt["late_minutes"].sum()),
            "late_jobs": int(sum(1 for r in self.routes for v in r.visits
                                 if not p.job(v.job_id).hard_window and v.start > p.job(v.job_id).window_end)),
            "utilisation": float(tt["on_site_minutes"].sum() / max(1, sum(t.shift_minutes for t in p.technicians))),
            "utilisation_of_used": (float(used["on_site_minutes"].sum()
                                          / sum(p.technician(t).shift_minutes for t in used["technician_id"]))
                                    if len(used) else 0.0),
            "revenue_served": float(tt["revenue"].sum()),
            "travel_cost": float(tt["travel_cost"].sum()), "fuel_cost": float(tt["fuel_cost"].sum()),
            "overtime_cost": float(tt["overtime_cost"].sum()), "lateness_cost": float(tt["lateness_cost"].sum()),
            "operating_cost": operating, "balance_cost": balance, "drop_penalty": float(penalties),
            "jobs_moved": moved, "move_cost": float(move_cost),
            "rules_relaxed": len(self.relaxations),
            "relaxed_by_reason": dict(Counter(r.reason_code.value for r in self.relaxations)),
            "objective": operating + balance + float(penalties) + float(move_cost),
        }


def _far(a, b, tol: float = 1e-6) -> bool:
    return abs(a[0] - b[0]) > tol or abs(a[1] - b[1]) > tol
