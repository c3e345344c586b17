"""Hierarchical Bayesian demand model: sampling time (nutpie vs PyMC's NUTS) and holdout accuracy.

    python -m benchmarks.forecast_bayes [--company seasonal_outdoor] [--scale 1]

Generates three years of a company (2022-2024), builds its gold warehouse in a temporary
folder, then on weekly demand per service line x region:

* fits the model three times with nutpie (median compile and sampling seconds),
* fits it once with PyMC's default NUTS sampler (the baseline),
* fits it on all but the last 12 weeks and scores the 12-week holdout (WAPE, the spec's
  accuracy 1 - |sum forecast - sum actual| / sum actual, 80 % interval coverage) next to
  the seasonal naive forecast (same weeks a year earlier).

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS",
                      "base_compiledir=" + str(Path(__file__).resolve().parents[1] / ".cache" / "pytensor"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = 12


def build(company: str, scale: float, folder: Path):
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.profile import load_profile
    from quantlib.data.warehouse import build_warehouse

    profile = load_profile(ROOT / "parameters" / "companies" / f"{company}.yaml")
    write_company(generate_company(profile, scale=scale), folder / "raw")
    lake = Lake(folder / "lake")
    ingest(folder / "raw", lake)
    build_warehouse(lake, company=profile.name)
    return lake


def scores(actual: pd.DataFrame, fc: pd.DataFrame) -> dict:
    from quantlib.forecast.metrics import accuracy, coverage, wape

    m = actual.merge(fc, on=["series_id", "ds"])
    acc = [accuracy(g["y"], g["yhat"]) for _, g in m.groupby("series_id")]
    out = {"wape": wape(m["y"], m["yhat"]), "accuracy": float(np.mean(acc))}
    if "yhat_lo_80" in m:
        out["coverage_80"] = coverage(m["y"], m["yhat_lo_80"], m["yhat_hi_80"])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--company", default="seasonal_outdoor")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)

    from quantlib.forecast.bayes import HierarchicalDemandModel
    from quantlib.forecast.demand import demand_series, external_factors
    from quantlib.forecast.models import SeasonalNaive

    with tempfile.TemporaryDirectory() as tmp:
        lake = build(args.company, args.scale, Path(tmp))
        series = demand_series(lake, "W")
        factors = external_factors(lake, "D")
    n_weeks = series["ds"].nunique()
    print(f"{args.company} (scale {args.scale}): {series['series_id'].nunique()} series x {n_weeks} weeks, "
          f"{int(series['y'].sum()):,} jobs; cores: {os.cpu_count()}\n")

    rows = []
    comp, samp = [], []
    for i in range(args.runs):
        m = HierarchicalDemandModel(draws=500, tune=500, chains=2, seed=i).fit(series, factors)
        comp.append(m.compile_seconds_)
        samp.append(m.sampling_seconds_)
    storm = m.storm_multipliers().set_index("service_line")["multiplier"].round(2).to_dict()
    rows.append(("nutpie (median of %d)" % args.runs, statistics.median(comp), statistics.median(samp)))
    base = HierarchicalDemandModel(draws=500, tune=500, chains=2, seed=0, sampler="pymc").fit(series, factors)
    rows.append(("PyMC NUTS (1 run)", float("nan"), base.sampling_seconds_))

    print("| sampler | compile s | sampling s | total s |")
    print("|---|---:|---:|---:|")
    for name, c, s in rows:
        total = s + (0 if np.isnan(c) else c)
        print(f"| {name} | {'in sampling' if np.isnan(c) else f'{c:.1f}'} | {s:.1f} | {total:.1f} |")
    print(f"\n2 chains x 500 draws, 500 tune; posterior storm multipliers: {storm} (truth: roofing 2.5)\n")

    cutoff = series["ds"].max() - pd.Timedelta(weeks=HOLDOUT)
    actual = series[series["ds"] > cutoff][["series_id", "ds", "y"]]
    bayes = HierarchicalDemandModel(draws=500, tune=500, chains=2, cutoff=cutoff).fit(series, factors)
    fb = bayes.predict(HOLDOUT, level=(80,))
    train = series[series["ds"] <= cutoff][["series_id", "ds", "y"]]
    fn = SeasonalNaive().fit(train, freq="W-MON", season_length=52).predict(HOLDOUT, level=(80,))
    print(f"| holdout: last {HOLDOUT} weeks | WAPE | accuracy (spec) | 80 % coverage |")
    print("|---|---:|---:|---:|")
    for name, fc in (("hierarchical Bayes (nutpie)", fb), ("seasonal naive (52 weeks)", fn)):
        s = scores(actual, fc)
        print(f"| {name} | {s['wape']:.3f} | {s['accuracy']:.3f} | {s.get('coverage_80', float('nan')):.2f} |")


if __name__ == "__main__":
    main()
