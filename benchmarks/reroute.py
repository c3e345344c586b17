"""Live re-routing latency at 20 and 50 technicians (aim: 20 technicians / 150 jobs in < 5 s).

    python -m benchmarks.reroute [--sizes 20:150 50:375] [--seconds 2] [--repeats 3] [--baseline-seconds 20]

For each size a synthetic day (technicians with one or two of three skills and home bases in
a 15-mile metro area; jobs of 20-90 minutes, half with AM/PM windows, some priority customers)
is planned first (not timed). At 11:00 four events arrive: two cancellations, one emergency,
one technician off sick, one delay of 40 minutes. :func:`quantlib.ops.reroute.reroute` re-plans
the rest of the day; its wall time (state, matrix, warm and cold search, diff) is the latency.

Baseline, same run: the same residual problem solved from scratch with a long search
(``--baseline-seconds``), to show what the fast re-plan gives up in cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from quantlib.ops.problem import Job, RoutingProblem, Technician
from quantlib.ops.reroute import AddEmergency, Cancel, Delay, TechnicianSick, reroute
from quantlib.ops.routing import SolverSettings, solve

SKILLS = ("hvac", "plumbing", "electrical")
CENTRE = (39.78, -89.65)


def synthetic_day(n_techs: int, n_jobs: int, seed: int = 0) -> RoutingProblem:
    rng = np.random.default_rng(seed)

    def point():
        r = 15 / 69.0 * np.sqrt(rng.uniform())  # degrees of latitude, uniform over a disc
        a = rng.uniform(0, 2 * np.pi)
        return CENTRE[0] + r * np.sin(a), CENTRE[1] + r * np.cos(a) / np.cos(np.radians(CENTRE[0]))

    techs = []
    for k in range(n_techs):
        lat, lon = point()
        skills = {SKILLS[k % 3]} | ({SKILLS[(k + 1) % 3]} if rng.uniform() < 0.4 else set())
        techs.append(Technician(id=f"T{k:03d}", lat=lat, lon=lon, skills=skills))
    jobs = []
    for i in range(n_jobs):
        lat, lon = point()
        if rng.uniform() < 0.5:
            window = (480, 720) if rng.uniform() < 0.5 else (720, 960)
        else:
            window = (480, 960)
        jobs.append(Job(id=f"J{i:04d}", lat=lat, lon=lon, duration=int(rng.choice([20, 30, 30, 45, 45, 60, 90])),
                        skills={SKILLS[int(rng.integers(0, 3))]}, window_start=window[0], window_end=window[1],
                        priority_customer=bool(rng.uniform() < 0.15),
                        priority="urgent" if rng.uniform() < 0.2 else "routine",
                        revenue=float(np.round(rng.lognormal(5.6, 0.4), 2))))
    return RoutingProblem(technicians=tuple(techs), jobs=tuple(jobs))


def events_at(plan, now: int, seed: int = 0):
    rng = np.random.default_rng(seed + 1)
    pending = [v.job_id for r in plan.routes for v in r.visits if v.start > now]
    cancel = list(rng.choice(pending, 2, replace=False))
    busy = [r.technician_id for r in plan.routes if r.visits]
    sick, late = rng.choice(busy, 2, replace=False)
    lat, lon = plan.problem.job(pending[0]).lat + 0.01, plan.problem.job(pending[0]).lon
    emergency = Job(id="EMERGENCY-1", lat=lat, lon=lon, duration=90, skills={SKILLS[0]}, revenue=600)
    return [Cancel(job_id=cancel[0]), Cancel(job_id=cancel[1]), AddEmergency(job=emergency),
            TechnicianSick(technician_id=str(sick)), Delay(technician_id=str(late), minutes=40)]


def run(n_techs: int, n_jobs: int, seconds: float, repeats: int, baseline_seconds: float) -> dict:
    problem = synthetic_day(n_techs, n_jobs)
    tic = time.perf_counter()
    plan = solve(problem, SolverSettings(time_limit_seconds=max(10.0, n_jobs / 15)))
    plan_seconds = time.perf_counter() - tic
    now = 11 * 60
    events = events_at(plan, now)
    latencies, results = [], []
    for _ in range(repeats):
        res = reroute(plan, now, events, settings=SolverSettings(time_limit_seconds=seconds))
        latencies.append(res.seconds)
        results.append(res)
    res = results[0]
    violations = res.after.validate()
    tic = time.perf_counter()
    base = solve(res.after.problem, SolverSettings(time_limit_seconds=baseline_seconds))
    base_seconds = time.perf_counter() - tic
    k_after, k_base = res.after.kpis(), base.kpis()
    cost_after = k_after["operating_cost"] + k_after["drop_penalty"]
    cost_base = k_base["operating_cost"] + k_base["drop_penalty"]
    counts = res.changes["change"].value_counts().to_dict()
    return {
        "technicians": n_techs, "jobs": n_jobs, "initial_plan_seconds": round(plan_seconds, 2),
        "initial_jobs_dropped": len(plan.dropped),
        "reroute_time_limit": seconds, "latency_median_s": round(statistics.median(latencies), 2),
        "latency_max_s": round(max(latencies), 2), "latencies_s": [round(x, 2) for x in latencies],
        "residual_jobs": len(res.after.problem.jobs), "valid": not violations,
        "violations": [f"{v.kind}: {v.message}" for v in violations[:5]],
        "search_used": res.after.stats.get("search"),
        "cost_before_events": round(res.cost_before, 2), "cost_after": round(cost_after, 2),
        "cost_delta": round(res.cost_delta, 2),
        "baseline_seconds": round(base_seconds, 2), "baseline_cost": round(cost_base, 2),
        "cost_vs_baseline_pct": round(100 * (cost_after / cost_base - 1), 2) if cost_base else None,
        "jobs_dropped_after": len(res.after.dropped), "jobs_dropped_baseline": len(base.dropped),
        "changes": counts, "emergency_served": "EMERGENCY-1" in res.after.assignment(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.reroute", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["20:150", "50:375"], help="technicians:jobs")
    ap.add_argument("--seconds", type=float, default=2.0, help="re-plan search time limit")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-seconds", type=float, default=20.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    rows = []
    for size in args.sizes:
        t, j = map(int, size.split(":"))
        row = run(t, j, args.seconds, args.repeats, args.baseline_seconds)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
