"""Weekly scheduling: assign the week's jobs to technicians and days with CP-SAT.

The problem (:class:`WeeklyProblem`) is plain data: technicians (skills, certification level,
hourly rate, weekly hours, home base, available days), jobs (skill = service line, minimum
certification, hours, location, revenue, the days it may be done on, the day the customer
asked for, the customer's preferred technician) and the labour rules. Technicians and jobs are
:class:`quantlib.ops.problem.Technician` and :class:`quantlib.ops.problem.Job`, the models
the daily router uses too (a job's hours are its ``duration`` in minutes / 60, its urgency is
its ``priority``). :func:`solve_week`
returns a :class:`WeeklyPlan`; :meth:`WeeklyPlan.validate` re-checks every constraint from the
problem's raw fields, independently of the model the solver saw.

Hard constraints
----------------
* a job is done at most once, by a technician who has its skill and at least its
  certification level, on a day the technician is available and inside the job's day window;
* per technician and day: service hours + travel hours <= ``daily_max_hours``;
* per technician and week: service + travel hours <= ``weekly_hours + weekly_overtime_hours``;
* rest: at most ``max_days_per_week`` working days, and at most ``max_consecutive_days``
  working days in a row (within the planned week; the previous week is not known here);
  ``min_rest_hours`` between days holds by construction (days start at the same hour, so a
  day within ``daily_max_hours`` leaves ``24 - daily_max_hours`` of rest; rules that break it
  are rejected when :class:`LabourRules` is made).

Travel at the weekly level is the one-way distance from the technician's home base to the
job (great circle x road factor, at ``speed_mph``): the leg a visit adds to a day's route,
without knowing the route. The daily router refines it.

Objective (maximised), the product spec's weights, each term normalised to [-1, 1]
-----------------------------------------------------------------------------------
* travel (0.25): ``- miles / D``, ``D`` = sum over jobs of the longest eligible trip
  (the worst any plan could do), so serving every job by its farthest technician costs 1;
* utilisation (0.30): ``+ hours / C``, ``C`` = the technicians' hours available in the week,
  i.e. the week's utilisation (service hours / hours available);
* customer satisfaction (0.25): ``+ p (0.5 [preferred technician] + 0.5 [requested day]) / S``,
  ``p`` = 1.5 for priority customers else 1 (a job without a preferred technician counts
  as matched), ``S`` = sum of ``p`` (every job served by its preferred technician on its day = 1);
* profit (0.20): ``+ (revenue - material - hourly rate x hours - 0.35 $/mile - 0.5 $/min
  of driving) / P``, ``P`` = sum over jobs of their best positive profit.

Serving comes first: leaving a job out costs ``urgency weight x customer weight`` (routine 1,
urgent 2, emergency 4; priority customer x 1.5) times the scale of the whole weighted score,
so the solver never drops a job it can fit to improve the score; the weights decide who does
a job and when. Coefficients are integers (the weighted score x ``SCALE``), so CP-SAT, the
greedy baseline and the brute-force test optimise exactly the same number.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantlib.errors import DropReason
from quantlib.ops.problem import DAYS, Job, Technician, roster_days
from quantlib.ops.travel import haversine_miles

__all__ = [
    "LabourRules", "ObjectiveWeights", "WeeklyProblem", "WeeklyPlan",
    "solve_week", "greedy_week", "week_problem_from_gold", "haversine_miles",
]

#: Integer scale of the weighted score in the CP-SAT objective.
SCALE = 100_000
URGENCY_WEIGHT = {"routine": 1.0, "urgent": 2.0, "emergency": 4.0}
PRIORITY_CUSTOMER_WEIGHT = 1.5


class LabourRules(BaseModel):
    """Labour rules of the week (hours, rest)."""

    model_config = ConfigDict(extra="forbid")

    daily_max_hours: float = Field(10.0, gt=0, le=24, description="service + travel hours a day (8 + 2 overtime)")
    weekly_overtime_hours: float = Field(0.0, ge=0, description="hours allowed above a technician's weekly hours")
    max_days_per_week: int = Field(5, ge=1, le=7, description="working days a week")
    max_consecutive_days: int = Field(5, ge=1, le=7, description="working days in a row")
    min_rest_hours: float = Field(11.0, ge=0, le=24, description="rest between two working days")

    @model_validator(mode="after")
    def _rest_fits(self) -> "LabourRules":
        # Days start at the same hour, so a day of at most daily_max_hours leaves
        # 24 - daily_max_hours of rest before the next one: the rule holds by construction.
        if self.daily_max_hours > 24 - self.min_rest_hours + 1e-9:
            raise ValueError(f"daily_max_hours {self.daily_max_hours:g} leaves less than min_rest_hours "
                             f"{self.min_rest_hours:g} of rest between days")
        return self


class ObjectiveWeights(BaseModel):
    """Weights of the normalised objective terms (the product spec's defaults)."""

    model_config = ConfigDict(extra="forbid")

    travel: float = Field(0.25, ge=0)
    utilisation: float = Field(0.30, ge=0)
    satisfaction: float = Field(0.25, ge=0)
    profit: float = Field(0.20, ge=0)


@dataclass
class WeeklyProblem:
    """The week to plan: technicians, jobs, labour rules and objective weights."""

    week_start: dt.date
    technicians: list[Technician]
    jobs: list[Job]
    rules: LabourRules = field(default_factory=LabourRules)
    weights: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    road_factor: float = 1.35
    speed_mph: float = 28.0
    cost_per_mile: float = 0.35
    cost_per_minute: float = 0.5

    def __post_init__(self) -> None:
        # Day windows and positive durations are checked when a Job is made.
        ids = [t.id for t in self.technicians]
        if len(set(ids)) != len(ids):
            raise ValueError("technicians: duplicate technician id")
        jids = [j.id for j in self.jobs]
        if len(set(jids)) != len(jids):
            raise ValueError("jobs: duplicate job id")
        lat_t = np.array([t.lat for t in self.technicians], dtype=float)
        lon_t = np.array([t.lon for t in self.technicians], dtype=float)
        lat_j = np.array([j.lat for j in self.jobs], dtype=float)
        lon_j = np.array([j.lon for j in self.jobs], dtype=float)
        #: miles[j, t]: one-way road miles from technician t's home base to job j.
        self.miles = haversine_miles(lat_j[:, None], lon_j[:, None], lat_t[None, :], lon_t[None, :]) * self.road_factor
        self.travel_hours = self.miles / self.speed_mph
        self._coef: dict | None = None

    # ------------------------------------------------------------------ eligibility
    def capacity_hours(self, t: int) -> float:
        """Hours technician ``t`` can work this week under the rules."""
        tech, r = self.technicians[t], self.rules
        days = min(len(tech.available_days), r.max_days_per_week)
        return min(tech.weekly_hours + r.weekly_overtime_hours, days * r.daily_max_hours)

    def options(self, j: int) -> list[tuple[int, int]]:
        """The (technician, day) pairs job ``j`` may be given to."""
        job = self.jobs[j]
        out = []
        for t, tech in enumerate(self.technicians):
            if not job.skills <= tech.skills or tech.certification < job.min_certification:
                continue
            if self.load_minutes(j, t) > self.limit_minutes(t)[0]:
                continue
            out.extend((t, d) for d in range(job.earliest_day, job.latest_day + 1) if d in tech.available_days)
        return out

    def unassignable_reason(self, j: int) -> tuple[DropReason, str] | None:
        """Why job ``j`` cannot be assigned to anyone (code and message), or None when some option exists."""
        job = self.jobs[j]
        skilled = [t for t, tech in enumerate(self.technicians) if job.skills <= tech.skills]
        if not skilled:
            return DropReason.NO_SKILLED_TECHNICIAN, f"no technician has the skill '{job.skill}'"
        certified = [t for t in skilled if self.technicians[t].certification >= job.min_certification]
        if not certified:
            return (DropReason.NO_CERTIFIED_TECHNICIAN,
                    f"no technician with the skill '{job.skill}' has certification level >= {job.min_certification}")
        fits = [t for t in certified if self.load_minutes(j, t) <= self.limit_minutes(t)[0]]
        if not fits:
            return (DropReason.EXCEEDS_DAILY_HOURS,
                    (f"{job.hours:g} h of work plus travel exceed the daily maximum of "
                     f"{self.rules.daily_max_hours:g} h for every qualified technician"))
        window = set(range(job.earliest_day, job.latest_day + 1))
        if not any(window & set(self.technicians[t].available_days) for t in fits):
            days = ", ".join((self.week_start + dt.timedelta(days=d)).strftime("%a %d %b") for d in sorted(window))
            return DropReason.NO_AVAILABLE_DAY, f"no qualified technician is available on the allowed days ({days})"
        return None

    def load_minutes(self, j: int, t: int) -> int:
        """Service + travel minutes of job ``j`` for technician ``t``, rounded up (never under-counted)."""
        return int(np.ceil((self.jobs[j].hours + self.travel_hours[j, t]) * 60 - 1e-9))

    def limit_minutes(self, t: int) -> tuple[int, int]:
        """(daily, weekly) limits of technician ``t`` in whole minutes."""
        r = self.rules
        return (int(np.floor(r.daily_max_hours * 60 + 1e-9)),
                int(np.floor((self.technicians[t].weekly_hours + r.weekly_overtime_hours) * 60 + 1e-9)))

    # ------------------------------------------------------------------ objective
    def drop_penalty(self, j: int) -> int:
        """Integer cost of leaving job ``j`` out (dominates the whole weighted score)."""
        job = self.jobs[j]
        w = URGENCY_WEIGHT.get(job.priority, 1.0) * (PRIORITY_CUSTOMER_WEIGHT if job.priority_customer else 1.0)
        return int(round(SCALE * 2 * w))

    def profit(self, j: int, t: int) -> float:
        """Profit of technician ``t`` doing job ``j``: revenue - material - labour - travel cost."""
        job, tech = self.jobs[j], self.technicians[t]
        miles = self.miles[j, t]
        return (job.revenue - job.material_cost - tech.hourly_rate * job.hours
                - self.cost_per_mile * miles - self.cost_per_minute * self.travel_hours[j, t] * 60)

    def satisfaction(self, j: int, t: int, d: int) -> float:
        job = self.jobs[j]
        pref = job.preferred_technician is None or job.preferred_technician == self.technicians[t].id
        day = job.requested_day is None or job.requested_day == d
        return (PRIORITY_CUSTOMER_WEIGHT if job.priority_customer else 1.0) * (0.5 * pref + 0.5 * day)

    def normalisers(self) -> dict[str, float]:
        """The denominators D, C, S, P of the objective terms (see the module docstring)."""
        worst_miles, best_profit, sat = 0.0, 0.0, 0.0
        for j, job in enumerate(self.jobs):
            techs = sorted({t for t, _ in self.options(j)})
            if techs:
                worst_miles += max(self.miles[j, t] for t in techs)
                best_profit += max(0.0, max(self.profit(j, t) for t in techs))
            sat += PRIORITY_CUSTOMER_WEIGHT if job.priority_customer else 1.0
        capacity = sum(self.capacity_hours(t) for t in range(len(self.technicians)))
        return {"travel": max(worst_miles, 1e-9), "utilisation": max(capacity, 1e-9),
                "satisfaction": max(sat, 1e-9), "profit": max(best_profit, 1e-9)}

    def term_values(self, j: int, t: int, d: int) -> dict[str, float]:
        """Raw (unnormalised) contributions of one assignment to each objective term."""
        return {"travel": float(self.miles[j, t]), "utilisation": self.jobs[j].hours,
                "satisfaction": self.satisfaction(j, t, d), "profit": self.profit(j, t)}

    def coefficient(self, j: int, t: int, d: int) -> int:
        """Integer objective coefficient of job ``j`` by technician ``t`` on day ``d`` (incl. serving)."""
        if self._coef is None:
            self._coef = {"norm": self.normalisers()}
        norm, w = self._coef["norm"], self.weights
        v = self.term_values(j, t, d)
        score = (-w.travel * v["travel"] / norm["travel"] + w.utilisation * v["utilisation"] / norm["utilisation"]
                 + w.satisfaction * v["satisfaction"] / norm["satisfaction"] + w.profit * v["profit"] / norm["profit"])
        return int(round(SCALE * score)) + self.drop_penalty(j)

    def objective(self, assignment: dict[int, tuple[int, int]]) -> int:
        """Integer objective of an assignment ``{job index: (technician index, day)}`` (higher is better)."""
        return (sum(self.coefficient(j, t, d) for j, (t, d) in assignment.items())
                - sum(self.drop_penalty(j) for j in range(len(self.jobs))))


@dataclass
class WeeklyPlan:
    """A week's schedule: ``assignments`` (one row per job placed), ``unassigned`` (``reason_code``, ``reason``)."""

    problem: WeeklyProblem
    assignments: pd.DataFrame
    unassigned: pd.DataFrame
    status: str
    solve_seconds: float
    solver: str

    # ------------------------------------------------------------------ checks
    def validate(self) -> list[str]:
        """Every broken constraint, one line each (empty when the plan is feasible).

        Re-derived from the problem's raw fields (skills, certification, availability, windows,
        home bases, rules), not from the solver's model.
        """
        p, a = self.problem, self.assignments
        tech_of = {t.id: t for t in p.technicians}
        job_of = {j.id: (i, j) for i, j in enumerate(p.jobs)}
        problems = []
        counts = a["job_id"].value_counts()
        for job_id in counts[counts > 1].index:
            problems.append(f"job {job_id}: assigned {counts[job_id]} times")
        left = set(self.unassigned["job_id"]) if len(self.unassigned) else set()
        for job_id in set(a["job_id"]) & left:
            problems.append(f"job {job_id}: both assigned and listed as unassigned")
        for job_id in set(job_of) - set(a["job_id"]) - left:
            problems.append(f"job {job_id}: neither assigned nor reported as unassigned")
        loads: dict[tuple[str, int], float] = {}
        for row in a.itertuples(index=False):
            if row.job_id not in job_of:
                problems.append(f"job {row.job_id}: not in the problem")
                continue
            if row.technician_id not in tech_of:
                problems.append(f"job {row.job_id}: unknown technician {row.technician_id}")
                continue
            _, job = job_of[row.job_id]
            tech = tech_of[row.technician_id]
            day = int(row.day)
            if not job.skills <= tech.skills:
                problems.append(f"job {row.job_id}: {row.technician_id} lacks the skill '{job.skill}'")
            if tech.certification < job.min_certification:
                problems.append(f"job {row.job_id}: {row.technician_id} has certification {tech.certification} "
                                f"< {job.min_certification}")
            if day not in tech.available_days:
                problems.append(f"job {row.job_id}: {row.technician_id} is not available on day {day}")
            if not job.earliest_day <= day <= job.latest_day:
                problems.append(f"job {row.job_id}: day {day} outside its window "
                                f"[{job.earliest_day}, {job.latest_day}]")
            miles = haversine_miles(job.lat, job.lon, tech.lat, tech.lon) * p.road_factor
            loads[(tech.id, day)] = loads.get((tech.id, day), 0.0) + job.hours + miles / p.speed_mph
        r = p.rules
        eps = 1e-6
        for (tid, day), hours in sorted(loads.items()):
            if hours > r.daily_max_hours + eps:
                problems.append(f"technician {tid}: {hours:.2f} h on day {day} > daily maximum {r.daily_max_hours:g} h")
        for tid in sorted({k[0] for k in loads}):
            tech = tech_of[tid]
            week = sum(h for (t, _), h in loads.items() if t == tid)
            limit = tech.weekly_hours + r.weekly_overtime_hours
            if week > limit + eps:
                problems.append(f"technician {tid}: {week:.2f} h in the week > {limit:g} h")
            days = sorted(d for (t, d) in loads if t == tid)
            if len(days) > r.max_days_per_week:
                problems.append(f"technician {tid}: works {len(days)} days > {r.max_days_per_week} a week")
            run = longest = 0
            for d in range(DAYS):
                run = run + 1 if d in days else 0
                longest = max(longest, run)
            if longest > r.max_consecutive_days:
                problems.append(f"technician {tid}: {longest} consecutive working days > {r.max_consecutive_days}")
        return problems

    # ------------------------------------------------------------------ figures
    def assignment_indices(self) -> dict[int, tuple[int, int]]:
        jidx = {j.id: i for i, j in enumerate(self.problem.jobs)}
        tidx = {t.id: i for i, t in enumerate(self.problem.technicians)}
        return {jidx[r.job_id]: (tidx[r.technician_id], int(r.day)) for r in self.assignments.itertuples(index=False)}

    def objective(self) -> int:
        """The integer objective the solver maximised, recomputed from the assignments."""
        return self.problem.objective(self.assignment_indices())

    def objective_terms(self) -> dict[str, float]:
        """Each normalised objective term and the weighted score (without the serving penalty)."""
        p = self.problem
        norm = p.normalisers()
        raw = {"travel": 0.0, "utilisation": 0.0, "satisfaction": 0.0, "profit": 0.0}
        for j, (t, d) in self.assignment_indices().items():
            for k, v in p.term_values(j, t, d).items():
                raw[k] += v
        terms = {k: raw[k] / norm[k] for k in raw}
        w = p.weights
        terms["weighted_score"] = (-w.travel * terms["travel"] + w.utilisation * terms["utilisation"]
                                   + w.satisfaction * terms["satisfaction"] + w.profit * terms["profit"])
        return terms

    def utilisation(self) -> pd.DataFrame:
        """Per technician: jobs, service hours, travel hours, days worked, hours available, utilisation."""
        p, a = self.problem, self.assignments
        rows = []
        for t, tech in enumerate(p.technicians):
            mine = a[a["technician_id"] == tech.id]
            cap = p.capacity_hours(t)
            service = float(mine["hours"].sum())
            rows.append({"technician_id": tech.id, "name": tech.name, "region": tech.region,
                         "jobs": len(mine), "service_hours": service,
                         "travel_hours": float(mine["travel_hours"].sum()), "days_worked": mine["day"].nunique(),
                         "available_hours": cap, "utilisation": service / cap if cap > 0 else np.nan})
        return pd.DataFrame(rows)

    def kpis(self) -> dict:
        """Jobs served / dropped, hours, utilisation, travel, profit, preferred-technician and requested-day rates."""
        p, a = self.problem, self.assignments
        util = self.utilisation()
        n = len(p.jobs)
        pref = [j for j in p.jobs if j.preferred_technician]
        served_pref = a[a["job_id"].isin({j.id for j in pref})]
        return {
            "jobs": n, "jobs_assigned": len(a), "jobs_unassigned": n - len(a),
            "assigned_share": len(a) / n if n else np.nan,
            "emergencies_unassigned": int(sum(1 for j in p.jobs if j.priority == "emergency"
                                              and j.id in set(self.unassigned.get("job_id", [])))),
            "service_hours": float(a["hours"].sum()), "travel_hours": float(a["travel_hours"].sum()),
            "travel_miles": float(a["miles"].sum()),
            "available_hours": float(util["available_hours"].sum()),
            "utilisation": (float(a["hours"].sum() / util["available_hours"].sum())
                            if util["available_hours"].sum() else np.nan),
            "profit": float(a["profit"].sum()),
            "preferred_technician_rate": (float(served_pref["preferred"].mean()) if len(served_pref) else np.nan),
            "requested_day_rate": float(a["requested_day"].mean()) if len(a) else np.nan,
            "objective": self.objective(), "solve_seconds": self.solve_seconds, "status": self.status,
        }


def _plan_from(problem: WeeklyProblem, chosen: dict[int, tuple[int, int]], status: str, seconds: float,
               solver: str, dropped_reason: tuple[DropReason, str]) -> WeeklyPlan:
    """The plan of ``chosen`` ({job index: (technician index, day)}); every other job with its reason.

    ``dropped_reason`` (code, message) is the planner's reason for a job some technician still
    had room for; jobs with no option or no room get theirs from the problem and the loads.
    """
    rows = []
    for j, (t, d) in sorted(chosen.items()):
        job, tech = problem.jobs[j], problem.technicians[t]
        rows.append({
            "job_id": job.id, "technician_id": tech.id, "day": d,
            "date": problem.week_start + dt.timedelta(days=d), "skill": job.skill, "urgency": job.priority,
            "customer_id": job.customer_id, "hours": job.hours, "travel_hours": float(problem.travel_hours[j, t]),
            "miles": float(problem.miles[j, t]), "revenue": job.revenue, "profit": problem.profit(j, t),
            "preferred": job.preferred_technician == tech.id if job.preferred_technician else None,
            "requested_day": job.requested_day is None or job.requested_day == d,
        })
    columns = ["job_id", "technician_id", "day", "date", "skill", "urgency", "customer_id", "hours",
               "travel_hours", "miles", "revenue", "profit", "preferred", "requested_day"]
    assignments = pd.DataFrame(rows, columns=columns)
    left = []
    for j, job in enumerate(problem.jobs):
        if j in chosen:
            continue
        code, reason = problem.unassignable_reason(j) or _capacity_reason(problem, chosen, j, dropped_reason)
        left.append({"job_id": job.id, "skill": job.skill, "urgency": job.priority, "hours": job.hours,
                     "reason_code": code.value, "reason": reason})
    unassigned = pd.DataFrame(left, columns=["job_id", "skill", "urgency", "hours", "reason_code", "reason"])
    return WeeklyPlan(problem, assignments, unassigned, status, seconds, solver)


def _capacity_reason(problem: WeeklyProblem, chosen: dict[int, tuple[int, int]], j: int,
                     fallback: tuple[DropReason, str]) -> tuple[DropReason, str]:
    """Why a job that has options was left out (code and message), judged from the plan's loads.

    ``fallback`` is the planner's own reason, for a job some technician still had room for.
    """
    day_load: dict[tuple[int, int], int] = {}
    week_load: dict[int, int] = {}
    for jj, (t, d) in chosen.items():
        m = problem.load_minutes(jj, t)
        day_load[(t, d)] = day_load.get((t, d), 0) + m
        week_load[t] = week_load.get(t, 0) + m
    room = []
    for t, d in problem.options(j):
        daily, weekly = problem.limit_minutes(t)
        need = problem.load_minutes(j, t)
        if day_load.get((t, d), 0) + need <= daily and week_load.get(t, 0) + need <= weekly:
            room.append((t, d))
    if not room:
        techs = len({t for t, _ in problem.options(j)})
        return (DropReason.CAPACITY,
                f"capacity: all {techs} qualified technician(s) are fully booked on the allowed days")
    r = problem.rules
    for t, d in room:
        days = {dd for (tt, dd) in day_load if tt == t} | {d}
        run = longest = 0
        for dd in range(DAYS):
            run = run + 1 if dd in days else 0
            longest = max(longest, run)
        if len(days) <= r.max_days_per_week and longest <= r.max_consecutive_days:
            return fallback
    return (DropReason.REST_RULES, (f"rest rules: the qualified technicians with hours left would work more than "
                                    f"{r.max_days_per_week} days or {r.max_consecutive_days} days in a row"))


def solve_week(problem: WeeklyProblem, time_limit: float = 10.0, seed: int = 0, workers: int = 1,
               hint: WeeklyPlan | None = None, params: dict | None = None) -> WeeklyPlan:
    """Assign the week's jobs with CP-SAT (see the module docstring for the model).

    Parameters
    ----------
    problem : WeeklyProblem
    time_limit : float
        Seconds; the best plan found by then is returned (status ``FEASIBLE``). When the limit
        ends before any solution and a ``hint`` was given, the hint is returned (status ``HINT``).
    seed, workers : int
        CP-SAT random seed and search workers (1 worker: deterministic for a seed).
    hint : WeeklyPlan, optional
        A plan to start from (e.g. the greedy one).
    params : dict, optional
        Extra CP-SAT parameters (``{"cp_model_probing_level": 0}``...).
    """
    from ortools.sat.python import cp_model

    start = time.perf_counter()
    m = cp_model.CpModel()
    x: dict[tuple[int, int, int], cp_model.IntVar] = {}
    rules = problem.rules
    for j in range(len(problem.jobs)):
        for t, d in problem.options(j):
            x[j, t, d] = m.new_bool_var(f"x_{j}_{t}_{d}")
    by_job: dict[int, list] = {}
    by_td: dict[tuple[int, int], list] = {}
    for (j, t, d), var in x.items():
        by_job.setdefault(j, []).append(var)
        by_td.setdefault((t, d), []).append((j, var))
    for vars_ in by_job.values():
        m.add_at_most_one(vars_)
    work_vars: dict[tuple[int, int], cp_model.IntVar] = {}
    for t, tech in enumerate(problem.technicians):
        daily_cap, weekly_cap = problem.limit_minutes(t)
        week_terms, works = [], []
        for d in range(DAYS):
            items = by_td.get((t, d), [])
            if not items:
                continue
            load = [problem.load_minutes(j, t) * v for j, v in items]
            m.add(sum(load) <= daily_cap)
            week_terms.extend(load)
            work = m.new_bool_var(f"w_{t}_{d}")
            work_vars[t, d] = work
            for _, v in items:
                m.add_implication(v, work)
            works.append((d, work))
        if not works:
            continue
        m.add(sum(week_terms) <= weekly_cap)
        m.add(sum(w for _, w in works) <= rules.max_days_per_week)
        work_of = dict(works)
        span = rules.max_consecutive_days + 1
        for d0 in range(DAYS - span + 1):
            window = [work_of[d] for d in range(d0, d0 + span) if d in work_of]
            if len(window) == span:
                m.add(sum(window) <= rules.max_consecutive_days)
    m.maximize(sum(problem.coefficient(j, t, d) * v for (j, t, d), v in x.items()))
    if hint is not None:
        chosen = hint.assignment_indices()
        for (j, t, d), v in x.items():
            m.add_hint(v, chosen.get(j) == (t, d))
        busy = set(chosen.values())
        for (t, d), v in work_vars.items():
            m.add_hint(v, (t, d) in busy)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_search_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    # A knapsack-like assignment: the full LP relaxation (level 2) guides the search well, and
    # probing in presolve costs more than it finds here (measured on a 191-job gold week).
    solver.parameters.linearization_level = 2
    solver.parameters.cp_model_probing_level = 0
    # Short runs: presolve eats the budget before the search improves on the hint (300-job week,
    # 10 s: all jobs placed without presolve, none gained with it); longer runs gain from it.
    solver.parameters.cp_model_presolve = time_limit >= 20
    for name, value in (params or {}).items():
        setattr(solver.parameters, name, value)
    code = solver.solve(m)
    status = solver.status_name(code)
    chosen = {}
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = {j: (t, d) for (j, t, d), v in x.items() if solver.boolean_value(v)}
    elif hint is not None and code == cp_model.UNKNOWN:
        # Stopped before loading even the hint (a very short limit on a busy machine): keep the hint.
        chosen, status = hint.assignment_indices(), "HINT"
    return _plan_from(problem, chosen, status, time.perf_counter() - start, "cp-sat",
                      (DropReason.TIME_LIMIT, ("left out within the time limit although a qualified technician "
                                               "had room (a longer solve may place it)"))
                      if status != "OPTIMAL" else (DropReason.OUTSCORED, "left out for better-scoring jobs"))


def greedy_week(problem: WeeklyProblem) -> WeeklyPlan:
    """Baseline: emergencies first, then longest jobs; each job to its best feasible (technician, day).

    Best = highest objective coefficient among the options that still fit the daily, weekly
    and rest rules given the jobs placed so far.
    """
    start = time.perf_counter()
    rules = problem.rules
    order = sorted(range(len(problem.jobs)),
                   key=lambda j: (-problem.drop_penalty(j), -problem.jobs[j].hours, problem.jobs[j].id))
    # Loads in whole minutes, exactly as the CP-SAT model counts them, so a greedy plan is a
    # feasible hint for it.
    day_load: dict[tuple[int, int], int] = {}
    week_load: dict[int, int] = {}
    chosen: dict[int, tuple[int, int]] = {}

    def fits(j: int, t: int, d: int) -> bool:
        extra = problem.load_minutes(j, t)
        daily_cap, weekly_cap = problem.limit_minutes(t)
        if day_load.get((t, d), 0) + extra > daily_cap:
            return False
        if week_load.get(t, 0) + extra > weekly_cap:
            return False
        days = {dd for (tt, dd) in day_load if tt == t} | {d}
        if len(days) > rules.max_days_per_week:
            return False
        run = longest = 0
        for dd in range(DAYS):
            run = run + 1 if dd in days else 0
            longest = max(longest, run)
        return longest <= rules.max_consecutive_days

    for j in order:
        best = None
        for t, d in problem.options(j):
            if fits(j, t, d):
                c = problem.coefficient(j, t, d)
                if best is None or c > best[0]:
                    best = (c, t, d)
        if best is None:
            continue
        _, t, d = best
        extra = problem.load_minutes(j, t)
        day_load[(t, d)] = day_load.get((t, d), 0) + extra
        week_load[t] = week_load.get(t, 0) + extra
        chosen[j] = (t, d)
    return _plan_from(problem, chosen, "GREEDY", time.perf_counter() - start, "greedy",
                      (DropReason.GREEDY_ORDER, "left out by the greedy order"))


# ---------------------------------------------------------------------- builder from gold
#: Minimum certification level per job type (the data has one level, 1-4, per technician).
DEFAULT_MIN_CERTIFICATION = {"install": 2, "emergency": 2}


def _monday(day) -> dt.date:
    day = pd.Timestamp(day).date()
    return day - dt.timedelta(days=day.weekday())


def company_workdays(con, until, history_days: int = 365, min_share: float = 0.25) -> tuple[int, ...]:
    """The days of the week the company works, from its completed jobs before ``until``.

    A day of the week is a working day when it saw at least ``min_share`` of the jobs of the
    busiest day of the week over the ``history_days`` days before ``until`` (a few emergencies
    on Sundays do not make Sunday a working day). No history: every day.

    Returns
    -------
    tuple of int
        0 = Monday .. 6 = Sunday, ascending.
    """
    until = pd.Timestamp(until).date()
    rows = con.execute(
        """SELECT isodow(scheduled_start) - 1 AS dow, count(*) AS n FROM jobs
           WHERE status = 'completed' AND scheduled_start >= ? AND scheduled_start < ?
           GROUP BY 1""", [until - dt.timedelta(days=history_days), until]).fetchall()
    counts = {int(d): int(n) for d, n in rows}
    if not counts:
        return tuple(range(DAYS))
    busiest = max(counts.values())
    return tuple(d for d in range(DAYS) if counts.get(d, 0) >= min_share * busiest)


def week_problem_from_gold(con, week_start, *, rules: LabourRules | None = None,
                           weights: ObjectiveWeights | None = None, workdays: tuple[int, ...] | None = None,
                           days_off: dict[str, list] | None = None, min_certification: dict | None = None,
                           max_jobs: int | None = None, history_days: int = 365) -> WeeklyProblem:
    """The week's jobs (scheduled in ``[week_start, week_start + 7)``, not cancelled) and technicians.

    Parameters
    ----------
    con : duckdb connection
        Gold warehouse (tables ``jobs``, ``technicians``, ``customers``).
    week_start : date
        Any day of the week; the plan starts on its Monday.
    workdays : tuple of int, optional
        Days of the week the company works (0 = Monday); default the company's working days
        from its job history (:func:`company_workdays`).
    days_off : dict, optional
        ``technician_id -> [dates]`` of leave; technicians are also unavailable before their
        hire date and from their termination date on (the first day not worked).
    min_certification : dict, optional
        Minimum certification level per job type (default :data:`DEFAULT_MIN_CERTIFICATION`).
    max_jobs : int, optional
        Keep only the first ``max_jobs`` jobs by scheduled start (small demos).
    history_days : int
        History used for the preferred technician (the one who served the customer most often)
        and for expected revenue of jobs not yet completed (mean by service line and job type).

    Notes
    -----
    Availability: a technician works the company's ``workdays`` unless the roster
    (:func:`~quantlib.ops.problem.roster_days`) says otherwise for that day: off (day off,
    vacation, sick, holiday) or working (a Saturday on the rota).

    Day windows: an emergency on its booked day; an urgent job on its booked day or the next;
    routine jobs any day of the week from the day they were booked. The booked day is the
    customer's requested day. A job whose customer has no latitude / longitude is placed at the
    centre of its region's technicians' home bases.
    """
    monday = _monday(week_start)
    end = monday + dt.timedelta(days=DAYS)
    hist_from = monday - dt.timedelta(days=history_days)
    min_cert = DEFAULT_MIN_CERTIFICATION if min_certification is None else min_certification
    if workdays is None:
        workdays = company_workdays(con, monday, history_days)
    techs = con.execute(
        """SELECT technician_id, name, region, home_lat, home_lon, skills, certification_level,
                  hourly_rate, weekly_hours, hire_date::DATE AS hire, termination_date::DATE AS term
           FROM technicians
           WHERE hire_date::DATE < ? AND (termination_date IS NULL OR termination_date::DATE > ?)
           ORDER BY technician_id""", [end, monday]).df()
    jobs = con.execute(
        """SELECT j.job_id, j.customer_id, j.service_line, j.job_type, j.urgency, j.region,
                  j.scheduled_start, j.created_at, j.scheduled_hours, j.revenue, j.material_cost,
                  c.lat, c.lon, coalesce(c.is_priority, false) AS is_priority
           FROM jobs j LEFT JOIN customers c USING (customer_id)
           WHERE j.status <> 'cancelled' AND j.scheduled_start >= ? AND j.scheduled_start < ?
           ORDER BY j.scheduled_start, j.job_id""", [monday, end]).df()
    if max_jobs is not None:
        jobs = jobs.head(max_jobs)
    expected = con.execute(
        """SELECT service_line, job_type, avg(revenue) AS revenue, avg(material_cost) AS material
           FROM jobs WHERE status = 'completed' AND revenue > 0 AND scheduled_start >= ? AND scheduled_start < ?
           GROUP BY 1, 2""", [hist_from, monday]).df().set_index(["service_line", "job_type"])
    preferred = con.execute(
        """SELECT customer_id, arg_max(technician_id, n) AS technician_id FROM (
               SELECT customer_id, technician_id, count(*) AS n FROM jobs
               WHERE status = 'completed' AND technician_id IS NOT NULL
                 AND scheduled_start >= ? AND scheduled_start < ?
               GROUP BY 1, 2) GROUP BY 1""", [hist_from, monday]).df()
    preferred_of = dict(zip(preferred["customer_id"], preferred["technician_id"]))
    days_off = {k: {pd.Timestamp(v).date() for v in vals} for k, vals in (days_off or {}).items()}
    roster = roster_days(con, monday, end)
    technicians = []
    for r in techs.itertuples(index=False):
        hire = pd.Timestamp(r.hire).date()
        term = pd.Timestamp(r.term).date() if pd.notna(r.term) else None
        avail = []
        for d in range(DAYS):
            day = monday + dt.timedelta(days=d)
            if day < hire or (term is not None and day >= term):
                continue
            if roster.get((r.technician_id, day), "working" if d in workdays else "day_off") != "working":
                continue
            if day in days_off.get(r.technician_id, ()):
                continue
            avail.append(d)
        technicians.append(Technician(
            id=r.technician_id, name=r.name, region=r.region, lat=float(r.home_lat),
            lon=float(r.home_lon), skills=frozenset(s.strip() for s in str(r.skills).split(";") if s.strip()),
            certification=int(r.certification_level), hourly_rate=float(r.hourly_rate),
            weekly_hours=float(r.weekly_hours), available_days=tuple(avail)))
    active = {t.id for t in technicians}
    # A job whose customer has no location is placed at the centre of its region's home bases
    # (or of all of them): documented fallback, so it is still planned rather than dropped.
    if jobs[["lat", "lon"]].isna().any().any() and len(techs):
        centre = techs.groupby("region")[["home_lat", "home_lon"]].mean()
        for col, home in (("lat", "home_lat"), ("lon", "home_lon")):
            fill = jobs["region"].map(centre[home]).fillna(techs[home].mean())
            jobs[col] = jobs[col].fillna(fill)
    job_list = []
    for r in jobs.itertuples(index=False):
        booked = (pd.Timestamp(r.scheduled_start).date() - monday).days
        created = max(0, min(booked, (pd.Timestamp(r.created_at).date() - monday).days))
        if r.urgency == "emergency":
            lo, hi = booked, booked
        elif r.urgency == "urgent":
            lo, hi = booked, min(booked + 1, DAYS - 1)
        else:
            lo, hi = created, DAYS - 1
        revenue, material = float(r.revenue), float(r.material_cost)
        if revenue <= 0:  # not completed yet: expected revenue of its kind
            key = (r.service_line, r.job_type)
            if key in expected.index:
                revenue, material = float(expected.loc[key, "revenue"]), float(expected.loc[key, "material"])
        pref = preferred_of.get(r.customer_id)
        job_list.append(Job(
            id=r.job_id, customer_id=r.customer_id, skills=frozenset({r.service_line}), job_type=r.job_type,
            priority=r.urgency, region=r.region, duration=max(1, round(float(r.scheduled_hours) * 60)),
            lat=float(r.lat), lon=float(r.lon),
            revenue=revenue, material_cost=material, earliest_day=lo, latest_day=hi, requested_day=booked,
            min_certification=int(min_cert.get(r.job_type, 1)),
            preferred_technician=pref if pref in active else None, priority_customer=bool(r.is_priority)))
    return WeeklyProblem(week_start=monday, technicians=technicians, jobs=job_list,
                         rules=rules or LabourRules(), weights=weights or ObjectiveWeights())
