"""The local broker and the topics, against the real broker (Tansu)."""

import subprocess
import sys

from quantlib.stream.broker import describe_topics, ensure_topics, running_broker, start_detached, stop_detached


def test_topics_are_created_with_their_partitions_and_retention(broker, settings, topics):
    found = describe_topics(broker.bootstrap, list(settings.topics))
    assert set(found) == set(settings.topics)
    for name, spec in settings.topics.items():
        assert found[name]["partitions"] == spec.partitions
        assert found[name]["retention.ms"] == spec.configs()["retention.ms"]
        assert found[name]["cleanup.policy"] == "delete"
    # Idempotent: a second run creates nothing.
    assert set(ensure_topics(broker.bootstrap, settings).values()) == {"exists"}


def test_up_and_down_start_and_stop_a_detached_broker(tmp_path):
    state_file = tmp_path / "broker.json"
    state = start_detached("memory://tansu/", path=state_file)
    try:
        assert running_broker(state_file)["pid"] == state["pid"]
        # Another process reaches it (it outlives the call that started it).
        probe = ("from confluent_kafka.admin import AdminClient;"
                 f"AdminClient({{'bootstrap.servers': '{state['bootstrap']}'}}).list_topics(timeout=10)")
        subprocess.run([sys.executable, "-c", probe], check=True, timeout=30)
        assert start_detached("memory://tansu/", path=state_file)["pid"] == state["pid"]  # already up
    finally:
        assert stop_detached(state_file)["pid"] == state["pid"]
    assert running_broker(state_file) is None
    assert stop_detached(state_file) is None
