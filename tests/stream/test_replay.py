"""Replay: the generated company's events reach their topics in event-time order, keyed, timestamped."""

import json

import pandas as pd
import pytest

from quantlib.stream.replay import ReplayError, load_events, replay

from .conftest import consume_all

INPUTS = ["work_orders", "customer_interactions", "equipment_telemetry", "financial_transactions"]


@pytest.fixture(scope="module")
def raw(mixed_company, tmp_path_factory):
    from quantlib.data.generate import write_company

    folder = tmp_path_factory.mktemp("raw")
    write_company(mixed_company, folder)
    return folder


def test_events_are_loaded_in_time_order_from_every_source(raw, settings):
    events = load_events(raw, settings, start="2024-03-01", end="2024-03-08")
    assert events["event_time"].is_monotonic_increasing
    assert set(events["topic"]) == set(INPUTS)
    assert set(events["table"]) == {"jobs", "interactions", "telemetry", "invoices", "payments"}
    assert events["event_time"].min() >= pd.Timestamp("2024-03-01")
    assert events["event_time"].max() < pd.Timestamp("2024-03-08")
    # A completed job is published when it was completed.
    jobs = events[events["table"] == "jobs"]
    done = jobs[[row["status"] == "completed" for row in jobs["row"]]]
    assert all(t == row["completed_at"] for t, row in zip(done["event_time"], done["row"]))


def test_replay_sends_every_event_to_its_topic(broker, topics, raw, settings):
    events = load_events(raw, settings, start="2024-03-01", end="2024-03-04")
    summary = replay(events, broker.bootstrap, speed=0)
    assert summary.total == len(events)
    assert summary.sent == events["topic"].value_counts().to_dict()
    messages = consume_all(broker.bootstrap, INPUTS, expected=len(events))
    assert len(messages) == len(events)
    first = {}
    for message in messages:
        value = json.loads(message.value())
        first.setdefault(message.topic(), value)
        # The Kafka timestamp is the event time (windows downstream are in event time).
        assert message.timestamp()[1] == int(pd.Timestamp(value["event_time"]).value // 1_000_000)
    assert first["equipment_telemetry"]["table"] == "telemetry"
    assert message.key().decode() in {str(v) for v in value["data"].values()}


def test_replay_keeps_the_companys_clock_at_the_chosen_speed(broker, topics, raw, settings):
    events = load_events(raw, settings, start="2024-03-05", end="2024-03-05 06:00")
    assert len(events) > 2
    span = (events["event_time"].iloc[-1] - events["event_time"].iloc[0]).total_seconds()
    summary = replay(events, broker.bootstrap, speed=span / 2.0)  # the span in 2 s
    assert 1.8 < summary.seconds < 6


def test_a_missing_export_is_named(tmp_path, settings):
    with pytest.raises(ReplayError, match="jobs.parquet: missing"):
        load_events(tmp_path, settings)
