"""The monthly review's model appendix from a real store and real gold."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.data.gold import gold_as_of
from quantlib.data.opstore import OpsStore
from quantlib.monitor import PREDICTION_COLUMNS
from quantlib.monitor.views import model_card_section
from quantlib.views import report_table


@pytest.fixture(scope="module")
def facts(demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        built = gold_as_of(con)
        jobs = con.execute("SELECT completed_date, revenue FROM job_facts WHERE is_completed").df()
    jobs["completed_date"] = pd.to_datetime(jobs["completed_date"]).dt.date
    return built, jobs


def _forecast(jobs, run_id, as_of, factor):
    start, end = as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=30)
    actual = float(jobs[(jobs["completed_date"] >= start) & (jobs["completed_date"] <= end)]["revenue"].sum())
    return {c: np.nan for c in PREDICTION_COLUMNS} | {
        "run_id": run_id, "model": "revenue_forecast", "version": "0.1", "params_hash": "h", "as_of": as_of,
        "window_start": dt.date(2022, 1, 1), "window_end": as_of, "quantity": "revenue", "subject": "all",
        "target_start": start, "target_end": end, "value": factor * actual}


def test_no_predictions_yet_still_gives_a_card_per_engine(demo_lake, tmp_path):
    section = model_card_section(demo_lake, store=OpsStore(tmp_path / "ops.sqlite"))
    assert sorted(section.cards["model"]) == ["cashflow_forecast", "churn_risk", "clv", "demand_forecast",
                                             "revenue_forecast"]
    assert (section.cards["runs"] == 0).all() and section.metrics.empty and section.chart() is None
    assert section.text().startswith("No model predictions are recorded yet")
    report_table(section.cards).to_html()


def test_cards_metrics_over_time_and_decay(demo_lake, facts, tmp_path):
    built, jobs = facts
    store = OpsStore(tmp_path / "ops.sqlite")
    days = [built - dt.timedelta(days=30 + 28 * k) for k in (2, 1, 0)]
    store.record_predictions(pd.DataFrame([_forecast(jobs, f"r{i}", d, f)
                                           for i, (d, f) in enumerate(zip(days, (1.0, 1.02, 1.3)))]))
    section = model_card_section(demo_lake, built, store=store)
    cards = section.cards.set_index("model")
    revenue = cards.loc["revenue_forecast"]
    assert revenue["runs"] == 3 and revenue["trained"] == pd.Timestamp(days[-1])
    assert revenue["window_start"] == pd.Timestamp("2022-01-01") and revenue["scored_runs"] == 3
    assert revenue["latest_value"] == pytest.approx(0.7) and revenue["met"] is False
    assert cards.loc["churn_risk", "runs"] == 0 and cards.loc["clv", "runs"] == 0
    # Metrics over time: one row per run, the spec's accuracy and WAPE, churn metrics left empty.
    m = section.metrics
    assert m["as_of"].tolist() == [pd.Timestamp(d) for d in days]
    assert m["accuracy"].tolist() == pytest.approx([1.0, 0.98, 0.7])
    assert m["wape"].tolist() == pytest.approx([0.0, 0.02, 0.3])
    assert m["auc"].isna().all() and m["met"].tolist() == [True, True, False]
    assert section.history["value"].tolist() == pytest.approx([1.0, 0.98, 0.7])
    assert section.decayed["reason"].tolist() == ["below target and below its own baseline"]
    assert "Decayed: revenue_forecast (accuracy 0.70, 30-day horizon" in section.text()
    assert section.chart() is not None
    html = report_table(section.metrics).to_html()
    assert "WAPE" in html and "30.0%" in html
    # As of before the latest run's period ended, only the first two are scored and nothing decayed.
    earlier = model_card_section(demo_lake, days[-1] + dt.timedelta(days=29), store=store)
    assert len(earlier.metrics) == 2 and earlier.decayed.empty
    assert "No model fell below" in earlier.text()
