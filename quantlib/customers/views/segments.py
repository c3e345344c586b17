"""Customer-segment views: what ``notebooks/customer_segments.ipynb`` shows, and the MBR summary.

Every function returns a plain DataFrame (numbers, not strings) or an Altair chart, so the
notebook stays thin and the numbers can be tested; the tables declare how their columns print
(:func:`quantlib.views.table_view`). :func:`segment_summary` is the small entry point for the
monthly business review's customer section.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from quantlib.customers.segments import (
    CLUSTER_FEATURES,
    SEGMENT_PLAYBOOK,
    KMeansSegmenter,
    segment_features,
    segment_migration,
    segment_stability,
)
from quantlib.data.gold import open_gold
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.tables import table_view, with_formats

__all__ = [
    "CustomerSegmentsParameters", "SegmentAnalysis", "analyse_segments", "migration_chart", "migration_matrix",
    "previous_date", "profile_chart", "profile_match", "segment_offers", "segment_playbook", "segment_sizes",
    "segment_summary",
    "silhouette_table", "stability_table",
]


@register_parameters("customer_segments")
class CustomerSegmentsParameters(NotebookParameters):
    """Customer segments: profiles, sizes, value, strategy, stability and migration."""

    n_segments: int | None = Field(None, ge=2, le=12, description="fixed number of segments; None = by silhouette")
    k_min: int = Field(3, ge=2, le=12, description="smallest number of segments tried")
    k_max: int = Field(8, ge=2, le=12, description="largest number of segments tried")
    sample_size: int = Field(4000, ge=200, le=50_000, description="customers the silhouette is computed on")
    stability_seeds: int = Field(3, ge=2, le=10, description="refits with different seeds for the stability check")
    migration_months: int = Field(3, ge=1, le=24, description="months back for the migration matrix")

    @model_validator(mode="after")
    def _k_order(self) -> "CustomerSegmentsParameters":
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


def previous_date(as_of, months: int) -> dt.date:
    """The same day ``months`` months before ``as_of`` (clipped to the month's end)."""
    return (pd.Timestamp(as_of) - pd.DateOffset(months=months)).date()


class SegmentAnalysis:
    """A segmentation of a company at ``as_of`` and the features it was fitted on.

    Attributes
    ----------
    segmenter : KMeansSegmenter
    features, features_before : DataFrame
        :func:`~quantlib.customers.segments.segment_features` at ``as_of`` and ``before``.
    as_of, before : date
    """

    def __init__(self, segmenter, features, features_before, as_of, before):
        self.segmenter = segmenter
        self.features = features
        self.features_before = features_before
        self.as_of = as_of
        self.before = before

    @property
    def assignment(self) -> pd.DataFrame:
        return self.segmenter.predict(self.features)

    @property
    def migration(self) -> pd.DataFrame:
        return segment_migration(self.segmenter, self.features_before, self.features)


def analyse_segments(source, as_of, *, n_segments: int | None = None, k_min: int = 3, k_max: int = 8,
                     sample_size: int = 4000, migration_months: int = 3, random_state: int = 0) -> SegmentAnalysis:
    """Features at ``as_of`` and ``migration_months`` earlier, and a k-means segmentation at ``as_of``."""
    with open_gold(source) as con:
        before = previous_date(as_of, migration_months)
        features = segment_features(con, as_of)
        features_before = segment_features(con, before)
    segmenter = KMeansSegmenter(n_segments, k_range=(k_min, k_max), sample_size=sample_size,
                                random_state=random_state).fit(features)
    return SegmentAnalysis(segmenter, features, features_before, pd.Timestamp(as_of).date(), before)


@table_view(formats={"customers": "int", "share": "pct", "spend_365d_total": "money", "value_share": "pct",
                     "spend_365d": "money", "jobs_per_year": "num1", "recency_days": "int", "late_share": "pct",
                     "digital_share": "pct", "quote_win_rate": "pct", "quote_discount": "pct"},
            labels={"segment_name": "Segment", "spend_365d_total": "Spend, last year", "value_share": "Share of spend",
                    "spend_365d": "Spend per customer", "recency_days": "Days since last job",
                    "late_share": "Late payments", "digital_share": "Digital contact"})
def segment_sizes(analysis: SegmentAnalysis) -> pd.DataFrame:
    """Per segment: customers, share, spend in the last 365 days (total, share, per customer), key behaviours.

    Includes the rule groups (``"lapsed"``, ``"no history"``); ordered by spend.
    """
    columns = ["spend_365d", "jobs_per_year", "recency_days", "late_share", "digital_share",
               "quote_win_rate", "quote_discount"]
    frame = analysis.features[columns].astype(float).assign(
        segment_name=analysis.assignment["segment_name"].to_numpy())
    groups = frame.groupby("segment_name")
    table = groups[columns].mean()
    table.insert(0, "customers", groups.size())
    table.insert(1, "share", table["customers"] / table["customers"].sum())
    table.insert(2, "spend_365d_total", groups["spend_365d"].sum())
    table.insert(3, "value_share", table["spend_365d_total"] / table["spend_365d_total"].sum())
    table = table.reset_index().sort_values(["spend_365d_total", "customers"], ascending=False)
    return table.reset_index(drop=True)


@table_view(formats={"customers": "int"},
            labels={"segment_name": "Segment", "profile": "Profile", "pricing_stance": "Pricing stance"})
def segment_playbook(analysis: SegmentAnalysis) -> pd.DataFrame:
    """Per segment (rule groups included): customers, the profile it met, strategy and pricing stance."""
    counts = analysis.assignment["segment_name"].value_counts().rename("customers").reset_index()
    base = counts["segment_name"].str.replace(r" \(\d+\)$", "", regex=True)
    book = SEGMENT_PLAYBOOK.set_index("profile")
    for column in ("rule", "strategy", "pricing_stance"):
        counts[column] = base.map(book[column])
    return counts.rename(columns={"rule": "profile"}).sort_values("customers", ascending=False) \
        .reset_index(drop=True)


#: The product's profiles, the columns of :func:`profile_match`.
PROFILE_COLUMNS = ("premium", "price-sensitive", "growth potential", "lapsing", "slow payers", "contract holders")


@table_view(formats={c: "num2" for c in PROFILE_COLUMNS}, labels={"segment_name": "Segment"})
def profile_match(analysis: SegmentAnalysis) -> pd.DataFrame:
    """How each segment scores against the product's profiles (premium, price-sensitive, growth potential).

    Rule scores on the standardised centroid (:func:`~quantlib.customers.segments.name_segments`);
    a segment takes the name of its best profile when that score reaches 0.5. Missing = ruled
    out by a gate (e.g. a late payer cannot be premium).
    """
    scores = analysis.segmenter.profile_scores_
    return scores[["segment_name", *PROFILE_COLUMNS]].sort_values("segment_name").reset_index(drop=True)


_FEATURE_LABELS = {
    "jobs_per_year": "Jobs a year", "spend_365d": "Spend, last year", "avg_ticket": "Average ticket",
    "recency_days": "Days since last job", "tenure_days": "Tenure", "frequency_trend": "Frequency trend",
    "gap_cv": "Irregular visits", "emergency_share": "Emergency share", "contract_job_share": "Contract visits",
    "avg_days_to_pay": "Days to pay", "late_share": "Late payments", "dispute_share": "Disputes",
    "digital_share": "Digital channels", "quote_win_rate": "Quote win rate", "quote_discount": "Quote discount",
}


def profile_long(analysis: SegmentAnalysis) -> pd.DataFrame:
    """Centroids in standard deviations from the average customer, long: ``segment_name, feature, z``."""
    seg = analysis.segmenter
    centers = pd.DataFrame(seg.cluster_centers_, columns=CLUSTER_FEATURES)
    centers["segment_name"] = [seg.names_[i] for i in range(len(centers))]
    long = centers.melt(id_vars="segment_name", var_name="feature", value_name="z")
    long["feature"] = long["feature"].map(_FEATURE_LABELS)
    return long


def profile_chart(analysis: SegmentAnalysis) -> alt.Chart:
    """Heatmap of each segment's profile: how far its centroid is from the average customer."""
    long = profile_long(analysis)
    return alt.Chart(long, title="Segment profiles (standard deviations from the average customer)").mark_rect().encode(
        x=alt.X("segment_name:N", title=None),
        y=alt.Y("feature:N", title=None, sort=[_FEATURE_LABELS[c] for c in CLUSTER_FEATURES]),
        color=alt.Color("z:Q", title="z", scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True)),
    ).properties(width=60 * analysis.segmenter.n_segments_, height=320)


@table_view(formats={"k": "int", "silhouette": "{:.3f}"}, labels={"k": "Segments"})
def silhouette_table(analysis: SegmentAnalysis) -> pd.DataFrame:
    """Silhouette per number of segments tried, and which was chosen."""
    table = analysis.segmenter.silhouette_.copy()
    table["chosen"] = np.where(table["k"] == analysis.segmenter.n_segments_, "chosen", "")
    return table


@table_view(formats={"comparisons": "int", "mean_ari": "num2", "min_ari": "num2"},
            labels={"kind": "Refits with different", "mean_ari": "Mean ARI", "min_ari": "Lowest ARI"})
def stability_table(analysis: SegmentAnalysis, seeds: int = 3, bootstrap: int = 0) -> pd.DataFrame:
    """Adjusted Rand index of the segmentation across refits with ``seeds`` seeds (and bootstraps)."""
    seg = analysis.segmenter
    ari = segment_stability(
        analysis.features,
        lambda s: KMeansSegmenter(seg.n_segments_, sample_size=seg.sample_size, random_state=s),
        seeds=tuple(range(seeds)), bootstrap=bootstrap)
    table = ari.groupby("kind")["ari"].agg(comparisons="count", mean_ari="mean", min_ari="min").reset_index()
    table["kind"] = table["kind"].map({"seed": "random seeds", "bootstrap": "bootstrap resamples"})
    return table


def migration_matrix(analysis: SegmentAnalysis) -> pd.DataFrame:
    """Customers by segment then (rows) and now (columns), with the share that stayed."""
    moves = analysis.migration
    wide = moves.pivot_table(index="from_segment", columns="to_segment", values="customers",
                             aggfunc="sum", fill_value=0)
    wide.columns.name = None
    wide = wide.reset_index().rename(columns={"from_segment": "segment_before"})
    stayed = moves[moves["from_segment"] == moves["to_segment"]].set_index("from_segment")["share_of_from"]
    wide["stayed"] = wide["segment_before"].map(stayed).fillna(0.0)
    wide.loc[wide["segment_before"] == "new", "stayed"] = np.nan
    return with_formats(wide, {**{c: "int" for c in wide.columns if c not in ("segment_before", "stayed")},
                               "stayed": "pct"},
                        {"segment_before": "Before → now", "stayed": "Stayed"})


def migration_chart(analysis: SegmentAnalysis) -> alt.Chart:
    """Heatmap of the share of each earlier segment's customers in each segment now."""
    moves = analysis.migration
    base = alt.Chart(moves, title=f"Where customers moved: {analysis.before:%d %b %Y} to {analysis.as_of:%d %b %Y}")
    rect = base.mark_rect().encode(
        x=alt.X("to_segment:N", title="Now"), y=alt.Y("from_segment:N", title="Before"),
        color=alt.Color("share_of_from:Q", title="Share", scale=alt.Scale(scheme="blues")))
    text = base.mark_text(fontSize=10).encode(
        x="to_segment:N", y="from_segment:N", text=alt.Text("share_of_from:Q", format=".0%"))
    return (rect + text).properties(width=70 * analysis.segmenter.n_segments_, height=220)


def segment_summary(con_or_lake, as_of, months_back: int = 1, n_segments: int | None = None) -> dict:
    """Segment sizes and movement for the monthly business review.

    Parameters
    ----------
    con_or_lake : DuckDB connection, Lake, lake root or gold path
    as_of : date
    months_back : int, default 1
        Compare with this many months earlier (1 = previous month, 3 = quarter).
    n_segments : int, optional
        Fixed number of segments; default chosen by silhouette.

    Returns
    -------
    dict
        ``as_of``, ``previous`` (dates); ``sizes`` (DataFrame ``segment_name, customers,
        share, previous_customers, change``; both dates assigned with the segments fitted
        at ``as_of``); ``movement`` (the transition table of
        :func:`~quantlib.customers.segments.segment_migration`); ``moved_share`` (share of
        the customers present at both dates whose segment changed); ``n_segments``.
    """
    analysis = analyse_segments(con_or_lake, as_of, n_segments=n_segments, migration_months=months_back)
    now = analysis.assignment["segment_name"].value_counts()
    before = analysis.segmenter.predict(analysis.features_before)["segment_name"].value_counts()
    sizes = pd.DataFrame({"customers": now, "previous_customers": before}).fillna(0).astype(int)
    sizes.index.name = "segment_name"
    sizes = sizes.reset_index()
    sizes.insert(2, "share", sizes["customers"] / sizes["customers"].sum())
    sizes["change"] = sizes["customers"] - sizes["previous_customers"]
    sizes = sizes.sort_values("customers", ascending=False).reset_index(drop=True)
    movement = analysis.migration
    both = movement[movement["from_segment"] != "new"]
    moved = both.loc[both["from_segment"] != both["to_segment"], "customers"].sum()
    return {"as_of": analysis.as_of, "previous": analysis.before, "sizes": sizes, "movement": movement,
            "moved_share": float(moved / both["customers"].sum()) if len(both) else float("nan"),
            "n_segments": analysis.segmenter.n_segments_}


# ---------------------------------------------------------------------------- next-service offers
def _month_name(month) -> str:
    return dt.date(2000, int(month), 1).strftime("%B") if pd.notna(month) else ""


def segment_offers(analysis: SegmentAnalysis, source, holdout_days: int = 90) -> dict[str, pd.DataFrame]:
    """Next service to offer, channel and timing per segment, and how well the recommender did.

    The hybrid recommender (:class:`~quantlib.customers.recommend.HybridRecommender`) is
    fitted on jobs up to ``analysis.as_of`` and recommends the next service for every
    segmented customer; :func:`~quantlib.customers.recommend.contact_plan` adds channel and month.

    Returns
    -------
    dict
        ``offers``: per segment, the most common first offer and its share, the main
        contact channel and its share, and the most common best month. ``accuracy``: hit rate at 3
        of the hybrid and of the popularity baseline on the last ``holdout_days`` before
        ``as_of`` (fitted on the jobs before that window).
    """
    from quantlib.customers.recommend import (
        HybridRecommender,
        contact_plan,
        evaluation_targets,
        hit_rate,
        maintenance_contracts,
        service_history,
    )

    with open_gold(source) as con:
        history = service_history(con)
        as_of = pd.Timestamp(analysis.as_of)
        history = history[history["date"] <= as_of]
        assignment = analysis.assignment
        customers = assignment.loc[assignment["segment"] != -1, "customer_id"]
        start = as_of + pd.Timedelta(days=1)
        contracts = maintenance_contracts(con)
        rec = HybridRecommender().fit(history, start, contracts)
        recs = rec.recommend(customers, start=start)
        plan = contact_plan(con, as_of, recs, history).merge(assignment, on="customer_id")
    plan["service"] = plan["item"].str.replace("/", ": ")
    rows = []
    for name, group in plan.groupby("segment_name"):
        service = group["service"].value_counts(normalize=True)
        channel = group["channel"].value_counts(normalize=True)
        month = group["best_month"].dropna().astype(int).value_counts()
        rows.append({"segment_name": name, "customers": len(group), "first_offer": service.index[0],
                     "offer_share": service.iloc[0], "channel": channel.index[0], "channel_share": channel.iloc[0],
                     "best_month": _month_name(month.index[0]) if len(month) else ""})
    offers = pd.DataFrame(rows).sort_values("customers", ascending=False).reset_index(drop=True)
    test_start = start - pd.Timedelta(days=holdout_days)
    targets = evaluation_targets(history, test_start, holdout_days)
    accuracy = []
    if len(targets):
        back = HybridRecommender().fit(history, test_start)
        for label, component in (("hybrid (CF + content + popularity)", None), ("popularity baseline", "popularity")):
            recs = back.recommend(targets.index, start=test_start, days=holdout_days, component=component)
            accuracy.append({"method": label, "customers": len(targets), "hit_rate_at_3": hit_rate(recs, targets, 3)})
    offers = with_formats(offers, {"customers": "int", "offer_share": "pct", "channel_share": "pct"},
                          {"segment_name": "Segment", "first_offer": "Most common first offer",
                           "offer_share": "Of the segment", "channel": "Main channel",
                           "channel_share": "Of the segment ", "best_month": "Most common best month"})
    accuracy = with_formats(pd.DataFrame(accuracy), {"customers": "int", "hit_rate_at_3": "pct"},
                            {"hit_rate_at_3": "Hit rate at 3"})
    return {"offers": offers, "accuracy": accuracy, "weights": rec.weights_}
