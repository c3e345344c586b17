"""Rolling-origin backtests of the revenue model and the cash-flow simulator on a generated company.

    python -m benchmarks.forecast_backtest [--scale S] [--profile mixed_trades] [--origins N]

Generates the company (parameters/companies/<profile>.yaml, 2022-2024) at scale S, ingests
it, builds gold in a temporary folder, then backtests at rolling origins:

* revenue at 30 / 90 / 365 days: the spec's accuracy 1 - |sum F - sum A| / sum A, weekly
  WAPE and 80 % interval coverage, next to the spec's targets (0.92 / 0.87 / 0.78) and a
  seasonal-naive baseline (the same days 52 weeks earlier) measured in the same run;
* cash flow over 30 / 60 / 90-day windows (the spec's 0.95 / 0.88 / 0.75 targets): the same
  metrics for inflows (collections) and the accuracy of outflows, with the baseline.

Prints markdown tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_company(profile_name: str, scale: float, root: Path) -> Path:
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.profile import load_profile
    from quantlib.data.warehouse import build_warehouse

    profile = load_profile(ROOT / "parameters" / "companies" / f"{profile_name}.yaml")
    write_company(generate_company(profile, scale=scale), root / "raw")
    lake = Lake(root / "lake")
    ingest(root / "raw", lake)
    return build_warehouse(lake, company=profile.name)


def _fmt(x) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--profile", default="mixed_trades")
    ap.add_argument("--origins", type=int, default=6, help="rolling origins per horizon")
    ap.add_argument("--step", type=int, default=30, help="days between origins")
    args = ap.parse_args(argv)

    from quantlib.forecast.cashflow import CashFlowSimulator, backtest_cashflow
    from quantlib.forecast.pipeline import warehouse_snapshot
    from quantlib.forecast.revenue import RevenueModel, backtest_revenue

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        gold = build_company(args.profile, args.scale, Path(tmp))
        snap = warehouse_snapshot(gold)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, rev = backtest_revenue(snap, n_origins=args.origins, step_days=args.step,
                                  model=RevenueModel(n_origins=6))
        t_rev = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, cash = backtest_cashflow(snap, n_origins=args.origins, step_days=args.step,
                                    simulator=CashFlowSimulator(n_sims=300))
        t_cash = time.perf_counter() - t0

    print(f"## Forecast backtests: {args.profile}, scale {args.scale:g}, as of {snap.as_of.date()}\n")
    print(f"build {t_build:.1f} s, revenue backtest {t_rev:.1f} s, cash-flow backtest {t_cash:.1f} s; "
          f"origins every {args.step} days\n")
    print("### Revenue (completed revenue over the horizon)\n")
    print("| horizon | origins | accuracy | target | seasonal naive accuracy | WAPE (weekly) "
          "| seasonal naive WAPE | 80 % coverage |")
    print("|---|---|---|---|---|---|---|---|")
    for _, r in rev.iterrows():
        print(f"| {int(r['horizon'])} d | {int(r['origins'])} | {_fmt(r['accuracy'])} | {r['target_accuracy']:.2f} "
              f"| {_fmt(r['baseline_accuracy'])} | {_fmt(r['wape'])} | {_fmt(r['baseline_wape'])} "
              f"| {_fmt(r['coverage_80'])} |")
    print("\n### Cash flow (30 / 60 / 90-day windows of a 90-day forecast)\n")
    print("| window | origins | inflow accuracy | target | seasonal naive inflow accuracy | inflow WAPE "
          "| seasonal naive inflow WAPE | inflow 80 % coverage | outflow accuracy | seasonal naive outflow accuracy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for _, r in cash.iterrows():
        print(f"| {int(r['window'])} d | {int(r['origins'])} | {_fmt(r['inflow_accuracy'])} "
              f"| {r['target_accuracy']:.2f} "
              f"| {_fmt(r['baseline_inflow_accuracy'])} | {_fmt(r['inflow_wape'])} "
              f"| {_fmt(r['baseline_inflow_wape'])} | {_fmt(r['inflow_coverage_80'])} "
              f"| {_fmt(r['outflow_accuracy'])} | {_fmt(r['baseline_outflow_accuracy'])} |")


if __name__ == "__main__":
    main()
