"""Technicians and jobs of field operations; the daily routing problem and its builder from gold.

:class:`Technician` and :class:`Job` are the one model of both planners: the daily router
(:mod:`quantlib.ops.routing`) and the weekly scheduler (:mod:`quantlib.ops.weekly`). Each
planner reads the fields it needs; the others keep defaults that leave it unaffected.

All times are whole minutes after midnight of the plan's day (480 = 08:00); weekly days are
0 (Monday) .. 6.

* :class:`Technician`: start / end location (home base or depot), shift, overtime, lunch break
  window, skills, the equipment the van carries, the van's capacity (optional); for re-routing, when the technician is
  free (``available_from``) and whether the break was already taken; for the week, the
  certification level, weekly hours, the days available and the region.
* :class:`Job`: location, duration, required skill(s) and equipment, load (``demand``), time
  window (hard, or soft with a lateness cost per minute), priority, priority customer flag, expected revenue,
  whether it must be served (``required``); for
  re-routing, a technician and start time it is pinned to (a started job); for the week, the
  days it may be done on, the day the customer asked for, the minimum certification, the
  material cost, the customer's preferred technician, the job type and region; for
  re-routing, the technician it is with in the plan in force (``current_technician``).
* :class:`Objective`: the product spec's weights (travel 0.5 per minute, fuel 0.35 per mile,
  fairness 0.8, priority customers 1.5) and, for re-routing, the cost of moving a job.
* :class:`RoutingProblem`: all of it for one day.

:func:`problem_from_warehouse` builds the problem of a day from the gold DuckDB.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

PRIORITIES = ("emergency", "urgent", "routine")
DAYS = 7  # days of a planned week, 0 = Monday


class Technician(BaseModel):
    """A technician and the van they drive for the day."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    end_lat: float | None = Field(None, ge=-90, le=90)
    end_lon: float | None = Field(None, ge=-180, le=180)
    skills: frozenset[str] = frozenset()
    equipment: frozenset[str] = frozenset()
    shift_start: int = Field(480, ge=0, le=24 * 60)
    shift_minutes: int = Field(480, gt=0, description="Regular shift length (8 h)")
    overtime_minutes: int = Field(120, ge=0, description="Overtime allowed beyond the shift")
    overtime_cost_per_minute: float = Field(0.75, ge=0, description="Cost per overtime minute (e.g. 1.5 x $30/h)")
    break_minutes: int = Field(30, ge=0, description="Lunch break length; 0 = no break (or already taken)")
    break_earliest: int = Field(11 * 60 + 30, ge=0)
    break_latest: int = Field(14 * 60, ge=0, description="Latest break *start*")
    available_from: int | None = Field(None, ge=0, description="Earliest departure; default the shift start")
    hourly_rate: float = Field(30.0, ge=0)
    certification: int = Field(1, ge=0, description="Certification level (weekly: jobs need a minimum)")
    weekly_hours: float = Field(40.0, ge=0, description="Contracted hours a week")
    available_days: tuple[int, ...] = Field(tuple(range(DAYS)), description="Weekly: days available, 0 = Monday")
    region: str = ""
    capacity: int | None = Field(None, ge=0, description=(
        "What the van holds, in the units of Job.demand (None: unlimited, the usual field-service day)"))

    @model_validator(mode="after")
    def _check(self) -> "Technician":
        if (self.end_lat is None) != (self.end_lon is None):
            raise ValueError(f"technician {self.id}: give both end_lat and end_lon, or neither")
        if self.break_latest < self.break_earliest:
            raise ValueError(f"technician {self.id}: break_latest is before break_earliest")
        return self

    @property
    def end_location(self) -> tuple[float, float]:
        return (self.lat, self.lon) if self.end_lat is None else (self.end_lat, self.end_lon)

    @property
    def departure(self) -> int:
        """Earliest departure from the start location."""
        return self.shift_start if self.available_from is None else max(self.available_from, 0)

    @property
    def latest_end(self) -> int:
        """Hard end of the day: shift plus allowed overtime."""
        return self.shift_start + self.shift_minutes + self.overtime_minutes


class Job(BaseModel):
    """A job to serve at a customer's location."""

    model_config = ConfigDict(frozen=True)

    id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    duration: int = Field(gt=0, description="Minutes on site")
    skills: frozenset[str] = frozenset()
    equipment: frozenset[str] = frozenset()
    window_start: int = Field(0, ge=0, description="Earliest start of service")
    window_end: int = Field(24 * 60, ge=0, description="Latest start of service (hard) or target (soft)")
    hard_window: bool = True
    lateness_cost_per_minute: float = Field(1.0, ge=0, description="Soft windows: cost per minute late")
    priority: Literal["emergency", "urgent", "routine"] = "routine"
    priority_customer: bool = False
    revenue: float = Field(0.0, ge=0)
    customer_id: str = ""
    pinned_technician: str | None = None
    pinned_start: int | None = Field(None, ge=0, description="A started job: its (past) start time")
    current_technician: str | None = Field(
        None, description="Re-routing: the technician it is with in the plan in force (moving it costs "
                          "Objective.move_cost)")
    earliest_day: int = Field(0, description="Weekly: first day it may be done on (0 = Monday)")
    latest_day: int = Field(DAYS - 1, description="Weekly: last day it may be done on (inclusive)")
    requested_day: int | None = Field(None, description="Weekly: the day the customer asked for")
    min_certification: int = Field(1, ge=0, description="Weekly: lowest certification level allowed")
    material_cost: float = 0.0
    preferred_technician: str | None = Field(None, description="Weekly: the customer's usual technician")
    job_type: str = ""
    region: str = ""
    demand: int = Field(0, ge=0, description="Load it takes in the van (parts, units; see Technician.capacity)")
    required: bool = Field(False, description=(
        "Daily router: must be served. The search treats leaving it out as infeasible rather than as a "
        "drop penalty to weigh (a contract, a fleet sized to serve every stop); it is dropped, with its "
        "reason, only when no plan found serves it"))

    @model_validator(mode="after")
    def _check(self) -> "Job":
        if not 0 <= self.earliest_day <= self.latest_day < DAYS:
            raise ValueError(f"job {self.id}: day window [{self.earliest_day}, {self.latest_day}] "
                             f"is not within 0..{DAYS - 1}")
        if self.window_end < self.window_start:
            raise ValueError(f"job {self.id}: window_end {self.window_end} is before window_start {self.window_start}")
        if self.pinned_start is not None and self.pinned_technician is None:
            raise ValueError(f"job {self.id}: pinned_start needs pinned_technician")
        return self

    @property
    def hours(self) -> float:
        """Time on site in hours (the weekly scheduler counts hours)."""
        return self.duration / 60

    @property
    def skill(self) -> str:
        """The required skills as one label (a job usually needs one: its service line)."""
        return ", ".join(sorted(self.skills))


class Objective(BaseModel):
    """Weights of the routing objective (product spec defaults), in money units."""

    model_config = ConfigDict(frozen=True)

    travel_cost_per_minute: float = Field(0.5, ge=0)
    fuel_cost_per_mile: float = Field(0.35, ge=0)
    fairness: float = Field(0.8, ge=0, description="Workload balance: x travel cost per minute of the longest day")
    priority_customer_weight: float = Field(1.5, ge=1)
    priority_weights: dict[str, float] = Field(
        default_factory=lambda: {"emergency": 10.0, "urgent": 2.0, "routine": 1.0})
    min_drop_penalty: float = Field(100.0, ge=0, description="Penalty floor for dropping a job with no revenue")
    move_cost: float = Field(0.0, ge=0, description=(
        "Re-routing: cost of serving a job by another technician than its current_technician"))

    def moves(self, job: Job, technician_id: str) -> bool:
        """Whether serving ``job`` by ``technician_id`` moves it away from its current technician."""
        return job.current_technician is not None and job.current_technician != technician_id

    def drop_penalty(self, job: Job) -> float:
        """What leaving ``job`` unserved costs: revenue (or the floor) x priority x customer weight."""
        weight = self.priority_weights.get(job.priority, 1.0)
        if job.priority_customer:
            weight *= self.priority_customer_weight
        return max(job.revenue, self.min_drop_penalty) * weight

    @property
    def balance_cost_per_minute(self) -> float:
        return self.fairness * self.travel_cost_per_minute


class RoutingProblem(BaseModel):
    """One day's routing: technicians, jobs, objective."""

    model_config = ConfigDict(frozen=True)

    technicians: tuple[Technician, ...]
    jobs: tuple[Job, ...]
    objective: Objective = Field(default_factory=Objective)
    day: dt.date | None = None

    @model_validator(mode="after")
    def _check(self) -> "RoutingProblem":
        for kind, items in (("technician", self.technicians), ("job", self.jobs)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"duplicate {kind} id {item.id!r}")
                seen.add(item.id)
        techs = {t.id for t in self.technicians}
        for job in self.jobs:
            if job.pinned_technician is not None and job.pinned_technician not in techs:
                raise ValueError(f"job {job.id}: pinned_technician {job.pinned_technician!r} is not a technician")
        return self

    def technician(self, tech_id: str) -> Technician:
        for t in self.technicians:
            if t.id == tech_id:
                return t
        raise KeyError(tech_id)

    def job(self, job_id: str) -> Job:
        for j in self.jobs:
            if j.id == job_id:
                return j
        raise KeyError(job_id)

    def can_serve(self, tech: Technician, job: Job) -> bool:
        """Skills and equipment allow ``tech`` to do ``job`` (pins included)."""
        if job.pinned_technician is not None and job.pinned_technician != tech.id:
            return False
        return job.skills <= tech.skills and job.equipment <= tech.equipment

    def replace(self, **changes) -> "RoutingProblem":
        """A copy with fields replaced (validated)."""
        return RoutingProblem(**{**dict(self), **changes})


# ----------------------------------------------------------------------------- warehouse builder

class WarehouseDayOptions(BaseModel):
    """How :func:`problem_from_warehouse` turns a day of gold rows into a problem."""

    shift_start: int = Field(480, ge=0)
    shift_minutes: int = Field(480, gt=0)
    overtime_minutes: int = Field(120, ge=0)
    overtime_rate_multiplier: float = Field(1.5, ge=1)
    break_minutes: int = Field(30, ge=0)
    window: Literal["half_day", "day"] = "half_day"
    emergency_response_minutes: int = Field(240, gt=0, description="Soft target: start within this of the call")
    emergency_lateness_cost: float = Field(2.0, ge=0)
    include_statuses: tuple[str, ...] = ("scheduled", "completed")
    region: str | None = None
    depot: tuple[float, float] | None = Field(
        None, description="(lat, lon) every technician starts and ends at; None: each one's home base")
    equipment: dict[str, frozenset[str]] | None = Field(
        None, description="technician_id -> equipment kinds the van carries; None: equipment not modelled")
    days_off: dict[str, tuple[dt.date, ...]] = Field(
        default_factory=dict, description="technician_id -> dates of leave, on top of the roster's")
    objective: Objective = Field(default_factory=Objective)


def roster_days(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[tuple[str, dt.date], str]:
    """The roster's status of each technician-day in ``[start, end)``: ``(technician_id, date) -> status``.

    Empty when gold has no roster table (a warehouse built before it existed, or a hand-made
    connection): every technician then follows the company's working days.
    """
    has_roster = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'roster'"
                             ).fetchone()[0]
    if not has_roster:
        return {}
    rows = con.execute("SELECT technician_id, date::DATE, status FROM roster WHERE date >= ? AND date < ?",
                       [start, end]).fetchall()
    return {(tid, day): status for tid, day, status in rows}


def _half_day_window(minute: int, opts: WarehouseDayOptions) -> tuple[int, int]:
    """The AM / PM window a booked start falls in (service must *start* inside it)."""
    noon = 12 * 60
    day_end = opts.shift_start + opts.shift_minutes
    if minute < noon:
        return opts.shift_start, noon
    return noon, max(day_end, noon + 60)


def problem_from_warehouse(con: duckdb.DuckDBPyConnection, day: dt.date | str,
                           options: WarehouseDayOptions | None = None) -> RoutingProblem:
    """The routing problem of ``day`` from gold: its jobs, the technicians employed that day.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open gold warehouse (tables ``jobs``, ``customers``, ``technicians``, ``job_facts``).
    day : date or str
        The day to plan.
    options : WarehouseDayOptions, optional
        Shift, windows, equipment, objective.

    Returns
    -------
    RoutingProblem

    Notes
    -----
    * Jobs: those scheduled on ``day`` whose status is in ``include_statuses`` (a past day can
      be re-planned), located at the customer's lat/lon; duration = ``scheduled_hours``;
      required skill = the service line; priority = urgency; priority customer from
      ``customers.is_priority``.
    * Windows: ``half_day`` gives a hard AM (shift start-12:00) or PM (12:00-shift end) window
      from the booked start; emergencies get a soft window from the call (``created_at``, or
      the shift start) with ``emergency_response_minutes`` and a lateness cost.
    * Revenue: scheduled jobs carry no revenue yet, so every job gets the mean revenue of the
      completed jobs of its service line x job type (the whole history), its own when completed.
    * Technicians: employed on ``day`` (hired on or before it, terminated after it: the
      termination date is the first day not worked), not off in the roster (a day off,
      vacation, sickness or holiday: :func:`roster_days`) and not in ``options.days_off``,
      starting and ending at home (or at ``options.depot``);
      overtime cost = hourly rate x ``overtime_rate_multiplier``.
    * Equipment is not in the warehouse's van inventory: only modelled when
      ``options.equipment`` is given (then a job needs the kind of its ``equipment_id``).
    """
    opts = options or WarehouseDayOptions()
    day = pd.Timestamp(day).date()
    region_sql = "AND j.region = ?" if opts.region else ""
    params: list = [day, list(opts.include_statuses)] + ([opts.region] if opts.region else [])
    jobs = con.execute(f"""
        WITH typical AS (
            SELECT service_line, job_type, avg(revenue) AS mean_revenue
            FROM jobs WHERE status = 'completed' AND revenue > 0 GROUP BY ALL
        )
        SELECT j.job_id, j.customer_id, j.service_line, j.job_type, j.urgency, j.status,
               j.created_at, j.scheduled_start, j.scheduled_hours, j.revenue, j.equipment_id,
               c.lat, c.lon, c.is_priority, e.kind AS equipment_kind,
               coalesce(t.mean_revenue, 0) AS mean_revenue
        FROM jobs j
        JOIN customers c USING (customer_id)
        LEFT JOIN equipment e ON e.equipment_id = j.equipment_id
        LEFT JOIN typical t ON t.service_line = j.service_line AND t.job_type = j.job_type
        WHERE j.scheduled_start::DATE = ? AND list_contains(?, j.status) {region_sql}
        ORDER BY j.job_id
    """, params).df()
    tparams: list = [day, day] + ([opts.region] if opts.region else [])
    techs = con.execute(f"""
        SELECT technician_id, name, home_lat, home_lon, skills, hourly_rate, region
        FROM technicians
        WHERE hire_date::DATE <= ? AND (termination_date IS NULL OR termination_date::DATE > ?)
        {"AND region = ?" if opts.region else ""}
        ORDER BY technician_id
    """, tparams).df()
    midnight = pd.Timestamp(day)
    roster = roster_days(con, day, day + dt.timedelta(days=1))
    technicians = []
    for row in techs.itertuples(index=False):
        if day in set(pd.Timestamp(d).date() for d in opts.days_off.get(row.technician_id, ())):
            continue  # on leave
        if roster.get((row.technician_id, day), "working") != "working":
            continue  # off in the roster
        carried = frozenset() if opts.equipment is None else frozenset(opts.equipment.get(row.technician_id, ()))
        lat, lon = (row.home_lat, row.home_lon) if opts.depot is None else opts.depot
        technicians.append(Technician(
            id=row.technician_id, name=row.name, lat=lat, lon=lon,
            skills=frozenset(s for s in str(row.skills).split(";") if s), equipment=carried,
            shift_start=opts.shift_start, shift_minutes=opts.shift_minutes,
            overtime_minutes=opts.overtime_minutes,
            overtime_cost_per_minute=row.hourly_rate * opts.overtime_rate_multiplier / 60.0,
            break_minutes=opts.break_minutes, hourly_rate=row.hourly_rate))
    job_list = []
    day_end = opts.shift_start + opts.shift_minutes + opts.overtime_minutes
    for row in jobs.itertuples(index=False):
        booked = int((pd.Timestamp(row.scheduled_start) - midnight).total_seconds() // 60)
        revenue = float(row.revenue) if row.status == "completed" and row.revenue > 0 else float(row.mean_revenue)
        hard, lateness = True, 1.0
        if row.urgency == "emergency":
            called = int((pd.Timestamp(row.created_at) - midnight).total_seconds() // 60)
            start = max(opts.shift_start, min(called, day_end))
            window = (start, min(start + opts.emergency_response_minutes, 24 * 60))
            hard, lateness = False, opts.emergency_lateness_cost
        elif opts.window == "half_day":
            window = _half_day_window(booked, opts)
        else:
            window = (opts.shift_start, opts.shift_start + opts.shift_minutes)
        equipment = frozenset()
        if opts.equipment is not None and isinstance(row.equipment_kind, str):
            equipment = frozenset({row.equipment_kind})
        job_list.append(Job(
            id=row.job_id, customer_id=row.customer_id, lat=row.lat, lon=row.lon,
            duration=max(1, int(round(row.scheduled_hours * 60))), skills=frozenset({row.service_line}),
            equipment=equipment, window_start=window[0], window_end=window[1], hard_window=hard,
            lateness_cost_per_minute=lateness, priority=row.urgency,
            priority_customer=bool(row.is_priority), revenue=revenue))
    return RoutingProblem(technicians=tuple(technicians), jobs=tuple(job_list),
                          objective=opts.objective, day=day)
