"""Operations figures for the monthly and weekly reports: utilisation and drive time from the plans.

Two sources, side by side, so a reader can see what the optimiser adds:

- the *booked* week (what the company scheduled: hours booked against hours available, and the
  travel its technicians recorded), from :func:`quantlib.ops.views.workforce.week_summary`;
- the *planned* days: each day's jobs re-planned by the router (:func:`quantlib.ops.routing.plan_summary`,
  every plan validated), giving the drive time and utilisation the optimiser reaches on the same work.

Both tables declare how their columns print (:func:`quantlib.views.table_view`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from quantlib.data.gold import open_gold, to_date
from quantlib.ops.routing import SolverSettings, plan_summary
from quantlib.ops.views.workforce import week_summary
from quantlib.views.tables import table_view

#: Report plans stop at this many solutions (or 2 s): reproducible on quiet days, bounded everywhere.
REPORT_SETTINGS = SolverSettings(time_limit_seconds=2.0, solution_limit=500)


@table_view(formats={"week_start": "date", "technicians": "int", "jobs": "int", "available_hours": "int",
                     "scheduled_hours": "int", "travel_hours": "int", "utilisation": "pct",
                     "utilisation_min": "pct", "utilisation_max": "pct"},
            labels={"week_start": "Week of", "available_hours": "Hours available", "scheduled_hours": "Hours booked",
                    "travel_hours": "Travel hours recorded", "utilisation_min": "Lowest technician",
                    "utilisation_max": "Highest technician"})
def weekly_utilisation(con, as_of, weeks: int = 4) -> pd.DataFrame:
    """Booked utilisation of the last ``weeks`` weeks ending with the week of ``as_of``.

    Returns
    -------
    DataFrame
        ``week_start, technicians, jobs, available_hours, scheduled_hours, travel_hours,
        utilisation, utilisation_min, utilisation_max``; oldest week first. Weeks with no
        technician employed are left out.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    last = to_date(as_of)
    with open_gold(con) as con:
        rows = [week_summary(con, last - dt.timedelta(weeks=k)) for k in range(weeks - 1, -1, -1)]
    frame = pd.DataFrame(rows)
    return frame[frame["technicians"] > 0].reset_index(drop=True)


@table_view(formats={"day": "date", "jobs": "int", "jobs_served": "int", "jobs_dropped": "int",
                     "technicians_used": "int", "planned_drive_hours": "num1", "planned_drive_miles": "int",
                     "planned_drive_minutes_per_job": "int", "recorded_travel_minutes_per_job": "int",
                     "planned_utilisation": "pct", "overtime_hours": "num1"},
            labels={"jobs": "Jobs booked", "jobs_served": "Fit in the plan", "jobs_dropped": "Left out",
                    "technicians_used": "Technicians", "planned_drive_hours": "Drive hours (plan)",
                    "planned_drive_miles": "Drive miles (plan)",
                    "planned_drive_minutes_per_job": "Drive min per job (plan)",
                    "recorded_travel_minutes_per_job": "Travel min per job (recorded)",
                    "planned_utilisation": "On-site share of shifts (plan)", "overtime_hours": "Overtime hours (plan)"})
def route_plan_figures(con, as_of, days: int = 5, settings: SolverSettings | None = None) -> pd.DataFrame:
    """Re-plan each of the last ``days`` working days up to ``as_of`` and compare with what was recorded.

    A working day is a day with at least one booked (not cancelled) job. Each day is planned from
    gold and validated by :func:`~quantlib.ops.routing.plan_summary`.

    Returns
    -------
    DataFrame
        One row per day (oldest first): ``day, jobs, jobs_served, jobs_dropped, technicians_used,
        planned_drive_hours, planned_drive_miles, planned_drive_minutes_per_job,
        recorded_travel_minutes_per_job, planned_utilisation, overtime_hours``. Empty when there
        is no working day in the 60 days before ``as_of``.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    last = to_date(as_of)
    with open_gold(con) as con:
        booked = con.execute(
            """SELECT CAST(scheduled_start AS DATE) AS day, count(*) AS jobs,
                      avg(travel_minutes) AS recorded_travel_minutes_per_job
               FROM jobs
               WHERE status <> 'cancelled' AND scheduled_start IS NOT NULL
                 AND CAST(scheduled_start AS DATE) BETWEEN ? AND ?
               GROUP BY 1 ORDER BY 1 DESC LIMIT ?""",
            [last - dt.timedelta(days=60), last, days]).df()
    columns = ["day", "jobs", "jobs_served", "jobs_dropped", "technicians_used", "planned_drive_hours",
               "planned_drive_miles", "planned_drive_minutes_per_job", "recorded_travel_minutes_per_job",
               "planned_utilisation", "overtime_hours"]
    rows = []
    with open_gold(con) as con:
        for day, recorded in zip(booked["day"], booked["recorded_travel_minutes_per_job"]):
            summary = plan_summary(con, day, days=1, settings=settings or REPORT_SETTINGS)
            by_day = summary["by_day"][0]
            rows.append({
                "day": to_date(day), "jobs": by_day["jobs"], "jobs_served": by_day["jobs_served"],
                "jobs_dropped": by_day["jobs_dropped"], "technicians_used": by_day["technicians_used"],
                "planned_drive_hours": by_day["drive_minutes"] / 60.0,
                "planned_drive_miles": by_day["drive_miles"],
                "planned_drive_minutes_per_job": (by_day["drive_minutes"] / by_day["jobs_served"]
                                                  if by_day["jobs_served"] else float("nan")),
                "recorded_travel_minutes_per_job": float(recorded),
                "planned_utilisation": by_day["utilisation"],
                "overtime_hours": by_day["overtime_minutes"] / 60.0,
            })
    return pd.DataFrame(rows, columns=columns).sort_values("day").reset_index(drop=True)


def operations_text(utilisation: pd.DataFrame, plans: pd.DataFrame) -> str:
    """Two sentences for the report: booked utilisation, and drive time in the re-planned days."""
    parts = []
    if len(utilisation):
        latest = utilisation.iloc[-1]
        parts.append(
            f"In the week of {latest['week_start']:%d %B}, technicians were booked for "
            f"{latest['utilisation']:.0%} of their available hours (from {latest['utilisation_min']:.0%} "
            f"to {latest['utilisation_max']:.0%} across the {int(latest['technicians'])} technicians).")
    if len(plans):
        served, jobs = int(plans["jobs_served"].sum()), int(plans["jobs"].sum())
        planned = (plans["planned_drive_hours"].sum() * 60) / served if served else float("nan")
        recorded = (plans["recorded_travel_minutes_per_job"] * plans["jobs"]).sum() / jobs if jobs else float("nan")
        parts.append(
            f"Re-planned by the router, the last {len(plans)} working days fit {served} of {jobs} booked jobs "
            f"into regular shifts plus allowed overtime, at {planned:.0f} minutes of driving per job served "
            f"against {recorded:.0f} minutes of travel recorded per job.")
    return " ".join(parts) if parts else "No technician work was booked in this period."
