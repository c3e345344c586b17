"""Views of a day's route plan for dispatchers: map, timeline, KPIs, dropped jobs.

Used by ``notebooks/dispatch_plan.ipynb`` (report) and :mod:`quantlib.apps.dispatch_board`
(Voila app). Everything here reads a :class:`~quantlib.ops.plan.RoutePlan`; nothing solves.

* :func:`route_points` / :func:`route_map`: every technician's day as a line from home
  through the jobs in visit order and back, on plain longitude / latitude axes (an
  equirectangular projection: no map tiles, nothing fetched).
* :func:`timeline_frame` / :func:`timeline_chart`: a Gantt of each technician's day,
  segments ``drive``, ``wait``, ``on site`` and ``break``.
* :func:`kpi_frame` / :func:`kpi_table`: drive time and distance, cost, utilisation,
  lateness, jobs served and dropped.
* :func:`technician_frame`, :func:`dropped_frame`: per-technician figures; dropped jobs
  with the reason the solver (or the pre-check) gave.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

import altair as alt
import pandas as pd
from pydantic import Field

from quantlib.ops.plan import RoutePlan, end_key, hhmm, job_key, start_key
from quantlib.ops.problem import WarehouseDayOptions, problem_from_warehouse
from quantlib.ops.routing import SolverSettings, solve
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.tables import format_value, report_table

__all__ = ["DispatchPlanParameters", "SEGMENT_COLORS", "dropped_frame", "dropped_table", "kpi_frame",
           "kpi_table", "plan_of_day", "route_map", "route_points", "technician_frame", "technician_table",
           "timeline_chart", "timeline_frame"]

#: Colours of the timeline segments (drive, wait, on site, break).
SEGMENT_COLORS = {"drive": "#d08c3f", "wait": "#d9d9d9", "on site": "#2f5d8a", "break": "#5b8f6a"}
#: Technician colours: Vega's tableau10, or tableau20 (paired hues) when there are more technicians.
TECH_SCHEMES = ("tableau10", "tableau20")


@register_parameters("dispatch_plan")
class DispatchPlanParameters(NotebookParameters):
    """Dispatch plan: one day's routes for a company (optionally one region).

    ``day`` defaults to ``as_of`` (itself defaulting to the warehouse's build date).
    ``solution_limit`` stops the search early and makes the plan reproducible; the time
    limit bounds it on a slow machine.
    """

    day: dt.date | None = Field(None, description="day to plan; default as_of")
    region: str | None = Field(None, description="plan one region only; default all")
    time_limit_seconds: float = Field(5.0, gt=0, le=600, description="solver time limit")
    solution_limit: int | None = Field(1000, gt=0, description="stop after this many solutions (reproducible)")
    window: Literal["half_day", "day"] = Field("half_day", description="booked AM/PM windows, or the whole day")


def plan_of_day(con, day, *, region: str | None = None, time_limit_seconds: float = 5.0,
                solution_limit: int | None = 1000, window: str = "half_day") -> RoutePlan:
    """Build ``day``'s routing problem from gold and solve it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Gold warehouse.
    day : date or str
    region : str, optional
        Only that region's jobs and technicians.
    time_limit_seconds, solution_limit
        Solver limits (:class:`~quantlib.ops.routing.SolverSettings`).
    window : {"half_day", "day"}
        Hard AM/PM windows from the booked start, or the whole shift.

    Raises
    ------
    ValueError
        ``region`` has no technicians that day (names the region and the known ones).
    """
    problem = problem_from_warehouse(con, day, WarehouseDayOptions(region=region, window=window))
    if region is not None and not problem.technicians:
        known = [r[0] for r in con.execute("SELECT DISTINCT region FROM technicians ORDER BY 1").fetchall()]
        raise ValueError(f"region: no technicians in {region!r} on {problem.day}; known regions: {', '.join(known)}")
    return solve(problem, SolverSettings(time_limit_seconds=time_limit_seconds, solution_limit=solution_limit))


def _names(plan: RoutePlan) -> dict[str, str]:
    return {t.id: (f"{t.name} ({t.id})" if t.name else t.id) for t in plan.problem.technicians}


# ----------------------------------------------------------------------------- map

def route_points(plan: RoutePlan) -> pd.DataFrame:
    """Each technician's path: home, the jobs in visit order, home again (technicians with work only).

    Columns: ``technician_id, technician, seq, kind`` (``home`` / ``job``), ``job_id, lat, lon,
    start`` (HH:MM of service), ``priority``.
    """
    names = _names(plan)
    jobs = {j.id: j for j in plan.problem.jobs}
    rows = []
    for r in plan.routes:
        if not r.visits:
            continue
        t = plan.problem.technician(r.technician_id)
        rows.append({"technician_id": t.id, "technician": names[t.id], "seq": 0, "kind": "home", "job_id": "",
                     "lat": t.lat, "lon": t.lon, "start": hhmm(r.departure), "priority": ""})
        for k, v in enumerate(r.visits, start=1):
            j = jobs[v.job_id]
            rows.append({"technician_id": t.id, "technician": names[t.id], "seq": k, "kind": "job",
                         "job_id": j.id, "lat": j.lat, "lon": j.lon, "start": hhmm(v.start),
                         "priority": j.priority})
        end_lat, end_lon = t.end_location
        rows.append({"technician_id": t.id, "technician": names[t.id], "seq": len(r.visits) + 1, "kind": "home",
                     "job_id": "", "lat": end_lat, "lon": end_lon, "start": hhmm(r.return_time), "priority": ""})
    return pd.DataFrame(rows, columns=["technician_id", "technician", "seq", "kind", "job_id", "lat", "lon",
                                       "start", "priority"])


def route_map(plan: RoutePlan, *, width: int = 620, height: int = 460, highlight: set[str] | None = None,
              title: str = "Routes") -> alt.LayerChart:
    """Routes on longitude / latitude axes: a line per technician, jobs as dots, homes as squares.

    Dropped jobs are grey crosses; jobs in ``highlight`` (e.g. moved by a re-plan) get a
    black ring. The longitude axis is scaled by cos(latitude) so distances look right.
    """
    points = route_points(plan)
    jobs = {j.id: j for j in plan.problem.jobs}
    dropped = pd.DataFrame([{"job_id": d.job_id, "lat": jobs[d.job_id].lat, "lon": jobs[d.job_id].lon,
                             "reason": d.reason} for d in plan.dropped if d.job_id in jobs],
                           columns=["job_id", "lat", "lon", "reason"])
    lats = [*points["lat"], *dropped["lat"]] or [0.0]
    lons = [*points["lon"], *dropped["lon"]] or [0.0]
    lat_lo, lat_hi, lon_lo, lon_hi = min(lats), max(lats), min(lons), max(lons)
    pad_lat = max((lat_hi - lat_lo) * 0.05, 0.005)
    pad_lon = max((lon_hi - lon_lo) * 0.05, 0.005)
    # Equal ground distance per pixel on both axes: shrink the plotted width of a longitude degree.
    aspect = math.cos(math.radians((lat_lo + lat_hi) / 2))
    span_lat, span_lon = lat_hi - lat_lo + 2 * pad_lat, (lon_hi - lon_lo + 2 * pad_lon) * aspect
    if span_lon / span_lat > width / height:
        height = max(200, int(width * span_lat / span_lon))
    else:
        width = max(200, int(height * span_lon / span_lat))
    x = alt.X("lon:Q", title="Longitude", scale=alt.Scale(domain=[lon_lo - pad_lon, lon_hi + pad_lon], nice=False,
                                                          zero=False))
    y = alt.Y("lat:Q", title="Latitude", scale=alt.Scale(domain=[lat_lo - pad_lat, lat_hi + pad_lat], nice=False,
                                                         zero=False))
    scheme = TECH_SCHEMES[0] if points["technician_id"].nunique() <= 10 else TECH_SCHEMES[1]
    color = alt.Color("technician:N", title="Technician", scale=alt.Scale(scheme=scheme),
                      legend=alt.Legend(orient="right", symbolType="circle"))
    base = alt.Chart(points)
    lines = base.mark_line(strokeWidth=1.8, opacity=0.75).encode(x=x, y=y, color=color, order="seq:Q",
                                                                  detail="technician_id:N")
    stops = base.transform_filter(alt.datum.kind == "job").mark_circle(size=55, opacity=1).encode(
        x=x, y=y, color=color,
        tooltip=["job_id:N", "technician:N", alt.Tooltip("start:N", title="starts"), "priority:N"])
    homes = base.transform_filter(alt.datum.kind == "home").mark_square(size=70, opacity=1).encode(
        x=x, y=y, color=color, tooltip=["technician:N"])
    layers = [lines, stops, homes]
    if len(dropped):
        layers.append(alt.Chart(dropped).mark_point(shape="cross", size=80, color="#7f7f7f", filled=True).encode(
            x=x, y=y, tooltip=["job_id:N", "reason:N"]))
    if highlight:
        ring = points[points["job_id"].isin(highlight)]
        if len(ring):
            layers.append(alt.Chart(ring).mark_circle(size=220, fill=None, stroke="#111111", strokeWidth=2)
                          .encode(x=x, y=y, tooltip=["job_id:N", "technician:N"]))
    return alt.layer(*layers).properties(width=width, height=height, title=title)


# ----------------------------------------------------------------------------- timeline

def _segments_of_route(plan: RoutePlan, route) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, job id) for one route, the break carved out of the drive / wait it falls in."""
    t = plan.problem.technician(route.technician_id)
    tm = plan.travel
    out: list[tuple[str, int, int, str]] = []
    brk = (route.break_start, route.break_start + t.break_minutes) if route.break_start is not None else None

    def gap(free_from: int, busy_from: int, drive: int, job_id: str) -> None:
        # Drive first; a break that starts inside the gap pauses the drive (as validate() allows).
        clock, left = free_from, drive
        if brk is not None and free_from <= brk[0] and brk[1] <= busy_from:
            if brk[0] > clock and left > 0:
                part = min(left, brk[0] - clock)
                out.append(("drive", clock, clock + part, job_id))
                clock, left = clock + part, left - part
            if brk[0] > clock:
                out.append(("wait", clock, brk[0], job_id))
            out.append(("break", brk[0], brk[1], ""))
            clock = brk[1]
        if left > 0:
            end = min(clock + left, busy_from)
            out.append(("drive", clock, end, job_id))
            clock = end
        if busy_from > clock:
            out.append(("wait", clock, busy_from, job_id))

    prev_key, prev_end = start_key(t.id), route.departure
    for v in route.visits:
        key = job_key(v.job_id)
        gap(prev_end, v.start, math.ceil(tm.time(prev_key, key) - 1e-9), v.job_id)
        out.append(("on site", v.start, v.end, v.job_id))
        prev_key, prev_end = key, v.end
    gap(prev_end, route.return_time, math.ceil(tm.time(prev_key, end_key(t.id)) - 1e-9), "")
    if brk is not None and not any(k == "break" for k, *_ in out):
        out.append(("break", brk[0], brk[1], ""))  # e.g. before leaving or after getting home
    return out


def timeline_frame(plan: RoutePlan, day: dt.date | None = None) -> pd.DataFrame:
    """Each technician's day as segments: ``technician_id, technician, kind, job_id, start_minute,
    end_minute, minutes, start, end`` (timestamps on ``day``, default the problem's day or 2000-01-01)."""
    day = day or plan.problem.day or dt.date(2000, 1, 1)
    midnight = pd.Timestamp(day)
    names = _names(plan)
    rows = []
    for r in plan.routes:
        if not r.visits:
            continue
        for kind, a, b, job_id in _segments_of_route(plan, r):
            if b <= a:
                continue
            rows.append({"technician_id": r.technician_id, "technician": names[r.technician_id], "kind": kind,
                         "job_id": job_id, "start_minute": a, "end_minute": b, "minutes": b - a,
                         "start": midnight + pd.Timedelta(minutes=a), "end": midnight + pd.Timedelta(minutes=b),
                         "from": hhmm(a), "to": hhmm(b)})
    return pd.DataFrame(rows, columns=["technician_id", "technician", "kind", "job_id", "start_minute",
                                       "end_minute", "minutes", "start", "end", "from", "to"])


def timeline_chart(plan: RoutePlan, *, width: int = 760, row_height: int = 22,
                   title: str = "Technicians' day", now: int | None = None) -> alt.Chart | alt.LayerChart:
    """A Gantt chart: one row per technician, drive / wait / on site / break segments.

    ``now`` (minutes after midnight) draws a red line at that time.
    """
    frame = timeline_frame(plan)
    kinds = list(SEGMENT_COLORS)
    rows = max(1, frame["technician"].nunique())
    scale = alt.Undefined
    if len(frame):
        # Whole hours around the day, so the last drive home is inside the axis, not past it.
        scale = alt.Scale(domain=[frame["start"].min().floor("h").isoformat(),
                                  frame["end"].max().ceil("h").isoformat()], nice=False)
    bars = alt.Chart(frame).mark_bar(height=max(6, row_height - 6)).encode(
        x=alt.X("start:T", title=None, scale=scale,
                axis=alt.Axis(format="%H:%M", labelAngle=0, labelOverlap=True)),
        x2="end:T",
        y=alt.Y("technician:N", title=None, sort=sorted(frame["technician"].unique())),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=kinds, range=[SEGMENT_COLORS[k] for k in kinds]),
                        legend=alt.Legend(orient="top", symbolType="square")),
        tooltip=["technician:N", "kind:N", "job_id:N", "from:N", "to:N", "minutes:Q"],
    )
    if now is None or frame.empty:
        return bars.properties(width=width, height=rows * row_height, title=title)
    day = plan.problem.day or dt.date(2000, 1, 1)
    at = pd.DataFrame({"now": [pd.Timestamp(day) + pd.Timedelta(minutes=now)], "label": [f"now {hhmm(now)}"]})
    rule = alt.Chart(at).mark_rule(color="#c2453d", strokeWidth=2).encode(x="now:T", tooltip=["label:N"])
    return alt.layer(bars, rule).properties(width=width, height=rows * row_height, title=title)


# ----------------------------------------------------------------------------- tables

#: (key in RoutePlan.kpis(), label, unit, scale) of the KPI table, top to bottom.
KPI_ROWS = (
    ("jobs", "Jobs to do", "count", 1.0),
    ("jobs_served", "Jobs served", "count", 1.0),
    ("jobs_dropped", "Jobs dropped", "count", 1.0),
    ("technicians_used", "Technicians out", "count", 1.0),
    ("drive_minutes", "Drive time", "hours", 1 / 60),
    ("drive_miles", "Drive distance (miles)", "number", 1.0),
    ("on_site_minutes", "Time on site", "hours", 1 / 60),
    ("overtime_minutes", "Overtime", "hours", 1 / 60),
    ("utilisation", "Utilisation (on site / shift)", "ratio", 1.0),
    ("utilisation_of_used", "Utilisation of technicians out", "ratio", 1.0),
    ("late_jobs", "Late jobs (soft windows)", "count", 1.0),
    ("late_minutes", "Lateness", "hours", 1 / 60),
    ("revenue_served", "Revenue of jobs served", "currency", 1.0),
    ("travel_cost", "Travel cost", "currency", 1.0),
    ("fuel_cost", "Fuel cost", "currency", 1.0),
    ("overtime_cost", "Overtime cost", "currency", 1.0),
    ("lateness_cost", "Lateness cost", "currency", 1.0),
    ("operating_cost", "Operating cost", "currency", 1.0),
    ("drop_penalty", "Penalty of dropped jobs", "currency", 1.0),
)


def kpi_frame(plan: RoutePlan) -> pd.DataFrame:
    """The plan's KPIs as rows: ``key, label, value, unit`` (values in the unit, e.g. hours)."""
    k = plan.kpis()
    return pd.DataFrame([{"key": key, "label": label, "value": float(k[key]) * scale, "unit": unit}
                         for key, label, unit, scale in KPI_ROWS])


def kpi_table(plan: RoutePlan, caption: str | None = "The day's plan"):
    """:func:`kpi_frame` as a report table, each value in its unit."""
    frame = kpi_frame(plan)
    shown = pd.DataFrame({"KPI": frame["label"],
                          "Value": [format_value(v, u) for v, u in zip(frame["value"], frame["unit"])]})
    return report_table(shown, labels={c: c for c in shown.columns}, caption=caption)


def technician_frame(plan: RoutePlan) -> pd.DataFrame:
    """Per technician: jobs, departure and return, drive, on site, overtime, utilisation, cost, revenue."""
    tt = plan.technician_table()
    tt["drive_hours"] = tt["drive_minutes"] / 60
    tt["on_site_hours"] = tt["on_site_minutes"] / 60
    tt["overtime_hours"] = tt["overtime_minutes"] / 60
    tt["cost"] = tt[["travel_cost", "fuel_cost", "overtime_cost", "lateness_cost"]].sum(axis=1)
    return tt[["technician_id", "name", "jobs", "departure", "return", "drive_hours", "drive_miles",
               "on_site_hours", "overtime_hours", "late_minutes", "utilisation", "cost", "revenue"]]


def technician_table(plan: RoutePlan, caption: str | None = "Technicians"):
    return report_table(
        technician_frame(plan),
        formats={"jobs": "int", "drive_hours": "num1", "drive_miles": "num1", "on_site_hours": "num1",
                 "overtime_hours": "num1", "late_minutes": "int", "utilisation": "pct", "cost": "money",
                 "revenue": "money"},
        labels={"technician_id": "ID", "drive_hours": "Drive (h)", "drive_miles": "Drive (mi)",
                "on_site_hours": "On site (h)", "overtime_hours": "Overtime (h)", "late_minutes": "Late (min)"},
        caption=caption)


def dropped_frame(plan: RoutePlan) -> pd.DataFrame:
    """Dropped jobs: ``job_id, customer_id, priority, window`` (HH:MM-HH:MM), ``duration, revenue, reason``."""
    jobs = {j.id: j for j in plan.problem.jobs}
    rows = []
    for d in plan.dropped:
        j = jobs.get(d.job_id)
        rows.append({"job_id": d.job_id, "customer_id": j.customer_id if j else "",
                     "priority": j.priority if j else "",
                     "window": f"{hhmm(j.window_start)}-{hhmm(j.window_end)}" if j else "",
                     "duration": j.duration if j else None, "revenue": j.revenue if j else None,
                     "reason": d.reason})
    return pd.DataFrame(rows, columns=["job_id", "customer_id", "priority", "window", "duration", "revenue",
                                       "reason"])


def dropped_table(plan: RoutePlan, caption: str | None = "Jobs not planned, and why"):
    return report_table(dropped_frame(plan), formats={"duration": "int", "revenue": "money"},
                        labels={"job_id": "Job", "customer_id": "Customer", "duration": "Minutes"},
                        caption=caption)
