"""Routing on public instances: Solomon VRPTW and Augerat CVRP (A set), OR-Tools vs PyVRP / optimum.

Solve one instance::

    python -m benchmarks.routing --instance ../shared/data/vrp/solomon/C101.txt --seconds 5 --out routes.json

minimises total Euclidean distance (not rounded) with at most the instance's number of
vehicles and writes ``{"routes": [[customer numbers in visit order], ...], "distance": ...}``
(plus the vehicles used, whether the routes were checked feasible, and the seconds taken).
Customer numbers are those of the file (Solomon: 1..100 with the depot 0; VRPLIB: the node
ids, depot 1).

Evaluate (records the figures of benchmarks/README.md)::

    python -m benchmarks.routing --evaluate --seconds 5 30 [--cvrp-seconds 5] [--out results.json]

runs, at each time limit, OR-Tools (this module's model: arc costs on distances x 1000 rounded
to integers, capacity and time dimensions, construction + guided local search) and PyVRP
(benchmark-only dependency, never imported by quantlib) with the same limit on every Solomon
file, and OR-Tools on every CVRP file of the A set against the optimum in
``reference_values.csv`` (PyVRP too, as a same-run baseline). Distances of both solvers are
recomputed in floats from the coordinates, and the routes are checked for capacity, time
windows and the fleet limit by the same code.

PyVRP solves the same integer model (distances and durations x 1000); OR-Tools uses the
ceiling of the scaled travel time in its time dimension so its routes stay feasible in floats.
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
DATA = ROOT.parent / "shared" / "data" / "vrp"
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

    @property
    def dist(self) -> np.ndarray:
        d = self.xy[:, None, :] - self.xy[None, :, :]
        return np.sqrt((d ** 2).sum(-1))


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
                    capacity, vehicles)


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


def solve_instance(path: Path, seconds: float, solver: str = "ortools", first_solution: str | None = None) -> dict:
    inst = read_instance(path)
    tic = time.perf_counter()
    routes = solve_ortools(inst, seconds, first_solution) if solver == "ortools" else solve_pyvrp(inst, seconds)
    elapsed = time.perf_counter() - tic
    distance, problems = check_routes(inst, routes) if routes else (math.nan, ["no feasible solution found"])
    return {"instance": inst.name, "solver": solver, "seconds_limit": seconds, "seconds": round(elapsed, 2),
            "routes": [[inst.ids[i] for i in r] for r in routes], "distance": distance,
            "vehicles": len(routes), "max_vehicles": inst.vehicles, "feasible": not problems,
            "problems": problems[:5]}


def _reference() -> dict[str, float]:
    with open(DATA / "cvrp" / "reference_values.csv") as fh:
        return {row["name"]: float(row["value"]) for row in csv.DictReader(fh)}


def evaluate(levels: list[float], cvrp_levels: list[float], out: Path | None, only: str | None,
             names: list[str] | None = None) -> dict:
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
    for seconds in levels:
        for path in solomon:
            for solver in ("ortools", "pyvrp"):
                r = solve_instance(path, seconds, solver)
                results.append(r)
                print(f"{r['instance']:10s} {solver:8s} {seconds:>4}s  {r['distance']:10.2f}  "
                      f"veh {r['vehicles']:>2}  feasible {r['feasible']}", flush=True)
    ref = _reference()
    for seconds in cvrp_levels:
        for path in cvrp:
            for solver in ("ortools", "pyvrp"):
                r = solve_instance(path, seconds, solver)
                r["optimum"] = ref.get(r["instance"])
                r["gap_pct"] = 100 * (r["distance"] / r["optimum"] - 1) if r["optimum"] else None
                results.append(r)
                print(f"{r['instance']:10s} {solver:8s} {seconds:>4}s  {r['distance']:10.2f}  "
                      f"opt {r['optimum']}  gap {r['gap_pct']:.2f}%  feasible {r['feasible']}", flush=True)
    summary = summarise(results)
    print(json.dumps(summary, indent=1))
    if out is not None:
        out.write_text(json.dumps({"summary": summary, "results": results}, indent=1, default=str))
    return summary


def summarise(results: list[dict]) -> dict:
    out: dict = {}
    by = {}
    for r in results:
        by.setdefault((r["instance"], r["seconds_limit"]), {})[r["solver"]] = r
    for (name, seconds), pair in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        o, p = pair.get("ortools"), pair.get("pyvrp")
        row = {"ortools": o and round(o["distance"], 2), "ortools_vehicles": o and o["vehicles"],
               "pyvrp": p and round(p["distance"], 2), "pyvrp_vehicles": p and p["vehicles"],
               "feasible": all(x["feasible"] for x in pair.values())}
        if o and p and p["distance"] > 0:
            row["vs_pyvrp_pct"] = round(100 * (o["distance"] / p["distance"] - 1), 2)
        if o and o.get("optimum"):
            row["gap_pct"] = round(o["gap_pct"], 2)
            row["pyvrp_gap_pct"] = round(p["gap_pct"], 2) if p else None
        out.setdefault(f"{seconds}s", {})[name] = row
    for level, rows in out.items():
        tw = [r["vs_pyvrp_pct"] for n, r in rows.items() if "vs_pyvrp_pct" in r and "gap_pct" not in r]
        gaps = [r["gap_pct"] for r in rows.values() if "gap_pct" in r]
        pgaps = [r["pyvrp_gap_pct"] for r in rows.values() if r.get("pyvrp_gap_pct") is not None]
        rows["_summary"] = {
            "solomon_mean_vs_pyvrp_pct": round(statistics.mean(tw), 2) if tw else None,
            "solomon_max_vs_pyvrp_pct": round(max(tw), 2) if tw else None,
            "cvrp_mean_gap_pct": round(statistics.mean(gaps), 2) if gaps else None,
            "cvrp_median_gap_pct": round(statistics.median(gaps), 2) if gaps else None,
            "cvrp_max_gap_pct": round(max(gaps), 2) if gaps else None,
            "cvrp_pyvrp_mean_gap_pct": round(statistics.mean(pgaps), 2) if pgaps else None,
            "cvrp_instances": len(gaps),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.routing", description=__doc__.split("\n")[0])
    ap.add_argument("--instance", type=Path, help="a Solomon .txt or VRPLIB .vrp file")
    ap.add_argument("--seconds", type=float, nargs="+", default=[5.0], help="time limit(s)")
    ap.add_argument("--out", type=Path, help="routes JSON (solve) or results JSON (--evaluate)")
    ap.add_argument("--solver", choices=("ortools", "pyvrp"), default="ortools")
    ap.add_argument("--first-solution", default=None, help="OR-Tools first solution strategy")
    ap.add_argument("--evaluate", action="store_true", help="run the whole evaluation")
    ap.add_argument("--cvrp-seconds", type=float, nargs="*", default=None,
                    help="time limits for the CVRP set (default: the same as --seconds)")
    ap.add_argument("--only", choices=("solomon", "cvrp"), default=None)
    ap.add_argument("--names", nargs="*", default=None, help="evaluate only these instances (file stems)")
    args = ap.parse_args(argv)
    if args.evaluate:
        cvrp_levels = args.seconds if args.cvrp_seconds is None else args.cvrp_seconds
        evaluate(args.seconds, cvrp_levels, args.out, args.only, args.names)
        return 0
    if args.instance is None:
        ap.error("--instance is required (or --evaluate)")
    if not args.instance.exists():
        ap.error(f"--instance {args.instance}: no such file")
    r = solve_instance(args.instance, args.seconds[0], args.solver, args.first_solution)
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
