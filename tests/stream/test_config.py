"""parameters/streams.yaml: the specification's topics, profiles and sources, and its errors."""

import pytest

from quantlib.stream.config import BROKERS_ENV, StreamConfigError, load_stream_settings


def test_the_specifications_topics_are_configured(settings):
    topics = settings.topics
    assert (topics["work_orders"].partitions, topics["work_orders"].retention_days) == (12, 7)
    assert (topics["customer_interactions"].partitions, topics["customer_interactions"].retention_days) == (8, 30)
    assert (topics["financial_transactions"].partitions, topics["financial_transactions"].retention_days) == (4, 90)
    assert {"equipment_telemetry", "business_metrics", "behavior_insights", "alerts", "dead_letter"} <= set(topics)
    assert topics["work_orders"].configs() == {"retention.ms": str(7 * 86_400_000), "cleanup.policy": "delete"}
    assert settings.profiles["production"].replication == 3
    assert settings.profiles["local"].replication == 1


def test_brokers_come_from_the_option_then_the_environment_then_the_profile(settings):
    assert settings.brokers(environ={}) is None  # local profile: the local broker
    assert settings.brokers(environ={BROKERS_ENV: "k:1"}) == "k:1"
    assert settings.brokers("opt:2", environ={BROKERS_ENV: "k:1"}) == "opt:2"
    assert settings.brokers(profile="production", environ={}).startswith("kafka-1:9092")
    with pytest.raises(StreamConfigError, match="unknown stream profile 'nope'"):
        settings.brokers(profile="nope", environ={})


def test_a_bad_settings_file_is_named_with_its_problem(tmp_path):
    path = tmp_path / "streams.yaml"
    path.write_text("profiles: {local: {}}\ntopics: {work_orders: {partitions: 0, retention_days: 7}}\n"
                    "sources: {work_orders: [{table: jobs, time: nope, key: job_id}]}\n")
    with pytest.raises(StreamConfigError) as caught:
        load_stream_settings(path)
    message = str(caught.value)
    assert str(path) in message and "partitions" in message
    path.write_text("profiles: {local: {}}\ntopics: {work_orders: {partitions: 1, retention_days: 7}}\n"
                    "sources: {work_orders: [{table: jobs, time: nope, key: job_id}]}\n")
    with pytest.raises(StreamConfigError, match="jobs has no column 'nope'"):
        load_stream_settings(path)
