"""The monthly business review's customer analytics: retention, churn risk, lifetime value, segments.

One call gathers what the three engines say at a date (:func:`~quantlib.customers.churn.churn_summary`,
:func:`~quantlib.customers.views.value.value_summary`,
:func:`~quantlib.customers.views.segments.segment_summary`) into report-ready frames of plain
numbers, each table declaring how its columns print (:func:`quantlib.views.with_formats`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from quantlib.customers.churn import churn_summary
from quantlib.customers.views.segments import segment_summary
from quantlib.customers.views.value import value_summary
from quantlib.views.tables import with_formats


@dataclass(frozen=True)
class CustomerReview:
    """Customer analytics of one month.

    Attributes
    ----------
    as_of : date
    indicators : DataFrame
        ``indicator, value, unit`` (unit ``pct``, ``money`` or ``int``), in reading order.
    segments : DataFrame
        ``segment_name, customers, share, previous_customers, change``, largest first.
    moved_share : float
        Share of customers present at both dates whose segment changed.
    previous : date
        The date the segments are compared with.
    at_risk : DataFrame
        High-value customers scored above 0.7: ``customer_id, name, value_365d, score,
        intervention, reasons``, most valuable first.
    """

    as_of: dt.date
    indicators: pd.DataFrame
    segments: pd.DataFrame
    moved_share: float
    previous: dt.date
    at_risk: pd.DataFrame

    def text(self) -> str:
        """The section's lead paragraph."""
        values = dict(zip(self.indicators["indicator"], self.indicators["value"]))
        retention = values.get("12-month customer retention")
        lead = (f"{retention:.0%} of the customers served a year ago were served again in the last twelve months. "
                if retention is not None and pd.notna(retention) else "")
        grew = self.segments.sort_values("change", ascending=False).iloc[0] if len(self.segments) else None
        movement = (f"Since {self.previous:%d %B}, {self.moved_share:.0%} of customers changed segment; "
                    f"the {grew['segment_name']} segment changed most ({int(grew['change']):+d} customers). "
                    if grew is not None else "")
        alerts = int(values.get("High-value customers above 0.7 churn risk", len(self.at_risk)))
        risk = (f"{alerts} high-value customer{'s are' if alerts != 1 else ' is'} above the 0.7 churn-risk "
                "threshold and need immediate outreach." if alerts else
                "No high-value customer is above the 0.7 churn-risk threshold.")
        return lead + movement + risk


def customer_review(con_or_lake, as_of, top: int = 10, months_back: int = 1) -> CustomerReview:
    """Gather the month's customer analytics at ``as_of``.

    Parameters
    ----------
    con_or_lake : DuckDB connection (or a ReportContext), Lake or path
        The gold warehouse.
    as_of : date
    top : int
        At-risk high-value accounts listed.
    months_back : int
        Segment movement is measured against this many months earlier.
    """
    con = getattr(con_or_lake, "con", con_or_lake)
    day = pd.Timestamp(as_of).date()
    churn = churn_summary(con, day, top=top)
    value = value_summary(con, day)
    segments = segment_summary(con, day, months_back=months_back)
    indicators = pd.DataFrame([
        ("12-month customer retention", value["retention_rate"], "pct"),
        ("Active customers", churn["active_customers"], "int"),
        ("Share of active customers at high churn risk", churn["risk_share"], "pct"),
        ("High-value customers above 0.7 churn risk", churn["high_value_at_risk"], "int"),
        ("Customers likely still active (P(alive) ≥ 0.5)", value["share_likely_alive"], "pct"),
        (f"Predicted value per customer, next {value['horizon_months']} months", value["average_predicted_clv"],
         "money"),
        (f"Predicted value of the customer base, next {value['horizon_months']} months",
         value["total_predicted_clv"], "money"),
        ("Customers who changed segment", segments["moved_share"], "pct"),
    ], columns=["indicator", "value", "unit"])
    at_risk = churn["top_accounts"]
    names = con.execute("SELECT customer_id, name FROM customers").df() if len(at_risk) else \
        pd.DataFrame(columns=["customer_id", "name"])
    at_risk = (at_risk.merge(names, on="customer_id", how="left")
               [["customer_id", "name", "value_365d", "score", "intervention", "reasons"]]
               .sort_values("value_365d", ascending=False).reset_index(drop=True))
    at_risk = with_formats(at_risk, {"value_365d": "money", "score": "num2"},
                           {"value_365d": "Revenue, last 12 months", "score": "Churn risk", "reasons": "Why at risk"})
    sizes = with_formats(segments["sizes"], {"customers": "int", "share": "pct", "previous_customers": "int",
                                             "change": "int"},
                         {"segment_name": "Segment", "previous_customers": "A month earlier" if months_back == 1
                          else f"{months_back} months earlier"})
    return CustomerReview(as_of=day, indicators=indicators, segments=sizes,
                          moved_share=float(segments["moved_share"]), previous=segments["previous"],
                          at_risk=at_risk)


def formatted_indicators(review: CustomerReview) -> pd.DataFrame:
    """The indicators with each value written in its unit (a table of mixed units)."""
    def fmt(value, unit):
        if value is None or pd.isna(value):
            return "–"
        return {"pct": f"{value:.1%}", "money": f"${value:,.0f}", "int": f"{int(value):,}"}[unit]

    return pd.DataFrame({"indicator": review.indicators["indicator"],
                         "value": [fmt(v, u) for v, u in zip(review.indicators["value"], review.indicators["unit"])]})
