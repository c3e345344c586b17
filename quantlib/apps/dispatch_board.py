"""The dispatch board: the day's routes, events as they happen, a re-plan and what it changed.

All logic of the Voila app ``notebooks/apps/dispatch_board.ipynb`` lives here; the notebook
only builds and displays a :class:`DispatchBoard`.

>>> board = DispatchBoard("data/demo/mixed_trades/lake/gold.duckdb", "2024-12-31", now=600)  # doctest: +SKIP
>>> board.mark_sick("T0004"); board.cancel("J00023801")                                    # doctest: +SKIP
>>> result = board.replan()                                                                # doctest: +SKIP
>>> result.moved, result.cost_delta, result.seconds                                        # doctest: +SKIP
>>> board.accept()                                                                         # doctest: +SKIP

The board holds the plan in force (first solved from gold for the day), the time "now"
and a list of pending events (:class:`~quantlib.ops.reroute.Cancel`,
:class:`~quantlib.ops.reroute.AddEmergency`, :class:`~quantlib.ops.reroute.TechnicianSick`,
:class:`~quantlib.ops.reroute.Delay`, :class:`~quantlib.ops.reroute.Lock`: a job locked to a
technician, which no re-plan moves). :meth:`DispatchBoard.replan` hands them to
:func:`quantlib.ops.reroute.reroute`, which keeps done and started jobs fixed and re-solves
the rest of the day; its result (moved jobs and why, new ETAs, cost delta, seconds) is shown
as a *proposal*: :meth:`DispatchBoard.accept` makes its plan the plan in force (so events can
follow one another through the day), :meth:`DispatchBoard.reject` keeps the current plan and
the pending events.

Charts (map, timeline) are Altair specs converted to SVG in Python and shown in HTML
widgets, as in :mod:`quantlib.apps.executive_dashboard`: no Vega JavaScript in the page.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import time
from pathlib import Path

import pandas as pd
from pydantic import Field, ValidationError, field_validator

from quantlib.apps.base import WidgetApp, chart_svg, gold_from_parameters
from quantlib.data.gold import connect_gold, gold_file
from quantlib.ops.plan import RoutePlan, hhmm
from quantlib.ops.problem import Job, WarehouseDayOptions, problem_from_warehouse
from quantlib.ops.reroute import (
    AddEmergency,
    Cancel,
    Delay,
    Lock,
    RerouteError,
    RerouteResult,
    RerouteSettings,
    TechnicianSick,
    reroute,
)
from quantlib.ops.routing import SolverSettings, solve
from quantlib.ops.views import dispatch as dv
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.theme import FONT, INK

__all__ = ["DispatchBoard", "DispatchBoardParameters", "board_from_parameters", "parse_minute", "signed_money"]

log = logging.getLogger(__name__)

#: Initial plan: short enough for a first render under 2 s, reproducible when the solution limit stops it.
INITIAL_SETTINGS = SolverSettings(time_limit_seconds=1.5, solution_limit=100)
#: Re-plan: the re-routing engine's budget (warm start and from-scratch searches share it) and move cost.
REPLAN_SETTINGS = RerouteSettings(time_limit_seconds=2.0)
#: Changes not worth a row in the "what changed" table.
QUIET_CHANGES = ("same", "done", "still dropped")
#: Prefix of the environment variables that override :class:`DispatchBoardParameters` (``QUANT_DISPATCH_NOW``...).
ENV_PREFIX = "QUANT_DISPATCH_"
CHART_WIDTH = 560


def parse_minute(value) -> int:
    """Minutes after midnight from ``"10:30"``, ``630`` or ``"630"``.

    Raises
    ------
    ValueError
        Not a time of day (names the value).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        minute = value
    else:
        text = str(value).strip()
        try:
            if ":" in text:
                hours, minutes = text.split(":", 1)
                minute = int(hours) * 60 + int(minutes)
            else:
                minute = int(text)
        except ValueError:
            raise ValueError(f"now: {value!r} is not a time of day (HH:MM or minutes after midnight)") from None
    if not 0 <= minute <= 24 * 60:
        raise ValueError(f"now: {value!r} is outside the day (00:00-24:00)")
    return minute


def signed_money(value: float) -> str:
    """A cost change as shown on the board: ``+$123`` / ``-$45`` / ``$0`` (whole dollars)."""
    rounded = round(value)
    if rounded == 0:
        return "$0"
    return f"{'+' if rounded > 0 else '-'}${abs(rounded):,.0f}"


@register_parameters("dispatch_board")
class DispatchBoardParameters(NotebookParameters):
    """Dispatch board: the day, region, the time now and the solver budgets.

    Voila cannot pass notebook parameters, so the environment overrides them (see
    :func:`board_from_parameters`): ``QUANT_COMPANY``, ``QUANT_LAKE``, ``QUANT_AS_OF`` (set by
    ``quant apps``) and ``QUANT_DISPATCH_<FIELD>`` for the others, e.g. ``QUANT_DISPATCH_NOW=11:00``.
    """

    day: dt.date | None = Field(None, description="day on the board; default as_of")
    region: str | None = Field(None, description="one region only; default all")
    now: str = Field("10:00", description="time of the first events, HH:MM")
    time_limit_seconds: float = Field(1.5, gt=0, le=60, description="initial plan: solver time limit")
    solution_limit: int | None = Field(100, gt=0, description="initial plan: stop after this many solutions")
    replan_seconds: float = Field(2.0, gt=0, le=60, description="re-plan: solver time budget")
    replan_solution_limit: int | None = Field(None, gt=0, description="re-plan: solution limit (reproducible)")

    @field_validator("now")
    @classmethod
    def _now_is_a_time(cls, value: str) -> str:
        return hhmm(parse_minute(value))


class DispatchBoard(WidgetApp):
    """The day's routes, events, re-plans; as ipywidgets when displayed.

    Parameters
    ----------
    gold_path : Path or str
        Gold DuckDB file (opened read-only).
    day : date or str, optional
        The day on the board; default the warehouse's as-of date.
    region : str, optional
        Only this region's jobs and technicians.
    now : int or str
        Time of the first events (minutes after midnight or ``"HH:MM"``).
    initial_settings, replan_settings : SolverSettings, optional
        Budgets of the initial plan (default :data:`INITIAL_SETTINGS`) and of each re-plan
        (default :data:`REPLAN_SETTINGS`).
    company : str, optional
        Shown in the header (default: the warehouse's company name).

    Attributes
    ----------
    plan : RoutePlan
        The plan in force (after a re-plan: the rest of the day from its ``now``).
    initial_plan : RoutePlan
    now : int
    pending : list
        Events not yet re-planned (kept until a proposal is accepted).
    proposal : RerouteResult or None
        The latest re-plan, not yet accepted or rejected.
    results : list of RerouteResult
        Every accepted re-plan so far; ``results[-1]`` is the latest.
    initial_seconds : float
        Wall time of building the problem and the initial plan.
    """

    def __init__(self, gold_path: Path | str, day=None, *, region: str | None = None, now: int | str = "10:00",
                 initial_settings: SolverSettings | None = None, replan_settings: SolverSettings | None = None,
                 company: str | None = None, cache_dir: Path | str | None = None):
        tic = time.perf_counter()
        self.gold_path = gold_file(gold_path)
        self.con = connect_gold(self.gold_path)
        if day is None:
            day = self.con.execute("SELECT as_of FROM build_params").fetchone()[0]
        self.day = pd.Timestamp(day).date()
        self.region = region
        self.company = company or (self.con.execute("SELECT any_value(company) FROM build_info").fetchone()[0] or "")
        self.initial_settings = initial_settings or INITIAL_SETTINGS
        self.replan_settings = replan_settings or REPLAN_SETTINGS
        problem = problem_from_warehouse(self.con, self.day, WarehouseDayOptions(region=region))
        if not problem.technicians:
            raise ValueError(f"region: no technicians in {region!r} on {self.day}")
        self.cache_dir = cache_dir
        self.initial_plan = self._morning_plan(problem)
        self.plan: RoutePlan = self.initial_plan
        self.now = parse_minute(now)
        self.pending: list = []
        self.proposal: RerouteResult | None = None
        self.results: list[RerouteResult] = []
        self._emergency_count = 0
        self.customers = self._customers()
        self.emergency_revenue = {line: float(rev) for line, rev in self.con.execute(
            "SELECT service_line, avg(revenue) FROM jobs WHERE urgency = 'emergency' AND status = 'completed' "
            "AND revenue > 0 GROUP BY 1").fetchall()}
        self.initial_seconds = time.perf_counter() - tic
        self._widget = None
        self.last_render_seconds: float | None = None

    # ------------------------------------------------------------------ state

    def plan_cache_path(self) -> Path | None:
        """Where the day's morning plan is kept (``cache_dir``; None: no cache).

        The key is the gold file's identity, the day, the region, the solver settings and the
        routing engine's source: a rebuild, another day or a changed engine is a new plan.
        """
        if self.cache_dir is None:
            return None
        import hashlib
        import json

        import quantlib.ops.plan as plan_types
        import quantlib.ops.routing as routing

        stat = self.gold_path.resolve().stat()
        source = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (routing, plan_types)))
        key = {"gold": str(self.gold_path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
               "day": str(self.day), "region": self.region, "settings": repr(self.initial_settings),
               "source": source.hexdigest()}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        return Path(self.cache_dir) / f"dispatch-plan-{digest}.pkl"

    def _morning_plan(self, problem) -> RoutePlan:
        """The initial plan: from the cache when ``quant prepare-apps`` (or an earlier kernel) solved it,
        else solved now and kept. The cache is signed (:mod:`quantlib.apps.signed_cache`): a file
        someone else put there is ignored, never unpickled."""
        from quantlib.apps.signed_cache import CacheIntegrityError, read_signed, write_signed

        cache = self.plan_cache_path()
        self.plan_from_cache_ = False
        if cache is not None and cache.exists():
            try:
                plan = read_signed(cache)
                self.plan_from_cache_ = True
                return plan
            except (OSError, CacheIntegrityError) as problem_reading:
                log.warning("ignoring the dispatch plan cache: %s", problem_reading)
        plan = solve(problem, self.initial_settings)
        if cache is not None:
            try:
                write_signed(cache, plan)
            except (OSError, CacheIntegrityError):  # no cache costs the next kernel a solve, nothing more
                log.warning("could not write the dispatch plan cache %s", cache, exc_info=True)
        return plan

    def _customers(self) -> pd.DataFrame:
        """Customers an emergency can come from: those with a job in the 90 days to the day (the region's)."""
        where = "AND c.region = ?" if self.region else ""
        params = [self.day, self.day] + ([self.region] if self.region else [])
        return self.con.execute(f"""
            SELECT DISTINCT c.customer_id, c.name, c.lat, c.lon, c.is_priority
            FROM customers c JOIN jobs j USING (customer_id)
            WHERE j.scheduled_start::DATE BETWEEN ?::DATE - 90 AND ?::DATE {where}
              AND c.lat IS NOT NULL AND c.lon IS NOT NULL
            ORDER BY c.name, c.customer_id LIMIT 400""", params).df()

    @property
    def result(self) -> RerouteResult | None:
        """The latest accepted re-plan, or None."""
        return self.results[-1] if self.results else None

    @property
    def shown(self) -> RerouteResult | None:
        """The re-plan the result panel shows: the proposal, else the latest accepted one."""
        return self.proposal or self.result

    def technicians(self) -> list[tuple[str, str]]:
        """``(label, id)`` of the technicians working in the plan in force."""
        return [(f"{t.name} ({t.id})" if t.name else t.id, t.id) for t in self.plan.problem.technicians]

    def skills(self) -> list[str]:
        return sorted({s for t in self.plan.problem.technicians for s in t.skills})

    def open_jobs(self) -> list[str]:
        """Jobs of the plan in force not done or started by :attr:`now` (the ones that can be cancelled)."""
        pinned = {j.id for j in self.plan.problem.jobs if j.pinned_start is not None}
        done_or_started = {v.job_id for r in self.plan.routes for v in r.visits if v.start <= self.now}
        cancelled = {e.job_id for e in self.pending if isinstance(e, Cancel)}
        return [j.id for j in self.plan.problem.jobs
                if j.id not in done_or_started and j.id not in pinned and j.id not in cancelled]

    def set_now(self, now: int | str) -> None:
        """Move the clock; it cannot go back before the last re-plan."""
        minute = parse_minute(now)
        floor = self.result.now if self.result else 0
        if minute < floor:
            raise ValueError(f"now: {hhmm(minute)} is before the last re-plan at {hhmm(floor)}")
        if minute != self.now:
            self.proposal = None  # made for another time: re-plan again
        self.now = minute

    def cancel(self, job_id: str) -> Cancel:
        """Queue a cancellation of a job not yet started."""
        if job_id not in {j.id for j in self.plan.problem.jobs}:
            raise ValueError(f"cancel: job {job_id!r} is not on today's board")
        if job_id not in self.open_jobs():
            raise ValueError(f"cancel: job {job_id!r} is done, under way or already cancelled at {hhmm(self.now)}")
        event = Cancel(job_id=job_id)
        self.pending.append(event)
        return event

    def mark_sick(self, technician_id: str) -> TechnicianSick:
        """Queue a technician going home sick (their open jobs go back into the pool)."""
        if technician_id not in {t.id for t in self.plan.problem.technicians}:
            raise ValueError(f"sick: technician {technician_id!r} is not working today")
        if any(isinstance(e, TechnicianSick) and e.technician_id == technician_id for e in self.pending):
            raise ValueError(f"sick: technician {technician_id!r} is already marked sick")
        event = TechnicianSick(technician_id=technician_id)
        self.pending.append(event)
        return event

    def delay(self, technician_id: str, minutes: int) -> Delay:
        """Queue a delay: the technician is free ``minutes`` later than planned."""
        if technician_id not in {t.id for t in self.plan.problem.technicians}:
            raise ValueError(f"delay: technician {technician_id!r} is not working today")
        event = Delay(technician_id=technician_id, minutes=int(minutes))
        self.pending.append(event)
        return event

    def add_emergency(self, customer_id: str, skill: str, duration: int = 90) -> AddEmergency:
        """Queue an emergency at a customer's address needing ``skill`` for ``duration`` minutes.

        Its revenue is the mean of the completed emergencies of that service line (the drop
        penalty, weighted 10x for an emergency, follows from it).
        """
        rows = self.customers[self.customers["customer_id"] == customer_id]
        if rows.empty:
            found = self.con.execute("SELECT customer_id, name, lat, lon, is_priority FROM customers "
                                     "WHERE customer_id = ?", [customer_id]).df()
            if found.empty:
                raise ValueError(f"emergency: unknown customer {customer_id!r}")
            rows = found
        if skill not in self.skills():
            raise ValueError(f"emergency: no technician today has skill {skill!r}; skills: {', '.join(self.skills())}")
        c = rows.iloc[0]
        existing = {j.id for j in self.plan.problem.jobs} | {e.job.id for e in self.pending
                                                              if isinstance(e, AddEmergency)}
        self._emergency_count += 1
        job_id = f"E{self._emergency_count:03d}"
        while job_id in existing:
            self._emergency_count += 1
            job_id = f"E{self._emergency_count:03d}"
        try:
            job = Job(id=job_id, lat=float(c["lat"]), lon=float(c["lon"]), duration=int(duration),
                      skills=frozenset({skill}), priority="emergency", customer_id=str(c["customer_id"]),
                      priority_customer=bool(c["is_priority"]), revenue=self.emergency_revenue.get(skill, 0.0))
        except ValidationError as error:
            raise ValueError(f"emergency: {error.errors()[0]['loc'][0]}: {error.errors()[0]['msg']}") from None
        event = AddEmergency(job=job)
        self.pending.append(event)
        return event

    def lock(self, job_id: str, technician_id: str) -> Lock:
        """Queue a lock of an open job to a technician: no re-plan moves it from there."""
        if job_id not in self.open_jobs():
            raise ValueError(f"lock: job {job_id!r} is not an open job at {hhmm(self.now)}")
        if technician_id not in {t.id for t in self.plan.problem.technicians}:
            raise ValueError(f"lock: technician {technician_id!r} is not working today")
        event = Lock(job_id=job_id, technician_id=technician_id)
        self.pending.append(event)
        return event

    def locked(self) -> dict[str, str]:
        """Jobs locked in the plan in force: job id -> technician id (started jobs left out)."""
        return {j.id: j.pinned_technician for j in self.plan.problem.jobs
                if j.pinned_technician is not None and j.pinned_start is None}

    def clear(self) -> None:
        """Forget the pending events (and any proposal made from them)."""
        self.pending.clear()
        self.proposal = None

    def replan(self) -> RerouteResult:
        """Propose a re-plan of the rest of the day from :attr:`now` with the pending events.

        The proposal changes nothing: :meth:`accept` applies it, :meth:`reject` drops it.

        Raises
        ------
        ValueError
            No pending events, or the re-routing engine refused an event (its message).
        """
        if not self.pending:
            raise ValueError("nothing to re-plan: add an event first")
        try:
            result = reroute(self.plan, self.now, list(self.pending), settings=self.replan_settings)
        except RerouteError as error:
            raise ValueError(str(error)) from None
        self.proposal = result
        return result

    def accept(self) -> RerouteResult:
        """Apply the proposal: its plan becomes the plan in force and the pending list is emptied.

        Raises
        ------
        ValueError
            No proposal to accept.
        """
        if self.proposal is None:
            raise ValueError("nothing to accept: re-plan first")
        result, self.proposal = self.proposal, None
        self.results.append(result)
        self.plan = result.after
        self.pending = []
        return result

    def reject(self) -> None:
        """Drop the proposal; the current plan and the pending events stay.

        Raises
        ------
        ValueError
            No proposal to reject.
        """
        if self.proposal is None:
            raise ValueError("nothing to reject: re-plan first")
        self.proposal = None

    def changes_frame(self, result: RerouteResult | None = None) -> pd.DataFrame:
        """What the re-plan changed, one row per job that changed.

        Left out: jobs ``same``, ``done``, ``still dropped``, and jobs under way that carry on
        unchanged with their technician.
        """
        result = result or self.shown
        if result is None:
            return pd.DataFrame(columns=["job_id", "change", "technician_before", "technician_after",
                                         "eta_before", "eta_after", "eta_shift_minutes", "reason"])
        changes = result.changes
        # A job under way that simply carries on (same technician, same times) is no news either.
        carries_on = ((changes["change"] == "started")
                      & (changes["technician_before"] == changes["technician_after"])
                      & (changes["eta_shift_minutes"].fillna(0) == 0))
        return changes[~changes["change"].isin(QUIET_CHANGES) & ~carries_on].reset_index(drop=True)

    def summary(self, result: RerouteResult | None = None) -> dict:
        """Moved jobs, cost before / after / delta, new ETAs, dropped, seconds, valid."""
        result = result or self.shown
        if result is None:
            return {}
        counts = result.changes["change"].value_counts()
        return {"now": result.now, "moved": len(result.moved), "moved_jobs": result.moved,
                "moved_by_reason": result.moves["reason_code"].value_counts().to_dict(),
                "proposal": result is self.proposal,
                "new_eta": int(counts.get("new eta", 0)), "dropped": int(counts.get("dropped", 0)),
                "cost_before": result.cost_before, "cost_after": result.cost_after,
                "cost_delta": result.cost_delta, "seconds": result.seconds,
                # Broken rules a relaxation explains are listed as relaxed, not as violations.
                "violations": sum(v.relaxation is None for v in result.after.validate()),
                "rules_relaxed": [r.reason for r in result.after.relaxations]}

    # ------------------------------------------------------------------ rendering

    def _svg(self, chart) -> str:
        return chart_svg(chart)

    def map_svg(self) -> str:
        moved = set(self.result.moved) if self.result else set()
        title = "Routes" if self.result is None else f"Rest of the day from {hhmm(self.result.now)}"
        return self._svg(dv.route_map(self.plan, width=CHART_WIDTH, height=420, highlight=moved, title=title))

    def timeline_svg(self) -> str:
        return self._svg(dv.timeline_chart(self.plan, width=CHART_WIDTH + 500, row_height=20, now=self.now))

    def _timeline_html(self) -> str:
        return f'<div class="db-panel db-timeline"><h2>Timeline (red line: now)</h2>{self.timeline_svg()}</div>'

    def header_html(self) -> str:
        k = self.plan.kpis()
        region = f" &middot; region {html.escape(self.region)}" if self.region else ""
        state = ("initial plan" if self.result is None else
                 f"re-planned at {hhmm(self.result.now)} ({len(self.results)} re-plan(s))")
        return (f'<div class="db-header"><h1>{html.escape(self.company or "Dispatch board")}</h1>'
                f'<div class="db-sub">{self.day:%A %d %B %Y}{region} &middot; {state} &middot; '
                f'{k["jobs_served"]} jobs on routes, {k["jobs_dropped"]} not planned &middot; '
                f'{k["technicians_used"]} technicians out</div></div>')

    def pending_html(self) -> str:
        if not self.pending:
            return '<div class="db-pending db-empty">No pending events.</div>'
        items = []
        for e in self.pending:
            if isinstance(e, Cancel):
                text = f"cancel job {e.job_id}"
            elif isinstance(e, TechnicianSick):
                text = f"{e.technician_id} off sick"
            elif isinstance(e, Delay):
                text = f"{e.technician_id} delayed {e.minutes} min"
            elif isinstance(e, Lock):
                text = f"lock job {e.job_id} to {e.technician_id}"
            else:
                text = f"emergency {e.job.id} at {e.job.customer_id} ({', '.join(sorted(e.job.skills))}, " \
                       f"{e.job.duration} min)"
            items.append(f'<li data-kind="{e.kind}">{html.escape(text)}</li>')
        return f'<div class="db-pending"><b>Pending at {hhmm(self.now)}:</b><ul>{"".join(items)}</ul></div>'

    def result_html(self) -> str:
        """Summary figures and the table of changes of the proposal or latest re-plan (DOM hooks for tests)."""
        if self.shown is None:
            return ('<div class="db-panel db-result"><h2>What changed</h2><div class="db-empty">'
                    'Add events (cancel, emergency, sick, delay, lock) and press Re-plan.</div></div>')
        s = self.summary()
        esc = html.escape
        figures = [("moved", "Jobs moved", str(s["moved"])), ("new_eta", "New ETAs", str(s["new_eta"])),
                   ("dropped", "Newly dropped", str(s["dropped"])),
                   ("cost_delta", "Cost change", signed_money(s["cost_delta"])),
                   ("seconds", "Re-plan took", f"{s['seconds']:.1f} s")]
        cards = "".join(f'<div class="db-fig"><div class="db-label">{label}</div>'
                        f'<div class="db-value" data-key="{key}">{value}</div></div>' for key, label, value in figures)
        note = (f'<div class="db-note">Rest-of-day cost (operating cost + drop penalties) '
                f'{signed_money(s["cost_before"]).lstrip("+")} before, {signed_money(s["cost_after"]).lstrip("+")} '
                f'after &middot; plan check: '
                f'{"no constraint broken" if s["violations"] == 0 else str(s["violations"]) + " violation(s)"}'
                f'</div>')
        if s["rules_relaxed"]:
            note += ('<div class="db-note db-relaxed">Rules relaxed: <ul>'
                     + "".join(f"<li>{esc(reason)}</li>" for reason in s["rules_relaxed"]) + "</ul></div>")
        rows = []
        for r in self.changes_frame().itertuples(index=False):
            shift = "" if pd.isna(r.eta_shift_minutes) else f"{int(r.eta_shift_minutes):+d}"
            rows.append(
                f'<tr data-job="{esc(r.job_id)}" data-change="{esc(r.change)}"><td>{esc(r.job_id)}</td>'
                f'<td>{esc(r.change)}</td><td>{esc(_text(r.technician_before))}</td>'
                f'<td>{esc(_text(r.technician_after))}</td><td>{_hhmm_or_blank(r.eta_before)}</td>'
                f'<td>{_hhmm_or_blank(r.eta_after)}</td><td>{shift}</td>'
                f'<td class="db-reason" data-code="{esc(_text(r.reason_code))}">{esc(_text(r.reason))}</td>'
                f'</tr>')
        table = ('<table class="db-table"><thead><tr><th>Job</th><th>Change</th><th>Before</th><th>After</th>'
                 '<th>ETA before</th><th>ETA after</th><th>Shift (min)</th><th>Reason</th></tr></thead>'
                 f'<tbody>{"".join(rows)}</tbody></table>') if rows else '<div class="db-empty">No job changed.</div>'
        if s["proposal"]:
            heading = (f'<h2 data-state="proposal">Proposal at {hhmm(s["now"])}: not applied until you '
                       f'press Accept</h2>')
        else:
            heading = f'<h2 data-state="accepted">What changed at {hhmm(s["now"])}</h2>'
        return f'<div class="db-panel db-result">{heading}<div class="db-figs">{cards}</div>{note}{table}</div>'

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        import ipywidgets as w

        style = {"description_width": "initial"}
        times = [hhmm(m) for m in range(6 * 60, 20 * 60 + 1, 15)]
        if hhmm(self.now) not in times:
            times = sorted(times + [hhmm(self.now)])
        self.now_picker = w.Dropdown(options=times, value=hhmm(self.now), description="Now", style=style,
                                     layout=w.Layout(width="130px"))
        self.job_picker = w.Dropdown(description="Job", style=style, layout=w.Layout(width="200px"))
        self.cancel_button = w.Button(description="Cancel job", layout=w.Layout(width="110px"))
        self.customer_picker = w.Dropdown(
            options=[(f"{r.name} ({r.customer_id})", r.customer_id) for r in self.customers.itertuples()],
            description="Emergency at", style=style, layout=w.Layout(width="330px"))
        self.skill_picker = w.Dropdown(options=self.skills(), description="Skill", style=style,
                                       layout=w.Layout(width="170px"))
        self.duration_box = w.BoundedIntText(value=90, min=15, max=480, step=15, description="Minutes", style=style,
                                             layout=w.Layout(width="140px"))
        self.emergency_button = w.Button(description="Add emergency", layout=w.Layout(width="130px"))
        self.tech_picker = w.Dropdown(description="Technician", style=style, layout=w.Layout(width="300px"))
        self.sick_button = w.Button(description="Mark sick", layout=w.Layout(width="100px"))
        self.delay_box = w.BoundedIntText(value=30, min=5, max=240, step=5, description="Delay (min)", style=style,
                                          layout=w.Layout(width="140px"))
        self.delay_button = w.Button(description="Delay", layout=w.Layout(width="80px"))
        self.clear_button = w.Button(description="Clear events", layout=w.Layout(width="110px"))
        self.replan_button = w.Button(description="Re-plan", button_style="primary", layout=w.Layout(width="110px"))
        self.lock_button = w.Button(description="Lock job to technician", layout=w.Layout(width="180px"))
        self.accept_button = w.Button(description="Accept", button_style="success", disabled=True,
                                      layout=w.Layout(width="90px"))
        self.reject_button = w.Button(description="Reject", disabled=True, layout=w.Layout(width="90px"))
        self.status = w.HTML('<div class="db-status">&nbsp;</div>')
        self.header = w.HTML()
        self.pending_box = w.HTML()
        self.result_box = w.HTML()
        self.map_box = w.HTML()
        self.timeline_box = w.HTML()
        self.kpi_box = w.HTML()
        for control, hook in ((self.now_picker, "db-now"), (self.job_picker, "db-job"),
                              (self.cancel_button, "db-cancel"), (self.customer_picker, "db-customer"),
                              (self.skill_picker, "db-skill"), (self.duration_box, "db-duration"),
                              (self.emergency_button, "db-emergency"), (self.tech_picker, "db-technician"),
                              (self.sick_button, "db-sick"), (self.delay_box, "db-delay-minutes"),
                              (self.delay_button, "db-delay"), (self.clear_button, "db-clear"),
                              (self.replan_button, "db-replan"), (self.status, "db-status-box"),
                              (self.lock_button, "db-lock"), (self.accept_button, "db-accept"),
                              (self.reject_button, "db-reject")):
            control.add_class(hook)  # stable DOM hooks for browser tests
        self.now_picker.observe(self._on_now, names="value")
        self.cancel_button.on_click(lambda _b: self._act(lambda: self.cancel(self.job_picker.value)))
        self.sick_button.on_click(lambda _b: self._act(lambda: self.mark_sick(self.tech_picker.value)))
        self.delay_button.on_click(lambda _b: self._act(lambda: self.delay(self.tech_picker.value,
                                                                           self.delay_box.value)))
        self.emergency_button.on_click(lambda _b: self._act(lambda: self.add_emergency(
            self.customer_picker.value, self.skill_picker.value, self.duration_box.value)))
        self.clear_button.on_click(lambda _b: self._act(self.clear))
        self.replan_button.on_click(self._on_replan)
        self.lock_button.on_click(lambda _b: self._act(lambda: self.lock(self.job_picker.value,
                                                                         self.tech_picker.value)))
        self.accept_button.on_click(self._on_accept)
        self.reject_button.on_click(self._on_reject)

        def row(*children):
            box = w.HBox(list(children), layout=w.Layout(flex_flow="row wrap", align_items="center",
                                                         padding="2px 0"))
            for child in children:
                child.layout.margin = "2px 10px 2px 0"
            return box

        controls = w.VBox([row(self.now_picker, self.job_picker, self.cancel_button),
                           row(self.customer_picker, self.skill_picker, self.duration_box, self.emergency_button),
                           row(self.tech_picker, self.sick_button, self.delay_box, self.delay_button,
                               self.lock_button),
                           row(self.replan_button, self.accept_button, self.reject_button, self.clear_button,
                               self.status),
                           self.pending_box],
                          layout=w.Layout(border="1px solid #e2e5e9", padding="6px 10px"))
        charts = w.HBox([self.map_box, self.result_box], layout=w.Layout(flex_flow="row wrap"))
        # HTML widgets stretch to the row by default; fixed bases let map and result sit side by side.
        self.map_box.layout = w.Layout(flex="0 0 auto", margin="0 12px 0 0")
        self.result_box.layout = w.Layout(flex="1 1 420px", min_width="420px")
        self._widget = w.VBox([w.HTML(CSS), self.header, controls, charts, self.timeline_box, self.kpi_box],
                              layout=w.Layout(padding="8px 16px", max_width="1500px"))
        self._widget.add_class("db-root")

    def _set_status(self, text: str, error: bool = False, **data) -> None:
        attrs = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in data.items())
        self.status.value = (f'<div class="db-status{" error" if error else ""}"{attrs}>'
                             f"{html.escape(text)}</div>")

    def _refresh_controls(self) -> None:
        jobs = self.open_jobs()
        self.job_picker.options = jobs
        self.job_picker.value = jobs[0] if jobs else None
        techs = [(label, tid) for label, tid in self.technicians()
                 if not any(isinstance(e, TechnicianSick) and e.technician_id == tid for e in self.pending)]
        self.tech_picker.options = techs
        self.tech_picker.value = techs[0][1] if techs else None
        self.pending_box.value = self.pending_html()
        self._proposal_buttons()

    def _act(self, action) -> None:
        had_proposal = self.proposal is not None
        try:
            action()
        except ValueError as problem:
            self._set_status(str(problem), error=True)
            return
        if had_proposal and self.proposal is None:
            self.result_box.value = self.result_html()
        self._refresh_controls()
        self._set_status(f"{len(self.pending)} event(s) pending")

    def _on_now(self, change) -> None:
        had_proposal = self.proposal is not None
        try:
            self.set_now(change["new"])
        except ValueError as problem:
            self._set_status(str(problem), error=True)
            self.now_picker.value = hhmm(self.now)
            return
        if had_proposal and self.proposal is None:
            self.result_box.value = self.result_html()
        self._refresh_controls()
        self.timeline_box.value = self._timeline_html()

    def _on_replan(self, _button=None) -> None:
        self._set_status("Re-planning…", state="running")
        self.replan_button.disabled = True
        try:
            result = self.replan()
            self.result_box.value = self.result_html()
            self._set_status(f"Proposal ready in {result.seconds:.1f} s: {len(result.moved)} job(s) move; "
                             "Accept applies it, Reject keeps the current plan", state="proposed",
                             seconds=f"{result.seconds:.3f}")
        except ValueError as problem:
            self._set_status(str(problem), error=True)
        except Exception as problem:  # never a stack trace in front of a dispatcher; the log has it
            log.exception("re-plan failed")
            self._set_status(f"Could not re-plan: {type(problem).__name__}", error=True)
        finally:
            self.replan_button.disabled = False
            self._proposal_buttons()

    def _proposal_buttons(self) -> None:
        self.accept_button.disabled = self.reject_button.disabled = self.proposal is None

    def _on_accept(self, _button=None) -> None:
        try:
            result = self.accept()
        except ValueError as problem:
            self._set_status(str(problem), error=True)
            return
        self.refresh()
        self._proposal_buttons()
        self._set_status(f"Accepted: re-planned in {result.seconds:.1f} s", state="done",
                         seconds=f"{result.seconds:.3f}")

    def _on_reject(self, _button=None) -> None:
        try:
            self.reject()
        except ValueError as problem:
            self._set_status(str(problem), error=True)
            return
        self.refresh()
        self._proposal_buttons()
        self._set_status(f"Proposal rejected: the current plan stays; {len(self.pending)} event(s) pending",
                         state="rejected")

    def refresh(self) -> None:
        """Redraw header, charts, result and KPI table from the plan in force."""
        if self._widget is None:
            self._build()
        t0 = time.perf_counter()
        header, result = self.header_html(), self.result_html()
        map_html = f'<div class="db-panel db-map"><h2>Map</h2>{self.map_svg()}</div>'
        timeline = self._timeline_html()
        kpis = dv.kpi_frame(self.plan)
        from quantlib.views.tables import format_value

        kpi_rows = "".join(f'<tr data-kpi="{k}"><td>{html.escape(label)}</td><td>{format_value(v, u)}</td></tr>'
                           for k, label, v, u in kpis[["key", "label", "value", "unit"]].itertuples(index=False))
        title = "Key figures" if self.result is None else f"Key figures, rest of the day from {hhmm(self.result.now)}"
        kpi_html = (f'<div class="db-panel"><h2>{title}</h2><table class="db-table db-kpis">'
                    f"<tbody>{kpi_rows}</tbody></table></div>")
        self.header.value, self.result_box.value = header, result
        self.map_box.value, self.timeline_box.value, self.kpi_box.value = map_html, timeline, kpi_html
        self._refresh_controls()
        self.last_render_seconds = time.perf_counter() - t0

    def close(self) -> None:
        """Close the gold connection (and the widgets, if built)."""
        if self._widget is not None:
            for child in self._widget.children:
                child.close()
            self._widget.close()
        self.con.close()


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _hhmm_or_blank(value) -> str:
    return "" if value is None or pd.isna(value) else hhmm(int(value))


CSS = f"""
<style>
.db-root {{ font-family: {FONT}; color: {INK}; }}
.db-header h1 {{ font-size: 21px; font-weight: 600; margin: 4px 0 2px 0; }}
.db-sub {{ font-size: 13px; color: #666; margin-bottom: 6px; }}
.db-panel {{ background: #fff; border: 1px solid #e2e5e9; border-radius: 6px; padding: 8px 12px; margin-top: 8px; }}
.db-panel h2 {{ font-size: 15px; font-weight: 600; margin: 0 0 6px 0; }}
.db-panel svg {{ max-width: 100%; height: auto; }}
.db-result {{ min-width: 420px; max-width: 600px; }}
.db-figs {{ display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 6px; }}
.db-fig {{ border: 1px solid #e2e5e9; border-radius: 6px; padding: 6px 10px; min-width: 96px; }}
.db-label {{ font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: #5c6670; }}
.db-value {{ font-size: 22px; font-weight: 600; }}
.db-note {{ font-size: 12px; color: #5c6670; margin: 4px 0 8px 0; }}
table.db-table {{ border-collapse: collapse; font-size: 12.5px; font-family: {FONT}; }}
table.db-table th {{ text-align: left; font-weight: 600; color: #5c6670; border-bottom: 2px solid #e2e5e9;
                    padding: 3px 8px; white-space: nowrap; }}
table.db-table td {{ padding: 3px 8px; border-bottom: 1px solid #eef0f2; white-space: nowrap; }}
table.db-table td.db-reason {{ font-size: 11.5px; color: #5c6670; }}
.db-root table.db-table td, .db-root table.db-table th {{ line-height: 1.35; }}
.db-result {{ overflow-x: auto; }}
tr[data-change="moved"] td {{ background: #fdf3e4; }}
tr[data-change="dropped"] td {{ background: #fbe9e7; }}
.db-pending ul {{ margin: 2px 0 4px 18px; padding: 0; font-size: 13px; }}
.db-pending {{ font-size: 13px; }}
.db-status {{ font-size: 12.5px; color: #5c6670; min-width: 200px; }}
.db-status.error {{ color: #a8352e; }}
.db-empty {{ color: #7a828a; font-size: 13px; padding: 6px 0; }}
</style>
"""


def board_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                          environ: dict | None = None, **values) -> DispatchBoard:
    """The board of the app notebook's parameters, with environment overrides.

    Voila cannot inject notebook parameters, so the environment wins over the notebook's
    defaults: ``QUANT_COMPANY``, ``QUANT_LAKE``, ``QUANT_AS_OF`` (what ``quant apps`` sets)
    and ``QUANT_DISPATCH_DAY``, ``_REGION``, ``_NOW``, ``_TIME_LIMIT_SECONDS``,
    ``_SOLUTION_LIMIT``, ``_REPLAN_SECONDS``, ``_REPLAN_SOLUTION_LIMIT``. Everything is
    validated by :class:`DispatchBoardParameters`.

    Raises
    ------
    quantlib.parameters.ParameterError
        An unknown company, a malformed date or time, a bad limit (one line each).
    FileNotFoundError
        The lake has no gold database yet.
    """
    params, gold = gold_from_parameters(company, lake, as_of, environ, model=DispatchBoardParameters,
                                        prefix=ENV_PREFIX, **values)
    return DispatchBoard(
        gold, params.day or params.as_of, region=params.region, now=params.now, cache_dir=default_cache_dir(environ),
        initial_settings=SolverSettings(time_limit_seconds=params.time_limit_seconds,
                                        solution_limit=params.solution_limit),
        replan_settings=SolverSettings(time_limit_seconds=params.replan_seconds,
                                       solution_limit=params.replan_solution_limit))


def default_cache_dir(environ: dict | None = None) -> Path:
    """``$QUANT_DISPATCH_CACHE``, else ``.cache/dispatch_board`` under the project root."""
    import os

    from quantlib.config import project_root

    env = {**os.environ, **(environ or {})}
    return Path(env.get("QUANT_DISPATCH_CACHE") or project_root() / ".cache" / "dispatch_board")
