"""The four processors on crafted events, applied through the live tables, with their alert rules."""

from datetime import datetime, timedelta

import pandas as pd
import pytest

from quantlib.alerts.sources import MetricContext
from quantlib.stream.events import EventValidator, encode_event
from quantlib.stream.live import LiveStore
from quantlib.stream.processors import get_processor, processor_names
from quantlib.stream.reference import reference_from_tables
from quantlib.stream.runtime import alert_engine

T0 = datetime(2024, 3, 4, 8)


def checked(table, row, when):
    """A row as the processor receives it: encoded, then validated like on the stream."""
    result = EventValidator([table]).check(encode_event(table, row, pd.Timestamp(when)))
    assert result.ok, result.problems
    return result


@pytest.fixture(scope="module")
def reference(mixed_company):
    return reference_from_tables(mixed_company.tables)


@pytest.fixture(scope="module")
def a_job(mixed_company):
    jobs = mixed_company.tables["jobs"]
    return jobs[(jobs["status"] == "completed") & jobs["rating"].notna()].iloc[0].to_dict()


def job(base, when, **changes):
    row = dict(base, **changes)
    row["created_at"] = when - timedelta(days=2)
    row["scheduled_start"] = when - timedelta(hours=2)
    row["completed_at"] = when
    return checked("jobs", row, when)


def test_the_registry_holds_one_processor_per_input_topic(settings):
    assert processor_names() == ["behaviour", "equipment", "finance", "operations"]
    assert {get_processor(n).topic for n in processor_names()} == set(settings.sources)
    for name in processor_names():
        tables = {s.table for s in settings.sources[get_processor(name).topic]}
        assert set(get_processor(name).tables) == tables


def test_operations_keeps_rates_and_raises_quality_alerts(ops_store, reference, a_job):
    live, proc = LiveStore(ops_store), get_processor("operations")(reference)
    region = a_job["region"]
    # Twelve jobs in a day, three with a callback (25 % > 5 %) and ratings of 6 (< 8).
    events = [job(a_job, T0 + timedelta(minutes=40 * i), callback=i < 3, rating=6.0) for i in range(12)]
    live.apply(proc, "work_orders", 0, list(enumerate(events)))
    jobs = live.current("jobs", "1h", "operations")
    assert set(jobs["subject"]) == {f"region={region}", f"service_line={a_job['service_line']}"}
    revenue = live.windows("revenue", "5m")
    assert revenue[revenue["subject"] == f"region={region}"]["total"].sum() == pytest.approx(12 * a_job["revenue"])
    engine = alert_engine(ops_store)
    outcome = engine.check(MetricContext(store=ops_store), names=list(proc.rules))
    fired = {(a["rule"], a["subject"]) for a in outcome.alerts}
    assert ("quality_degradation", f"region={region}") in fired
    assert ("rating_degradation", f"region={region}") in fired
    value = next(a["value"] for a in outcome.alerts if a["rule"] == "quality_degradation")
    assert value == pytest.approx(3 / 12)
    # Good jobs afterwards bring the day's callback rate down and resolve it.
    more = [job(a_job, T0 + timedelta(hours=8, minutes=5 * i), callback=False, rating=9.5) for i in range(60)]
    live.apply(proc, "work_orders", 0, [(12 + i, e) for i, e in enumerate(more)])
    outcome = engine.check(MetricContext(store=ops_store), names=list(proc.rules))
    assert "quality_degradation" in {a["rule"] for a in outcome.resolved}


def test_operations_flags_a_job_far_slower_than_its_norm(ops_store, reference, a_job):
    live, proc = LiveStore(ops_store), get_processor("operations")(reference)
    events = []
    for i in range(40):  # the norm: 2 h +- a little
        e = job(a_job, T0 + timedelta(minutes=20 * i))
        e.row["scheduled_start"] = e.row["completed_at"] - timedelta(hours=2, minutes=i % 5)
        events.append(e)
    slow = job(a_job, T0 + timedelta(hours=14))
    slow.row["scheduled_start"] = slow.row["completed_at"] - timedelta(hours=9)
    live.apply(proc, "work_orders", 0, list(enumerate(events + [slow])))
    flagged = live.windows("slow_job", "1d")
    # One slow job, in the four daily windows hopping every 6 hours that hold it.
    assert flagged["total"].max() == 1 and flagged["total"].sum() == 4
    assert set(flagged.loc[flagged["total"] > 0, "subject"]) == {f"technician={a_job['technician_id']}"}


def test_equipment_charts_alarm_on_a_drift_not_on_noise(ops_store, mixed_company):
    import numpy as np

    live, proc = LiveStore(ops_store), get_processor("equipment")()
    rng = np.random.default_rng(0)
    rows = []
    for day in range(120):
        drift = 0.0 if day < 90 else (day - 90) * 0.15
        rows.append({"equipment_id": "E1", "ts": T0 + timedelta(days=day),
                     "vibration": float(np.exp(1 + 0.05 * rng.normal() + drift)),
                     "temperature": 60 + rng.normal(), "pressure": 100 + rng.normal()})
    events = [checked("telemetry", r, r["ts"]) for r in rows]
    live.apply(proc, "equipment_telemetry", 0, list(enumerate(events)))
    anomalies = live.windows("anomaly", "1d")
    alarm_days = pd.to_datetime(anomalies.loc[anomalies["total"] > 0, "window_start"])
    assert len(alarm_days) >= 1
    assert alarm_days.min() >= pd.Timestamp(T0 + timedelta(days=90))  # none before the drift
    assert alarm_days.min() <= pd.Timestamp(T0 + timedelta(days=100))


def test_equipment_uses_the_batch_detectors_cusum_settings():
    from quantlib.maintenance.sensors import SIGNALS, ControlChartDetector
    from quantlib.stream.processors import equipment

    assert (equipment.DRIFT, equipment.THRESHOLD) == (ControlChartDetector().drift, ControlChartDetector().threshold)
    assert equipment.SIGNALS == SIGNALS


def test_behaviour_publishes_complaints_bursts_and_silences(ops_store, reference, mixed_company):
    live, proc = LiveStore(ops_store), get_processor("behaviour")(reference)
    customer = mixed_company.tables["customers"].iloc[0]
    base = {"customer_id": customer["customer_id"], "job_id": None, "channel": "phone", "direction": "inbound",
            "satisfaction": None}
    times = [T0 + timedelta(days=d) for d in (0, 10, 20, 30)] + [T0 + timedelta(days=150 + h / 24) for h in (0, 5, 9)]
    kinds = ["booking", "inquiry", "booking", "follow_up", "complaint", "complaint", "inquiry"]
    events = [checked("interactions", dict(base, interaction_id=f"X{i}", ts=t, kind=k), t)
              for i, (t, k) in enumerate(zip(times, kinds))]
    result, _ = live.apply(proc, "customer_interactions", 0, list(enumerate(events)))
    insights = [(o.value["insight"], o.value["at"][:10]) for o in result.outputs]
    day150 = (T0 + timedelta(days=150)).date().isoformat()
    assert ("silence", day150) in insights  # 120 days after contacts every 10 days
    assert [i for i, _ in insights].count("complaint") == 2
    assert ("burst", day150) in insights  # the third contact within 48 hours
    assert all(o.topic == "behavior_insights" and o.key == customer["customer_id"] for o in result.outputs)
    complaints = live.windows("complaints", "1d")
    assert set(complaints["subject"]) == {f"region={customer['region']}"}


def test_finance_tracks_cash_and_raises_an_out_of_control_day(ops_store, mixed_company):
    import numpy as np

    live, proc = LiveStore(ops_store), get_processor("finance")()
    invoice = mixed_company.tables["invoices"].iloc[0].to_dict()
    payment = mixed_company.tables["payments"].iloc[0].to_dict()
    rng = np.random.default_rng(1)
    events = []
    for day in range(40):
        amount = 5000.0 if day == 38 else float(1000 + 50 * rng.normal())
        when = T0 + timedelta(days=day, hours=9)
        events.append(checked("invoices", dict(invoice, issued_date=when, due_date=when + timedelta(days=30),
                                               amount=amount), when))
    events.append(checked("payments", dict(payment, paid_date=T0 + timedelta(days=39, hours=10), amount=250.0),
                          T0 + timedelta(days=39, hours=10)))
    result, _ = live.apply(proc, "financial_transactions", 0, list(enumerate(events)))
    assert result.outputs[-1].value["metric"] == "cash_position" and result.outputs[-1].value["value"] == 250.0
    engine = alert_engine(ops_store)
    outcome = engine.check(MetricContext(store=ops_store), names=["revenue_out_of_control"])
    [alert] = outcome.alerts
    assert alert["subject"] == "company" and alert["value"] > 3


def test_operations_publishes_the_windows_a_checkpoint_changed(ops_store, reference, a_job):
    live, proc = LiveStore(ops_store), get_processor("operations")(reference)
    events = [job(a_job, T0 + timedelta(minutes=2 * i)) for i in range(3)]  # one 5-minute window
    result, _ = live.apply(proc, "work_orders", 0, list(enumerate(events)))
    published = {o.key: o.value for o in result.outputs if o.topic == "business_metrics"}
    key = f"jobs/5m/{T0.isoformat()}/region={a_job['region']}"
    assert published[key]["n"] == 3 and published[key]["total"] == 3.0
    assert {v["metric"] for v in published.values()} == {"jobs", "revenue"}
    # The next checkpoint publishes the window's value so far, not an increment.
    result, _ = live.apply(proc, "work_orders", 0, [(3, job(a_job, T0 + timedelta(minutes=4)))])
    assert {o.key: o.value for o in result.outputs}[key]["n"] == 4
