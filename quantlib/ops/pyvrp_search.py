"""PyVRP's iterated local search as the search engine of the daily router.

:func:`pyvrp_routes` maps the screened jobs and the technicians of a
:class:`~quantlib.ops.problem.RoutingProblem` to a PyVRP ``ProblemData`` and returns the job
order of each technician. What maps exactly:

* each technician's start and end location as depots; technicians alike in every field the
  search sees (locations, shift, costs, capacity, what they may serve) share one vehicle type
  (a fleet of identical vans searches faster as one type than as many of one);
* shift: the van leaves at the technician's departure (``tw_early = start_late``), must be
  home by shift + overtime (``tw_late``); the route duration beyond the regular shift end is
  overtime at the technician's cost per minute (``shift_duration``, ``max_overtime``,
  ``unit_overtime_cost``): since the start is fixed, duration overtime equals the product's
  overtime (return time past the shift end);
* arc cost = travel cost per minute x minutes + fuel cost per mile x miles, in cents, as the
  OR-Tools model's; travel time = minutes rounded up, as the OR-Tools model and
  :func:`~quantlib.ops.routing.schedule_route` count it;
* hard windows on the start of service, service durations, van capacity and job demand;
* optional jobs: prize = drop penalty (revenue x priority weights); a started job (pinned
  start) gets its start as a zero-width window and a prize no route cost can beat; a
  ``required`` job is a required client (PyVRP searches a plan without it as infeasible: with
  every client optional, even at prizes no route cost can beat, its search did measurably
  worse, e.g. +1.4 % on CVRP A-n80-k10 at 5 s);
* skills, equipment and pins (vehicle-job compatibility): one routing profile per distinct
  set of jobs a vehicle type may not serve, whose edges into those jobs cost more than any
  prize and take a week (never worth driving, and late). PyVRP's own ``MAX_VALUE`` for
  missing edges made its local search hang (0.14.1) on a 5 x 30 day; these finite values do not;
* a warm start from given routes (re-routing starts from the plan in force).

* re-routing's move cost: added to the edges into a job in the profile of every technician
  but the job's current one (one profile per technician holding jobs, so only up to
  ``MOVE_COST_MAX_ENTRIES`` matrix entries in all).

What does not map, and is left to the caller (:func:`quantlib.ops.routing.solve`): lunch
breaks, soft windows (searched as hard at their target), the workload-balance span cost.
The caller repairs the routes for breaks and, in ``solver="auto"``, polishes them with
OR-Tools warm-started from these routes, keeping the better valid plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from quantlib.ops.plan import end_key, job_key, start_key
from quantlib.ops.problem import Job, RoutingProblem, Technician
from quantlib.ops.travel import TravelMatrix

MONEY_SCALE = 100  # cents, as the OR-Tools model
# A started job's prize: far above any route cost, below PyVRP's MAX_VALUE (2**44) so sums stay safe.
PINNED_PRIZE = 10**12
# A forbidden edge (into a job the vehicle may not serve): dearer than any prize, and a week late.
FORBIDDEN_COST = 10**13
FORBIDDEN_MINUTES = 7 * 24 * 60


@dataclass
class PyvrpResult:
    """Routes found by PyVRP: technician id -> job ids in visit order, and what the search reported."""

    routes: dict[str, list[str]]
    feasible: bool
    cost: int
    iterations: int
    seconds: float
    vehicle_types: int
    profiles: int


# Re-routing's move cost needs a routing profile per technician holding jobs (a full matrix
# each); above this many matrix entries in all the search leaves it out (the plan's cost, which
# the caller compares, still counts it).
MOVE_COST_MAX_ENTRIES = 5_000_000


def _type_key(t: Technician, allowed: tuple[bool, ...], moved: tuple[bool, ...]) -> tuple:
    return (t.lat, t.lon, t.end_location, t.departure, t.shift_start + t.shift_minutes, t.latest_end,
            t.overtime_cost_per_minute, t.capacity, allowed, moved)


def build_data(problem: RoutingProblem, jobs: list[Job], techs: list[Technician], tm: TravelMatrix):
    """The PyVRP ``ProblemData`` of ``jobs`` for ``techs``, and the technicians of each vehicle type.

    Returns
    -------
    data : pyvrp.ProblemData
        Depots first (a start and an end depot per vehicle type), then one client per job in
        ``jobs`` order (client ``i`` is ``jobs[i]``).
    type_techs : list of list of Technician
        The technicians of each vehicle type, in ``techs`` order.
    """
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    obj = problem.objective
    allowed = [tuple(problem.can_serve(t, j) for j in jobs) for t in techs]
    # Re-routing: serving a job by another technician than its current one costs move_cost (on
    # the edges into the job, in that technician's profile).
    tech_ids = {t.id for t in techs}
    move_cents = int(round(MONEY_SCALE * obj.move_cost))
    n_locations = 2 * len(techs) + len(jobs)
    holders = {j.current_technician for j in jobs if j.current_technician in tech_ids}
    price_moves = move_cents > 0 and bool(holders) and len(techs) * n_locations ** 2 <= MOVE_COST_MAX_ENTRIES
    moved = [tuple(price_moves and j.current_technician in tech_ids and j.current_technician != t.id for j in jobs)
             for t in techs]
    groups: dict[tuple, list[int]] = {}
    for v, t in enumerate(techs):
        groups.setdefault(_type_key(t, allowed[v], moved[v]), []).append(v)
    type_techs = [[techs[v] for v in members] for members in groups.values()]
    # Locations: a start and an end depot per vehicle type, then the jobs.
    depot_keys = []
    for members in type_techs:
        depot_keys += [start_key(members[0].id), end_key(members[0].id)]
    keys = depot_keys + [job_key(j.id) for j in jobs]
    idx = np.array([tm.index(k) for k in keys])
    minutes = tm.minutes[np.ix_(idx, idx)]
    miles = tm.miles[np.ix_(idx, idx)]
    cost = np.round(MONEY_SCALE * (obj.travel_cost_per_minute * minutes + obj.fuel_cost_per_mile * miles))
    cost = cost.astype(np.int64)
    duration = np.ceil(minutes - 1e-9).astype(np.int64)
    np.fill_diagonal(cost, 0)
    np.fill_diagonal(duration, 0)
    n_depots = len(depot_keys)
    # Profiles: one per distinct (jobs the type may not serve, jobs it would move) pair.
    profile_of: dict[tuple, int] = {}
    type_profile = []
    distances, durations = [], []
    for members in type_techs:
        v = techs.index(members[0])
        key = (allowed[v], moved[v])
        if key not in profile_of:
            d, t = cost.copy(), duration.copy()
            into_moved = [n_depots + i for i, yes in enumerate(moved[v]) if yes]
            if into_moved:
                d[:, into_moved] += move_cents
            forbidden = [n_depots + i for i, ok in enumerate(allowed[v]) if not ok]
            if forbidden:
                d[:, forbidden] = FORBIDDEN_COST
                t[:, forbidden] = FORBIDDEN_MINUTES
            np.fill_diagonal(d, 0)
            np.fill_diagonal(t, 0)
            profile_of[key] = len(distances)
            distances.append(d)
            durations.append(t)
        type_profile.append(profile_of[key])
    use_load = any(t.capacity is not None for t in techs) or any(j.demand for j in jobs)
    big_capacity = int(sum(j.demand for j in jobs)) + 1
    locations = [Location(0.0, 0.0) for _ in keys]  # coordinates unused: the matrices are explicit
    depots = [Depot(location=k) for k in range(n_depots)]
    vehicle_types = []
    for k, members in enumerate(type_techs):
        t = members[0]
        shift = max(0, t.shift_start + t.shift_minutes - t.departure)
        latest = max(t.latest_end, t.departure)
        vehicle_types.append(VehicleType(
            num_available=len(members), start_depot=2 * k, end_depot=2 * k + 1,
            capacity=[t.capacity if t.capacity is not None else big_capacity] if use_load else [],
            tw_early=t.departure, start_late=t.departure, tw_late=latest,
            shift_duration=min(shift, latest - t.departure), max_overtime=max(0, latest - t.departure - shift),
            unit_overtime_cost=int(round(MONEY_SCALE * t.overtime_cost_per_minute)),
            unit_distance_cost=1, profile=type_profile[k], name=t.id))
    clients = []
    for i, j in enumerate(jobs):
        if j.pinned_start is not None:
            early = late = j.pinned_start
            prize = PINNED_PRIZE
        else:
            early, late = j.window_start, j.window_end  # a soft window is searched as hard at its target
            prize = int(round(MONEY_SCALE * obj.drop_penalty(j)))
        clients.append(Client(location=n_depots + i, delivery=[int(j.demand)] if use_load else [],
                              service_duration=j.duration, tw_early=early, tw_late=late,
                              prize=prize, required=j.required, name=j.id))
    data = ProblemData(locations, clients, depots, vehicle_types, distances, durations)
    return data, type_techs


def _initial_solution(data, jobs: list[Job], type_techs: list[list[Technician]],
                      initial_routes: dict[str, list[str]]):
    from pyvrp import Route, Solution

    client_of = {j.id: i for i, j in enumerate(jobs)}
    routes, used = [], set()
    for k, members in enumerate(type_techs):
        for t in members:
            visits = [client_of[jid] for jid in initial_routes.get(t.id, [])
                      if jid in client_of and client_of[jid] not in used]
            used.update(visits)
            if visits:
                routes.append(Route(data, visits, k))
    return Solution(data, routes) if routes else None


def pyvrp_routes(problem: RoutingProblem, jobs: list[Job], techs: list[Technician], tm: TravelMatrix,
                 seconds: float, initial_routes: dict[str, list[str]] | None = None, seed: int = 0,
                 iteration_limit: int | None = None) -> PyvrpResult:
    """Search the routes of ``jobs`` for ``techs`` with PyVRP for ``seconds`` (see the module notes).

    Parameters
    ----------
    problem : RoutingProblem
        The objective and the pins.
    jobs : list of Job
        The screened jobs (those someone might serve).
    techs : list of Technician
        One vehicle each.
    tm : TravelMatrix
        Holds every job, start and end key.
    seconds : float
        Wall-time limit of the search.
    initial_routes : dict of str to list of str, optional
        technician id -> job ids in order: the warm start (unknown or repeated ids are skipped).
    seed : int
        PyVRP's random seed.
    iteration_limit : int, optional
        Stop after this many iterations (whichever of the two limits comes first): with a fixed
        seed a search stopped by its iteration count returns the same routes every run.

    Returns
    -------
    PyvrpResult
        ``routes`` holds every technician (empty list: no work); ``feasible`` is PyVRP's own
        verdict (the caller times and repairs the routes either way).
    """
    import pyvrp
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    data, type_techs = build_data(problem, jobs, techs, tm)
    initial = _initial_solution(data, jobs, type_techs, initial_routes) if initial_routes else None
    stop = MaxRuntime(max(seconds, 0.01))
    if iteration_limit is not None:
        stop = MultipleCriteria([stop, MaxIterations(iteration_limit)])
    result = pyvrp.solve(data, stop, seed=seed, collect_stats=False, display=False, initial_solution=initial)
    best = result.best
    routes: dict[str, list[str]] = {t.id: [] for t in techs}
    free = [list(members) for members in type_techs]
    for route in best.routes():
        t = free[route.vehicle_type()].pop(0)
        routes[t.id] = [jobs[a.idx].id for a in route if a.is_client()]
    return PyvrpResult(routes, best.is_feasible(), int(result.cost()) if best.is_feasible() else math.inf,
                       result.num_iterations, result.runtime, len(type_techs), data.num_profiles)
