"""Segmentation: features as of a date, stable k-means / Ward / online assignment, rule naming, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from quantlib.customers.segments import (
    CLUSTER_FEATURES,
    LAPSED,
    NO_HISTORY,
    HierarchicalSegmenter,
    KMeansSegmenter,
    OnlineSegmenter,
    name_segments,
    segment_features,
    segment_migration,
    segment_stability,
)
from quantlib.data.gold import connect_tables

AS_OF = "2024-12-31"


@pytest.fixture(scope="module")
def tables(mixed_company):
    return mixed_company.tables


@pytest.fixture(scope="module")
def features(tables):
    return segment_features(connect_tables(tables), AS_OF)


@pytest.fixture(scope="module")
def fitted(features):
    return KMeansSegmenter(n_segments=5).fit(features)


def test_features_read_nothing_after_as_of(tables):
    as_of = pd.Timestamp("2024-06-30")
    cut = dict(tables)
    cut["jobs"] = tables["jobs"][tables["jobs"]["created_at"] <= as_of + pd.Timedelta(days=1)]
    cut["payments"] = tables["payments"][tables["payments"]["paid_date"] <= as_of]
    cut["interactions"] = tables["interactions"][tables["interactions"]["ts"] <= as_of + pd.Timedelta(days=1)]
    full = segment_features(connect_tables(tables), as_of)
    truncated = segment_features(connect_tables(cut), as_of)
    pd.testing.assert_frame_equal(full, truncated)
    jobs = tables["jobs"]
    done = jobs[(jobs["status"] == "completed") & (jobs["completed_at"].dt.normalize() <= as_of)]
    expected = done.groupby("customer_id").size()
    got = full.set_index("customer_id")["n_jobs"]
    assert (got[expected.index] == expected).all()
    assert (got.drop(expected.index) == 0).all()


def test_silhouette_chooses_k_in_range(features):
    seg = KMeansSegmenter(k_range=(3, 6), sample_size=1500).fit(features)
    assert list(seg.silhouette_["k"]) == [3, 4, 5, 6]
    best = seg.silhouette_["silhouette"].max()
    chosen = seg.silhouette_.set_index("k").loc[seg.n_segments_, "silhouette"]
    assert chosen >= best - seg.tolerance
    assert (seg.silhouette_.query("k < @seg.n_segments_")["silhouette"] < best - seg.tolerance).all()


def test_kmeans_assignment_is_stable_across_seeds(features):
    ari = segment_stability(features, lambda s: KMeansSegmenter(n_segments=5, random_state=s), seeds=(0, 1, 2))
    assert (ari["ari"] > 0.9).all(), ari


def test_online_assignment_equals_batch_for_fitted_customers(features, fitted):
    online = OnlineSegmenter(fitted).fit()
    batch = fitted.labels_
    got = online.predict(features).set_index("customer_id")["segment"]
    assert (got[batch.index] == batch).all()
    # partial_fit on a new batch moves centroids but keeps the segments and their names.
    later = features.sample(500, random_state=1)
    online.partial_fit(later)
    assert online.names_ == fitted.names_ and online.n_seen_ > 0
    moved = online.predict(features).set_index("customer_id")["segment"][batch.index]
    assert (moved == batch).mean() > 0.8


def test_online_assigns_new_customers_without_refitting(tables, features):
    before = segment_features(connect_tables(tables), "2024-06-30")
    seg = KMeansSegmenter(n_segments=4).fit(before)
    online = OnlineSegmenter(seg).fit()
    new = features[~features["customer_id"].isin(before["customer_id"])]
    out = online.predict(new)
    assert len(out) == len(new) and set(out["segment"]) <= {-2, -1, 0, 1, 2, 3}
    assert (out["segment"] >= 0).any()
    np.testing.assert_array_equal(online.cluster_centers_, seg.cluster_centers_)


def test_hierarchical_assigns_everyone_consistently(features, fitted):
    ward = HierarchicalSegmenter(n_segments=5, sample_size=1200).fit(features)
    out = ward.predict(features)
    clustered = out[out["segment"] >= 0]
    assert set(clustered["segment"]) == set(range(5))
    assert len(ward.labels_) == len(clustered)
    # Ward and k-means find related structure on the same features.
    assert adjusted_rand_score(clustered["segment"], fitted.predict(features).loc[clustered.index, "segment"]) > 0.2


def test_rule_groups_and_profile(features, fitted):
    out = fitted.predict(features).set_index("customer_id")
    f = features.set_index("customer_id")
    assert (out.loc[f["n_jobs"] == 0, "segment_name"] == NO_HISTORY).all()
    assert (out.loc[(f["n_jobs"] > 0) & (f["recency_days"] > 365), "segment_name"] == LAPSED).all()
    prof = fitted.profile_
    assert prof["customers"].sum() == (out["segment"] >= 0).sum()
    assert prof["strategy"].notna().all() and prof["pricing_stance"].notna().all()
    # Each segment's name is its best-scoring profile (or core when no score reaches 0.5).
    scores = fitted.profile_scores_.set_index("segment_name")
    for name, row in scores.iterrows():
        best = row.idxmax() if row.max() >= 0.5 else "core"
        assert name.split(" (")[0] == best


def test_naming_rules_on_centroids():
    z = pd.DataFrame(0.0, index=range(5), columns=CLUSTER_FEATURES)
    z.loc[0, ["spend_365d", "avg_ticket", "jobs_per_year"]] = [1.5, 0.8, 1.0]
    z.loc[1, ["quote_discount", "quote_win_rate"]] = [1.2, -1.5]
    z.loc[2, ["tenure_days", "frequency_trend"]] = [-1.6, 1.0]
    z.loc[3, ["spend_365d", "avg_ticket"]] = [0.9, 0.5]
    names = name_segments(z)
    assert names == {0: "premium", 1: "price-sensitive", 2: "growth potential", 3: "premium (2)", 4: "core"}
    # A big spender who pays late is not premium.
    z.loc[0, "late_share"] = 2.0
    assert name_segments(z)[0] == "slow payers"


def test_naming_finds_a_planted_premium_group(tables, features):
    # Regular customers who pay on time and are not on a contract; five times the spend makes
    # them premium by the product's profile, and nothing else about them changes.
    regular = features[(features["jobs_365d"] >= 2) & (features["late_share"] < 0.5)
                       & (features["contract_job_share"] < 0.5)]["customer_id"]
    planted = set(regular.sample(n=250, random_state=3))
    jobs = tables["jobs"].copy()
    jobs.loc[jobs["customer_id"].isin(planted), "revenue"] *= 5
    f = segment_features(connect_tables({**tables, "jobs": jobs}), AS_OF)
    out = KMeansSegmenter(n_segments=5).fit(f).predict(f)
    is_premium = out["segment_name"].str.startswith("premium")
    in_planted = out["customer_id"].isin(planted)
    assert is_premium[in_planted].mean() > 0.75
    assert is_premium[~in_planted & (out["segment"] >= 0)].mean() < 0.3


def test_migration_counts_every_customer_now(tables, features, fitted):
    before = segment_features(connect_tables(tables), "2024-09-30")
    moves = segment_migration(fitted, before, features)
    assert moves["customers"].sum() == len(features)
    new = set(features["customer_id"]) - set(before["customer_id"])
    assert moves.loc[moves["from_segment"] == "new", "customers"].sum() == len(new)
    shares = moves.groupby("from_segment")["share_of_from"].sum()
    np.testing.assert_allclose(shares, 1.0)


def test_bad_input_has_clear_outcomes(tables, features):
    customers = tables["customers"].head(3).copy()
    customers["customer_id"] = ["Z1", "Z2", "Z3"]
    customers["created_date"] = pd.Timestamp("2024-12-30")  # one-day tenure
    jobs = tables["jobs"].head(1).copy()
    jobs[["customer_id", "status", "completed_at", "revenue"]] = ["Z2", "completed", pd.Timestamp("2024-12-30 15:00"),
                                                                   0.0]
    extra = {**tables, "customers": pd.concat([tables["customers"], customers]),
             "jobs": pd.concat([tables["jobs"], jobs])}
    f = segment_features(connect_tables(extra), AS_OF).set_index("customer_id")
    assert f.loc["Z1", "n_jobs"] == 0 and f.loc["Z1", "tenure_days"] == 1
    # One job in one day is annualised over 90 days, not into 365 jobs a year.
    assert f.loc["Z2", "jobs_per_year"] == pytest.approx(365.25 / 90)
    out = KMeansSegmenter(n_segments=4).fit(f.reset_index()).predict(f.reset_index()).set_index("customer_id")
    assert out.loc["Z1", "segment_name"] == NO_HISTORY and out.loc["Z2", "segment"] >= 0
    # All-zero spend: segments still form, none is named premium.
    zero = {**tables, "jobs": tables["jobs"].assign(revenue=0.0)}
    fz = segment_features(connect_tables(zero), AS_OF)
    seg = KMeansSegmenter(n_segments=4).fit(fz)
    assert not any(n.startswith("premium") for n in seg.names_.values())
    with pytest.raises(ValueError, match="at least 10"):
        KMeansSegmenter(n_segments=3).fit(features.assign(n_jobs=0))
    with pytest.raises(ValueError, match="late_share"):
        KMeansSegmenter(n_segments=3).fit(features.drop(columns="late_share"))
