"""Recovery of the generator's price slopes by quote segment (issue 14).

    python -m benchmarks.quote_elasticity [--company mixed_trades] [--scale 1] [--seeds 1 2 ...]
        [--bayes]

For each seed (default: the profile's own, as the tests use) a company is generated in
memory, each quote gets its segment by :func:`quantlib.data.price_segments.quote_segments` and
:class:`QuoteConversionModel` with ``price_terms="segment"`` (and, with ``--bayes``,
``model="bayes"``) is fitted on all decided quotes. Printed per segment: the true slope (the
generator's per-quote ``price_coef`` averaged over the same decided quotes), the recovered one,
its standard error and 95 % interval, and ``z = (recovered - true) / se``. Baseline (same run):
the single price slope of the default model (``price_terms=None``). Over several seeds the
summary gives the mean and standard deviation of ``z`` and the interval coverage: if the
standard errors are right, about 0, 1 and 95 %.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.data.generate import generate_company
from quantlib.data.price_segments import quote_segments
from quantlib.data.profile import load_profile
from quantlib.forecast.pipeline import QuoteConversionModel

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"


def recovery(company, model: str = "logistic") -> tuple[pd.DataFrame, float, float]:
    """(per-segment table, the pooled model's slope, fit seconds) for one generated company."""
    t = company.tables
    quotes = t["quotes"].assign(segment=quote_segments(t["quotes"], t["customers"], t["contracts"]))
    start = time.perf_counter()
    fitted = QuoteConversionModel(model=model, price_terms="segment").fit(quotes, economic=t["economic_indicators"])
    seconds = time.perf_counter() - start
    decided = quotes[quotes["status"] != "open"]
    truth = company.truth_tables["quotes"].set_index("quote_id").loc[decided["quote_id"]]
    out = fitted.elasticity_.join(truth.groupby("segment")["price_coef"].mean().rename("true"))
    out["z"] = (out["coef"] - out["true"]) / out["std_error"]
    out["covered"] = (out["lower"] <= out["true"]) & (out["true"] <= out["upper"])
    pooled = QuoteConversionModel().fit(quotes, economic=t["economic_indicators"])
    slope = float(pooled.coef_["price_ratio"] / pooled.scaler_.scale_[pooled.feature_names_.index("price_ratio")])
    return out, slope, seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[None])
    parser.add_argument("--bayes", action="store_true", help="also the hierarchical Bayesian fit")
    args = parser.parse_args(argv)
    profile = load_profile(PROFILES / f"{args.company}.yaml")
    models = ["logistic"] + (["bayes"] if args.bayes else [])
    rows = []
    for seed in args.seeds:
        company = generate_company(profile, seed=seed, scale=args.scale)
        for model in models:
            table, pooled, seconds = recovery(company, model)
            print(f"\n{args.company} scale {args.scale} seed {seed or 'profile'}, model={model}: "
                  f"fit {seconds:.1f} s; pooled slope (price_terms=None) {pooled:.2f}")
            print(table[["n_quotes", "true", "coef", "std_error", "lower", "upper", "z"]].round(2).to_string())
            rows.append(table.assign(model=model, seed=seed))
    if len(args.seeds) > 1:
        all_rows = pd.concat(rows)
        summary = all_rows.groupby("model").agg(mean_z=("z", "mean"), sd_z=("z", "std"),
                                                coverage=("covered", "mean"), n=("z", "size"))
        print("\nover seeds", args.seeds)
        print(summary.round(2).to_string())
        print(f"max |z| {float(np.abs(all_rows['z']).max()):.2f}")


if __name__ == "__main__":
    main()
