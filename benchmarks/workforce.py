"""Workforce planning: weekly CP-SAT vs greedy, Erlang C staffing vs simulation, allocation MIP time.

    python -m benchmarks.workforce [--jobs 300] [--cp-seconds 10,60] [--det-time 10] [--seconds 60] [--scale 2]
                                   [--aht-minutes 5] [--test-days 5] [--weeks 4]
                                   [--skip weekly,bank,emergencies,mip]

1. Weekly scheduling: a mixed-trades company generated at ``--scale`` (in memory, registered in
   DuckDB), the week before the data ends with at least ``--jobs`` jobs, cut to ``--jobs``.
   The greedy baseline and CP-SAT (1 worker, seeded, hinted with the greedy plan, stopped at
   ``--det-time`` units of CP-SAT's deterministic time or the wall-time limit) are run
   in the same process, CP-SAT once per ``--cp-seconds`` limit; every plan is re-checked with
   ``validate()``.
2. Erlang C on the real bank call-centre arrivals (../shared/data/demand, 5-minute counts,
   164 weekdays): the mean arrival rate per 5-minute slot over the first 120 days is the
   forecast; each slot is staffed by Erlang C for 80 % answered within 20 s (handle time
   ``--aht-minutes``, exponential: the data has no handle times). The last ``--test-days``
   days are then simulated (FCFS, agents per slot, arrivals uniform within each slot's real
   count): the service level actually reached. Baseline in the same run: the same agent-hours
   spread flat over the day. A Poisson simulation at the forecast rates checks the Erlang
   model itself.
3. On-call staffing for the generated company's emergencies: Erlang C per 4-hour block, then
   the last year's real emergencies (call times, hours) replayed against it; baseline: one
   technician on call all day.
4. Allocation MIP: the same company's coming ``--weeks`` weeks, solved with SCIP, HiGHS and
   CBC; baseline: the plan that keeps everyone and everything at home (same solver; when that
   cannot meet the SLA it is reported INFEASIBLE with its best soft-SLA plan).

Prints markdown tables. Timings depend on the machine's load: the load average is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BANK_CALLS = ROOT.parent / "shared" / "data" / "demand" / "fpp3__bank_calls.csv"


def company_db(scale: float, seed: int = 7):
    """A generated mixed-trades company's tables in an in-memory DuckDB (what the builders read)."""
    import duckdb

    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    company = generate_company(load_profile(ROOT / "parameters" / "companies" / "mixed_trades.yaml"),
                               seed=seed, scale=scale)
    con = duckdb.connect()
    for name in ("jobs", "technicians", "customers", "equipment"):
        con.register(f"{name}_df", company.tables[name])
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_df")
    end = pd.Timestamp(company.tables["jobs"]["completed_at"].max()).normalize()
    con.execute("CREATE TABLE build_params AS SELECT ?::DATE AS as_of", [end.date()])
    return con, end.date()


def weekly(con, as_of: dt.date, n_jobs: int, seconds: list[float], det_time: float) -> None:
    from quantlib.ops.weekly import greedy_week, solve_week, week_problem_from_gold

    weeks = con.execute(
        """SELECT date_trunc('week', scheduled_start)::DATE AS w, count(*) AS n FROM jobs
           WHERE status <> 'cancelled' AND scheduled_start < ? GROUP BY 1 HAVING count(*) >= ? ORDER BY 1 DESC
           LIMIT 1""", [as_of - dt.timedelta(days=as_of.weekday()), n_jobs]).fetchone()
    if weeks is None:
        raise SystemExit(f"no week with {n_jobs} jobs: raise --scale")
    problem = week_problem_from_gold(con, weeks[0], max_jobs=n_jobs)
    options = sum(len(problem.options(j)) for j in range(len(problem.jobs)))
    t = time.perf_counter()
    greedy = greedy_week(problem)
    greedy_s = time.perf_counter() - t
    plans = [(f"CP-SAT, {limit:g} s limit", solve_week(problem, time_limit=limit, seed=0, workers=1, hint=greedy,
                                                       params={"max_deterministic_time": det_time}))
             for limit in seconds]
    print(f"\n### Weekly scheduling: week of {weeks[0]}, {len(problem.jobs)} jobs, "
          f"{len(problem.technicians)} technicians, "
          f"{options:,} (job, technician, day) options\n")
    print("| plan | seconds | status | jobs unassigned | service h | travel h | utilisation | profit | "
          "preferred tech | requested day | weighted score | objective | validate() |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, p, secs in [("greedy (baseline)", greedy, greedy_s)] + [(n, p, p.solve_seconds) for n, p in plans]:
        k, terms = p.kpis(), p.objective_terms()
        print(f"| {name} | {secs:.2f} | {k['status']} | {k['jobs_unassigned']} | {k['service_hours']:.1f} | "
              f"{k['travel_hours']:.1f} | {k['utilisation']:.1%} | ${k['profit']:,.0f} | "
              f"{k['preferred_technician_rate']:.1%} | {k['requested_day_rate']:.1%} | {terms['weighted_score']:.4f} | "
              f"{p.objective():,} | {'ok' if not p.validate() else len(p.validate())} |")


def bank(aht_minutes: float, test_days: int, train_days: int = 120, seed: int = 0) -> None:
    from quantlib.ops.queueing import (
        arrival_profile,
        arrivals_from_counts,
        bank_call_arrivals,
        servers_needed,
        service_level,
        simulate_fcfs,
        staffing_plan,
    )

    if not BANK_CALLS.exists():
        print(f"\n(bank calls skipped: {BANK_CALLS} not found)")
        return
    target, level = 20 / 3600, 0.8
    counts = bank_call_arrivals(BANK_CALLS)
    days = sorted(counts["day"].unique())
    profile = arrival_profile(counts[counts["day"].isin(days[:train_days])])
    service = aht_minutes / 60
    t = time.perf_counter()
    plan = staffing_plan(profile, service, target, level)
    erlang_s = time.perf_counter() - t
    starts = plan["start_hour"].to_numpy()
    agents = plan["servers"].to_numpy()
    buffered = staffing_plan(arrival_profile(counts[counts["day"].isin(days[:train_days])], quantile=0.8),
                             service, target, level)["servers"].to_numpy()
    agent_hours = float(agents.sum() * 5 / 60)
    flat = np.full_like(agents, int(np.ceil(agents.mean())))
    rng = np.random.default_rng(seed)
    rows = []
    sim_s = []
    for i, day in enumerate(days[-test_days:]):
        today = counts[counts["day"] == day]
        arrivals = arrivals_from_counts(today, seed=seed + i)
        svc = rng.exponential(service, len(arrivals))
        t = time.perf_counter()
        waits = simulate_fcfs(arrivals, svc, agents, starts)
        sim_s.append(time.perf_counter() - t)
        flat_waits = simulate_fcfs(arrivals, svc, flat, starts)
        buffered_waits = simulate_fcfs(arrivals, svc, buffered, starts)
        # Poisson arrivals at the forecast rates: Erlang's own assumptions.
        n = rng.poisson(plan["rate"].to_numpy() * 5 / 60)
        poisson = np.sort(np.repeat(starts, n) + rng.uniform(0, 5 / 60, n.sum()))
        pw = simulate_fcfs(poisson, rng.exponential(service, len(poisson)), agents, starts)
        slot = np.clip(np.searchsorted(starts, arrivals, side="right") - 1, 0, len(starts) - 1)
        per_slot = pd.Series(waits <= target).groupby(slot).mean()
        rows.append({"day": pd.Timestamp(day).date(), "calls": len(arrivals),
                     "forecast": float(plan["rate"].sum() * 5 / 60),
                     "sl": float((waits <= target).mean()), "sl_flat": float((flat_waits <= target).mean()),
                     "sl_q80": float((buffered_waits <= target).mean()),
                     "sl_poisson": float((pw <= target).mean()), "slots_ok": float((per_slot >= level).mean())})
    r = pd.DataFrame(rows)
    print(f"\n### Erlang C staffing on the bank call centre: {len(profile)} five-minute slots, "
          f"handle time {aht_minutes:g} min, target {level:.0%} within 20 s\n")
    print(f"Erlang C plan: {agents.min()}–{agents.max()} agents per slot, {agent_hours:,.0f} agent-hours a day "
          f"(flat baseline: {flat[0]} agents all day, {flat.sum() * 5 / 60:,.0f} agent-hours); "
          f"Erlang C for all slots {erlang_s * 1000:.0f} ms; "
          f"one simulated day {statistics.median(sim_s):.2f} s (median). "
          f"Buffered plan (Erlang C on each slot's 80th-percentile day): {buffered.sum() * 5 / 60:,.0f} agent-hours.\n")
    print("| test day | calls | forecast calls | service level (Erlang C plan) | slots meeting 80 % | "
          "flat staffing, same hours (baseline) | buffered plan (q80) | Poisson at forecast rates |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for x in r.itertuples():
        print(f"| {x.day} | {x.calls:,} | {x.forecast:,.0f} | {x.sl:.1%} | {x.slots_ok:.0%} | {x.sl_flat:.1%} | "
              f"{x.sl_q80:.1%} | {x.sl_poisson:.1%} |")
    for label, agg in (("median", "median"), ("mean", "mean")):
        print(f"| **{label}** | | | **{r['sl'].agg(agg):.1%}** | {r['slots_ok'].agg(agg):.0%} | "
              f"{r['sl_flat'].agg(agg):.1%} | {r['sl_q80'].agg(agg):.1%} | {r['sl_poisson'].agg(agg):.1%} |")
    busier = r[r["calls"] > r["forecast"]]
    print(f"\nDays busier than the forecast: {len(busier)} of {len(r)}, mean service level {busier['sl'].mean():.1%}"
          if len(busier) else "\nNo test day was busier than the forecast.")
    # The formula itself against a long stationary simulation at the busiest slot's rate.
    from quantlib.ops.queueing import simulate_mmc
    peak = plan.loc[plan["rate"].idxmax()]
    c = servers_needed(peak["rate"], 1 / service, target, level)
    w = simulate_mmc(peak["rate"], 1 / service, c, n_arrivals=1_000_000, seed=seed)
    print(f"\nBusiest slot ({peak['rate']:,.0f} calls/h, {c} agents): "
          f"Erlang C {service_level(peak['rate'], 1 / service, c, target):.1%} "
          f"within 20 s, stationary simulation of 1,000,000 calls {(w <= target).mean():.1%}.")


def emergencies(con, as_of: dt.date) -> None:
    from quantlib.ops.queueing import emergency_staffing, replay_emergencies

    print("\n### On-call staffing for the generated company's emergencies (2 h response, 80 %)\n")
    print("| on-call plan | technicians on call (by 4-hour block) | Erlang C service level | replayed service level | "
          "replayed mean wait (h) |")
    print("|---|---|---:|---:|---:|")
    t = time.perf_counter()
    plan = emergency_staffing(con, as_of, target_wait_hours=2.0, target_level=0.8)
    seconds = time.perf_counter() - t
    for label, staff in (("Erlang C", plan), ("one on call all day (baseline)", plan.assign(servers=1))):
        r = replay_emergencies(con, staff, as_of, target_wait_hours=2.0)
        print(f"| {label} | {'/'.join(str(int(c)) for c in staff['servers'])} | {r['erlang_service_level']:.1%} | "
              f"{r['service_level']:.1%} | {r['mean_wait']:.2f} |")
    print(f"\n{r['emergencies']} emergencies in the last year replayed (real call times and hours); "
          f"plan in {seconds:.2f} s.")


def mip(con, as_of: dt.date, weeks: int, seconds: float) -> None:
    from quantlib.ops.allocation import allocation_problem_from_gold, solve_allocation

    problem = allocation_problem_from_gold(con, as_of, weeks=weeks, sla_share=0.8)
    print(f"\n### Allocation MIP: {len(problem.technicians)} technicians, "
          f"{len(problem.equipment)} pieces of equipment, "
          f"{len(problem.regions)} regions, {len(problem.lines)} service lines, {weeks} weeks, SLA 80 %\n")
    print("| solver | plan | seconds | status | profit | served share | technician-weeks away | equipment moves "
          "| validate() |")
    print("|---|---|---:|---|---:|---:|---:|---:|---|")
    for backend in ("SCIP", "HIGHS", "CBC"):
        for label, move in (("optimised", True), ("stay home (baseline)", False)):
            problem.allow_relocation = problem.allow_equipment_moves = move
            plan = solve_allocation(problem, backend=backend, time_limit=seconds)
            k = plan.kpis()
            print(f"| {backend} | {label} | {k['solve_seconds']:.2f} | {k['status']} | ${plan.profit():,.0f} | "
                  f"{k['served_share']:.1%} | {k['technician_weeks_away']} | {k['equipment_moves']} | "
                  f"{'ok' if not plan.validate() else len(plan.validate())} |")
    problem.allow_relocation = problem.allow_equipment_moves = True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0, help="wall-time cap of each MIP solve")
    parser.add_argument("--cp-seconds", default="10,60", help="CP-SAT wall-time limits to run, comma-separated")
    parser.add_argument("--det-time", type=float, default=10.0, help="CP-SAT deterministic-time limit")
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--aht-minutes", type=float, default=5.0)
    parser.add_argument("--test-days", type=int, default=5)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--skip", default="", help="comma-separated: weekly, bank, emergencies, mip")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    con = as_of = None
    if not {"weekly", "mip"} <= skip:
        t = time.perf_counter()
        con, as_of = company_db(args.scale)
        print(f"generated mixed_trades at scale {args.scale:g} in {time.perf_counter() - t:.1f} s (data to {as_of})")
    if "weekly" not in skip:
        weekly(con, as_of, args.jobs, [float(x) for x in args.cp_seconds.split(",")], args.det_time)
    if "bank" not in skip:
        bank(args.aht_minutes, args.test_days)
    if "emergencies" not in skip and con is not None:
        emergencies(con, as_of)
    if "mip" not in skip:
        mip(con, as_of, args.weeks, args.seconds)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
