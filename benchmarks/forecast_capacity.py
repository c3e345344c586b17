"""Rolling-origin backtest of capacity demand (technician hours per skill) on a generated company.

    python -m benchmarks.forecast_capacity [--scale S] [--profile mixed_trades] [--origins N] [--step D]

Generates the company (parameters/companies/<profile>.yaml, 2022-2024) at scale S, builds
gold in a temporary folder, then at rolling origins (``--step`` days apart, the last one
ending its longest period at the data's as-of date) fits :class:`CapacityPlanner` on the
data known at the origin and compares the hours needed per skill (service line) over the
next 7, 30 and 90 days with the hours actually worked (labour + travel of the jobs
completed in the period). Reported per period, averaged over origins:

* WAPE across skills: sum over skills of |forecast - actual| / sum of actual;
* the spec's accuracy of the total, 1 - |sum forecast - sum actual| / sum actual, and its
  mean per skill (the spec's demand target is 0.85);

next to a seasonal-naive baseline measured in the same run (each skill's hours over the
same days 52 weeks earlier). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.forecast_backtest import build_company

DEMAND_TARGET = 0.85


def actual_hours(snapshot, include_travel: bool = True) -> pd.DataFrame:
    """Daily hours worked per service line: ``completed_date`` x ``service_line``."""
    j = snapshot["jobs"]
    j = j[j["is_completed"]]
    hours = j["labor_hours"] + (j["travel_minutes"].fillna(0) / 60 if include_travel else 0)
    return (pd.DataFrame({"ds": j["completed_date"], "skill": j["service_line"], "hours": hours})
            .groupby(["ds", "skill"])["hours"].sum().unstack(fill_value=0.0))


def backtest_capacity(snapshot, periods=(7, 30, 90), n_origins: int = 6, step_days: int = 30) -> pd.DataFrame:
    """One row per origin, period and skill: forecast, actual and seasonal-naive hours."""
    from quantlib.forecast.capacity import CapacityPlanner
    from quantlib.forecast.pipeline import censor_snapshot

    daily = actual_hours(snapshot)
    H = max(periods)
    rows = []
    for k in range(n_origins):
        origin = snapshot.as_of - pd.Timedelta(days=H + step_days * k)
        fc = CapacityPlanner(periods=periods).fit(censor_snapshot(snapshot, origin)).forecast()
        for p in periods:
            days = pd.date_range(origin + pd.Timedelta(days=1), periods=p, freq="D")
            act = daily.reindex(days).fillna(0.0).sum()
            base = daily.reindex(days - pd.Timedelta(days=364)).fillna(0.0).sum()
            sub = fc[fc["period_days"] == p].set_index("skill")["hours_needed"]
            for skill in sorted(set(sub.index) | set(act.index)):
                rows.append({"origin": origin, "period": p, "skill": skill,
                             "forecast": float(sub.get(skill, 0.0)), "actual": float(act.get(skill, 0.0)),
                             "seasonal_naive": float(base.get(skill, 0.0))})
    return pd.DataFrame(rows)


def summarise(detail: pd.DataFrame) -> pd.DataFrame:
    """Per period: WAPE across skills, total and per-skill accuracy, for both methods."""
    out = []
    for p, g in detail.groupby("period"):
        row = {"period": p, "origins": g["origin"].nunique()}
        for name, col in (("capacity", "forecast"), ("seasonal_naive", "seasonal_naive")):
            by_origin = g.groupby("origin")
            wape = by_origin.apply(lambda x: np.abs(x[col] - x["actual"]).sum() / x["actual"].sum())
            total = by_origin.apply(lambda x: 1 - abs(x[col].sum() - x["actual"].sum()) / x["actual"].sum())
            ok = g[g["actual"] > 0]
            per_skill = 1 - np.abs(ok[col] - ok["actual"]) / ok["actual"]
            row[f"{name}_wape"] = float(wape.mean())
            row[f"{name}_accuracy_total"] = float(total.mean())
            row[f"{name}_accuracy_per_skill"] = float(per_skill.mean())
        out.append(row)
    return pd.DataFrame(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--profile", default="mixed_trades")
    ap.add_argument("--origins", type=int, default=6)
    ap.add_argument("--step", type=int, default=30)
    args = ap.parse_args(argv)

    from quantlib.forecast.pipeline import warehouse_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        snap = warehouse_snapshot(build_company(args.profile, args.scale, Path(tmp)))
        t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    detail = backtest_capacity(snap, n_origins=args.origins, step_days=args.step)
    t_bt = time.perf_counter() - t0
    s = summarise(detail)
    print(f"## Capacity demand backtest: {args.profile}, scale {args.scale:g}, as of {snap.as_of.date()}\n")
    print(f"build {t_build:.1f} s, backtest {t_bt:.1f} s; {args.origins} origins every {args.step} days; "
          f"{detail['skill'].nunique()} skills\n")
    print("| period | origins | WAPE across skills | seasonal naive WAPE | accuracy (total) "
          "| seasonal naive | accuracy (mean per skill) | seasonal naive | spec target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for _, r in s.iterrows():
        print(f"| {int(r['period'])} d | {int(r['origins'])} | {r['capacity_wape']:.3f} "
              f"| {r['seasonal_naive_wape']:.3f} "
              f"| {r['capacity_accuracy_total']:.3f} | {r['seasonal_naive_accuracy_total']:.3f} "
              f"| {r['capacity_accuracy_per_skill']:.3f} | {r['seasonal_naive_accuracy_per_skill']:.3f} "
              f"| {DEMAND_TARGET:.2f} |")


if __name__ == "__main__":
    main()
