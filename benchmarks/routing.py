"""Routing on public instances: the product's router vs plain PyVRP on Solomon VRPTW and Augerat CVRP (A set).

Solve one instance with the product's router (``quantlib.ops.routing.solve``, ``solver="auto"``)::

    python -m benchmarks.routing --instance ../shared/data/vrp/solomon/C101.txt --seconds 5 --out routes.json

converts the file into the router's problem (:func:`router_problem`: one technician per vehicle
with the van's capacity, one required job per customer with its demand, service time and hard
window, the depot as every technician's start and end), minimises total distance (Solomon:
Euclidean, not rounded; VRPLIB EUC_2D: rounded to the nearest integer, the optima's convention)
with at most the file's number of vehicles and writes ``{"routes": [[customer numbers in visit
order], ...], "distance": ...}`` (plus the vehicles used, whether the routes passed this
module's own check, and the seconds taken). The distance is recomputed here in floats from the
coordinates, independently of the router. Customer numbers are those of the file (Solomon:
1..n with the depot 0; VRPLIB: the node ids, depot 1). ``--solver pyvrp`` / ``ortools`` solve
with plain PyVRP / this module's OR-Tools model instead.

Evaluate (records the figures of benchmarks/README.md)::

    python -m benchmarks.routing --evaluate --seconds 5 30 [--cvrp-seconds 5] [--seeds 0 1 2] \
        [--subset 30:C101,R201] [--solvers router pyvrp] [--out results.json]

runs, at each time limit and seed, the router and plain PyVRP (benchmark-only use of PyVRP's
``Model``: required clients, one depot, integer distances and durations x 1000) with the same
limit on every Solomon file, interleaved instance by instance, and both on every CVRP file of
the A set (at ``--cvrp-seconds``, default 5) against the optimum in ``reference_values.csv``.
Every route set is checked by :func:`check_routes` (every customer once, capacity, time windows,
at most the file's vehicles); Solomon distances are compared with the published best-known
solutions (:data:`SOLOMON_BKS`).

The router counts whole "minutes": one of its minutes is 1/1000 of the file's time unit, and its
arc cost is the distance x 1000 in integer cents, so it searches the same integer model as plain
PyVRP (travel time = the ceiling of the scaled distance, so its routes stay feasible in floats).
"""


from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data next to the checkout (a worktree under ../wt/ looks one level further up).
DATA = next((base / "shared" / "data" / "vrp" for base in (ROOT.parent, ROOT.parent.parent)
             if (base / "shared" / "data" / "vrp").is_dir()), ROOT.parent / "shared" / "data" / "vrp")
SCALE = 1000


@dataclass
class Instance:
    name: str
    kind: str  # "vrptw" or "cvrp"
    ids: list[int]  # node number as in the file; index 0 is the depot
    xy: np.ndarray
    demand: np.ndarray
    capacity: int
    vehicles: int
    ready: np.ndarray | None = None
    due: np.ndarray | None = None
    service: np.ndarray | None = None
    rounded: bool = False  # VRPLIB EUC_2D: distances rounded to the nearest integer (the optima's convention)

    @property
    def dist(self) -> np.ndarray:
        d = self.xy[:, None, :] - self.xy[None, :, :]
        d = np.sqrt((d ** 2).sum(-1))
        return np.floor(d + 0.5) if self.rounded else d


def read_solomon(path: Path) -> Instance:
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    name = lines[0]
    k = next(i for i, ln in enumerate(lines) if ln.upper().startswith("NUMBER"))
    vehicles, capacity = map(int, lines[k + 1].split()[:2])
    rows = [ln.split() for ln in lines if re.match(r"^\d+\s", ln) and len(ln.split()) == 7]
    data = np.array(rows, dtype=float)
    return Instance(name, "vrptw", [int(r) for r in data[:, 0]], data[:, 1:3], data[:, 3].astype(int),
                    capacity, vehicles, data[:, 4], data[:, 5], data[:, 6])


def read_vrplib(path: Path) -> Instance:
    text = path.read_text()
    header = dict(re.findall(r"^\s*([A-Z_]+)\s*:\s*(.+?)\s*$", text, flags=re.M))
    name = header.get("NAME", path.stem)
    capacity = int(header["CAPACITY"])
    m = re.search(r"-k(\d+)", name) or re.search(r"trucks:\s*(\d+)", header.get("COMMENT", ""))
    if m is None:
        raise ValueError(f"{path}: cannot tell the number of vehicles (no -kN in the name, no trucks in COMMENT)")
    vehicles = int(m.group(1))

    def section(title: str) -> list[list[str]]:
        block = re.search(rf"{title}\s*\n(.*?)(?=\n\s*[A-Z_]+_SECTION|\n\s*EOF|\Z)", text, flags=re.S)
        return [ln.split() for ln in block.group(1).strip().splitlines() if ln.strip()]

    coords = {int(r[0]): (float(r[1]), float(r[2])) for r in section("NODE_COORD_SECTION")}
    demand = {int(r[0]): int(r[1]) for r in section("DEMAND_SECTION")}
    depot = int(section("DEPOT_SECTION")[0][0])
    ids = [depot] + [i for i in sorted(coords) if i != depot]
    return Instance(name, "cvrp", ids, np.array([coords[i] for i in ids]), np.array([demand[i] for i in ids]),
                    capacity, vehicles, rounded=header.get("EDGE_WEIGHT_TYPE", "").strip() == "EUC_2D")


def read_instance(path: Path) -> Instance:
    head = path.read_text()[:400]
    return read_vrplib(path) if "NODE_COORD_SECTION" in head or "EDGE_WEIGHT_TYPE" in head else read_solomon(path)


def check_routes(inst: Instance, routes: list[list[int]]) -> tuple[float, list[str]]:
    """Exact float distance of ``routes`` (node indices) and a list of broken constraints."""
    d = inst.dist
    problems = []
    seen = [i for r in routes for i in r]
    if sorted(seen) != list(range(1, len(inst.ids))):
        problems.append("not every customer visited exactly once")
    if len([r for r in routes if r]) > inst.vehicles:
        problems.append(f"{len(routes)} routes > {inst.vehicles} vehicles")
    total = 0.0
    for r in routes:
        if not r:
            continue
        if inst.demand[r].sum() > inst.capacity:
            problems.append(f"route over capacity: {inst.demand[r].sum()} > {inst.capacity}")
        path = [0] + r + [0]
        total += sum(d[a, b] for a, b in zip(path, path[1:]))
        if inst.kind == "vrptw":
            now = 0.0
            for a, b in zip(path, path[1:]):
                now += (inst.service[a] if a else 0.0) + d[a, b]
                now = max(now, inst.ready[b])
                if now > inst.due[b] + 1e-6:
                    problems.append(f"late at {inst.ids[b]}: {now:.3f} > {inst.due[b]}")
                    break
    return total, problems


def _ortools_model(inst: Instance):
    from ortools.constraint_solver import pywrapcp

    n = len(inst.ids)
    dist = inst.dist
    arc = np.round(dist * SCALE).astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(n, inst.vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    cb = routing.RegisterTransitMatrix(arc.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    dem = routing.RegisterUnaryTransitVector([int(x) for x in inst.demand])
    routing.AddDimensionWithVehicleCapacity(dem, 0, [inst.capacity] * inst.vehicles, True, "load")
    if inst.kind == "vrptw":
        travel = np.ceil(dist * SCALE - 1e-9).astype(np.int64)
        service = np.round(inst.service * SCALE).astype(np.int64)
        transit = travel + service[:, None]
        tcb = routing.RegisterTransitMatrix(transit.tolist())
        horizon = int(inst.due[0] * SCALE)
        routing.AddDimension(tcb, horizon, horizon, False, "time")
        tdim = routing.GetDimensionOrDie("time")
        for node in range(1, n):
            tdim.CumulVar(manager.NodeToIndex(node)).SetRange(int(inst.ready[node] * SCALE),
                                                              int(inst.due[node] * SCALE))
        for v in range(inst.vehicles):
            tdim.CumulVar(routing.Start(v)).SetRange(int(inst.ready[0] * SCALE), horizon)
            tdim.CumulVar(routing.End(v)).SetRange(int(inst.ready[0] * SCALE), horizon)
    return manager, routing


def _routes_of(inst, manager, routing, solution) -> list[list[int]]:
    routes = []
    for v in range(inst.vehicles):
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        r = []
        while not routing.IsEnd(idx):
            r.append(manager.IndexToNode(idx))
            idx = solution.Value(routing.NextVar(idx))
        if r:
            routes.append(r)
    return routes


PORTFOLIO = ("SAVINGS", "CHRISTOFIDES", "PARALLEL_CHEAPEST_INSERTION")


def _tune(params, lambda_coefficient: float | None, operators: tuple[str, ...], ils: bool = False) -> None:
    from ortools.util import optional_boolean_pb2

    if ils:
        # Iterated local search: SISR ruin (slack induction by string removals) and recreate by
        # local cheapest insertion, simulated-annealing acceptance (OR-Tools' defaults otherwise).
        params.use_iterated_local_search = True
        rr = params.iterated_local_search_parameters.ruin_recreate_parameters
        sisr = rr.ruin_strategies.add().sisr
        sisr.max_removed_sequence_size = 10
        sisr.avg_num_removed_visits = 10
        sisr.bypass_factor = 0.01
    if lambda_coefficient is not None:
        params.guided_local_search_lambda_coefficient = lambda_coefficient
    for op in operators:
        setattr(params.local_search_operators, op, optional_boolean_pb2.BOOL_TRUE)


def solve_ortools(inst: Instance, seconds: float, first_solution: str | None = None,
                  lambda_coefficient: float | None = None, operators: tuple[str, ...] = (),
                  metaheuristic: str = "GUIDED_LOCAL_SEARCH", ils: bool = False) -> list[list[int]]:
    """OR-Tools guided local search from one construction, or from the cheapest of several
    (``first_solution="portfolio"``, the default for CVRP) for the rest of the time limit."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    tic = time.perf_counter()
    # Time windows: local cheapest insertion (best of 5 strategies tried at 5 s on Solomon).
    # CVRP with the fleet at its minimum: a single construction often fails, so several are
    # tried and the cheapest feasible one starts the search.
    first_solution = first_solution or ("LOCAL_CHEAPEST_INSERTION" if inst.kind == "vrptw" else "portfolio")
    strategies = PORTFOLIO if first_solution == "portfolio" else (first_solution,)
    best, best_cost = None, math.inf
    for strategy in strategies:
        manager, routing = _ortools_model(inst)
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
        if len(strategies) > 1:
            params.solution_limit = 1  # construction only
            params.time_limit.FromMilliseconds(int(max(0.05, seconds * 0.05) * 1000))
        else:
            params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic)
            params.time_limit.FromMilliseconds(int(seconds * 1000))
            _tune(params, lambda_coefficient, operators, ils)
        solution = routing.SolveWithParameters(params)
        if solution is not None and solution.ObjectiveValue() < best_cost:
            best, best_cost = _routes_of(inst, manager, routing, solution), solution.ObjectiveValue()
    if len(strategies) == 1 or best is None:
        return best or []
    manager, routing = _ortools_model(inst)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic)
    params.time_limit.FromMilliseconds(int(max(0.1, seconds - (time.perf_counter() - tic)) * 1000))
    _tune(params, lambda_coefficient, operators, ils)
    routing.CloseModelWithParameters(params)
    start = routing.ReadAssignmentFromRoutes([[manager.NodeToIndex(i) for i in r] for r in best], True)
    solution = routing.SolveFromAssignmentWithParameters(start, params) if start is not None else None
    return _routes_of(inst, manager, routing, solution) if solution is not None else best


def solve_pyvrp(inst: Instance, seconds: float, seed: int = 1) -> list[list[int]]:
    import warnings

    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    m = Model()
    locs = [m.add_location(float(x), float(y)) for x, y in inst.xy]
    tw = inst.kind == "vrptw"
    horizon = int(inst.due[0] * SCALE) if tw else None
    if tw:
        m.add_depot(locs[0], tw_early=int(inst.ready[0] * SCALE), tw_late=horizon)
        m.add_vehicle_type(num_available=inst.vehicles, capacity=[inst.capacity],
                           tw_early=int(inst.ready[0] * SCALE), tw_late=horizon)
    else:
        m.add_depot(locs[0])
        m.add_vehicle_type(num_available=inst.vehicles, capacity=[inst.capacity])
    for i in range(1, len(inst.ids)):
        if tw:
            m.add_client(locs[i], delivery=[int(inst.demand[i])], service_duration=int(round(inst.service[i] * SCALE)),
                         tw_early=int(inst.ready[i] * SCALE), tw_late=int(inst.due[i] * SCALE))
        else:
            m.add_client(locs[i], delivery=[int(inst.demand[i])])
    dist = inst.dist
    arc = np.round(dist * SCALE).astype(np.int64)
    travel = np.ceil(dist * SCALE - 1e-9).astype(np.int64)
    for a in range(len(locs)):
        for b in range(len(locs)):
            m.add_edge(locs[a], locs[b], distance=int(arc[a, b]), duration=int(travel[a, b]) if tw else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = m.solve(stop=MaxRuntime(seconds), seed=seed, display=False)
    if not result.best.is_feasible():
        return []
    # A client activity's idx counts clients from 0 in the order added: node index - 1.
    return [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]


def router_problem(inst: Instance, time_scale: int = SCALE):
    """The instance as the product router's problem: ``(RoutingProblem, TravelMatrix)``.

    One technician per vehicle of the file (start and end at the depot, van capacity = the
    file's capacity, shift = the depot's window, no overtime, no lunch break), one job per
    customer (demand; for VRPTW its service time and a hard window on the start of service).
    The router counts time in whole "minutes", so one of its minutes is ``1 / time_scale`` of
    the file's time unit (travel time = distance, rounded up at that scale as the plain PyVRP
    and OR-Tools models of this module do). Its arc cost is ``fuel_cost_per_mile`` x miles in
    cents: miles = the Euclidean distance and ``fuel_cost_per_mile = time_scale / 100`` give
    integer arc costs of distance x ``time_scale``, the scale of the plain models. Every job
    is ``required`` (every customer must be served; its drop penalty is also far above any set
    of routes); travel time, overtime and workload balance cost nothing.
    """
    from quantlib.ops.plan import end_key, job_key, start_key
    from quantlib.ops.problem import Job, Objective, RoutingProblem, Technician
    from quantlib.ops.routing import MONEY_SCALE
    from quantlib.ops.travel import TravelMatrix

    n = len(inst.ids)
    dist = inst.dist
    tw = inst.kind == "vrptw"
    fuel = time_scale / MONEY_SCALE
    # Coordinates only label the plan (the matrix below is explicit): squeezed into valid degrees.
    span = max(float(np.abs(inst.xy).max()), 1.0)
    lat = inst.xy[:, 1] / span * 80.0
    lon = inst.xy[:, 0] / span * 170.0
    if tw:
        start, horizon = int(round(inst.ready[0] * time_scale)), int(round(inst.due[0] * time_scale))
    else:  # no clock: a horizon no route reaches (every job takes one "minute")
        start, horizon = 0, int(np.ceil(dist.sum(1).max() * time_scale)) * n + n + 1
    techs = tuple(Technician(id=f"v{k + 1}", lat=lat[0], lon=lon[0], shift_start=start,
                             shift_minutes=max(horizon - start, 1), overtime_minutes=0, overtime_cost_per_minute=0.0,
                             break_minutes=0, capacity=int(inst.capacity)) for k in range(inst.vehicles))
    worst = fuel * 2 * float(dist[0].sum()) + 1.0  # every customer on a route of its own
    objective = Objective(travel_cost_per_minute=0.0, fuel_cost_per_mile=fuel, fairness=0.0,
                          min_drop_penalty=10 * worst)
    jobs = []
    for i in range(1, n):
        if tw:
            jobs.append(Job(id=f"c{inst.ids[i]}", lat=lat[i], lon=lon[i],
                            duration=max(int(round(inst.service[i] * time_scale)), 1),
                            window_start=int(round(inst.ready[i] * time_scale)),
                            window_end=int(round(inst.due[i] * time_scale)), demand=int(inst.demand[i]),
                            required=True))
        else:
            jobs.append(Job(id=f"c{inst.ids[i]}", lat=lat[i], lon=lon[i], duration=1, window_start=0,
                            window_end=horizon, demand=int(inst.demand[i]), required=True))
    problem = RoutingProblem(technicians=techs, jobs=tuple(jobs), objective=objective)
    # Matrix rows: the customers, then every technician's start and end (all at the depot).
    keys = [job_key(j.id) for j in jobs] + [start_key(t.id) for t in techs] + [end_key(t.id) for t in techs]
    node = list(range(1, n)) + [0] * (2 * len(techs))
    miles = dist[np.ix_(node, node)]
    minutes = miles * time_scale if tw else np.zeros_like(miles)
    return problem, TravelMatrix(tuple(keys), minutes, miles, departure_minute=start, provider="euclidean")


def solve_router(inst: Instance, seconds: float, seed: int = 0) -> tuple[list[list[int]], dict]:
    """The product's router (``quantlib.ops.routing.solve``, ``solver="auto"``) on ``inst``.

    Returns the routes as node indices and the plan's stats (engine, violations of the plan's
    own validation).
    """
    from quantlib.ops.routing import SolverSettings, solve

    problem, tm = router_problem(inst)
    plan = solve(problem, SolverSettings(solver="auto", time_limit_seconds=seconds, seed=seed), travel=tm)
    index = {f"c{inst.ids[i]}": i for i in range(1, len(inst.ids))}
    routes = [[index[v.job_id] for v in r.visits] for r in plan.routes if r.visits]
    stats = {"engine": plan.stats.get("engine"), "violations": [v.message for v in plan.validate()][:5],
             "dropped": len(plan.dropped)}
    return routes, stats


def solve_instance(path: Path, seconds: float, solver: str = "router", first_solution: str | None = None,
                   seed: int = 0, vehicles: int | None = None) -> dict:
    """Solve ``path`` with ``solver`` ("router": the product's router; "pyvrp": plain PyVRP;
    "ortools": this module's OR-Tools model) with at most ``vehicles`` (default: the file's);
    routes checked and distance recomputed here."""
    inst = read_instance(path)
    if vehicles is not None:
        inst.vehicles = vehicles
    if solver == "router":
        import quantlib.ops.routing  # noqa: F401  (imports are not the solver's time)
    tic = time.perf_counter()
    extra: dict = {}
    if solver == "router":
        routes, extra = solve_router(inst, seconds, seed)
    elif solver == "ortools":
        routes = solve_ortools(inst, seconds, first_solution)
    else:
        routes = solve_pyvrp(inst, seconds, seed)
    elapsed = time.perf_counter() - tic
    distance, problems = check_routes(inst, routes) if routes else (math.nan, ["no feasible solution found"])
    return {"instance": inst.name, "kind": inst.kind, "solver": solver, "seconds_limit": seconds,
            "seconds": round(elapsed, 2),
            "routes": [[inst.ids[i] for i in r] for r in routes], "distance": distance,
            "vehicles": len(routes), "max_vehicles": inst.vehicles, "feasible": not problems,
            "problems": problems[:5], **extra}


def _reference() -> dict[str, float]:
    with open(DATA / "cvrp" / "reference_values.csv") as fh:
        return {row["name"]: float(row["value"]) for row in csv.DictReader(fh)}


# Published best-known solutions of the Solomon files in ../shared/data (100 customers): SINTEF's
# table (https://www.sintef.no/projectweb/top/vrptw/solomon-benchmark/100-customers/), objective
# hierarchical: fewest vehicles first, then total distance (not rounded). A run that minimises
# distance alone (as here) may use more vehicles and come in under these figures.
SOLOMON_BKS: dict[str, tuple[int, float]] = {
    "C101": (10, 828.94), "C201": (3, 591.56), "R101": (19, 1650.80), "R201": (4, 1252.37),
    "RC101": (14, 1696.95), "RC201": (4, 1406.94),
}


def _row(r: dict) -> str:
    return (f"{r['instance']:10s} {r['solver']:8s} {r['seconds_limit']:>4}s  {r['distance']:10.2f}  "
            f"veh {r['vehicles']:>2}  {r['seconds']:6.2f} s  feasible {r['feasible']}")


def evaluate(levels: list[float], cvrp_levels: list[float], out: Path | None, only: str | None,
             names: list[str] | None = None, solvers: tuple[str, ...] = ("router", "pyvrp"),
             seeds: tuple[int, ...] = (0,), subset: dict[float, list[str]] | None = None,
             bks_fleet: bool = False) -> dict:
    """Every Solomon file at each of ``levels`` and every CVRP file at each of ``cvrp_levels``, with
    each of ``solvers`` and ``seeds``, interleaved instance by instance (the same conditions for
    all). ``subset`` limits a level to some files (e.g. ``{30: ["C101", "R201"]}``)."""
    results = []
    solomon = sorted((DATA / "solomon").glob("*.txt"))
    cvrp = sorted((DATA / "cvrp").glob("*.vrp"))
    if names:
        solomon = [p for p in solomon if p.stem in names]
        cvrp = [p for p in cvrp if p.stem in names]
    if only == "solomon":
        cvrp = []
    if only == "cvrp":
        solomon = []
    ref = _reference()
    runs = [(s, p) for s in levels for p in solomon] + [(s, p) for s in cvrp_levels for p in cvrp]
    for seconds, path in runs:
        if subset and seconds in subset and path.stem not in subset[seconds]:
            continue
        for seed in seeds:
            for solver in solvers:
                fleet = SOLOMON_BKS[path.stem][0] if bks_fleet and path.stem in SOLOMON_BKS else None
                r = solve_instance(path, seconds, solver, seed=seed, vehicles=fleet)
                r["seed"] = seed
                if path.suffix == ".vrp":
                    r["optimum"] = ref.get(r["instance"])
                    r["gap_pct"] = 100 * (r["distance"] / r["optimum"] - 1) if r["optimum"] else None
                elif r["instance"] in SOLOMON_BKS:
                    r["bks_vehicles"], r["bks"] = SOLOMON_BKS[r["instance"]]
                    r["gap_pct"] = 100 * (r["distance"] / r["bks"] - 1)
                results.append(r)
                print(_row(r) + (f"  gap {r['gap_pct']:+.2f}%" if r.get("gap_pct") is not None else ""), flush=True)
    summary = summarise(results)
    print(json.dumps(summary, indent=1))
    if out is not None:
        out.write_text(json.dumps({"summary": summary, "results": results}, indent=1, default=str))
    return summary


def summarise(results: list[dict]) -> dict:
    """Per level and instance: each solver's median distance over the seeds, the router's gap to
    plain PyVRP (median of the per-seed ratios), the gap to the BKS / optimum; then the level's
    mean, median and max of those gaps and whether every plan passed the feasibility check."""
    out: dict = {}
    by: dict = {}
    for r in results:
        by.setdefault((r["seconds_limit"], r["instance"]), []).append(r)
    for (seconds, name), rows in sorted(by.items()):
        row: dict = {"feasible": all(x["feasible"] for x in rows), "seeds": len({x["seed"] for x in rows})}
        for solver in sorted({x["solver"] for x in rows}):
            mine = [x for x in rows if x["solver"] == solver]
            row[solver] = round(statistics.median(x["distance"] for x in mine), 2)
            row[f"{solver}_vehicles"] = statistics.median(x["vehicles"] for x in mine)
            row[f"{solver}_seconds"] = round(statistics.median(x["seconds"] for x in mine), 2)
            gaps = [x["gap_pct"] for x in mine if x.get("gap_pct") is not None]
            if gaps:
                row[f"{solver}_gap_pct"] = round(statistics.median(gaps), 2)
        if "bks" in rows[0]:
            row["bks"], row["bks_vehicles"] = rows[0]["bks"], rows[0]["bks_vehicles"]
        if rows[0].get("optimum"):
            row["optimum"] = rows[0]["optimum"]
        pairs = {}
        for x in rows:
            pairs.setdefault(x["seed"], {})[x["solver"]] = x["distance"]
        ratios = [100 * (p["router"] / p["pyvrp"] - 1) for p in pairs.values() if "router" in p and "pyvrp" in p]
        if ratios:
            row["router_vs_pyvrp_pct"] = round(statistics.median(ratios), 2)
        kind = "cvrp" if rows[0]["kind"] == "cvrp" else "solomon"
        out.setdefault(f"{seconds:g}s {kind}", {})[name] = row
    for rows in out.values():
        def stat(key):
            vals = [r[key] for r in rows.values() if r.get(key) is not None]
            return ({"mean": round(statistics.mean(vals), 2), "median": round(statistics.median(vals), 2),
                     "max": round(max(vals), 2), "n": len(vals)} if vals else None)
        rows["_summary"] = {"router_vs_pyvrp_pct": stat("router_vs_pyvrp_pct"),
                            "router_gap_pct": stat("router_gap_pct"),
                            "pyvrp_gap_pct": stat("pyvrp_gap_pct"),
                            "all_feasible": all(r["feasible"] for r in rows.values())}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.routing", description=__doc__.split("\n")[0])
    ap.add_argument("--instance", type=Path, help="a Solomon .txt or VRPLIB .vrp file")
    ap.add_argument("--seconds", type=float, nargs="+", default=[5.0], help="time limit(s)")
    ap.add_argument("--out", type=Path, help="routes JSON (solve) or results JSON (--evaluate)")
    ap.add_argument("--solver", choices=("router", "pyvrp", "ortools"), default="router",
                    help="one instance: the product's router (default), plain PyVRP or this module's OR-Tools model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--first-solution", default=None, help="OR-Tools first solution strategy")
    ap.add_argument("--evaluate", action="store_true", help="run the whole evaluation")
    ap.add_argument("--cvrp-seconds", type=float, nargs="*", default=None,
                    help="time limits for the CVRP set (default: 5)")
    ap.add_argument("--only", choices=("solomon", "cvrp"), default=None)
    ap.add_argument("--names", nargs="*", default=None, help="evaluate only these instances (file stems)")
    ap.add_argument("--solvers", nargs="+", choices=("router", "pyvrp", "ortools"), default=["router", "pyvrp"],
                    help="--evaluate: the solvers compared (default: the router and plain PyVRP)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="--evaluate: seeds (medians over them)")
    ap.add_argument("--subset", nargs="*", default=[], metavar="SECONDS:NAME,NAME",
                    help="--evaluate: at this time limit only these files (e.g. 30:C101,R201)")
    ap.add_argument("--bks-fleet", action="store_true",
                    help="--evaluate: each Solomon file gets only the vehicles of its best-known solution")
    args = ap.parse_args(argv)
    if args.evaluate:
        cvrp_levels = [5.0] if args.cvrp_seconds is None else args.cvrp_seconds
        subset = {float(k): v.split(",") for k, v in (item.split(":", 1) for item in args.subset)}
        evaluate(args.seconds, cvrp_levels, args.out, args.only, args.names, tuple(args.solvers),
                 tuple(args.seeds), subset, args.bks_fleet)
        return 0
    if args.instance is None:
        ap.error("--instance is required (or --evaluate)")
    if not args.instance.exists():
        ap.error(f"--instance {args.instance}: no such file")
    r = solve_instance(args.instance, args.seconds[0], args.solver, args.first_solution, args.seed)
    print(f"{r['instance']}: distance {r['distance']:.3f} with {r['vehicles']} vehicles "
          f"(max {r['max_vehicles']}), feasible {r['feasible']}, {r['seconds']} s")
    if r["problems"]:
        print("problems:", "; ".join(r["problems"]), file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps({"routes": r["routes"], "distance": r["distance"], "vehicles": r["vehicles"],
                                        "feasible": r["feasible"], "seconds": r["seconds"],
                                        "instance": r["instance"], "solver": r["solver"]}, indent=1))
    return 0 if r["feasible"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
