"""Daily vehicle routing with time windows, skills, shifts, breaks and priorities (OR-Tools).

:func:`solve` turns a :class:`~quantlib.ops.problem.RoutingProblem` into a
:class:`~quantlib.ops.plan.RoutePlan` in four steps, each a function of its own:

1. screening (:func:`screen_jobs`): jobs no technician can ever serve are set aside *before*
   the solver, each with a reason (no skilled technician, no van with the equipment, the hard
   window closed before anyone can arrive, longer than any shift);
2. model building (:func:`build_model`): the rest goes into an OR-Tools ``RoutingModel``: one
   vehicle per technician from its start to its end location; arc cost = travel cost per minute
   x minutes + fuel cost per mile x miles; a time dimension (travel rounded up to whole minutes
   + service) with waiting slack, windows (hard ranges, or soft upper bounds costing lateness
   per minute), shift + overtime (hard end at shift + overtime, overtime cost per minute beyond
   the shift), a lunch break interval per technician, skills and equipment as allowed vehicles,
   pinned started jobs, workload balance as a global span cost (fairness x travel cost per
   minute), a drop penalty per job (revenue x priority weight x 1.5 for priority customers) and,
   when re-routing, a move cost per job served by another technician than its current one;
3. search (:func:`run_search`, :func:`break_free_routes`): construction (``first_solution``)
   then guided local search, bounded by a time limit and, for reproducible plans, a solution
   limit (applied to each phase below). OR-Tools' break intervals make that search slow, so with
   lunch breaks it runs in two phases: first without breaks (``break_first_phase`` of the time),
   then jobs are removed until every route fits its lunch (:func:`repair_routes`, checked by
   :func:`schedule_route`) and the full model is warm-started from those routes; above
   ``BREAK_MODEL_MAX_SIZE`` job x technician pairs the first phase gets all the time, unserved
   jobs are re-inserted where they fit (:func:`insert_unserved`) and the routes are timed by
   :func:`schedule_route`;
4. reading the routes (:func:`read_routes`, or :func:`timed_routes` for routes timed directly);
   jobs no route serves are reported as dropped for capacity.

Money is scaled to cents in the model (OR-Tools needs integers); the plan's KPIs are
recomputed in floats from the travel matrix by :class:`~quantlib.ops.plan.RoutePlan`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from pydantic import BaseModel, ConfigDict, Field

from quantlib.errors import DropReason
from quantlib.ops.plan import DroppedJob, Route, RoutePlan, Visit, end_key, hhmm, job_key, start_key
from quantlib.ops.problem import Job, RoutingProblem, Technician
from quantlib.ops.travel import MatrixProvider, TravelMatrix, build_matrix

FirstSolution = Literal["PARALLEL_CHEAPEST_INSERTION", "PATH_CHEAPEST_ARC", "SAVINGS",
                        "LOCAL_CHEAPEST_INSERTION", "AUTOMATIC"]
Solver = Literal["auto", "pyvrp", "ortools"]
Metaheuristic = Literal["GUIDED_LOCAL_SEARCH", "SIMULATED_ANNEALING", "TABU_SEARCH", "GREEDY_DESCENT"]
MONEY_SCALE = 100  # cents
# Above this many job x technician pairs the model with break intervals is not searched (see solve):
# its search is slow per move; at 20 x 150 the directly timed routes were cheaper after 5 s (5,092
# vs 5,820), at 10 x 60 slightly dearer (1,655 vs 1,622).
BREAK_MODEL_MAX_SIZE = 1500
# PyVRP's iteration cap when a reproducible plan is asked for (``solution_limit`` set).
REPRODUCIBLE_ITERATIONS = 1000


class SolverSettings(BaseModel):
    """Search settings of :func:`solve`.

    ``solution_limit`` makes the search reproducible: OR-Tools' single-threaded search is
    deterministic, so a run that stops at the solution limit (before ``time_limit_seconds``)
    returns the same plan every time; PyVRP's search (seeded) then stops after
    ``iteration_limit`` iterations (default :data:`REPRODUCIBLE_ITERATIONS`). With
    ``solution_limit=None`` only the time limit stops the search and the result can vary with
    machine load.
    """

    @property
    def pyvrp_iterations(self) -> int | None:
        """PyVRP's iteration cap (see ``iteration_limit``)."""
        if self.iteration_limit is not None:
            return self.iteration_limit
        return REPRODUCIBLE_ITERATIONS if self.solution_limit is not None else None


    model_config = ConfigDict(frozen=True)

    solver: Solver = Field("auto", description=(
        "Search engine: 'pyvrp' (PyVRP's iterated local search; breaks repaired afterwards), 'ortools' "
        "(OR-Tools guided local search), 'auto' (PyVRP, then OR-Tools warm-started from its routes where "
        "the day has lunch breaks or soft windows; the better valid plan is kept)"))
    pyvrp_share: float = Field(0.6, gt=0, le=1, description=(
        "'auto' with an OR-Tools polish: share of the time limit PyVRP searches"))
    iteration_limit: int | None = Field(None, gt=0, description=(
        "PyVRP: stop after this many iterations; None: the clock only, or REPRODUCIBLE_ITERATIONS when "
        "solution_limit is set (a plan asked to be reproducible is so with either engine)"))
    seed: int = Field(0, ge=0, description="PyVRP's random seed")
    first_solution: FirstSolution = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: Metaheuristic = "GUIDED_LOCAL_SEARCH"
    time_limit_seconds: float = Field(5.0, gt=0)
    solution_limit: int | None = Field(None, gt=0)
    break_first_phase: float = Field(0.4, ge=0, lt=1, description=(
        "Share of the time limit spent on a first search without lunch breaks, whose routes (repaired "
        "to fit the breaks) warm-start the full model; 0 = construct with breaks directly (slow)."))
    log_search: bool = False


def solvable_reason(problem: RoutingProblem, job: Job, tm: TravelMatrix) -> tuple[DropReason, str] | None:
    """Why no technician can serve ``job`` at all (code and message), or None when someone might."""
    skilled = [t for t in problem.technicians if job.skills <= t.skills
               and (job.pinned_technician is None or job.pinned_technician == t.id)]
    if not skilled:
        if job.pinned_technician is not None:
            return (DropReason.NO_SKILLED_TECHNICIAN,
                    f"no skilled technician: pinned to {job.pinned_technician}, who lacks {sorted(job.skills)}")
        return DropReason.NO_SKILLED_TECHNICIAN, f"no skilled technician: needs {', '.join(sorted(job.skills))}"
    equipped = [t for t in skilled if job.equipment <= t.equipment]
    if not equipped:
        return DropReason.MISSING_EQUIPMENT, f"no van carries the equipment: needs {', '.join(sorted(job.equipment))}"
    if job.pinned_start is not None:
        return None
    key = job_key(job.id)
    earliest = min(t.departure + math.ceil(tm.time(start_key(t.id), key)) for t in equipped)
    if job.hard_window and earliest > job.window_end:
        return (DropReason.WINDOW_UNREACHABLE, (f"window closed: service must start by {hhmm(job.window_end)}, "
                                                f"the earliest arrival is {hhmm(earliest)}"))
    fits = False
    for t in equipped:
        arrive = t.departure + math.ceil(tm.time(start_key(t.id), key))
        begin = max(arrive, job.window_start)
        if job.hard_window and begin > job.window_end:
            continue
        if begin + job.duration + math.ceil(tm.time(key, end_key(t.id))) <= t.latest_end:
            fits = True
            break
    if not fits:
        return (DropReason.OUTSIDE_SHIFT,
                "does not fit in any shift: no skilled technician can do it and get home before shift + overtime end")
    return None


def problem_matrix(problem: RoutingProblem, provider: MatrixProvider | None = None) -> TravelMatrix:
    """Travel matrix over every job and every technician's start and end."""
    keys, lats, lons = [], [], []
    for j in problem.jobs:
        keys.append(job_key(j.id))
        lats.append(j.lat)
        lons.append(j.lon)
    for t in problem.technicians:
        keys.append(start_key(t.id))
        lats.append(t.lat)
        lons.append(t.lon)
    for t in problem.technicians:
        lat, lon = t.end_location
        keys.append(end_key(t.id))
        lats.append(lat)
        lons.append(lon)
    departure = min((t.departure for t in problem.technicians), default=480)
    until = max((t.latest_end for t in problem.technicians), default=departure + 600)
    return build_matrix(keys, lats, lons, provider, departure, until)


def schedule_route(t: Technician, seq: list[Job], tm: TravelMatrix) -> Route | None:
    """The earliest schedule of ``seq`` in order for ``t``, with the break, or None when it cannot fit.

    Checks the van's capacity, windows, pins and the shift end with whole-minute legs (as the
    solvers do); the break
    is tried in every gap (before the first drive, between two stops, before the drive home),
    taken as early as the gap allows: the rules :meth:`RoutePlan.validate` checks.
    """
    if t.capacity is not None and sum(j.demand for j in seq) > t.capacity:
        return None
    keys = [start_key(t.id)] + [job_key(j.id) for j in seq] + [end_key(t.id)]
    legs = [math.ceil(tm.time(a, b) - 1e-9) for a, b in zip(keys, keys[1:])]
    need_break = t.break_minutes > 0 and bool(seq)
    for gap in (range(len(seq) + 1) if need_break else [None]):
        now = t.departure
        visits: list[Visit] = []
        break_start = None
        ok = True
        for k in range(len(seq) + 1):
            arrival = now + legs[k]
            earliest = arrival
            if gap == k:
                b = max(now, t.break_earliest)
                if b > t.break_latest:
                    ok = False
                    break
                break_start = b
                earliest = max(arrival + t.break_minutes, b + t.break_minutes)
                if b < arrival:  # lunch before driving on
                    arrival = b + t.break_minutes + legs[k]
            if k == len(seq):
                ok = earliest <= t.latest_end
                ret = earliest
                break
            j = seq[k]
            lo, hi = (j.pinned_start, j.pinned_start) if j.pinned_start is not None else (
                j.window_start, j.window_end if j.hard_window else 10**9)
            start = max(earliest, lo)
            if start > hi:
                ok = False
                break
            visits.append(Visit(j.id, min(arrival, start), start, start + j.duration))
            now = start + j.duration
        if ok:
            return Route(t.id, t.departure, ret, visits, break_start, (t.lat, t.lon), t.end_location)
    return None


def route_fits(t: Technician, seq: list[Job], tm: TravelMatrix) -> bool:
    """Whether ``t`` can do ``seq`` in this order (see :func:`schedule_route`)."""
    return schedule_route(t, seq, tm) is not None


def repair_routes(problem: RoutingProblem, routes: dict[str, list[str]], tm: TravelMatrix) -> dict[str, list[str]]:
    """Remove jobs from routes that cannot fit their technician's break, cheapest drop penalty first
    (started and required jobs last)."""
    techs = {t.id: t for t in problem.technicians}
    jobs = {j.id: j for j in problem.jobs}
    out = {}
    for tid, ids in routes.items():
        seq = [jobs[i] for i in ids if i in jobs]
        t = techs[tid]
        while seq and not route_fits(t, seq, tm):
            single = [k for k in range(len(seq)) if route_fits(t, seq[:k] + seq[k + 1:], tm)]
            pool = single or range(len(seq))
            k = min(pool, key=lambda k: (problem.objective.drop_penalty(seq[k])
                                         * (1000 if seq[k].pinned_start is not None or seq[k].required else 1)))
            seq = seq[:k] + seq[k + 1:]
        out[tid] = [j.id for j in seq]
    return out


def insert_unserved(problem: RoutingProblem, routes: dict[str, list[str]], tm: TravelMatrix,
                    seconds: float = 0.5) -> dict[str, list[str]]:
    """Greedily insert jobs no route serves, required ones then highest drop penalty first, at the cheapest
    feasible place (a required job wherever it fits, whatever it costs).

    Feasibility is :func:`schedule_route` (windows, pins, shift, break); cost is the added travel
    and fuel, plus the objective's move cost on another technician than the job's current one.
    Stops after ``seconds`` (it runs in Python).
    """
    deadline = time.perf_counter() + seconds
    obj = problem.objective
    techs = {t.id: t for t in problem.technicians}
    jobs = {j.id: j for j in problem.jobs}
    routes = {tid: list(ids) for tid, ids in routes.items()}
    for tid in techs:
        routes.setdefault(tid, [])
    served = {jid for ids in routes.values() for jid in ids}

    def leg(a: str, b: str) -> float:
        return obj.travel_cost_per_minute * tm.time(a, b) + obj.fuel_cost_per_mile * tm.distance(a, b)

    for j in sorted((j for j in problem.jobs if j.id not in served), key=lambda j: (j.required, obj.drop_penalty(j)),
                    reverse=True):
        if time.perf_counter() > deadline:
            break
        best = None
        for tid, ids in routes.items():
            t = techs[tid]
            if not problem.can_serve(t, j):
                continue
            keys = [start_key(tid)] + [job_key(i) for i in ids] + [end_key(tid)]
            moving = obj.move_cost if obj.moves(j, tid) and j.current_technician in techs else 0.0
            for pos in range(len(ids) + 1):
                delta = (leg(keys[pos], job_key(j.id)) + leg(job_key(j.id), keys[pos + 1])
                         - leg(keys[pos], keys[pos + 1]) + moving)
                if best is not None and delta >= best[0]:
                    continue
                seq = [jobs[i] for i in ids[:pos]] + [j] + [jobs[i] for i in ids[pos:]]
                if route_fits(t, seq, tm):
                    best = (delta, tid, pos)
        if best is not None and (j.required or best[0] < obj.drop_penalty(j)):
            routes[best[1]].insert(best[2], j.id)
    return routes


CAPACITY_REASON = ("capacity: no skilled technician had room for it within its window and shift "
                   "at a cost below its drop penalty")
_STATUS_NAMES = {0: "not solved", 1: "success", 2: "partial success (limit)", 3: "fail",
                 4: "fail: timeout", 5: "invalid", 6: "infeasible", 7: "optimal"}


def screen_jobs(problem: RoutingProblem, tm: TravelMatrix) -> tuple[list[Job], list[DroppedJob]]:
    """Step 1: split the jobs into those someone might serve and those no one can (with the reason).

    Returns
    -------
    jobs : list of Job
        The jobs that go to the solver, in problem order.
    dropped : list of DroppedJob
        The others, each with its reason and code from :func:`solvable_reason`.
    """
    jobs: list[Job] = []
    dropped: list[DroppedJob] = []
    for j in problem.jobs:
        why = solvable_reason(problem, j, tm)
        if why is None:
            jobs.append(j)
        else:
            code, reason = why
            dropped.append(DroppedJob(j.id, reason, code))
    return jobs, dropped


@dataclass
class RoutingModel:
    """Step 2's result: an OR-Tools model of the day and what is needed to read its solutions.

    Nodes are the jobs (``0 .. n-1``), then each technician's start, then each one's end.
    """

    jobs: list[Job]
    techs: list[Technician]
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    travel_minutes: np.ndarray  # whole minutes between nodes, as the time dimension counts them


def build_model(problem: RoutingProblem, jobs: list[Job], techs: list[Technician], tm: TravelMatrix) -> RoutingModel:
    """Step 2: the OR-Tools model of ``jobs`` for ``techs``: costs, time dimension, constraints.

    Arc cost = travel cost per minute x minutes + fuel cost per mile x miles (in cents); the
    time dimension counts travel rounded up to whole minutes plus service, with waiting slack.
    Constraints: skills, equipment and pins as allowed vehicles, windows (hard ranges or soft
    upper bounds costing lateness), shift + overtime (soft upper bound at the shift end, hard at
    shift + overtime), workload balance as a global span cost, a drop penalty per job and a
    lunch break interval per technician with ``break_minutes > 0``.

    Parameters
    ----------
    problem : RoutingProblem
        The objective and the pins (:meth:`RoutingProblem.can_serve`).
    jobs : list of Job
        The screened jobs (step 1).
    techs : list of Technician
        One vehicle each; the first search phase passes them without breaks.
    tm : TravelMatrix
        Holds every job, start and end key.
    """
    obj = problem.objective
    n, m = len(jobs), len(techs)
    keys = [job_key(j.id) for j in jobs] + [start_key(t.id) for t in techs] + [end_key(t.id) for t in techs]
    idx = np.array([tm.index(k) for k in keys])
    minutes = tm.minutes[np.ix_(idx, idx)]
    miles = tm.miles[np.ix_(idx, idx)]
    service = np.array([j.duration for j in jobs] + [0] * (2 * m), dtype=np.int64)
    travel_int = np.ceil(minutes - 1e-9).astype(np.int64)
    cost = np.round(MONEY_SCALE * (obj.travel_cost_per_minute * minutes + obj.fuel_cost_per_mile * miles))
    cost = cost.astype(np.int64)
    transit = travel_int + service[:, None]
    starts = [n + v for v in range(m)]
    ends = [n + m + v for v in range(m)]
    # Nothing drives *into* a start or *out of* an end; zeroing keeps those arcs harmless.
    manager = pywrapcp.RoutingIndexManager(n + 2 * m, m, starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    cost_cb = routing.RegisterTransitMatrix(cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    time_cb = routing.RegisterTransitMatrix(transit.tolist())
    horizon = max(max(t.latest_end for t in techs), max((j.window_end for j in jobs), default=0)) + 24 * 60
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for node, j in enumerate(jobs):
        index = manager.NodeToIndex(node)
        allowed = [v for v, t in enumerate(techs) if problem.can_serve(t, j)]
        if len(allowed) < m:
            # -1: the job may also stay unperformed (dropped with its penalty).
            routing.VehicleVar(index).SetValues([-1] + allowed)
        cum = tdim.CumulVar(index)
        if j.pinned_start is not None:
            cum.SetRange(j.pinned_start, j.pinned_start)
        elif j.hard_window:
            cum.SetRange(j.window_start, j.window_end)
        else:
            cum.SetMin(j.window_start)
            tdim.SetCumulVarSoftUpperBound(index, j.window_end,
                                           int(round(MONEY_SCALE * j.lateness_cost_per_minute)))
        penalty = int(round(MONEY_SCALE * obj.drop_penalty(j)))
        if j.pinned_technician is not None or j.required:
            penalty = max(penalty * 100, 10**9)  # a started or required job stays unless impossible
        routing.AddDisjunction([index], penalty)
    for v, t in enumerate(techs):
        s, e = routing.Start(v), routing.End(v)
        tdim.CumulVar(s).SetRange(t.departure, t.latest_end)
        tdim.CumulVar(e).SetRange(t.departure, t.latest_end)
        tdim.SetCumulVarSoftUpperBound(e, t.shift_start + t.shift_minutes,
                                       int(round(MONEY_SCALE * t.overtime_cost_per_minute)))
        routing.AddVariableMaximizedByFinalizer(tdim.CumulVar(s))
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(e))
    if any(t.capacity is not None for t in techs) or any(j.demand for j in jobs):
        unlimited = int(sum(j.demand for j in jobs))
        load_cb = routing.RegisterUnaryTransitVector([int(j.demand) for j in jobs] + [0] * (2 * m))
        routing.AddDimensionWithVehicleCapacity(
            load_cb, 0, [t.capacity if t.capacity is not None else unlimited for t in techs], True, "load")
    if obj.balance_cost_per_minute > 0:
        tdim.SetGlobalSpanCostCoefficient(int(round(MONEY_SCALE * obj.balance_cost_per_minute)))
    _add_move_cost(problem, routing, manager, jobs, techs)
    _add_breaks(routing, tdim, techs, [int(x) for x in service])
    for node in range(n):
        routing.AddToAssignment(tdim.SlackVar(manager.NodeToIndex(node)))
    return RoutingModel(jobs, techs, manager, routing, tdim, travel_int)


def _add_move_cost(problem: RoutingProblem, routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager,
                   jobs: list[Job], techs: list[Technician]) -> None:
    """Re-routing: serving a job by another vehicle than its ``current_technician`` costs ``move_cost``.

    A counting dimension ``moves`` with one unary transit vector per vehicle: leaving a job's
    node adds 1 on every vehicle but the job's current technician's (0 on that one), and every
    performed node is left exactly once, so a route's span (its end cumul; the start is fixed
    at 0) is the number of jobs it took from other technicians. A span cost of ``move_cost``
    per unit puts exactly ``move_cost`` x moved jobs into the objective. Allowed vehicles or
    per-vehicle disjunctions cannot express this (they forbid or drop, they do not price),
    and per-vehicle arc-cost matrices would cost one full matrix per technician.
    """
    cents = int(round(MONEY_SCALE * problem.objective.move_cost))
    homes = {t.id for t in techs}
    if cents <= 0 or not any(j.current_technician in homes for j in jobs):
        return
    n_nodes = manager.GetNumberOfNodes()
    callbacks = []
    for t in techs:
        moved = [0] * n_nodes
        for node, j in enumerate(jobs):
            if j.current_technician in homes and j.current_technician != t.id:
                moved[node] = 1
        callbacks.append(routing.RegisterUnaryTransitVector(moved))
    routing.AddDimensionWithVehicleTransits(callbacks, 0, len(jobs) + 1, True, "moves")
    routing.GetDimensionOrDie("moves").SetSpanCostCoefficientForAllVehicles(cents)


def _add_breaks(routing: pywrapcp.RoutingModel, tdim: pywrapcp.RoutingDimension, techs: list[Technician],
                node_visit_transits: list[int]) -> None:
    """One lunch-break interval per technician with a break, named ``break <vehicle>`` (read back by name)."""
    solver = routing.solver()
    for v, t in enumerate(techs):
        if t.break_minutes <= 0:
            continue
        brk = solver.FixedDurationIntervalVar(t.break_earliest, t.break_latest, t.break_minutes,
                                              True, f"break {v}")
        # The break is owed on a day with work: performed whenever the van leaves home.
        solver.Add(brk.PerformedExpr() >= routing.ActiveVehicleVar(v))
        tdim.SetBreakIntervalsOfVehicle([brk], v, node_visit_transits)


def search_parameters(settings: SolverSettings) -> pywrapcp.DefaultRoutingSearchParameters:
    """Step 3a: OR-Tools search parameters from ``settings`` (construction, metaheuristic, limits)."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, settings.first_solution)
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, settings.metaheuristic)
    params.time_limit.FromMilliseconds(int(settings.time_limit_seconds * 1000))
    if settings.solution_limit is not None:
        params.solution_limit = settings.solution_limit
    params.log_search = settings.log_search
    return params


def run_search(model: RoutingModel, settings: SolverSettings, initial_routes: dict[str, list[str]] | None,
               cold_if_warm_fails: bool = True):
    """Step 3b: search ``model``, from ``initial_routes`` when OR-Tools accepts them.

    Parameters
    ----------
    model : RoutingModel
    settings : SolverSettings
    initial_routes : dict of str to list of str, optional
        technician id -> job ids in order; unknown job ids are skipped.
    cold_if_warm_fails : bool
        Search from the construction heuristic when there is no warm start or it fails. The
        second phase of a search with breaks passes False: it has repaired first-phase routes
        to fall back on, which beat a slow cold search with break intervals.

    Returns
    -------
    solution : ortools Assignment or None
    warm : bool
        Whether the solution came from the warm start.
    """
    routing, manager = model.routing, model.manager
    params = search_parameters(settings)
    solution = None
    if initial_routes:
        node_of = {j.id: node for node, j in enumerate(model.jobs)}
        seqs = [[manager.NodeToIndex(node_of[jid]) for jid in initial_routes.get(t.id, []) if jid in node_of]
                for t in model.techs]
        # RoutesToAssignment only sets the next-variables; the search then completes and checks
        # the times itself (ReadAssignmentFromRoutes ran a separate, very slow search with breaks).
        routing.CloseModelWithParameters(params)
        start = routing.solver().Assignment()
        if routing.RoutesToAssignment(seqs, True, True, start):
            solution = routing.SolveFromAssignmentWithParameters(start, params)
    warm = solution is not None
    if solution is None and cold_if_warm_fails:
        solution = routing.SolveWithParameters(params)
    return solution, warm


def read_routes(model: RoutingModel, solution) -> list[Route]:
    """Step 4: one :class:`Route` per technician from a solution: visits with arrival and start, the break."""
    routing, manager, tdim = model.routing, model.manager, model.time
    break_starts: dict[int, int] = {}
    intervals = solution.IntervalVarContainer()
    for k in range(intervals.Size()):
        el = intervals.Element(k)
        name = el.Var().Name()
        if name.startswith("break ") and el.PerformedValue():
            break_starts[int(name.split()[1])] = el.StartValue()
    routes: list[Route] = []
    for v, t in enumerate(model.techs):
        index = routing.Start(v)
        departure = solution.Value(tdim.CumulVar(index))
        visits: list[Visit] = []
        prev_end = departure
        prev_node = manager.IndexToNode(index)
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            j = model.jobs[node]
            start = solution.Value(tdim.CumulVar(index))
            arrival = max(prev_end + int(model.travel_minutes[prev_node, node]), 0)
            visits.append(Visit(j.id, min(arrival, start), start, start + j.duration))
            prev_end, prev_node = start + j.duration, node
            index = solution.Value(routing.NextVar(index))
        ret = solution.Value(tdim.CumulVar(index))
        routes.append(Route(t.id, departure, ret, visits, break_starts.get(v) if visits else None,
                            (t.lat, t.lon), t.end_location))
    return routes


def timed_routes(techs: list[Technician], jobs: list[Job], sequences: dict[str, list[str]],
                 tm: TravelMatrix) -> list[Route]:
    """Step 4 without a solution: time each technician's job order with :func:`schedule_route`.

    A technician without jobs (or whose order does not fit) drives straight home (re-routing:
    from where they are now).
    """
    by_id = {j.id: j for j in jobs}
    routes = []
    for t in techs:
        seq = [by_id[i] for i in sequences.get(t.id, []) if i in by_id]
        route = schedule_route(t, seq, tm) if seq else None
        if route is None:
            home = t.departure + math.ceil(tm.time(start_key(t.id), end_key(t.id)) - 1e-9)
            route = Route(t.id, t.departure, home, [], None, (t.lat, t.lon), t.end_location)
        routes.append(route)
    return routes


def break_free_routes(problem: RoutingProblem, jobs: list[Job], techs: list[Technician], tm: TravelMatrix,
                      settings: SolverSettings, initial_routes: dict[str, list[str]] | None,
                      large: bool) -> dict[str, list[str]]:
    """First phase of a search with lunch breaks: search without them, then make room for them.

    OR-Tools' break intervals make the search slow (seconds to construct 20 x 150, and restoring
    a solution fails to finish at 50 x 375), so the routes are first searched with every break
    set to zero (from ``initial_routes``, if any) for ``settings.time_limit_seconds``; jobs are
    then removed until each route fits its break (:func:`repair_routes`) and, for a ``large``
    instance (no search with breaks follows), jobs that fit are put back, most valuable first
    (:func:`insert_unserved`).

    Returns
    -------
    dict of str to list of str
        technician id -> job ids in order, each order feasible with its break.
    """
    relaxed = [t.model_copy(update={"break_minutes": 0}) for t in techs]
    model = build_model(problem, jobs, relaxed, tm)
    solution, _ = run_search(model, settings, initial_routes)
    found = read_routes(model, solution) if solution is not None else []
    routes = repair_routes(problem, {r.technician_id: [v.job_id for v in r.visits] for r in found}, tm)
    if large:
        routes = insert_unserved(problem.replace(jobs=tuple(jobs)), routes, tm,
                                 seconds=min(0.5, 0.15 * settings.time_limit_seconds))
    return routes


def _ortools_search(problem: RoutingProblem, jobs: list[Job], techs: list[Technician], tm: TravelMatrix,
                    settings: SolverSettings, initial_routes: dict[str, list[str]] | None,
                    tic: float) -> tuple[list[Route], dict, tuple[DropReason, str]]:
    """OR-Tools alone (``solver="ortools"``): the two-phase search with lunch breaks described in :func:`solve`.

    Returns the routes, the stats and the reason (code, message) of the jobs no route serves.
    """
    routes: list[Route] = []
    phase_one = None
    large = False
    if settings.break_first_phase > 0 and jobs and any(t.break_minutes > 0 for t in techs):
        large = len(jobs) * len(techs) > BREAK_MODEL_MAX_SIZE
        share = 1.0 if large else settings.break_first_phase
        phase_tic = time.perf_counter()
        initial_routes = break_free_routes(
            problem, jobs, techs, tm,
            settings.model_copy(update={"time_limit_seconds": settings.time_limit_seconds * share,
                                        "break_first_phase": 0.0}),
            initial_routes, large)
        phase_one = time.perf_counter() - phase_tic
        # The second phase gets what is left of the time limit (at least 30% of it); none when large.
        settings = settings.model_copy(update={
            "time_limit_seconds": 0.0 if large else max(0.3 * settings.time_limit_seconds,
                                                        settings.time_limit_seconds - (time.perf_counter() - tic))})
    solution = None
    if not large:
        model = build_model(problem, jobs, techs, tm)
        build_seconds = time.perf_counter() - tic
        solution, warm = run_search(model, settings, initial_routes, cold_if_warm_fails=phase_one is None)
        status = model.routing.status()
        status_name = _STATUS_NAMES.get(int(status), str(status))
    if solution is not None:
        routes = read_routes(model, solution)
        unserved = (DropReason.CAPACITY, CAPACITY_REASON)
        stats = {"status": status_name, "objective_cents": solution.ObjectiveValue(),
                 "build_seconds": build_seconds, "warm_start": warm, "first_phase_seconds": phase_one,
                 "settings": settings.model_dump()}
    elif phase_one is not None:
        # Large, or the warm start did not survive (e.g. the time ran out while restoring
        # it): keep the first phase's repaired routes, timed, rather than a slow cold search.
        routes = timed_routes(techs, jobs, initial_routes, tm)
        unserved = (DropReason.CAPACITY, CAPACITY_REASON)
        stats = {"status": ("first phase routes, repaired for breaks (instance above BREAK_MODEL_MAX_SIZE)"
                            if large else
                            "first phase routes, repaired for breaks (search with breaks did not finish)"),
                 "warm_start": False, "first_phase_seconds": phase_one, "settings": settings.model_dump()}
    else:
        unserved = (DropReason.NO_FEASIBLE_PLAN, "capacity: the solver found no feasible plan")
        stats = {"status": status_name}
    return routes, stats, unserved


def _candidate(problem: RoutingProblem, tm: TravelMatrix, jobs: list[Job], screened: list[DroppedJob],
               routes: list[Route]) -> RoutePlan:
    """A whole plan from ``routes``: the screened-out jobs and every job no route serves are dropped."""
    served = {v.job_id for r in routes for v in r.visits}
    dropped = screened + [DroppedJob(j.id, CAPACITY_REASON, DropReason.CAPACITY) for j in jobs
                          if j.id not in served]
    return RoutePlan(problem, tm, routes, dropped)


def _judge_cost(plan: RoutePlan) -> tuple[int, float]:
    """What :func:`_pyvrp_search` ranks plans by: valid first, then the plan's own objective (move cost included)."""
    return len(plan.validate()), plan.kpis()["objective"]


def _pyvrp_search(problem: RoutingProblem, jobs: list[Job], screened: list[DroppedJob], techs: list[Technician],
                  tm: TravelMatrix, settings: SolverSettings, initial_routes: dict[str, list[str]] | None,
                  tic: float) -> tuple[list[Route], dict]:
    """PyVRP's search, repaired for breaks; with ``solver="auto"`` an OR-Tools polish where the day needs it.

    PyVRP searches without lunch breaks and with soft windows as hard at their target
    (:mod:`quantlib.ops.pyvrp_search`). Its routes are repaired until each fits its break
    (:func:`repair_routes`), unserved jobs that fit are put back (:func:`insert_unserved`) and
    the routes are timed (:func:`timed_routes`). With ``solver="auto"``, when the day has lunch
    breaks or soft windows (what PyVRP cannot express) and the model with break intervals is
    small enough (``BREAK_MODEL_MAX_SIZE``; always without breaks), OR-Tools searches the full
    model from those routes for the rest of the time; :meth:`RoutePlan.validate` and then the
    plan's objective pick the better of the two plans.
    """
    from quantlib.ops.pyvrp_search import pyvrp_routes

    limit = settings.time_limit_seconds
    has_breaks = any(t.break_minutes > 0 for t in techs)
    needs_polish = settings.solver == "auto" and (has_breaks or any(not j.hard_window for j in jobs))
    polish = needs_polish and (not has_breaks or len(jobs) * len(techs) <= BREAK_MODEL_MAX_SIZE)
    seconds = limit * (settings.pyvrp_share if polish else 1.0)
    relaxed = [t.model_copy(update={"break_minutes": 0}) for t in techs]
    found = pyvrp_routes(problem, jobs, relaxed, tm, seconds, initial_routes, settings.seed,
                         settings.pyvrp_iterations)
    sequences = repair_routes(problem, found.routes, tm)
    sequences = insert_unserved(problem.replace(jobs=tuple(jobs)), sequences, tm, seconds=min(0.5, 0.1 * limit))
    plan = _candidate(problem, tm, jobs, screened, timed_routes(techs, jobs, sequences, tm))
    stats = {"status": "pyvrp routes" + (", repaired for breaks" if has_breaks else ""), "engine": "pyvrp",
             "pyvrp_feasible": found.feasible, "pyvrp_iterations": found.iterations,
             "pyvrp_seconds": found.seconds, "vehicle_types": found.vehicle_types, "profiles": found.profiles,
             "warm_start": bool(initial_routes), "settings": settings.model_dump()}
    if polish and jobs:
        rest = max(0.3 * (limit - seconds), limit - (time.perf_counter() - tic))
        model = build_model(problem, jobs, techs, tm)
        solution, warm = run_search(model, settings.model_copy(update={"time_limit_seconds": rest}), sequences,
                                    cold_if_warm_fails=False)
        if solution is not None:
            polished = _candidate(problem, tm, jobs, screened, read_routes(model, solution))
            mine, theirs = _judge_cost(plan), _judge_cost(polished)
            stats.update({"polish": "ortools", "polish_objective": theirs[1], "pyvrp_objective": mine[1]})
            if theirs < mine:
                plan = polished
                stats.update({"status": "pyvrp routes, polished by OR-Tools", "engine": "pyvrp+ortools",
                              "objective_cents": solution.ObjectiveValue()})
        else:
            stats["polish"] = "ortools: the warm start did not survive; PyVRP's routes kept"
    return plan.routes, stats


def solve(problem: RoutingProblem, settings: SolverSettings | None = None,
          provider: MatrixProvider | None = None, travel: TravelMatrix | None = None,
          initial_routes: dict[str, list[str]] | None = None) -> RoutePlan:
    """Plan the day's routes: screen the jobs, search (PyVRP and / or OR-Tools), read the routes.

    Parameters
    ----------
    problem : RoutingProblem
        Technicians, jobs, objective.
    settings : SolverSettings, optional
        Engine (``solver``), time, iteration and solution limits, OR-Tools construction and
        metaheuristic.
    provider : MatrixProvider, optional
        Travel-matrix provider (default great-circle x road factor); ignored when ``travel`` is given.
    travel : TravelMatrix, optional
        A precomputed matrix holding every ``job:<id>``, ``start:<tech>`` and ``end:<tech>`` key.
    initial_routes : dict of str to list of str, optional
        technician id -> job ids in order: the search starts from these routes (re-routing
        starts from the current plan). PyVRP takes any routes as its start; OR-Tools only
        routes it accepts as feasible, otherwise it falls back to its construction heuristic
        (``stats["warm_start"]`` says which).

    Returns
    -------
    RoutePlan
        Routes, dropped jobs with reasons, and ``stats`` (engine, wall time, status).

    Notes
    -----
    ``solver="auto"`` (the default) and ``"pyvrp"`` search with PyVRP (see
    :func:`_pyvrp_search`). ``solver="ortools"``: with lunch breaks and
    ``settings.break_first_phase > 0`` the search runs in two phases (:func:`break_free_routes`,
    then the full model warm-started from its routes); above ``BREAK_MODEL_MAX_SIZE`` job x
    technician pairs the first phase gets the whole time limit and its repaired routes are
    timed directly (:func:`timed_routes`), as they are when the warm start of the second phase
    does not survive.
    """
    settings = settings or SolverSettings()
    tic = time.perf_counter()
    tm = travel if travel is not None else problem_matrix(problem, provider)
    jobs, dropped = screen_jobs(problem, tm)
    techs: list[Technician] = list(problem.technicians)
    routes: list[Route] = []
    if not techs:
        # Nothing to model: screening has already dropped every job (no one has the skills).
        stats = {"status": "no technicians"}
    elif settings.solver == "ortools":
        routes, stats, unserved = _ortools_search(problem, jobs, techs, tm, settings, initial_routes, tic)
        stats["engine"] = "ortools"
        served = {v.job_id for r in routes for v in r.visits}
        dropped += [DroppedJob(j.id, unserved[1], unserved[0]) for j in jobs if j.id not in served]
    else:
        routes, stats = _pyvrp_search(problem, jobs, dropped, techs, tm, settings, initial_routes, tic)
        served = {v.job_id for r in routes for v in r.visits}
        dropped = dropped + [DroppedJob(j.id, CAPACITY_REASON, DropReason.CAPACITY) for j in jobs
                             if j.id not in served]
    order = {j.id: k for k, j in enumerate(problem.jobs)}
    dropped.sort(key=lambda d: order.get(d.job_id, 0))
    stats["seconds"] = time.perf_counter() - tic
    return RoutePlan(problem, tm, routes, dropped, stats)


def plan_day(con, day, options=None, settings: SolverSettings | None = None,
             provider: MatrixProvider | None = None) -> RoutePlan:
    """Build the day's problem from the gold warehouse and solve it (see :func:`problem_from_warehouse`)."""
    from quantlib.ops.problem import problem_from_warehouse

    return solve(problem_from_warehouse(con, day, options), settings, provider)


def plan_summary(con, day, days: int = 1, options=None, settings: SolverSettings | None = None) -> dict:
    """Utilisation and drive-time figures of the planned routes of ``days`` days from ``day`` (for reports).

    Each day is planned from gold (:func:`plan_day`; by default a search bounded by 2 seconds and
    500 solutions per day, reproducible only when the solution limit is reached first, which a
    busy day with lunch breaks usually does not) and its plan is validated.

    Returns
    -------
    dict
        Totals over the period (``jobs``, ``jobs_served``, ``jobs_dropped``, ``dropped_by_reason``
        (counts by :class:`~quantlib.errors.DropReason` code),
        ``drive_minutes``, ``drive_miles``, ``drive_minutes_per_job``, ``on_site_minutes``,
        ``overtime_minutes``, ``utilisation`` = on-site minutes / regular shift minutes of the
        technicians employed, ``operating_cost``) and ``by_day``, a list of per-day dicts.
    """
    import pandas as pd

    settings = settings or SolverSettings(time_limit_seconds=2.0, solution_limit=500)
    first = pd.Timestamp(day).normalize()
    per_day = []
    shift_minutes = 0.0
    for k in range(days):
        d = (first + pd.Timedelta(days=k)).date()
        plan = plan_day(con, d, options, settings)
        plan.raise_if_invalid()
        kp = plan.kpis()
        shift_minutes += sum(t.shift_minutes for t in plan.problem.technicians)
        per_day.append({"day": d, **{key: kp[key] for key in (
            "jobs", "jobs_served", "jobs_dropped", "technicians", "technicians_used", "drive_minutes",
            "drive_miles", "on_site_minutes", "overtime_minutes", "utilisation", "operating_cost",
            "dropped_by_reason")}})
    total = {key: sum(r[key] for r in per_day) for key in (
        "jobs", "jobs_served", "jobs_dropped", "drive_minutes", "drive_miles", "on_site_minutes",
        "overtime_minutes", "operating_cost")}
    reasons: dict[str, int] = {}
    for r in per_day:
        for reason, count in r["dropped_by_reason"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    total.update({
        "start": first.date(), "days": days, "dropped_by_reason": reasons,
        "drive_minutes_per_job": total["drive_minutes"] / total["jobs_served"] if total["jobs_served"] else 0.0,
        "utilisation": total["on_site_minutes"] / shift_minutes if shift_minutes else 0.0,
        "by_day": per_day,
    })
    return total
