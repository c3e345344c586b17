"""Customer snapshot features as of a date, from the gold warehouse, with no look-ahead.

:func:`customer_snapshot` returns one row per customer known at ``as_of`` with the product
spec's churn-risk factors and what else the data offers:

=========================  =================================================================
column                     meaning (everything counts only events dated on or before as_of)
=========================  =================================================================
frequency_trend            completed jobs in the last 180 days / the 180 days before
declining_frequency        ``frequency_trend < 0.7``: service frequency fell by more than the
                           spec's 0.3 threshold (30 %)
late_payment_share         share of judged invoices (settled, or past due) paid late
late_payments              number of such late invoices
disputes                   invoices disputed
avg_rating                 mean job rating (0-10), all time; the spec's satisfaction
satisfaction_below_7/5     ``avg_rating < 7`` / ``< 5``
last_contact_days          days since the last booking, visit or inbound interaction (the
                           company's outbound follow-ups and marketing are not contact)
no_contact_30d/90d         ``last_contact_days >= 30`` / ``>= 90``
tenure_days                days since the customer record was created
has_contract               a maintenance contract running at as_of
spend_trend                revenue in the last 180 days / the 180 days before
callbacks_365d             completed jobs in the last 365 days that needed a callback
callback_share             callbacks_365d / completed jobs in the last 365 days
complaints_365d            complaint interactions in the last 365 days
season_sin, season_cos     the snapshot date's time of year (same for every customer)
=========================  =================================================================

plus the mart's RFM columns (``recency_days``, ``frequency_365d``, ``monetary_365d``,
``monetary_lifetime``, ``avg_ticket``), the attributes used for segments
(``customer_type``, ``region``, ``primary_service_line``, ``acquisition_channel``,
``is_priority``), ``is_active`` (a completed job in the last 365 days) and the mart's rule
score ``churn_score``.

Most of it is the gold macro ``customer_features_at(as_of)`` (one definition for the KPI
module and for this); the extra columns are computed here under the same rule: only
rows dated on or before ``as_of`` count. The mart's ``open_balance`` is left out on
purpose: ``open_invoices_at`` drops written-off invoices at every date, and the
write-off happens later, so it would leak the future into a past snapshot.

:func:`churn_labels` says who lapsed in the window after ``as_of`` (the observable
proxy of churn, since no system records "this customer left").
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from quantlib.data.gold import gold_as_of, open_gold, to_date

__all__ = ["CATEGORICAL_FEATURES", "MODEL_FEATURES", "churn_labels", "customer_snapshot", "snapshots",
           "with_recent_interactions"]

#: Numeric features the learned model uses (flags are derived from these, so left out).
NUMERIC_FEATURES = [
    "frequency_trend", "late_payment_share", "late_payments", "disputes", "avg_rating", "last_rating",
    "last_contact_days", "recency_days", "tenure_days", "has_contract", "spend_trend", "callbacks_365d",
    "callback_share", "complaints_365d", "frequency_365d", "monetary_365d", "avg_ticket", "avg_days_to_pay",
    "jobs_last_180d", "jobs_prev_180d", "is_priority", "season_sin", "season_cos",
]
#: Categorical attributes the learned model uses.
CATEGORICAL_FEATURES = ["customer_type", "region", "primary_service_line", "acquisition_channel"]
MODEL_FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES

#: Readable names of the features, for reasons shown to account managers.
FEATURE_LABELS = {
    "frequency_trend": "service frequency trend", "declining_frequency": "declining service frequency",
    "late_payment_share": "late payments", "late_payments": "late payments", "disputes": "disputed invoices",
    "avg_rating": "satisfaction", "last_rating": "last rating", "last_contact_days": "days since last contact",
    "recency_days": "days since last job", "tenure_days": "tenure", "has_contract": "maintenance contract",
    "spend_trend": "spend trend", "callbacks_365d": "callbacks", "callback_share": "callback share",
    "complaints_365d": "complaints", "frequency_365d": "jobs in the last year",
    "monetary_365d": "spend in the last year", "avg_ticket": "average ticket",
    "avg_days_to_pay": "days to pay", "jobs_last_180d": "jobs in the last 180 days",
    "jobs_prev_180d": "jobs in the 180 days before", "is_priority": "priority account",
    "season_sin": "time of year", "season_cos": "time of year", "customer_type": "customer type", "region": "region",
    "primary_service_line": "service line",
    "acquisition_channel": "acquisition channel",
}

_EXTRA_SQL = """
WITH cx_done AS (
    SELECT customer_id, completed_date, revenue, callback
    FROM job_facts WHERE is_completed AND completed_date <= $as_of
),
cx_jobs AS (
    SELECT customer_id,
           coalesce(sum(revenue) FILTER (WHERE completed_date > $as_of - 180), 0)        AS revenue_last_180d,
           coalesce(sum(revenue) FILTER (WHERE completed_date > $as_of - 360
                                         AND completed_date <= $as_of - 180), 0)          AS revenue_prev_180d,
           count(*) FILTER (WHERE callback AND completed_date > $as_of - 365)             AS callbacks_365d
    FROM cx_done GROUP BY customer_id
),
cx_paid AS (
    SELECT invoice_id, sum(amount) AS paid_amount, max(paid_date)::DATE AS last_paid_date
    FROM payments WHERE paid_date::DATE <= $as_of GROUP BY invoice_id
),
cx_late AS (
    SELECT ci.customer_id,
           count(*) FILTER (WHERE (coalesce(cp.paid_amount, 0) >= ci.amount - 0.005
                                   AND cp.last_paid_date > ci.due_date::DATE)
                               OR (coalesce(cp.paid_amount, 0) < ci.amount - 0.005 AND ci.due_date::DATE < $as_of))
               AS late_payments
    FROM invoices ci LEFT JOIN cx_paid cp USING (invoice_id)
    WHERE ci.issued_date::DATE <= $as_of GROUP BY ci.customer_id
),
cx_complaints AS (
    SELECT customer_id, count(*) AS complaints_365d FROM interactions
    WHERE kind = 'complaint' AND ts::DATE <= $as_of AND ts::DATE > $as_of - 365 GROUP BY customer_id
)
SELECT cf.* EXCLUDE (open_balance),
       coalesce(cj.revenue_last_180d, 0) AS revenue_last_180d,
       coalesce(cj.revenue_prev_180d, 0) AS revenue_prev_180d,
       coalesce(cj.callbacks_365d, 0)    AS callbacks_365d,
       coalesce(cl.late_payments, 0)     AS late_payments,
       coalesce(cc.complaints_365d, 0)   AS complaints_365d
FROM customer_features_at($as_of) cf
LEFT JOIN cx_jobs cj      USING (customer_id)
LEFT JOIN cx_late cl      USING (customer_id)
LEFT JOIN cx_complaints cc USING (customer_id)
ORDER BY customer_id
"""


def customer_snapshot(con_or_lake, as_of=None, *, active_only: bool = False) -> pd.DataFrame:
    """Features of every customer created on or before ``as_of``, from data up to ``as_of``.

    Parameters
    ----------
    con_or_lake : DuckDBPyConnection, Lake, or path
        The gold warehouse.
    as_of : date-like, optional
        Snapshot date; default the warehouse's build date.
    active_only : bool
        Keep only customers with a completed job in the 365 days up to ``as_of``.

    Returns
    -------
    DataFrame
        One row per customer, sorted by ``customer_id``; columns in the module docstring.
        A customer without jobs has ``NaN`` trends, ratings and recency and zero counts
        (it is kept: the scorers decide what that means).
    """
    with open_gold(con_or_lake) as con:
        as_of = gold_as_of(con) if as_of is None else to_date(as_of)
        frame = con.execute(_EXTRA_SQL, {"as_of": as_of}).df()
    frame = _derive(frame)
    if active_only:
        frame = frame[frame["is_active"]].reset_index(drop=True)
    return frame


def _derive(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("recency_days", "last_contact_days"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    for column in ("is_priority", "has_contract", "is_active"):
        out[column] = out[column].fillna(False).astype(bool)
    out["as_of"] = pd.to_datetime(out["as_of"])
    # The snapshot's time of year: lapsing in the next 180 days is seasonal (a customer
    # whose trade peaks in summer is quiet in the half-year after July). Constant within
    # one snapshot; it lets a model trained on snapshots from several seasons transfer.
    angle = 2 * np.pi * (out["as_of"].dt.day_of_year.astype(float) - 1) / 365.25
    out["season_sin"], out["season_cos"] = np.sin(angle), np.cos(angle)
    prev = out["revenue_prev_180d"].astype(float)
    out["spend_trend"] = (out["revenue_last_180d"] / prev.where(prev > 0)).astype(float)
    done = out["frequency_365d"].astype(float)
    out["callback_share"] = (out["callbacks_365d"] / done.where(done > 0)).astype(float)
    out["declining_frequency"] = (out["frequency_trend"] < 0.7).fillna(False).astype(bool)
    out["late_payer"] = (out["late_payment_share"] > 0.3).fillna(False).astype(bool)
    out["has_dispute"] = out["disputes"] > 0
    out["satisfaction_below_7"] = (out["avg_rating"] < 7).fillna(False).astype(bool)
    out["satisfaction_below_5"] = (out["avg_rating"] < 5).fillna(False).astype(bool)
    out["no_contact_30d"] = (out["last_contact_days"] >= 30).fillna(False).astype(bool)
    out["no_contact_90d"] = (out["last_contact_days"] >= 90).fillna(False).astype(bool)
    out["has_jobs"] = out["frequency_lifetime"] > 0
    float_cols = ["frequency_trend", "late_payment_share", "avg_rating", "last_rating", "avg_ticket",
                  "avg_days_to_pay", "share_ratings_below_7", "churn_score"]
    for column in float_cols:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    return out


def with_recent_interactions(snapshot: pd.DataFrame, interactions: pd.DataFrame) -> pd.DataFrame:
    """A snapshot with the customers' contacts and complaints since its date added (the live feed).

    Between nightly warehouse builds the stream's ``behaviour`` processor sees each customer's
    calls, e-mails and complaints as they happen. This brings the two contact features of a
    :func:`customer_snapshot` up to date with them, so scores react within seconds to a
    complaint or to a silent customer calling back:

    * a contact after the snapshot's date sets ``last_contact_days`` to 0 (the customer is
      in touch now) and clears the no-contact flags;
    * each complaint after it adds one to ``complaints_365d``.

    Everything else keeps the snapshot's date: jobs, invoices and ratings since then are not
    in the feed, and ageing recency without them would read every customer as lapsing a
    little. The next build replaces the whole snapshot.

    Parameters
    ----------
    snapshot : DataFrame
        From :func:`customer_snapshot` (one ``as_of`` for all rows).
    interactions : DataFrame
        ``customer_id, ts, complaint``: the customer's own contacts (inbound; outbound
        follow-ups and marketing are not contact), ``complaint`` true for complaints.
        Rows dated on or before the snapshot's date are already in it and are ignored, as are
        customers not in the snapshot.

    Returns
    -------
    DataFrame
        The snapshot, same rows and order, plus ``live_contacts`` and ``live_complaints``
        (what the feed added per customer).

    Raises
    ------
    ValueError
        ``interactions`` lacks a column.
    """
    missing = {"customer_id", "ts", "complaint"} - set(interactions.columns)
    if missing:
        raise ValueError(f"interactions lack the column(s) {sorted(missing)}: need customer_id, ts, complaint")
    out = snapshot.copy()
    out["live_contacts"] = 0
    out["live_complaints"] = 0
    if out.empty or interactions.empty:
        return out
    as_of = pd.to_datetime(out["as_of"]).max().normalize()
    when = pd.to_datetime(interactions["ts"], utc=True).dt.tz_localize(None)
    recent = interactions.assign(ts=when)[when >= as_of + pd.Timedelta(days=1)]
    by_customer = recent.groupby("customer_id").agg(contacts=("ts", "size"),
                                                   complaints=("complaint", lambda c: int(c.astype(bool).sum())))
    contacts = out["customer_id"].map(by_customer["contacts"]).fillna(0).astype(int)
    complaints = out["customer_id"].map(by_customer["complaints"]).fillna(0).astype(int)
    out["live_contacts"], out["live_complaints"] = contacts.to_numpy(), complaints.to_numpy()
    touched = contacts.to_numpy() > 0
    out.loc[touched, "last_contact_days"] = 0.0
    out["complaints_365d"] = out["complaints_365d"] + complaints.to_numpy()
    return _derive(out)


def churn_labels(con_or_lake, as_of, horizon_days: int = 180) -> pd.DataFrame:
    """Who lapsed in ``(as_of, as_of + horizon_days]``: the observable proxy of churn.

    A customer *lapsed* when it had no booking, no completed job and no interaction from
    the customer in the window (the company's outbound messages do not count). Only
    customers that were active at ``as_of`` (a completed job in the 365 days up to it) get
    a label.

    Returns
    -------
    DataFrame
        ``customer_id, churned`` (bool).

    Raises
    ------
    ValueError
        The window ends after the data does (the label would be unknown, not "lapsed").
    """
    with open_gold(con_or_lake) as con:
        as_of = to_date(as_of)
        end = as_of + dt.timedelta(days=horizon_days)
        built = gold_as_of(con)
        if end > built:
            raise ValueError(f"label window {as_of} + {horizon_days} days ends {end}, after the data "
                             f"ends ({built}); use an earlier as_of or a shorter horizon")
        frame = con.execute(
            """
            WITH active AS (
                SELECT DISTINCT customer_id FROM job_facts
                WHERE is_completed AND completed_date <= $t AND completed_date > $t - 365
            ),
            seen AS (
                SELECT customer_id FROM job_facts WHERE created_date > $t AND created_date <= $e
                UNION SELECT customer_id FROM job_facts
                      WHERE is_completed AND completed_date > $t AND completed_date <= $e
                UNION SELECT customer_id FROM interactions
                      WHERE ts::DATE > $t AND ts::DATE <= $e AND direction IS DISTINCT FROM 'outbound'
            )
            SELECT a.customer_id, s.customer_id IS NULL AS churned
            FROM active a LEFT JOIN (SELECT DISTINCT customer_id FROM seen) s USING (customer_id)
            ORDER BY a.customer_id
            """, {"t": as_of, "e": end}).df()
    frame["churned"] = frame["churned"].astype(bool)
    return frame


def snapshots(con_or_lake, dates, horizon_days: int | None = None) -> pd.DataFrame:
    """Active-customer snapshots at several dates, stacked; with labels when ``horizon_days`` is set."""
    with open_gold(con_or_lake) as con:
        parts = []
        for day in dates:
            snap = customer_snapshot(con, day, active_only=True)
            if horizon_days is not None:
                snap = snap.merge(churn_labels(con, day, horizon_days), on="customer_id", how="inner")
            parts.append(snap)
    return pd.concat(parts, ignore_index=True)
