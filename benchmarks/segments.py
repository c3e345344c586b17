"""Segmentation speed at ~100k customers and stability across refits.

    python -m benchmarks.segments [--company mixed_trades] [--scale 21] [--seed 7]
        [--seeds 3] [--bootstrap 2] [--repeats 3]

Generates a company with ``quantlib.data.generate`` in memory (scale 21 of mixed_trades
gives about 100k customers; generation is timed but not part of the figure), registers its
tables in an in-memory DuckDB and times, as the median of ``--repeats`` runs:

* features: :func:`segment_features` for every customer as of the last day of the data;
* k-means: :class:`KMeansSegmenter` with k chosen by silhouette over 3..8 on a 4,000-customer
  sample, fitted on all active customers, and ``predict`` for everyone;
* Ward: :class:`HierarchicalSegmenter` (Ward on a 3,000 sample + nearest centroid);
* online: :class:`OnlineSegmenter` ``predict`` of all customers;
* baseline (same run): RFM quintile scores (recency, frequency, monetary in fifths, the
  classic rule-based segmentation) on the same feature table.

Stability: adjusted Rand index of the k-means assignment across ``--seeds`` seeds (all
pairs) and across ``--bootstrap`` refits on bootstrap resamples (vs the first seed), on the
customers the segmenter clusters (the rule groups "lapsed" / "no history" are left out).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

from quantlib.customers.segments import (
    HierarchicalSegmenter,
    KMeansSegmenter,
    OnlineSegmenter,
    segment_features,
    segment_stability,
)
from quantlib.data.generate import generate_company
from quantlib.data.gold import connect_tables
from quantlib.data.profile import load_profile

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"


def rfm_quintiles(features: pd.DataFrame) -> pd.Series:
    """Classic RFM cell (e.g. ``"545"``) per customer: recency, frequency, monetary in fifths."""
    active = features[features["n_jobs"] > 0]

    def fifths(values, reverse=False):
        ranks = values.rank(method="first", ascending=not reverse)
        return pd.qcut(ranks, 5, labels=False) + 1

    cell = (fifths(active["recency_days"], reverse=True).astype(str) + fifths(active["jobs_365d"]).astype(str)
            + fifths(active["spend_365d"]).astype(str))
    return cell.reindex(features.index).fillna("000")


def timed(fn, repeats: int):
    """(result, median wall seconds, median CPU seconds of this process over ``repeats`` runs)."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return result, statistics.median(walls), statistics.median(cpus)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=21.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    profile = load_profile(PROFILES / f"{args.company}.yaml")
    started = time.perf_counter()
    company = generate_company(profile, seed=args.seed, scale=args.scale)
    generate_s = time.perf_counter() - started
    con = connect_tables(company.tables)
    as_of = profile.end
    t = company.tables
    print(f"{profile.name} scale {args.scale}: {len(t['customers']):,} customers, {len(t['jobs']):,} jobs, "
          f"{len(t['interactions']):,} interactions, {len(t['invoices']):,} invoices "
          f"(generated in {generate_s:.1f} s, not counted)")

    features, *features_s = timed(lambda: segment_features(con, as_of), args.repeats)
    _, *rfm_s = timed(lambda: rfm_quintiles(features), args.repeats)
    kmeans, *kmeans_s = timed(lambda: KMeansSegmenter().fit(features), args.repeats)
    assignment, *predict_s = timed(lambda: kmeans.predict(features), args.repeats)
    _, *ward_s = timed(lambda: HierarchicalSegmenter(kmeans.n_segments_).fit(features).predict(features),
                       args.repeats)
    online = OnlineSegmenter(kmeans).fit()
    online_assignment, *online_s = timed(lambda: online.predict(features), args.repeats)
    same = (online_assignment["segment"].to_numpy() == assignment["segment"].to_numpy()).mean()

    rows = [("features (SQL, as of the last day)", features_s),
            ("k-means: choose k by silhouette + fit", kmeans_s),
            ("k-means: predict all customers", predict_s),
            ("features + k-means fit + predict", [a + b + c for a, b, c in zip(features_s, kmeans_s, predict_s)]),
            ("Ward on sample + nearest centroid, predict all", ward_s),
            ("online: predict all customers", online_s),
            ("baseline: RFM quintiles (on the same features)", rfm_s)]
    timing = pd.DataFrame([(step, wall, cpu) for step, (wall, cpu) in rows], columns=["step", "wall_s", "cpu_s"])
    print(f"\nmedian of {args.repeats} run(s), wall clock and CPU of this process (DuckDB uses several "
          f"threads; k-means one), {len(features):,} customers "
          f"({int((assignment['segment'] >= 0).sum()):,} clustered, k = {kmeans.n_segments_}):")
    print(timing.to_string(index=False, float_format="{:.2f}".format))
    print(f"online assignment equals batch for {same:.1%} of customers")
    print("\nsilhouette by k (sample of 4,000):")
    print(kmeans.silhouette_.to_string(index=False, float_format="{:.3f}".format))
    print("\nsegments:")
    sizes = assignment["segment_name"].value_counts()
    print(sizes.to_string())

    started = time.perf_counter()
    ari = segment_stability(features, lambda s: KMeansSegmenter(kmeans.n_segments_, random_state=s),
                            seeds=tuple(range(args.seeds)), bootstrap=args.bootstrap)
    print(f"\nstability (adjusted Rand index; {time.perf_counter() - started:.1f} s):")
    print(ari.groupby("kind")["ari"].agg(["count", "mean", "min"]).to_string(float_format="{:.3f}".format))
    return {"timing": timing, "ari": ari, "silhouette": kmeans.silhouette_, "sizes": sizes}


if __name__ == "__main__":
    main()
