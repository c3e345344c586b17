"""Workforce plan: the views behind ``notebooks/workforce_plan.ipynb`` and the figures for the reports.

Everything here takes the gold warehouse (a :class:`quantlib.kpi.views.report.ReportContext` or a DuckDB
connection) and returns plain DataFrames / dicts, so the notebook stays thin and the numbers are
testable; the tables declare how their columns print (:func:`quantlib.views.table_view`).
:func:`week_summary` is the small entry point the weekly and monthly reports use.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import numpy as np
import pandas as pd
from pydantic import Field

from quantlib.ops.allocation import AllocationPlan, allocation_problem_from_gold, solve_allocation
from quantlib.ops.queueing import emergency_staffing, replay_emergencies
from quantlib.ops.skills import cover_demand, demand_hours, skill_coverage
from quantlib.ops.weekly import LabourRules, WeeklyPlan, WeeklyProblem, greedy_week, solve_week, week_problem_from_gold
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.tables import table_view

__all__ = ["WorkforcePlanParameters", "default_week_start", "plan_week", "plan_comparison", "unassigned_jobs",
           "technician_utilisation", "schedule_by_day", "schedule_chart", "utilisation_chart", "skill_gaps",
           "demand_cover", "on_call_staffing", "on_call_check", "plan_allocation", "allocation_summary",
           "sla_breaches", "week_summary"]


@register_parameters("workforce_plan")
class WorkforcePlanParameters(NotebookParameters):
    """Week's schedule (CP-SAT), skill gaps, on-call staffing (Erlang C) and resource allocation (MIP)."""

    week_start: dt.date | None = Field(None, description="a day of the week to plan; default the week of as_of")
    max_jobs: int | None = Field(None, ge=1, description="plan only the week's first jobs (small demos)")
    time_limit_seconds: float = Field(20.0, gt=0, le=600, description="CP-SAT time limit for the week")
    daily_max_hours: float = Field(10.0, gt=0, le=13,
                                   description="service + travel hours a day (11 h rest between days)")
    max_days_per_week: int = Field(5, ge=1, le=7, description="working days a week")
    max_consecutive_days: int = Field(5, ge=1, le=7, description="working days in a row")
    target_wait_hours: float = Field(2.0, gt=0, description="emergency response target")
    service_level: float = Field(0.8, gt=0, lt=1, description="share of emergencies reached within the target")
    allocation_weeks: int = Field(4, ge=1, le=12, description="weeks ahead in the allocation")
    sla_share: float = Field(0.9, ge=0, le=1, description="share of each line and region's demand to serve")
    allocation_time_limit: float = Field(30.0, gt=0, le=600, description="MIP time limit")


def _con(source):
    return getattr(source, "con", source)


def default_week_start(as_of) -> dt.date:
    """The Monday of the week holding ``as_of``."""
    day = pd.Timestamp(as_of).date()
    return day - dt.timedelta(days=day.weekday())


# ---------------------------------------------------------------------- week
def plan_week(source, week_start, *, max_jobs: int | None = None, time_limit: float = 20.0,
              rules: LabourRules | None = None, seed: int = 0) -> tuple[WeeklyProblem, WeeklyPlan, WeeklyPlan]:
    """Build the week from gold and plan it twice: the greedy baseline and CP-SAT (hinted with it)."""
    problem = week_problem_from_gold(_con(source), week_start, rules=rules, max_jobs=max_jobs)
    greedy = greedy_week(problem)
    plan = solve_week(problem, time_limit=time_limit, seed=seed, hint=greedy)
    return problem, greedy, plan


@table_view(formats={"greedy": "num2", "cp_sat": "num2"},
            labels={"measure": "", "greedy": "Greedy", "cp_sat": "CP-SAT"})
def plan_comparison(greedy: WeeklyPlan, plan: WeeklyPlan) -> pd.DataFrame:
    """KPIs of the CP-SAT plan next to the greedy baseline: ``measure, greedy, cp_sat``."""
    g, c = greedy.kpis(), plan.kpis()
    tg, tc = greedy.objective_terms(), plan.objective_terms()
    rows = [("Jobs assigned", g["jobs_assigned"], c["jobs_assigned"]),
            ("Jobs left unassigned", g["jobs_unassigned"], c["jobs_unassigned"]),
            ("Service hours", g["service_hours"], c["service_hours"]),
            ("Travel hours", g["travel_hours"], c["travel_hours"]),
            ("Utilisation", g["utilisation"], c["utilisation"]),
            ("Profit ($)", g["profit"], c["profit"]),
            ("Preferred technician kept", g["preferred_technician_rate"], c["preferred_technician_rate"]),
            ("Requested day kept", g["requested_day_rate"], c["requested_day_rate"]),
            ("Weighted score", tg["weighted_score"], tc["weighted_score"])]
    return pd.DataFrame(rows, columns=["measure", "greedy", "cp_sat"])


@table_view(formats={"hours": "num2"})
def unassigned_jobs(plan: WeeklyPlan) -> pd.DataFrame:
    """The jobs the plan leaves out, with the reason: ``job_id, skill, urgency, hours, reason``."""
    return plan.unassigned.copy()


@table_view(formats={"jobs": "int", "service_hours": "num1", "travel_hours": "num1", "days_worked": "int",
                     "available_hours": "num1", "utilisation": "pct"})
def technician_utilisation(plan: WeeklyPlan) -> pd.DataFrame:
    """Per technician of the plan: jobs, service and travel hours, days worked, hours available, utilisation."""
    return plan.utilisation().drop(columns=["technician_id"])


def schedule_by_day(plan: WeeklyPlan) -> pd.DataFrame:
    """Technician x day: jobs, service hours and travel hours (the week's schedule at a glance)."""
    a = plan.assignments
    names = {t.id: t.name or t.id for t in plan.problem.technicians}
    if a.empty:
        return pd.DataFrame(columns=["technician", "date", "jobs", "service_hours", "travel_hours"])
    out = a.groupby(["technician_id", "date"], as_index=False).agg(
        jobs=("job_id", "count"), service_hours=("hours", "sum"), travel_hours=("travel_hours", "sum"))
    out.insert(0, "technician", out["technician_id"].map(names) + " (" + out["technician_id"] + ")")
    return out.drop(columns="technician_id")


def schedule_chart(plan: WeeklyPlan) -> alt.Chart:
    """Heat map of booked hours (service + travel) per technician and day."""
    df = schedule_by_day(plan)
    df["booked_hours"] = df["service_hours"] + df["travel_hours"]
    dates = pd.to_datetime(df["date"])
    df["day"] = dates.dt.strftime("%a %d %b")
    order = list(dict.fromkeys(df.assign(_d=dates).sort_values("_d")["day"]))
    df = df.drop(columns="date")  # plain python dates do not serialise into the chart spec
    return alt.Chart(df, title="Booked hours per technician and day").mark_rect().encode(
        x=alt.X("day:O", sort=order, title=None),
        y=alt.Y("technician:N", title=None),
        color=alt.Color("booked_hours:Q", title="Hours", scale=alt.Scale(scheme="blues")),
        tooltip=["technician", "day", "jobs", alt.Tooltip("booked_hours:Q", format=".1f")],
    ).properties(width=420, height=max(120, 18 * df["technician"].nunique()))


def utilisation_chart(plan: WeeklyPlan) -> alt.Chart:
    """Utilisation (service hours / hours available) per technician."""
    util = plan.utilisation()
    util["technician"] = util["name"].where(util["name"] != "", util["technician_id"])
    return alt.Chart(util, title="Utilisation per technician").mark_bar().encode(
        y=alt.Y("technician:N", sort="-x", title=None),
        x=alt.X("utilisation:Q", axis=alt.Axis(format=".0%"), title="Service hours / hours available",
                scale=alt.Scale(domain=[0, 1])),
    ).properties(width=420, height=max(120, 18 * len(util)))


# ---------------------------------------------------------------------- skills
@table_view(formats={"technicians": "int", "qualified_hours": "num1", "demand_hours": "num1", "hours_ratio": "num2"})
def skill_gaps(problem: WeeklyProblem, min_technicians: int = 2) -> pd.DataFrame:
    """Per skill and region: qualified technicians, hours, the week's demand and the gap."""
    return skill_coverage(problem.technicians, demand_hours(problem.jobs), by_region=True,
                          min_technicians=min_technicians)


@table_view(formats={"demand_hours": "num1", "covered_hours": "num1", "shortfall_pooled": "num1",
                     "shortfall_in_region": "num1"},
            labels={"shortfall_pooled": "Short (regions pooled)", "shortfall_in_region": "Short (within regions)"})
def demand_cover(problem: WeeklyProblem) -> pd.DataFrame:
    """Max-flow check of the week: can each skill's hours be covered, within and across regions?"""
    demand = demand_hours(problem.jobs)
    techs = pd.DataFrame([{"technician_id": t.id, "region": t.region, "skills": t.skills,
                           "hours": problem.capacity_hours(i)} for i, t in enumerate(problem.technicians)])
    pooled = cover_demand(techs, demand).by_skill.rename(columns={"shortfall_hours": "shortfall_pooled"})
    regional = cover_demand(techs, demand, by_region=True).by_skill
    short = regional.groupby("skill", as_index=False)["shortfall_hours"].sum() \
        .rename(columns={"shortfall_hours": "shortfall_in_region"})
    return pooled.merge(short, on="skill")


# ---------------------------------------------------------------------- on call
@table_view(formats={"rate": "num2", "service_hours": "num1", "load": "num2", "servers": "int",
                     "service_level": "pct", "p_wait": "pct", "mean_wait": "num2"},
            labels={"hours": "Block", "rate": "Emergencies an hour", "service_hours": "Hours each",
                    "load": "Load (erlangs)", "servers": "On call", "p_wait": "P(wait)", "mean_wait": "Mean wait (h)"})
def on_call_staffing(source, as_of=None, target_wait_hours: float = 2.0, service_level: float = 0.8,
                     history_days: int = 365) -> pd.DataFrame:
    """On-call technicians per 4-hour block (Erlang C on the last year's emergencies)."""
    plan = emergency_staffing(_con(source), as_of, target_wait_hours, service_level, history_days)
    return plan[["period", "hours", "rate", "service_hours", "load", "servers", "service_level", "p_wait", "mean_wait"]]


def on_call_check(source, staffing: pd.DataFrame, as_of=None, target_wait_hours: float = 2.0,
                  history_days: int = 365) -> dict:
    """The on-call plan replayed on the history's real emergencies (discrete-event simulation)."""
    return replay_emergencies(_con(source), staffing, as_of, history_days, target_wait_hours)


# ---------------------------------------------------------------------- allocation
def plan_allocation(source, as_of=None, weeks: int = 4, sla_share: float = 0.9,
                    time_limit: float = 30.0) -> AllocationPlan:
    """Allocation MIP over the coming weeks from gold (seasonal-naive demand)."""
    problem = allocation_problem_from_gold(_con(source), as_of, weeks=weeks, sla_share=sla_share)
    return solve_allocation(problem, time_limit=time_limit)


@table_view(formats={"week_start": "date", "demand_hours": "num1", "served_hours": "num1",
                     "served_share": "pct", "technicians": "int", "from_other_regions": "int"})
def allocation_summary(plan: AllocationPlan) -> pd.DataFrame:
    """Per week and region: demand and served hours, share served, technicians placed there."""
    served = plan.served().groupby(["week", "region"], as_index=False)[["demand_hours", "served_hours"]].sum()
    served["served_share"] = served["served_hours"] / served["demand_hours"].where(served["demand_hours"] > 0)
    placed = plan.technician_regions.groupby(["week", "region"], as_index=False)["technician_id"].nunique() \
        .rename(columns={"technician_id": "technicians"})
    home = {t.technician_id: t.home_region for t in plan.problem.technicians}
    away = plan.technician_regions[plan.technician_regions["region"]
                                   != plan.technician_regions["technician_id"].map(home)]
    visiting = away.groupby(["week", "region"], as_index=False)["technician_id"].nunique() \
        .rename(columns={"technician_id": "from_other_regions"})
    out = served.merge(placed, on=["week", "region"], how="left").merge(visiting, on=["week", "region"], how="left")
    out[["technicians", "from_other_regions"]] = out[["technicians", "from_other_regions"]].fillna(0).astype(int)
    out.insert(0, "week_start", out["week"].map(dict(enumerate(plan.problem.week_starts))))
    return out.drop(columns="week")


@table_view(formats={"week": "int", "short_hours": "num1", "demand_hours": "num1"})
def sla_breaches(plan: AllocationPlan) -> pd.DataFrame:
    """The service line x region x week cells that cannot reach the SLA share of demand, and why."""
    return plan.sla_breaches.copy()


# ---------------------------------------------------------------------- for the reports
def week_summary(con, week_start, optimise: bool = False, time_limit: float = 5.0) -> dict:
    """Technician utilisation and scheduled hours of one week, for the weekly and monthly reports.

    Parameters
    ----------
    con : duckdb connection (or ReportContext)
        The gold warehouse.
    week_start : date
        Any day of the week (the Monday is used).
    optimise : bool
        Also plan the week with CP-SAT and add its figures (``planned_*``).

    Returns
    -------
    dict
        ``week_start, technicians, jobs, available_hours, scheduled_hours, travel_hours,
        utilisation`` (scheduled / available), ``utilisation_min``, ``utilisation_max``
        (over technicians) and, with ``optimise``, ``planned_utilisation,
        planned_travel_hours, planned_jobs_unassigned, planned_status``. Utilisation is
        ``NaN`` when no technician was employed that week.
    """
    con = _con(con)
    monday = default_week_start(week_start)
    end = monday + dt.timedelta(days=7)
    per_tech = con.execute(
        """WITH techs AS (
               SELECT technician_id, weekly_hours *
                      greatest(0, date_diff('day', greatest(hire_date::DATE, ?::DATE),
                                            least(coalesce(termination_date::DATE, ?::DATE), ?::DATE)) + 1) / 7.0
                      AS available_hours
               FROM technicians),
           booked AS (
               SELECT technician_id, count(*) AS jobs, sum(scheduled_hours) AS scheduled_hours,
                      sum(travel_minutes) / 60.0 AS travel_hours
               FROM jobs WHERE status <> 'cancelled' AND technician_id IS NOT NULL
                 AND scheduled_start >= ? AND scheduled_start < ?
               GROUP BY 1)
           SELECT t.technician_id, t.available_hours, coalesce(b.jobs, 0) AS jobs,
                  coalesce(b.scheduled_hours, 0) AS scheduled_hours, coalesce(b.travel_hours, 0) AS travel_hours
           FROM techs t LEFT JOIN booked b USING (technician_id)
           WHERE t.available_hours > 0""",
        [monday, end - dt.timedelta(days=1), end - dt.timedelta(days=1), monday, end]).df()
    available = float(per_tech["available_hours"].sum())
    util = per_tech["scheduled_hours"] / per_tech["available_hours"]
    out = {"week_start": monday, "technicians": int(len(per_tech)), "jobs": int(per_tech["jobs"].sum()),
           "available_hours": available, "scheduled_hours": float(per_tech["scheduled_hours"].sum()),
           "travel_hours": float(per_tech["travel_hours"].sum()),
           "utilisation": float(per_tech["scheduled_hours"].sum() / available) if available > 0 else np.nan,
           "utilisation_min": float(util.min()) if len(util) else np.nan,
           "utilisation_max": float(util.max()) if len(util) else np.nan}
    if optimise:
        _, _, plan = plan_week(con, monday, time_limit=time_limit)
        k = plan.kpis()
        out.update({"planned_utilisation": k["utilisation"], "planned_travel_hours": k["travel_hours"],
                    "planned_jobs_unassigned": k["jobs_unassigned"], "planned_status": k["status"]})
    return out
