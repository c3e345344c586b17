"""Next-service recommendations: hit rate at k on a time-split holdout of a generated company.

    python -m benchmarks.recommend [--company mixed_trades] [--scale 1] [--seed 7]
        [--test-days 90] [--validation-days 90] [--origins 2] [--k 3]

For each origin T (the last ``test-days`` of the data, then ``test-days`` earlier, ...):
the hybrid recommender learns its blend weights on ``[T - validation-days, T)`` with scorers
fitted on jobs before that, is refitted on all jobs before T, and recommends k services to
every customer who had a (non-contract) job in ``[T, T + test-days)``. The hit rate at k is
the share of those customers with a bought service among their k. The popularity baseline,
the CF scorer alone and the content scorer alone are scored on the same customers in the
same run. ``known`` restricts to customers with a job before T (no cold start).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from quantlib.customers.recommend import HybridRecommender, evaluation_targets, hit_rate, service_history
from quantlib.data.generate import generate_company
from quantlib.data.gold import connect_tables
from quantlib.data.profile import load_profile

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"


def evaluate(history: pd.DataFrame, test_start, test_days: int, validation_days: int, k: int) -> list[dict]:
    started = time.perf_counter()
    rec = HybridRecommender(validation_days=validation_days, k=k).fit(history, test_start)
    fit_seconds = time.perf_counter() - started
    rows = []
    for scope, known in (("all", None), ("known", test_start)):
        targets = evaluation_targets(history, test_start, test_days, known_before=known)
        for name in ("hybrid", "popularity", "cf", "content"):
            started = time.perf_counter()
            recs = rec.recommend(targets.index, k=k, start=test_start, days=test_days,
                                 component=None if name == "hybrid" else name)
            seconds = time.perf_counter() - started
            rows.append({"origin": test_start.date(), "scope": scope, "method": name, "customers": len(targets),
                         f"hit_rate@{k}": hit_rate(recs, targets, k),
                         "fit_s": fit_seconds if name == "hybrid" else None,
                         "recommend_s_per_1k": 1000 * seconds / max(len(targets), 1),
                         "weights": ", ".join(f"{c} {w:.1f}" for c, w in rec.weights_.items())
                         if name == "hybrid" else ""})
    return rows


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--test-days", type=int, default=90)
    parser.add_argument("--validation-days", type=int, default=90)
    parser.add_argument("--origins", type=int, default=2)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args(argv)
    profile = load_profile(PROFILES / f"{args.company}.yaml")
    company = generate_company(profile, seed=args.seed, scale=args.scale)
    history = service_history(connect_tables(company.tables))
    end = pd.Timestamp(profile.end) + pd.Timedelta(days=1)
    print(f"{profile.name} (scale {args.scale}, seed {company.seed}): {company.tables['customers'].shape[0]:,} "
          f"customers, {len(history):,} completed jobs, {history['item'].nunique()} services "
          f"(service line x job type)")
    rows = []
    for i in range(args.origins):
        origin = end - pd.Timedelta(days=args.test_days * (i + 1))
        rows += evaluate(history, origin, args.test_days, args.validation_days, args.k)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
        col = f"hit_rate@{args.k}"
        summary = table.pivot_table(index="scope", columns="method", values=col, aggfunc="median")
        summary["hybrid_minus_popularity"] = summary["hybrid"] - summary["popularity"]
        print(f"\nmedian {col} over {args.origins} origin(s):")
        print(summary.to_string())
    return table


if __name__ == "__main__":
    main()
