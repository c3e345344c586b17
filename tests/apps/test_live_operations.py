"""The live operations app over live tables filled by the real processors' apply (no broker needed)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from quantlib.alerts.sources import MetricContext
from quantlib.apps.live_operations import LiveOperations, live_operations_from_parameters
from quantlib.stream import views
from quantlib.stream.events import EventValidator, encode_event
from quantlib.stream.live import LiveStore
from quantlib.stream.processors import get_processor
from quantlib.stream.reference import reference_from_tables
from quantlib.stream.runtime import alert_engine

T0 = datetime(2024, 3, 4, 8)


def checked(table, row, when):
    result = EventValidator([table]).check(encode_event(table, row, pd.Timestamp(when)))
    assert result.ok, result.problems
    return result


def fill(store, company, jobs=12, callbacks=4, offset=0, start=T0):
    """Completed jobs (some called back) through the operations processor, telemetry with a jump."""
    live = LiveStore(store)
    base = company.tables["jobs"]
    base = base[(base["status"] == "completed") & base["rating"].notna()].iloc[0].to_dict()
    events = []
    for i in range(jobs):
        done = start + timedelta(minutes=20 * i)
        events.append(checked("jobs", dict(base, callback=i < callbacks, created_at=done - timedelta(days=1),
                                           scheduled_start=done - timedelta(hours=2), completed_at=done), done))
    operations = get_processor("operations")(reference_from_tables(company.tables))
    live.apply(operations, "work_orders", 0, [(offset + i, e) for i, e in enumerate(events)])
    return base


@pytest.fixture
def filled(ops_store, mixed_company):
    base = fill(ops_store, mixed_company)
    rng = np.random.default_rng(0)
    readings = []
    for day in range(40):
        when = T0 - timedelta(days=39 - day)
        jump = 3.0 if day >= 36 else 0.0
        row = {"equipment_id": "E7", "ts": when, "vibration": float(np.exp(1 + 0.05 * rng.normal() + jump)),
               "temperature": 60 + rng.normal(), "pressure": 100 + rng.normal()}
        readings.append(checked("telemetry", row, when))
    LiveStore(ops_store).apply(get_processor("equipment")(), "equipment_telemetry", 0, list(enumerate(readings)))
    alert_engine(ops_store).check(MetricContext(store=ops_store),
                                  names=["quality_degradation", "equipment_anomaly"])
    return base


def test_views_read_the_live_tables(ops_store, filled):
    status = views.processor_status(ops_store).set_index("processor")
    assert status.loc["operations", "applied"] == 12 and status.loc["equipment", "applied"] == 40
    rates = views.regional_rates(ops_store).set_index("region")
    current = LiveStore(ops_store).current("jobs", "1h", "operations").set_index("subject")
    row = current.loc[f"region={filled['region']}"]
    assert rates.loc[filled["region"], "jobs_per_hour"] == pytest.approx(row["total"] / row["hours"])
    direct = filled["labor_cost"] + filled["material_cost"] + filled["equipment_cost"]
    assert rates.loc[filled["region"], "gross_margin"] == pytest.approx(1 - direct / filled["revenue"])
    trend = views.hourly_trend(ops_store)
    assert trend["jobs"].max() >= 1 and trend["window_end"].is_monotonic_increasing
    alerts = views.open_stream_alerts(ops_store)
    assert {"quality_degradation", "equipment_anomaly"} <= set(alerts["rule"])
    anomalies = views.equipment_anomalies(ops_store)
    assert list(anomalies["equipment_id"]) == ["E7"] and anomalies["alarms_today"].iloc[0] >= 1


def test_the_page_shows_every_panel_and_refreshes(ops_store, filled, mixed_company):
    app = LiveOperations(ops_store, company="Mixed Trades", refresh_seconds=0.05)
    app.widget  # noqa: B018
    assert f'data-region="{filled["region"]}"' in app.rates.value
    assert "<svg" in app.trend.value
    assert 'data-rule="quality_degradation"' in app.alerts.value and 'class="lo-warning"' in app.alerts.value
    assert 'data-unit="E7"' in app.anomalies.value
    assert 'data-processor="operations"' in app.status.value
    assert "Stream time 04 Mar 2024" in app.header.value

    async def run():
        app.start()
        before = app.refreshes_
        # More jobs arrive while the page is open: the next refresh shows them.
        fill(ops_store, mixed_company, jobs=6, callbacks=0, offset=12, start=T0 + timedelta(hours=5))
        for _ in range(200):  # each refresh renders a chart: give a loaded machine time
            await asyncio.sleep(0.05)
            if app.refreshes_ - before >= 2:
                break
        app.stop()
        return app.refreshes_ - before

    assert asyncio.run(run()) >= 2
    assert "Stream time 04 Mar 2024 14:" in app.header.value


def test_an_empty_store_says_how_to_start(tmp_path):
    app = live_operations_from_parameters("mixed_trades", 5, environ={"QUANT_OPS_DB": str(tmp_path / "ops.sqlite")})
    try:
        assert "No live data yet" in app.header.value and "quant stream up" in app.header.value
        assert "No open alerts" in app.alerts.value
    finally:
        app.stop()
