"""Model cards: per engine, what it is, when it was trained, on what window, and how it scored.

The monthly review's appendix shows one card row per model and the primary metric over
time; both come from the recorded predictions and their scores
(:func:`quantlib.monitor.realised`, :func:`quantlib.monitor.score_predictions`).
"""

from __future__ import annotations

import pandas as pd

from quantlib.views import table_view

__all__ = ["MODEL_DESCRIPTIONS", "model_cards", "metric_history"]

#: What each monitored engine predicts, in a sentence.
MODEL_DESCRIPTIONS = {
    "revenue_forecast": "Company revenue per horizon: weighted history, pipeline, seasonality and market parts",
    "demand_forecast": "Jobs asked for per service line over the next weeks (weather and economy as factors)",
    "cashflow_forecast": "Payments the company collects over 30, 60 and 90 days (simulated open invoices and new work)",
    "churn_risk": "Probability that an active customer lapses in the label window",
    "clv": "Each customer's spend over the next 90 days (MBG/NBD purchases x Gamma-Gamma value)",
}


@table_view(formats={"runs": "int", "trained": "date", "window_start": "date", "window_end": "date",
                     "latest_value": "num2", "target": "num2", "scored_runs": "int"},
            labels={"trained": "Last trained", "window_start": "Data from", "window_end": "Data to",
                    "latest_value": "Latest score", "scored_runs": "Runs scored"})
def model_cards(predictions: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per model: description, version, runs, last training and its data window, latest score.

    Parameters
    ----------
    predictions : DataFrame
        Recorded prediction rows (with ``recorded_at`` when read from the store).
    scores : DataFrame
        :func:`~quantlib.monitor.score_predictions` of them.
    """
    columns = ["model", "what", "version", "runs", "trained", "window_start", "window_end", "metric",
               "latest_value", "target", "met", "scored_runs"]
    if predictions.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for model, g in predictions.groupby("model"):
        last = g.sort_values("as_of").iloc[-1]
        s = scores[scores["model"] == model].sort_values("as_of") if not scores.empty else scores
        latest = s.iloc[-1] if len(s) else None
        rows.append({
            "model": model, "what": MODEL_DESCRIPTIONS.get(model, ""), "version": last["version"],
            "runs": int(g["run_id"].nunique()), "trained": pd.Timestamp(last["as_of"]),
            "window_start": pd.Timestamp(last["window_start"]), "window_end": pd.Timestamp(last["window_end"]),
            "metric": None if latest is None else latest["metric"],
            "latest_value": None if latest is None else latest["value"],
            "target": None if latest is None else latest["target"],
            "met": None if latest is None else latest["met"],
            "scored_runs": int(s["as_of"].nunique()) if len(s) else 0,
        })
    return pd.DataFrame(rows, columns=columns)


def metric_history(scores: pd.DataFrame) -> pd.DataFrame:
    """Each model's primary metric per run date and horizon (for a line chart): ``model, series, as_of, value``."""
    if scores.empty:
        return pd.DataFrame(columns=["model", "series", "as_of", "value"])
    out = scores[["model", "metric", "horizon_days", "as_of", "value"]].copy()
    out["series"] = out["model"] + " · " + out["metric"] + " · " + out["horizon_days"].astype(str) + " d"
    out["as_of"] = pd.to_datetime(out["as_of"])
    return out[["model", "series", "as_of", "value"]].reset_index(drop=True)
