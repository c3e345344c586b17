"""Maintenance visits around the booked jobs against the naive slot rule (issue 15).

    python -m benchmarks.maintenance_windows [--company mixed_trades] [--scale 1] [--seed SEED] [--dates 6]
        [--threshold 0.3] [--days 14] [--delay-cost 0] [--out FILE.json]

A company is generated, ingested and built into gold in a temporary folder. On ``--dates``
Sundays spread over its last year (each with a fresh operational store), the work orders of
the units whose health is below ``--threshold`` are opened by
:func:`~quantlib.maintenance.health.plan_work_orders` (windows from the day after, by its rule),
then placed by :func:`~quantlib.maintenance.windows.schedule_maintenance` around the booked
jobs of the next ``--days`` days and by the baseline
:func:`~quantlib.maintenance.windows.naive_schedule` (first day of the window, the qualified
technician nearest the unit, the visit appended after the route's last job) on the same base
plans. Per method: orders given a slot, added drive minutes per visit (to and from the visit
minus the leg it replaces, in its final route), days after the window start, and for the
scheduler the day-level drive of the final plans minus that of the base plans per visit (the
re-planned day, search noise included), the seconds, and whether :meth:`validate` found nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.maintenance_policy import PROFILES, build_gold
from quantlib.data.generate import generate_company
from quantlib.data.gold import as_of_date, open_gold
from quantlib.data.opstore import OpsStore
from quantlib.data.profile import load_profile
from quantlib.maintenance.health import equipment_health, plan_work_orders
from quantlib.maintenance.windows import naive_schedule, schedule_maintenance


def _figures(slots: pd.DataFrame) -> dict:
    done = slots[slots["status"] == "scheduled"]
    late = [(d - s).days for d, s in zip(done["date"], done["window_start"])]
    return {"orders": int(len(slots)), "scheduled": int(len(done)),
            "added_drive_minutes_per_visit": float(done["added_drive_minutes"].mean()) if len(done) else None,
            "days_after_window_start": float(np.mean(late)) if late else None,
            "unscheduled_reasons": slots.loc[slots["status"] != "scheduled", "reason"].str.split(":").str[0]
            .value_counts().to_dict()}


def run(lake, dates: int, threshold: float, days: int, delay_cost: float = 0.0) -> dict:
    with open_gold(lake.gold) as con:
        end = as_of_date(con)
        first = con.execute("SELECT min(scheduled_start)::DATE FROM jobs").fetchone()[0]
    start = max(pd.Timestamp(first) + pd.Timedelta(days=400), pd.Timestamp(end) - pd.Timedelta(days=365))
    sundays = pd.date_range(start, pd.Timestamp(end) - pd.Timedelta(days=days + 1), freq="W-SUN")
    picked = sundays[np.linspace(0, len(sundays) - 1, dates).round().astype(int)]
    per_date = []
    all_smart, all_naive = [], []
    for day in picked:
        with tempfile.TemporaryDirectory() as tmp:
            store = OpsStore(Path(tmp) / "ops.sqlite")
            orders = plan_work_orders(lake.gold, store, threshold=threshold,
                                      health=equipment_health(lake.gold, as_of=day.date()))
        if orders.empty:
            per_date.append({"as_of": str(day.date()), "orders": 0})
            continue
        tic = time.perf_counter()
        schedule = schedule_maintenance(lake.gold, orders, days=days, delay_cost_per_day=delay_cost)
        seconds = time.perf_counter() - tic
        naive = naive_schedule(schedule)
        placed = int((schedule.slots["status"] == "scheduled").sum())
        per_date.append({
            "as_of": str(day.date()), "seconds": seconds, "rounds": schedule.stats["rounds"],
            "valid": schedule.validate() == [],
            "day_level_added_drive_per_visit": ((schedule.stats["drive_minutes_final"]
                                                 - schedule.stats["drive_minutes_base"]) / placed) if placed else None,
            "scheduler": _figures(schedule.slots), "naive": _figures(naive)})
        all_smart.append(schedule.slots)
        all_naive.append(naive)
        print(json.dumps(per_date[-1], default=str), flush=True)
    total = {}
    if all_smart:
        smart, naive = pd.concat(all_smart, ignore_index=True), pd.concat(all_naive, ignore_index=True)
        both = (smart["status"] == "scheduled") & (naive["status"] == "scheduled")
        total = {"scheduler": _figures(smart), "naive": _figures(naive),
                 # the orders both placed: the added drive of each method on the same visits
                 "paired": {"orders": int(both.sum()),
                            "scheduler_added_drive_per_visit": float(smart.loc[both, "added_drive_minutes"].mean()),
                            "naive_added_drive_per_visit": float(naive.loc[both, "added_drive_minutes"].mean())},
                 "seconds_median": float(np.median([d["seconds"] for d in per_date if "seconds" in d])),
                 "all_valid": all(d.get("valid", True) for d in per_date)}
    return {"dates": per_date, "total": total}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None, help="default: the profile's (the demo company)")
    parser.add_argument("--dates", type=int, default=6)
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--delay-cost", type=float, default=0.0,
                        help="schedule_maintenance's delay_cost_per_day (money per day late x risk)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    company = generate_company(load_profile(PROFILES / f"{args.company}.yaml"), seed=args.seed, scale=args.scale)
    with tempfile.TemporaryDirectory() as tmp:
        lake = build_gold(company, Path(tmp))
        result = run(lake, args.dates, args.threshold, args.days, args.delay_cost)
    result["args"] = {k: str(v) for k, v in vars(args).items()}
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
