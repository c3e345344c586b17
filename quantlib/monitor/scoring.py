"""Score recorded predictions against what happened, and flag models that decay.

:func:`realised` fills each prediction's ``actual`` from gold once its target period has
ended (``arrived``); :func:`score_predictions` gives one row per model, quantity, run
date and horizon; :func:`decay_flags` compares each run's primary metric with the target
and with the model's own recent runs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from quantlib.customers.churn import BANDS
from quantlib.customers.clv import company_transactions
from quantlib.customers.features import churn_labels
from quantlib.data.gold import gold_as_of, open_gold
from quantlib.forecast.cashflow import CASHFLOW_TARGETS
from quantlib.forecast.metrics import accuracy
from quantlib.forecast.revenue import REVENUE_TARGETS
from quantlib.monitor.records import PREDICTION_COLUMNS

__all__ = ["REALISERS", "ACCURACY_TARGETS", "PRIMARY_METRIC", "realised", "score_predictions",
           "decay_flags", "horizon_bucket"]

#: The spec's accuracy targets per quantity and horizon (days); ``None`` key: any horizon.
#: Churn: the share of customers classified correctly at the intervention threshold (80 %).
ACCURACY_TARGETS: dict[str, dict] = {
    "revenue": dict(REVENUE_TARGETS),
    "jobs": {None: 0.85},
    "cash_in": dict(CASHFLOW_TARGETS),
    "churn": {None: 0.80},
}

#: The metric each quantity is judged on, and whether higher is better.
PRIMARY_METRIC = {"revenue": ("accuracy", True), "jobs": ("accuracy", True), "cash_in": ("accuracy", True),
                  "churn": ("classification_accuracy", True),
                  "value_90d": ("wape", False)}


def horizon_bucket(as_of, target_end) -> int:
    """The horizon of a prediction in days: from its as-of date to the end of its period."""
    return int((pd.Timestamp(target_end) - pd.Timestamp(as_of)).days)


# -- realisers: quantity -> actual per row --------------------------------------------

def _realise_revenue(con, rows: pd.DataFrame) -> np.ndarray:
    """Completed job revenue over the target period, for the company (``all``) or a service line."""
    con.register("periods", rows[["subject", "target_start", "target_end"]].drop_duplicates())
    got = con.execute(
        """SELECT p.subject, p.target_start, p.target_end, coalesce(sum(j.revenue), 0) AS actual
           FROM periods p LEFT JOIN job_facts j
             ON j.is_completed AND j.completed_date BETWEEN p.target_start AND p.target_end
            AND (p.subject = 'all' OR j.service_line = p.subject)
           GROUP BY 1, 2, 3""").df()
    got["target_start"] = pd.to_datetime(got["target_start"]).dt.date
    got["target_end"] = pd.to_datetime(got["target_end"]).dt.date
    keyed = rows[["subject", "target_start", "target_end"]].merge(
        got, on=["subject", "target_start", "target_end"], how="left")
    return keyed["actual"].to_numpy(float)


def _realise_cash_in(con, rows: pd.DataFrame) -> np.ndarray:
    """Payments received over the target period (the company's collections)."""
    periods = rows[["target_start", "target_end"]].drop_duplicates()
    con.register("cash_periods", periods)
    got = con.execute(
        """SELECT p.target_start, p.target_end, coalesce(sum(pay.amount), 0) AS actual
           FROM cash_periods p LEFT JOIN payments pay
             ON pay.paid_date::DATE BETWEEN p.target_start AND p.target_end
           GROUP BY 1, 2""").df()
    got["target_start"] = pd.to_datetime(got["target_start"]).dt.date
    got["target_end"] = pd.to_datetime(got["target_end"]).dt.date
    keyed = rows[["target_start", "target_end"]].merge(got, on=["target_start", "target_end"], how="left")
    return keyed["actual"].to_numpy(float)


def _realise_jobs(con, rows: pd.DataFrame) -> np.ndarray:
    """Jobs asked for over the target period (:func:`~quantlib.forecast.demand_series`' count: by
    request day, cancelled included, contract visits left out), company (``all``) or service line."""
    from quantlib.forecast.demand import demand_series

    out = np.full(len(rows), np.nan)
    for (start, end), idx in rows.groupby(["target_start", "target_end"]).indices.items():
        counts = demand_series(con, freq="D", by=("service_line",), start=start, end=end)
        by_line = counts.groupby("service_line")["y"].sum()
        subjects = rows["subject"].iloc[idx].to_numpy()
        out[idx] = [float(counts["y"].sum()) if s == "all" else float(by_line.get(s, 0.0)) for s in subjects]
    return out


def _realise_churn(con, rows: pd.DataFrame) -> np.ndarray:
    """1.0 when the customer lapsed over the window (:func:`churn_labels`), 0.0 when not.

    Customers that were not active at the prediction's as-of date have no label (NaN).
    """
    out = np.full(len(rows), np.nan)
    for (as_of, end), idx in rows.groupby(["as_of", "target_end"]).indices.items():
        labels = churn_labels(con, as_of, horizon_bucket(as_of, end)).set_index("customer_id")["churned"]
        out[idx] = labels.reindex(rows["subject"].iloc[idx].to_numpy()).astype(float).to_numpy()
    return out


def _realise_value(con, rows: pd.DataFrame) -> np.ndarray:
    """Each customer's purchases (completed job revenue, contract visits left out) over the period."""
    out = np.zeros(len(rows))
    tx = company_transactions(con)
    tx["date"] = pd.to_datetime(tx["date"]).dt.date
    for (start, end), idx in rows.groupby(["target_start", "target_end"]).indices.items():
        inside = tx[(tx["date"] >= start) & (tx["date"] <= end)]
        spent = inside.groupby("customer_id")["amount"].sum()
        out[idx] = spent.reindex(rows["subject"].iloc[idx].to_numpy()).fillna(0.0).to_numpy()
    return out


#: How the actual of each quantity is read from gold: ``(con, rows) -> array``.
REALISERS: dict[str, Callable[[object, pd.DataFrame], np.ndarray]] = {
    "revenue": _realise_revenue,
    "jobs": _realise_jobs,
    "cash_in": _realise_cash_in,
    "churn": _realise_churn,
    "value_90d": _realise_value,
}


def _as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in ("as_of", "window_start", "window_end", "target_start", "target_end"):
        out[col] = pd.to_datetime(out[col]).dt.date
    return out


def realised(source, predictions: pd.DataFrame) -> pd.DataFrame:
    """The predictions with ``arrived`` and ``actual`` columns.

    A prediction has *arrived* when its target period ended on or before the warehouse's
    as-of date; ``actual`` is NaN until then (and where gold has no label, e.g. a customer
    not active at the prediction date).

    Parameters
    ----------
    source : gold source
        Anything :func:`~quantlib.data.gold.open_gold` accepts.
    predictions : DataFrame
        Rows of :data:`~quantlib.monitor.records.PREDICTION_COLUMNS`.

    Raises
    ------
    ValueError
        A column is missing or a quantity has no realiser.
    """
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions are missing column(s) {missing}")
    unknown = sorted(set(predictions["quantity"]) - set(REALISERS))
    if unknown:
        raise ValueError(f"no realiser for quantity {unknown}; known: {sorted(REALISERS)}")
    rows = _as_dates(predictions).reset_index(drop=True)
    rows["actual"] = np.nan
    with open_gold(source) as con:
        built = gold_as_of(con)
        rows["arrived"] = rows["target_end"] <= built
        arrived = rows[rows["arrived"]]
        for quantity, idx in arrived.groupby("quantity").indices.items():
            subset = arrived.iloc[idx]
            # A cursor of its own: the caller's connection may hold an unfinished result.
            with con.cursor() as cur:
                rows.loc[subset.index, "actual"] = REALISERS[quantity](cur, subset.reset_index(drop=True))
    return rows


# -- scoring ---------------------------------------------------------------------------

def _score_group(quantity: str, y: np.ndarray, f: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 threshold: float) -> dict:
    out: dict = {"n": int(len(y))}
    if quantity == "churn":
        outcome = y.astype(int)
        out["positive_rate"] = float(outcome.mean())
        out["mean_probability"] = float(f.mean())
        out["brier"] = float(brier_score_loss(outcome, f))
        out["auc"] = float(roc_auc_score(outcome, f)) if 0 < outcome.sum() < len(outcome) else np.nan
        out["classification_accuracy"] = float(np.mean((f >= threshold) == (outcome == 1)))
        # Expected calibration error over ten equal-width probability bins.
        bins = np.minimum((f * 10).astype(int), 9)
        ece = sum(abs(f[bins == b].mean() - outcome[bins == b].mean()) * (bins == b).sum()
                  for b in np.unique(bins))
        out["calibration_error"] = float(ece / len(f))
        return out
    total = float(np.sum(y))
    out["actual_total"] = total
    out["predicted_total"] = float(np.sum(f))
    out["accuracy"] = accuracy(y, f)
    out["wape"] = float(np.sum(np.abs(f - y)) / total) if total else np.nan
    inside = ~np.isnan(lo) & ~np.isnan(hi)
    out["coverage_80"] = float(np.mean((y[inside] >= lo[inside]) & (y[inside] <= hi[inside]))) if inside.any() \
        else np.nan
    return out


def score_predictions(rows: pd.DataFrame, *, churn_threshold: float = BANDS["high"]) -> pd.DataFrame:
    """One row per model, quantity, run date and horizon, from :func:`realised` rows.

    Metrics, NaN where they do not apply:

    - revenue and value: ``accuracy`` (the spec's ``1 - |sum f - sum y| / sum y``),
      ``wape`` (``sum |f - y| / sum y``), ``coverage_80`` of the 80 % intervals;
    - churn: ``auc``, ``brier``, ``calibration_error`` (expected calibration error over
      ten probability bins), ``classification_accuracy`` (the share of customers on the
      right side of ``churn_threshold``, the intervention threshold), ``positive_rate``.

    ``target`` is the spec's target for the primary metric where there is one, and ``met``
    whether the primary metric reaches it. Rows that have not arrived or have no actual
    are left out.
    """
    done = rows[rows["arrived"] & rows["actual"].notna()].copy()
    columns = ["model", "quantity", "as_of", "horizon_days", "n", "metric", "value", "target", "met"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    done["horizon_days"] = [horizon_bucket(a, e) for a, e in zip(done["as_of"], done["target_end"])]
    records = []
    for (model, quantity, as_of, horizon), g in done.groupby(["model", "quantity", "as_of", "horizon_days"]):
        scores = _score_group(quantity, g["actual"].to_numpy(float), g["value"].to_numpy(float),
                              g["lo_80"].to_numpy(float), g["hi_80"].to_numpy(float), churn_threshold)
        metric, _ = PRIMARY_METRIC[quantity]
        targets = ACCURACY_TARGETS.get(quantity, {})
        target = targets.get(horizon, targets.get(None, np.nan))
        primary = scores.get(metric, np.nan)
        met = bool(primary >= target) if not (np.isnan(target) or np.isnan(primary)) else None
        records.append({"model": model, "quantity": quantity, "as_of": as_of, "horizon_days": horizon,
                        "metric": metric, "value": primary, "target": target, "met": met, **scores})
    frame = pd.DataFrame(records)
    rest = [c for c in frame.columns if c not in columns]
    return frame[columns + rest].sort_values(["model", "quantity", "horizon_days", "as_of"]).reset_index(drop=True)


def decay_flags(scores: pd.DataFrame, *, baseline_runs: int = 3, tolerance: float = 0.05) -> pd.DataFrame:
    """The scored runs where a model decayed, with the reason.

    A run decays when its primary metric misses the spec's target (``below target``), or
    when it is worse than the median of the model's previous ``baseline_runs`` runs at the
    same horizon by more than ``tolerance`` (relative; ``below its own baseline``). Only
    the latest run of each model, quantity and horizon is judged.

    Returns
    -------
    DataFrame
        ``model, quantity, as_of, horizon_days, metric, value, target, baseline, reason``.
    """
    out = []
    if scores.empty:
        return pd.DataFrame(columns=["model", "quantity", "as_of", "horizon_days", "metric", "value",
                                     "target", "baseline", "reason"])
    for (model, quantity, horizon), g in scores.groupby(["model", "quantity", "horizon_days"]):
        g = g.sort_values("as_of")
        latest = g.iloc[-1]
        _, higher_better = PRIMARY_METRIC[quantity]
        previous = g["value"].iloc[:-1].dropna().tail(baseline_runs)
        baseline = float(previous.median()) if len(previous) else np.nan
        reasons = []
        met = latest["met"]
        if met is not None and not pd.isna(met) and not bool(met):
            reasons.append("below target")
        if not np.isnan(baseline) and not np.isnan(latest["value"]):
            worse = (latest["value"] < baseline * (1 - tolerance)) if higher_better \
                else (latest["value"] > baseline * (1 + tolerance))
            if worse:
                reasons.append("below its own baseline")
        if reasons:
            out.append({"model": model, "quantity": quantity, "as_of": latest["as_of"], "horizon_days": horizon,
                        "metric": latest["metric"], "value": latest["value"], "target": latest["target"],
                        "baseline": baseline, "reason": " and ".join(reasons)})
    return pd.DataFrame(out, columns=["model", "quantity", "as_of", "horizon_days", "metric", "value", "target",
                                      "baseline", "reason"])
