"""Model cards and metric history from crafted prediction rows and scores."""

import datetime as dt

import pandas as pd

from quantlib.monitor import PREDICTION_COLUMNS
from quantlib.monitor.views.cards import metric_history, model_cards


def _predictions():
    rows = []
    for run, day in (("a", dt.date(2024, 1, 31)), ("b", dt.date(2024, 2, 29))):
        rows.append({c: None for c in PREDICTION_COLUMNS} | {
            "run_id": run, "model": "revenue_forecast", "version": "0.1.0", "as_of": day,
            "window_start": dt.date(2022, 1, 1), "window_end": day, "quantity": "revenue", "subject": "all",
            "target_start": day + dt.timedelta(days=1), "target_end": day + dt.timedelta(days=30), "value": 1.0})
    rows.append(rows[0] | {"run_id": "c", "model": "churn_risk", "quantity": "churn"})
    return pd.DataFrame(rows)


def test_one_card_per_model_with_its_latest_training_and_score():
    scores = pd.DataFrame({"model": ["revenue_forecast"] * 2, "quantity": "revenue",
                           "as_of": [dt.date(2024, 1, 31), dt.date(2024, 2, 29)], "horizon_days": 30, "n": 1,
                           "metric": "accuracy", "value": [0.95, 0.90], "target": 0.92, "met": [True, False]})
    cards = model_cards(_predictions(), scores).set_index("model")
    assert sorted(cards.index) == ["churn_risk", "revenue_forecast"]
    revenue = cards.loc["revenue_forecast"]
    assert revenue["runs"] == 2 and revenue["trained"] == pd.Timestamp("2024-02-29")
    assert revenue["latest_value"] == 0.90 and not revenue["met"] and revenue["scored_runs"] == 2
    assert cards.loc["churn_risk", "scored_runs"] == 0 and cards.loc["churn_risk", "metric"] is None
    history = metric_history(scores)
    assert history["series"].unique().tolist() == ["revenue_forecast · accuracy · 30 d"]
    assert history["value"].tolist() == [0.95, 0.90]


def test_no_predictions_no_cards():
    assert model_cards(pd.DataFrame(columns=PREDICTION_COLUMNS), pd.DataFrame()).empty
