"""The live views: the 30-day revenue outlook, the nightly forecast updated by what the stream saw."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from quantlib.monitor import PREDICTION_COLUMNS
from quantlib.stream import views
from tests.apps.test_live_operations import T0, fill


def record_forecast(store, as_of, value, horizon=30):
    start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    row = {c: np.nan for c in PREDICTION_COLUMNS} | {
        "run_id": "r1", "model": "revenue_forecast", "version": "1", "params_hash": "h", "as_of": as_of,
        "quantity": "revenue", "subject": "all", "target_start": start,
        "target_end": start + pd.Timedelta(days=horizon - 1), "value": value, "lo_80": 0.8 * value,
        "hi_80": 1.2 * value}
    store.record_predictions(pd.DataFrame([row]))


def test_no_outlook_without_a_forecast_covering_the_stream(ops_store, mixed_company):
    fill(ops_store, mixed_company)
    assert views.revenue_outlook(ops_store) is None
    record_forecast(ops_store, (T0 - timedelta(days=40)).date(), 30_000.0)  # ended before the stream's time
    assert views.revenue_outlook(ops_store) is None


def test_the_outlook_scales_the_forecast_by_the_revenue_seen(ops_store, mixed_company):
    base = fill(ops_store, mixed_company, jobs=12)  # 12 jobs on T0's morning
    as_of = (T0 - timedelta(days=2)).date()  # the forecast's days start the day before T0
    record_forecast(ops_store, as_of, 30_000.0)
    outlook = views.revenue_outlook(ops_store)
    start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    mark = T0 + timedelta(minutes=20 * 11)
    days = (pd.Timestamp(mark) - start).total_seconds() / 86400
    seen = 12 * base["revenue"]
    ratio = (seen + 1000.0 * 7) / (1000.0 * days + 1000.0 * 7)
    assert outlook["seen"] == pytest.approx(seen)
    assert outlook["days_seen"] == pytest.approx(days)
    assert outlook["ratio"] == pytest.approx(ratio)
    assert outlook["outlook"] == pytest.approx(30_000.0 * ratio)
    assert outlook["lo_80"] == pytest.approx(24_000.0 * ratio) and outlook["hi_80"] == pytest.approx(36_000.0 * ratio)
