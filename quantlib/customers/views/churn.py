"""Churn-risk views for the report notebook and the churn explorer app, and their parameters.

``notebooks/churn_risk.ipynb`` and ``notebooks/apps/churn_explorer.ipynb`` only call what is
here. :func:`score_customers` runs a scorer on the active customers as of a date and returns a
:class:`ChurnRun` (snapshot, scores, reasons, segments, value); the other functions are views
of a run, as plain DataFrames. The app that shows them is :mod:`quantlib.apps.churn_explorer`.

>>> run = score_customers("data/demo/mixed_trades/lake", scorer="learned")   # doctest: +SKIP
>>> at_risk_list(run, top=20)                                                   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
from pydantic import Field

from quantlib.customers.churn import (
    BANDS,
    HIGH_VALUE_QUANTILE,
    LearnedChurnModel,
    RuleChurnScorer,
    churn_alerts,
    fit_time_split,
    high_value_flags,
)
from quantlib.customers.features import customer_snapshot, with_recent_interactions
from quantlib.data.gold import gold_as_of, open_gold
from quantlib.kpi.churn_rule import describe_churn_rule
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views import export
from quantlib.views.tables import table_view, with_formats

__all__ = ["GROUP_LABELS", "ChurnExplorerParameters", "ChurnRiskParameters", "ChurnRun", "alert_table",
           "at_risk_list", "customer_reasons", "headline", "method_note", "model_quality", "outreach_list",
           "outreach_order",
           "risk_by_segment", "risk_trend", "score_customers", "to_excel_bytes"]

log = logging.getLogger(__name__)

ScorerName = Literal["learned", "rule"]


@register_parameters("churn_risk")
class ChurnRiskParameters(NotebookParameters):
    """Churn-risk report: the at-risk list with reasons, risk by segment, the risk-share trend."""

    scorer: ScorerName = Field("learned", description="learned (calibrated model) or rule (the spec's score)")
    horizon_days: int = Field(180, ge=60, le=365, description="churn window the model predicts")
    top_n: int = Field(25, ge=5, le=500, description="customers in the at-risk list")
    trend_months: int = Field(12, ge=2, le=36, description="months in the risk-share trend")
    high_value_quantile: float = Field(HIGH_VALUE_QUANTILE, gt=0, lt=1,
                                       description="spend quantile above which a customer is high-value")
    record_predictions: bool = Field(True, description="record this run's predictions in the operational store "
                                                       "(model monitoring)")


@register_parameters("churn_explorer")
class ChurnExplorerParameters(NotebookParameters):
    """Churn explorer app: which scorer, and the model's churn window."""

    scorer: ScorerName = Field("learned", description="learned (calibrated model) or rule (the spec's score)")
    horizon_days: int = Field(180, ge=60, le=365, description="churn window the model predicts")
    live: bool = Field(True, description="add the customers' contacts and complaints the stream has seen since "
                                         "the warehouse build (when the behaviour processor has run past it)")


@dataclass
class ChurnRun:
    """Scores of the active customers as of a date, with what the views need.

    Attributes
    ----------
    as_of : date
    scorer : str
        ``"learned"`` or ``"rule"``.
    snapshot : DataFrame
        :func:`~quantlib.customers.features.customer_snapshot` of the active customers.
    scored : DataFrame
        ``customer_id, name, segment, customer_type, primary_service_line, region,
        value_365d, high_value, score, band, intervention, reasons``, highest score first.
    explained : DataFrame
        ``customer_id, factor, contribution, reason`` (the scorer's ``explain``).
    model : fitted scorer
    report : dict
        The learned model's time-split report (empty for the rule score).
    alerts : DataFrame
        :func:`~quantlib.customers.churn.churn_alerts`.
    live_until : Timestamp or None
        When the snapshot was brought up to date with the stream's contacts and complaints
        (:func:`~quantlib.customers.features.with_recent_interactions`): the feed's time.
    """

    as_of: dt.date
    scorer: str
    snapshot: pd.DataFrame
    scored: pd.DataFrame
    explained: pd.DataFrame
    model: object
    report: dict = field(default_factory=dict)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    live_until: pd.Timestamp | None = None

    @property
    def live_customers(self) -> int:
        """Customers whose scores the stream's contacts or complaints changed."""
        if "live_contacts" not in self.snapshot:
            return 0
        return int((self.snapshot["live_contacts"] > 0).sum())


def _segments(con, as_of: dt.date, customers: pd.Series) -> pd.Series:
    """k-means segment name per customer (``quantlib.customers.segments``)."""
    from quantlib.customers.segments import KMeansSegmenter, segment_features

    features = segment_features(con, as_of)
    named = KMeansSegmenter(random_state=0).fit(features).predict(features)
    return named.set_index("customer_id")["segment_name"].reindex(customers).fillna("unsegmented")


def outreach_order(scored: pd.DataFrame) -> pd.DataFrame:
    """A run's scored customers in outreach order: highest score first, then most valuable, then id."""
    return scored.sort_values(["score", "value_365d", "customer_id"], ascending=[False, False, True],
                              na_position="last").reset_index(drop=True)


def score_customers(con_or_lake, as_of=None, scorer: ScorerName = "learned", horizon_days: int = 180,
                    high_value_quantile: float = HIGH_VALUE_QUANTILE, segments: bool = True,
                    live_interactions: pd.DataFrame | None = None, live_until=None) -> ChurnRun:
    """Score the customers active at ``as_of`` (a completed job in the last 365 days).

    Parameters
    ----------
    con_or_lake : DuckDB connection, Lake or path
    as_of : date-like, optional
        Default the warehouse's build date. The learned model is fitted on windows that end
        by ``as_of`` (:func:`~quantlib.customers.churn.fit_time_split`).
    scorer : {"learned", "rule"}
    horizon_days : int
        The learned model's churn window.
    high_value_quantile : float
        Spend quantile above which a customer is high-value.
    segments : bool
        Add the k-means segment of each customer (else ``segment`` is the customer type).
    live_interactions : DataFrame, optional
        ``customer_id, ts, complaint``: the customers' contacts since the warehouse build, from
        the stream (:func:`quantlib.stream.views.recent_interactions`). The model is fitted on
        the warehouse alone; the scored snapshot gets them
        (:func:`~quantlib.customers.features.with_recent_interactions`).
    live_until : datetime-like, optional
        The feed's time (the behaviour processor's watermark), shown with the scores.
    """
    with open_gold(con_or_lake) as con:
        day = gold_as_of(con) if as_of is None else pd.Timestamp(as_of).date()
        snap = customer_snapshot(con, day, active_only=True)
        if live_interactions is not None:
            snap = with_recent_interactions(snap, live_interactions)
        report: dict = {}
        if scorer == "learned":
            model, report = fit_time_split(con, day, horizon_days=horizon_days, model=LearnedChurnModel())
        elif scorer == "rule":
            model = RuleChurnScorer().fit(snap)
        else:
            raise ValueError(f"scorer must be 'learned' or 'rule', not {scorer!r}")
        names = con.execute("SELECT customer_id, name FROM customers").df().set_index("customer_id")["name"]
        segment = (_segments(con, day, snap["customer_id"]) if segments
                   else snap.set_index("customer_id")["customer_type"])
    scores = model.score_frame(snap)
    explained = model.explain(snap)
    high_value = high_value_flags(snap, high_value_quantile)
    scored = pd.DataFrame({
        "customer_id": snap["customer_id"].to_numpy(),
        "name": names.reindex(snap["customer_id"]).to_numpy(),
        "segment": segment.reindex(snap["customer_id"]).to_numpy(),
        "customer_type": snap["customer_type"].to_numpy(),
        "primary_service_line": snap["primary_service_line"].to_numpy(),
        "region": snap["region"].to_numpy(),
        "value_365d": snap["monetary_365d"].astype(float).to_numpy(),
        "high_value": high_value.to_numpy(),
    }).merge(scores, on="customer_id")
    scored = outreach_order(scored)
    alerts = churn_alerts(scores, snap, quantile=high_value_quantile)
    live = pd.Timestamp(live_until) if live_interactions is not None and live_until is not None else None
    return ChurnRun(day, scorer, snap, scored, explained, model, report, alerts, live)


# ----------------------------------------------------------------------------- report views

def _yes(flag) -> str:
    return "yes" if flag else ""


#: How the at-risk list and the alert table print (:func:`quantlib.views.report_table`).
_CUSTOMER_FORMATS = {"value_365d": "money", "score": "pct", "high_value": _yes, "customer_id": "text",
                     "reasons": "text"}
_CUSTOMER_LABELS = {"customer_id": "Customer", "value_365d": "Spend, last 365 days", "high_value": "High value",
                    "score": "Churn risk", "reasons": "Top reasons"}
#: The groupings of :func:`risk_by_segment` the report shows, and their headers.
GROUP_LABELS = {"segment": "Segment", "customer_type": "Customer type", "primary_service_line": "Service line",
                "region": "Region"}


@table_view(_CUSTOMER_FORMATS, _CUSTOMER_LABELS)
def at_risk_list(run: ChurnRun, top: int = 25) -> pd.DataFrame:
    """The ``top`` highest-risk customers in the high and medium bands, with reasons and intervention."""
    risky = run.scored[run.scored["band"].isin(["high", "medium"])]
    return risky.head(top)[["customer_id", "name", "segment", "value_365d", "high_value", "score", "band",
                            "intervention", "reasons"]].reset_index(drop=True)


def risk_by_segment(run: ChurnRun, by: str = "segment") -> pd.DataFrame:
    """Per value of ``by``: customers, mean score, high / medium share, spend at risk.

    ``value_at_risk`` is the sum of score x spend in the last 365 days (expected spend lost).
    The ``group`` column is headed by ``by``'s name in :data:`GROUP_LABELS`.
    """
    frame = run.scored.assign(_high=run.scored["band"].eq("high").astype(float),
                              _medium=run.scored["band"].eq("medium").astype(float),
                              _at_risk=run.scored["score"] * run.scored["value_365d"])
    out = frame.groupby(by, dropna=False).agg(
        customers=("customer_id", "size"), mean_score=("score", "mean"), high_share=("_high", "mean"),
        medium_share=("_medium", "mean"), value_365d=("value_365d", "sum"), value_at_risk=("_at_risk", "sum"),
    ).reset_index().rename(columns={by: "group"})
    out = out.sort_values("value_at_risk", ascending=False).reset_index(drop=True)
    return with_formats(out, {"customers": "int", "mean_score": "pct", "high_share": "pct", "medium_share": "pct",
                              "value_365d": "money", "value_at_risk": "money"},
                        {"group": GROUP_LABELS.get(by, by.replace("_", " ").capitalize()), "mean_score": "Mean risk",
                         "high_share": "High band", "medium_share": "Medium band",
                         "value_365d": "Spend, last 365 days", "value_at_risk": "Spend at risk"})


def risk_trend(con_or_lake, as_of=None, months: int = 12) -> pd.DataFrame:
    """Share of active customers at churn risk (rule score >= 0.7) at each of the last ``months`` month ends.

    The KPI ``churn_risk_share`` at each month end (the month of ``as_of`` at ``as_of``).
    The rule score is used because it needs no training: a model fitted today and applied
    to past months would have seen those months' outcomes. Columns ``month_end, risk_share,
    active_customers``.
    """
    from quantlib.kpi import get_kpi

    with open_gold(con_or_lake) as con:
        day = gold_as_of(con) if as_of is None else pd.Timestamp(as_of).date()
        ends = [day] + [(pd.Timestamp(day).replace(day=1) - pd.DateOffset(months=k) - pd.Timedelta(days=1)).date()
                        for k in range(months - 1)]
        kpi = get_kpi("churn_risk_share")
        rows = []
        for end in sorted(ends):
            active = con.execute(
                "SELECT count(DISTINCT customer_id) FROM job_facts WHERE is_completed "
                "AND completed_date <= ? AND completed_date > ?::DATE - 365", [end, end]).fetchone()[0]
            rows.append({"month_end": pd.Timestamp(end), "risk_share": kpi.compute(con, end),
                         "active_customers": int(active)})
    return pd.DataFrame(rows)


def customer_reasons(run: ChurnRun, customer_id: str) -> pd.DataFrame:
    """Every factor raising one customer's risk: ``factor, contribution, reason``, largest first.

    Raises
    ------
    KeyError
        The customer is not among the scored (active) customers.
    """
    if customer_id not in set(run.scored["customer_id"]):
        raise KeyError(f"customer {customer_id!r} is not an active customer as of {run.as_of}")
    rows = run.explained[run.explained["customer_id"] == customer_id]
    return rows[["factor", "contribution", "reason"]].reset_index(drop=True)


#: Columns of the exported outreach list, in order.
OUTREACH_COLUMNS = ["customer_id", "name", "segment", "customer_type", "primary_service_line", "region",
                    "value_365d", "high_value", "score", "band", "intervention", "reasons"]


def outreach_list(run: ChurnRun, segment: str | None = None, band: str | None = None,
                  min_value: float = 0.0, customer_type: str | None = None, region: str | None = None) -> pd.DataFrame:
    """The filtered outreach list (highest score first); ``None`` filters mean all."""
    frame = run.scored
    mask = frame["value_365d"] >= (min_value or 0.0)
    for column, value in (("segment", segment), ("band", band), ("customer_type", customer_type),
                          ("region", region)):
        if value is not None:
            mask &= frame[column] == value
    return frame.loc[mask, OUTREACH_COLUMNS].reset_index(drop=True)


def to_excel_bytes(frame: pd.DataFrame, sheet: str = "outreach") -> bytes:
    """``frame`` as an .xlsx file (openpyxl), no index, formulas neutralised.

    See :func:`quantlib.views.export.to_excel_bytes`: a name like ``=HYPERLINK(...)`` is text.
    """
    return export.to_excel_bytes(frame, sheet=sheet)


# ----------------------------------------------------------------------------- report text and tables

@table_view(_CUSTOMER_FORMATS, _CUSTOMER_LABELS)
def alert_table(run: ChurnRun) -> pd.DataFrame:
    """The churn alerts with names and segments, for the report."""
    cols = ["customer_id", "name", "segment", "value_365d", "score", "intervention", "reasons"]
    if run.alerts.empty:
        return pd.DataFrame(columns=cols)
    extra = run.scored[["customer_id", "name", "segment"]]
    return run.alerts.merge(extra, on="customer_id", how="left")[cols]


def headline(run: ChurnRun, company: str) -> str:
    """One paragraph of Markdown: who is at risk, as of when, by which score."""
    n = len(run.scored)
    bands = run.scored["band"].value_counts()
    scorer = ("a gradient-boosting model calibrated on a later window" if run.scorer == "learned"
              else "the product spec's rule score")
    return (f"**{company}** · data to {run.as_of:%d %B %Y} · {n:,} active customers scored with {scorer}: "
            f"**{bands.get('high', 0):,}** at high risk, {bands.get('medium', 0):,} medium, "
            f"{bands.get('low', 0):,} low; **{len(run.alerts):,}** churn alert(s) on high-value customers.")


def method_note(run: ChurnRun) -> str:
    """How the scores were made, in Markdown (for the report's method section)."""
    if run.scorer == "rule":
        return (f"Rule score (product spec): {describe_churn_rule()} "
                f"Bands: high from {BANDS['high']:g}, medium from {BANDS['medium']:g}. "
                "The reasons are the rules that fired.")
    h = run.report.get("horizon_days", 180)
    return (f"Churn here means no booking, visit or interaction in the next {h} days (the data records no "
            "'customer left' event). A gradient-boosting model learned it from snapshots of earlier years, "
            f"its probabilities were calibrated on the window that starts {run.report['calibration_date']:%d %b %Y}, "
            f"and it was tested on the window that starts {run.report['test_date']:%d %b %Y}, which neither step "
            "saw. Risk rises monotonically with late payments, disputes, low satisfaction, falling frequency and "
            "time since the last contact. A reason is a value of this customer that raises the model's risk "
            "compared with a typical customer. Bands: high from 70 %, medium from 40 %.")


@table_view(formats={"value": "num2"}, labels={"measure": "Measure", "value": "Value"})
def model_quality(run: ChurnRun) -> pd.DataFrame:
    """The learned model's held-out figures (empty for the rule score)."""
    r = run.report
    if not r:
        return pd.DataFrame(columns=["measure", "value"])
    return pd.DataFrame([
        ("Area under the ROC curve (model)", r["test_auc"]),
        ("Area under the ROC curve (rule score, same customers)", r["rule_auc"]),
        ("Brier score (model)", r["test_brier"]),
        ("Brier score (always the base rate)", r["test_brier_base_rate"]),
        ("Churn rate in the test window", r["test_base_rate"]),
        ("Customers in the test window", float(r["test_rows"])),
    ], columns=["measure", "value"])
