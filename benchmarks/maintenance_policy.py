"""Maintenance decisions on a generated company: the age-replacement interval against the truth (issue 15).

    python -m benchmarks.maintenance_policy [--company mixed_trades] [--scale 3] [--seed 11]
        [--cycles 200000] [--capacity-share 0.01] [--horizon-weeks 52] [--fleet-scale 42] [--out FILE.json]

A company is generated, ingested and built into gold in a temporary folder. From gold:
``maintenance_costs`` (preventive and failure cost per kind, lives between failures) and
``AgeReplacementPolicy`` (Weibull fit and age-replacement optimum per kind). Against the
generator's truth (``truth["equipment_life"]``: a failure gap is ``min_gap_days +
scale_days[kind] * Weibull(shape)`` days):

* the fitted life (two-parameter Weibull) against the true one: mean and median life, and the
  optimal interval the same costs give on the true law;
* the long-run cost per unit-year of four policies (the fitted optimum, the true optimum, the
  company's current preventive interval, run to failure), each *simulated on the true life
  law* (``--cycles`` renewal cycles, renewal-reward: total cost / total time), not on the
  fitted one: that is the honest measure of what the fitted policy would earn.

The generator's preventive maintenance neither renews a unit nor slows its wear, so its
failures cannot validate a preventive policy: the simulation is of the world the model
assumes (a preventive intervention renews the unit), with the true life law. Making preventive
maintenance matter in the generator is separate work.

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
from scipy.optimize import minimize_scalar
from scipy.special import gamma

from quantlib.data.generate import _Builder, generate_company, write_company
from quantlib.data.ingest import ingest
from quantlib.data.lake import Lake
from quantlib.data.profile import load_profile
from quantlib.data.warehouse import build_warehouse
from quantlib.maintenance.policy import (
    AgeReplacementPolicy,
    _integral_survival,
    fleet_schedule,
    maintenance_costs,
    technician_capacity,
)

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
    """``(shape, scale, location)`` in days of the generator's failure gaps for ``kind``."""
    life = truth["equipment_life"]
    scales = life["scale_days"]
    return life["shape"], scales.get(kind, scales["other kinds"]), float(life["min_gap_days"])


def _true_integral(T, shape, scale, loc):
    T = np.asarray(T, float)
    return np.minimum(T, loc) + np.where(T > loc, _integral_survival(np.maximum(T - loc, 0), shape, scale), 0.0)


def true_cost_rate(T, shape, scale, loc, cp, cf):
    """Age-replacement cost rate on the true (three-parameter) Weibull law."""
    T = np.asarray(T, float)
    survive = np.where(T > loc, np.exp(-(np.maximum(T - loc, 0) / scale) ** shape), 1.0)
    return (cp * survive + cf * (1 - survive)) / _true_integral(T, shape, scale, loc)


def true_optimum(shape, scale, loc, cp, cf) -> float:
    grid = loc + scale * np.logspace(-3, 0.7, 400)
    i = int(np.argmin(true_cost_rate(grid, shape, scale, loc, cp, cf)))
    best = minimize_scalar(lambda t: float(true_cost_rate(t, shape, scale, loc, cp, cf)),
                           bounds=(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]), method="bounded")
    return float(best.x)


def simulate(lives: np.ndarray, interval: float, cp: float, cf: float) -> dict:
    """Renewal-reward cost per unit-year of renewing at ``interval`` or at failure, on sampled ``lives``.

    The standard error is the delta method's for a ratio of means over independent cycles.
    """
    length = np.minimum(lives, interval)
    cost = np.where(lives < interval, cf, cp)
    rate = cost.sum() / length.sum()
    resid = cost - rate * length
    se = np.sqrt(resid.var(ddof=1) / len(lives)) / length.mean()
    return {"cost_per_unit_year": float(rate * YEAR), "se": float(se * YEAR),
            "failure_share": float((lives < interval).mean())}


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


def run(company, cycles: int = 200_000, capacity_share: float = 0.01, horizon_weeks: int = 52,
        fleet_scale: float = 42.0, sim_seed: int = 0) -> dict:
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
    rng = np.random.default_rng(sim_seed)
    kinds = {}
    for kind, row in policy.table_.iterrows():
        shape, scale, loc = true_law(company.truth, kind)
        c = costs.costs.loc[kind]
        cp, cf = float(c["preventive_cost"]), float(c["failure_cost"])
        t_true = true_optimum(shape, scale, loc, cp, cf)
        lives = loc + scale * rng.weibull(shape, cycles)
        policies = {"fitted optimum": row["optimal_interval"], "true optimum": t_true,
                    "current practice": row["current_interval"], "run to failure": np.inf}
        simulated = {name: {"interval_days": float(T) if np.isfinite(T) else None, **simulate(lives, T, cp, cf)}
                     for name, T in policies.items()}
        best = simulated["fitted optimum"]["cost_per_unit_year"]
        kinds[kind] = {
            "units": int(c["units"]), "failures_fitted": int(row["failures"]), "lives": int(row["lives"]),
            "preventive_cost": cp, "failure_cost": cf, "preventive_hours": float(c["preventive_hours"]),
            "fitted": {"shape": row["shape"], "scale_days": row["scale"], "mean_life_days": row["mean_life"],
                       "median_life_days": float(policy.models_[kind].median_life()),
                       "optimal_interval_days": row["optimal_interval"],
                       "model_cost_per_unit_year": row["cost_rate"] * YEAR, "decision": row["decision"]},
            "truth": {"shape": shape, "scale_days": scale, "min_gap_days": loc,
                      "mean_life_days": loc + scale * gamma(1 + 1 / shape),
                      "median_life_days": loc + scale * np.log(2) ** (1 / shape),
                      "optimal_interval_days": t_true},
            "simulated_on_truth": simulated,
            "saving_vs_run_to_failure": 1 - best / simulated["run to failure"]["cost_per_unit_year"],
            "saving_vs_current_practice": 1 - best / simulated["current practice"]["cost_per_unit_year"],
            "regret_vs_true_optimum": best / simulated["true optimum"]["cost_per_unit_year"] - 1,
        }
    hours = costs.costs["preventive_hours"].to_dict()
    speed = {"company": _schedules(policy, costs.units, hours, capacity, horizon_weeks)}
    fleet, weekly_hours = fleet_at_scale(company, fleet_scale, costs.units, sim_seed)
    speed[f"scale_{fleet_scale:g}_fleet"] = _schedules(policy, fleet, hours, capacity_share * weekly_hours,
                                                       horizon_weeks)
    return {"company": company.profile.name, "seed": company.seed, "scale": company.scale,
            "as_of": str(costs.as_of), "records_start": str(costs.start), "cycles": cycles,
            "capacity_share": capacity_share, "horizon_weeks": horizon_weeks,
            "gold_build_seconds": round(build_seconds, 2), "fit_seconds": round(fit_seconds, 3),
            "kinds": kinds, "schedule": speed,
            "note": company.truth["equipment_life"]["preventive_maintenance_effect"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cycles", type=int, default=200_000)
    parser.add_argument("--capacity-share", type=float, default=0.01)
    parser.add_argument("--horizon-weeks", type=int, default=52)
    parser.add_argument("--fleet-scale", type=float, default=42.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    company = generate_company(load_profile(PROFILES / f"{args.company}.yaml"), seed=args.seed, scale=args.scale)
    result = run(company, cycles=args.cycles, capacity_share=args.capacity_share, horizon_weeks=args.horizon_weeks,
                 fleet_scale=args.fleet_scale)
    text = json.dumps(result, indent=2, default=float)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
