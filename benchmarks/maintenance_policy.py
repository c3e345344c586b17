"""Maintenance decisions on a generated company: the preventive interval against the truth (issue 15).

    python -m benchmarks.maintenance_policy [--company mixed_trades] [--scale 3] [--seed 11]
        [--sim-units 20000] [--sim-years 10] [--capacity-share 0.01] [--horizon-weeks 52] [--fleet-scale 42]
        [--out FILE.json]

A company is generated, ingested and built into gold in a temporary folder. From gold:
``maintenance_costs`` (preventive and failure cost per kind, the lives between failures, each
unit's history of visits and failures) and two policies per kind: ``PeriodicMaintenancePolicy``
(a visit takes off a share of the wear, Kijima's virtual age, fitted by maximum likelihood) and
``AgeReplacementPolicy`` (the textbook assumption that a visit renews the unit).

The generator's truth (``truth["equipment_reliability"]``) is a Weibull hazard in a virtual age
that a completed visit halves and a repair resets. Every policy (both fitted intervals, the true
optimum, the company's current interval, run to failure) is evaluated on that true process, two
ways: the exact cost rate (``periodic_cost_rate`` with the true parameters, the visit clock
restarting at a repair) and a simulation through the generator's own failure process
(``_age_process``, ``--sim-units`` new units over ``--sim-years``, visits every ``T`` calendar
days), which checks the exact figure with independent code and a calendar schedule.

Speed: ``fleet_schedule`` over ``--horizon-weeks`` for the company's own fleet and for a fleet
the size of the ``--fleet-scale`` company (its equipment as the generator makes it, ages drawn
from this company's units of the same kind), each without a capacity limit and with
``--capacity-share`` of the technicians' weekly hours (an assumption, not a figure from the data).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.data.generate import _age_process, _Builder, generate_company, write_company
from quantlib.data.ingest import ingest
from quantlib.data.lake import Lake
from quantlib.data.profile import load_profile
from quantlib.data.warehouse import build_warehouse
from quantlib.maintenance.policy import (
    AgeReplacementPolicy,
    fleet_schedule,
    maintenance_costs,
    technician_capacity,
)
from quantlib.maintenance.repair import PeriodicMaintenancePolicy, periodic_cost_rate

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"
YEAR = 365.25


def build_gold(company, root: Path) -> Lake:
    """Write, ingest and build the company's warehouse under ``root``."""
    write_company(company, root / "raw")
    lake = Lake(root / "lake")
    report = ingest(root / "raw", lake)
    if not report.ok:
        raise RuntimeError(f"ingest rejected rows: {report}")
    targets = {k: v * company.scale if k == "monthly_revenue" else v for k, v in company.profile.targets.items()}
    build_warehouse(lake, targets=targets, company=company.profile.name)
    return lake


def true_law(truth: dict, kind: str) -> tuple[float, float, float]:
    """``(shape, scale, restoration)`` of the generator's wear process for ``kind`` (days)."""
    rel = truth["equipment_reliability"]
    return float(rel["weibull_shape"]), float(rel["weibull_scale_days"][kind]), float(rel["pm_age_reduction"])


def true_optimum(shape, scale, rho, cp, cf) -> float:
    """The interval minimising the exact cost rate on the true process."""
    return PeriodicMaintenancePolicy()._optimum(shape, scale, rho, cp, cf)[0]


def simulate(interval: float, shape: float, scale: float, rho: float, cp: float, cf: float, units: int,
             years: float, seed: int) -> dict:
    """Cost per unit-year of visits every ``interval`` calendar days, run through the generator's own process.

    ``quantlib.data.generate._age_process`` (the code that made the company's failures) with every
    visit completed on time, new units and a repair the day after a failure (no downtime, as the
    cost rate assumes). The standard error is over 20 batches of units.
    """
    horizon = int(years * YEAR)
    rng = np.random.default_rng(seed)
    if np.isfinite(interval):
        visits = np.arange(interval, horizon, interval)
        pm = np.broadcast_to(visits, (units, len(visits))).copy()
    else:
        pm = np.full((units, 1), np.nan)
    fail_unit, fail_day, _, _ = _age_process(rng, np.full(units, scale), shape, rho, pm, np.zeros(units), 0,
                                             horizon, downtime_days=(0, 0))
    failures = np.bincount(fail_unit, minlength=units).astype(float)
    made = np.isfinite(pm).sum(axis=1).astype(float)
    if np.isfinite(interval):
        # a visit due on the day of a failure (the unit down for its repair) is not made
        lost = np.isin(np.asarray(fail_day, float), pm[0]) if len(fail_day) else np.zeros(0, bool)
        made -= np.bincount(fail_unit[lost], minlength=units)
    per_unit = (cf * failures + cp * made) / (horizon / YEAR)
    batches = np.array([b.mean() for b in np.array_split(per_unit, 20)])
    return {"cost_per_unit_year": float(per_unit.mean()), "se": float(batches.std(ddof=1) / np.sqrt(len(batches))),
            "failures_per_unit_year": float(failures.sum() / units / (horizon / YEAR))}


def fleet_at_scale(company, scale: float, units: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, float]:
    """The equipment and technicians the generator makes at ``scale`` (only those steps run), ages
    drawn from ``units`` of the same kind; and the technicians' weekly hours at the end."""
    builder = _Builder(company.profile, company.seed, scale)
    for step in (builder._make_calendar, builder._make_weather, builder._make_economy, builder._make_intensity,
                 builder._make_technicians, builder._make_equipment):
        step()
    equipment = builder.t["equipment"]
    tech = builder.t["technicians"]
    end = pd.Timestamp(company.profile.end)
    employed = (pd.to_datetime(tech["hire_date"]) <= end) & (
        tech["termination_date"].isna() | (pd.to_datetime(tech["termination_date"]) > end))
    rng = np.random.default_rng(seed)
    ages = np.empty(len(equipment))
    for kind, idx in equipment.groupby("kind").indices.items():
        pool = units.loc[units["kind"] == kind, "age_days"].to_numpy()
        ages[idx] = rng.choice(pool, len(idx))
    fleet = pd.DataFrame({"equipment_id": equipment["equipment_id"], "kind": equipment["kind"], "age_days": ages})
    return fleet, float(tech.loc[employed, "weekly_hours"].sum())


def _schedule_figures(policy, units, hours, capacity, horizon, free=None) -> tuple[dict, pd.DataFrame]:
    tic = time.perf_counter()
    schedule = fleet_schedule(policy, units, hours, capacity, horizon_weeks=horizon)
    seconds = time.perf_counter() - tic
    out = {"units": int(len(units)), "capacity_hours_per_week": float(capacity) if np.isfinite(capacity) else None,
           "interventions": int(len(schedule.plan)), "peak_week_hours": float(schedule.load["hours"].max()),
           "dropped": int(len(schedule.dropped)), "price_iterations": schedule.iterations,
           "seconds": round(seconds, 3)}
    if free is not None:
        # interventions of the uncapacitated plan that the capacity moved to another week (or removed)
        kept = schedule.plan.merge(free[["equipment_id", "week"]], how="inner")
        out["unlimited_interventions_moved"] = int(len(free) - len(kept))
    return out, schedule.plan


def _schedules(policy, units, hours, capacity, horizon) -> dict:
    unlimited, plan = _schedule_figures(policy, units, hours, np.inf, horizon)
    capped, _ = _schedule_figures(policy, units, hours, capacity, horizon, free=plan)
    return {"unlimited": unlimited, "capacity": capped}


def run(company, sim_units: int = 20_000, sim_years: float = 10.0, capacity_share: float = 0.01,
        horizon_weeks: int = 52, fleet_scale: float = 42.0, sim_seed: int = 0) -> dict:
    """Every figure of the benchmark as a dict (see the module docstring)."""
    tic = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        lake = build_gold(company, Path(tmp))
        build_seconds = time.perf_counter() - tic
        costs = maintenance_costs(lake)
        capacity = technician_capacity(lake, capacity_share)
    tic = time.perf_counter()
    policy = AgeReplacementPolicy().fit(costs.lives, costs.costs)
    fit_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    periodic = PeriodicMaintenancePolicy().fit(costs.history, costs.costs)
    periodic_seconds = time.perf_counter() - tic
    kinds = {}
    for kind, row in periodic.table_.iterrows():
        shape, scale, rho = true_law(company.truth, kind)
        cp, cf = float(row["preventive_cost"]), float(row["failure_cost"])
        t_true = true_optimum(shape, scale, rho, cp, cf)
        age_row = policy.table_.loc[kind] if kind in policy.table_.index else None
        policies = {"imperfect-repair fit": row["optimal_interval"],
                    "age-replacement fit": age_row["optimal_interval"] if age_row is not None else np.nan,
                    "true optimum": t_true, "current practice": row["current_interval"], "run to failure": np.inf}
        evaluated = {}
        for name, T in policies.items():
            if np.isnan(T):
                continue
            evaluated[name] = {
                "interval_days": float(T) if np.isfinite(T) else None,
                "exact_cost_per_unit_year": float(periodic_cost_rate(T, shape, scale, rho, cp, cf)) * YEAR,
                "simulated": simulate(T, shape, scale, rho, cp, cf, sim_units, sim_years, sim_seed)}
        best = evaluated["true optimum"]["exact_cost_per_unit_year"]
        fitted = periodic.model_.table_.loc[kind]
        kinds[kind] = {
            "units": int(costs.costs.at[kind, "units"]), "preventive_cost": cp, "failure_cost": cf,
            "preventive_hours": float(costs.costs.at[kind, "preventive_hours"]),
            "failures_of_known_age": int(fitted["failures"]), "history_segments": int(fitted["segments"]),
            "imperfect_repair_fit": {"shape": float(fitted["shape"]), "scale_days": float(fitted["scale"]),
                                     "restoration": periodic.model_.restoration_,
                                     "restoration_interval": list(periodic.model_.restoration_interval_),
                                     "optimal_interval_days": float(row["optimal_interval"])},
            "age_replacement_fit": None if age_row is None else {
                "shape": float(age_row["shape"]), "scale_days": float(age_row["scale"]),
                "optimal_interval_days": float(age_row["optimal_interval"])},
            "truth": {"shape": shape, "scale_days": scale, "restoration": rho, "optimal_interval_days": t_true},
            "policies_on_truth": evaluated,
            "regret_vs_true_optimum": {name: v["exact_cost_per_unit_year"] / best - 1 for name, v in evaluated.items()},
        }
    hours = costs.costs["preventive_hours"].to_dict()
    speed = {"company": _schedules(policy, costs.units, hours, capacity, horizon_weeks)}
    fleet, weekly_hours = fleet_at_scale(company, fleet_scale, costs.units, sim_seed)
    speed[f"scale_{fleet_scale:g}_fleet"] = _schedules(policy, fleet, hours, capacity_share * weekly_hours,
                                                       horizon_weeks)
    return {"company": company.profile.name, "seed": company.seed, "scale": company.scale,
            "as_of": str(costs.as_of), "records_start": str(costs.start),
            "capacity_share": capacity_share, "horizon_weeks": horizon_weeks,
            "gold_build_seconds": round(build_seconds, 2), "age_replacement_fit_seconds": round(fit_seconds, 3),
            "imperfect_repair_fit_seconds": round(periodic_seconds, 3), "simulated_units": sim_units,
            "simulated_years": sim_years, "kinds": kinds, "schedule": speed}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sim-units", type=int, default=20_000)
    parser.add_argument("--sim-years", type=float, default=10.0)
    parser.add_argument("--capacity-share", type=float, default=0.01)
    parser.add_argument("--horizon-weeks", type=int, default=52)
    parser.add_argument("--fleet-scale", type=float, default=42.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    company = generate_company(load_profile(PROFILES / f"{args.company}.yaml"), seed=args.seed, scale=args.scale)
    result = run(company, sim_units=args.sim_units, sim_years=args.sim_years, capacity_share=args.capacity_share,
                 horizon_weeks=args.horizon_weeks,
                 fleet_scale=args.fleet_scale)
    text = json.dumps(result, indent=2, default=float)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
