"""Processors against the real broker: dead letters, restart after kill -9 without losing or
double-counting an event, and an alert raised from the stream."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pandas as pd
import pytest

from quantlib.data.opstore import OpsStore
from quantlib.stream.broker import LocalBroker, ensure_topics
from quantlib.stream.events import encode_event
from quantlib.stream.live import LiveStore
from quantlib.stream.replay import load_events, producer, replay

from .conftest import consume_all


@pytest.fixture
def fresh_broker(settings, tmp_path):
    """A broker of the test's own (the processors' consumer groups start from nothing)."""
    with LocalBroker(log_path=tmp_path / "tansu.log") as running:
        ensure_topics(running.bootstrap, settings)
        yield running


@pytest.fixture(scope="module")
def raw(mixed_company, tmp_path_factory):
    from quantlib.data.generate import write_company

    folder = tmp_path_factory.mktemp("raw")
    write_company(mixed_company, folder)
    return folder


def start(processors, bootstrap, store, tmp_path):
    """``quant stream run`` in a process of its own (a lake without gold: no reference tables)."""
    with open(tmp_path / "processors.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "quantlib.cli", "stream", "run", "--processors", processors,
                                 "--brokers", bootstrap, "--store", str(store), "--lake", str(tmp_path / "nolake")],
                                stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition, timeout=90.0, every=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_malformed_events_reach_the_dead_letter_topic_with_their_reasons(fresh_broker, mixed_company, tmp_path):
    row = mixed_company.tables["jobs"].iloc[0].to_dict()
    good = encode_event("jobs", row, row["created_at"])
    bad_value = json.loads(good)
    bad_value["data"]["labor_hours"] = 30
    out = producer(fresh_broker.bootstrap)
    for value in (good, b"{not json", json.dumps(bad_value).encode()):
        out.produce("work_orders", value=value, key=b"J1")  # one key: one partition, in order
    out.flush(10)
    store = tmp_path / "ops.sqlite"
    process = start("operations", fresh_broker.bootstrap, store, tmp_path)
    try:
        live = LiveStore(OpsStore(store))
        counts = wait_for(lambda: (c := live.counts("operations")) and sum(c.values()) >= 3 and c)
        assert counts == {"applied": 1, "rejected": 2}
        letters = consume_all(fresh_broker.bootstrap, ["dead_letter"], expected=2)
    finally:
        stop(process)
    values = [json.loads(m.value()) for m in letters]
    assert [v["offset"] for v in values] == [1, 2]
    assert values[0]["event"] == "{not json" and values[0]["problems"][0]["code"] == "bad_format"
    assert values[1]["problems"] == [{"field": "labor_hours", "reason": "must be between 0 and 24 (got 30)",
                                      "code": "out_of_range"}]
    assert {m.key().decode() for m in letters} == {f"work_orders:{v['partition']}:{v['offset']}" for v in values}


@pytest.mark.slow
def test_a_processor_killed_mid_stream_resumes_without_losing_or_double_counting(fresh_broker, raw, settings,
                                                                                 tmp_path):
    events = load_events(raw, settings)
    events = events[events["topic"].isin(["work_orders", "financial_transactions"])].head(12000)
    replay(events, fresh_broker.bootstrap)
    store = tmp_path / "ops.sqlite"
    live = LiveStore(OpsStore(store))

    def applied():
        counts = live.counts()
        return sum(c.get("applied", 0) + c.get("rejected", 0) for c in counts.values())

    process = start("operations,finance", fresh_broker.bootstrap, store, tmp_path)
    wait_for(lambda: applied() > 0)
    for _ in range(2):  # twice, mid-stream: the process group, so the children die with it
        wait_for(lambda: applied() > 0)
        os.kill(process.pid, signal.SIGKILL)
        for child in _children(process.pid):
            os.kill(child, signal.SIGKILL)
        process.wait(10)
        assert applied() < len(events), "killed after everything was applied: nothing to prove"
        process = start("operations,finance", fresh_broker.bootstrap, store, tmp_path)
    try:
        wait_for(lambda: applied() >= len(events), timeout=180)
        time.sleep(2)  # anything counted twice would show now
        counts = live.counts()
    finally:
        stop(process)
    # The worst case of a crash, every offset commit lost: the whole topic is delivered again.
    rewind("quant-operations", "work_orders", fresh_broker.bootstrap)
    process = start("operations", fresh_broker.bootstrap, store, tmp_path)
    try:
        wait_for(lambda: live.counts("operations").get("redelivered", 0) >= (events["table"] == "jobs").sum(),
                 timeout=120)
    finally:
        stop(process)
    assert live.counts("operations")["applied"] == counts["operations"]["applied"]
    jobs = events[events["table"] == "jobs"]
    completed = sum(row["status"] == "completed" for row in jobs["row"])
    assert counts["operations"]["applied"] == len(jobs)
    assert counts["finance"]["applied"] == len(events) - len(jobs)
    assert "rejected" not in counts["operations"]
    # Every completed job once in the 5-minute windows of its region (no double count, no loss).
    windows = live.windows("jobs", "5m")
    assert windows[windows["subject"].str.startswith("region=")]["n"].sum() == completed
    invoiced = live.windows("invoiced", "1d")["total"].sum()
    invoices = events[events["table"] == "invoices"]
    assert invoiced == pytest.approx(sum(row["amount"] for row in invoices["row"]))


def rewind(group, topic, bootstrap):
    """Commit offset 0 on every partition of ``topic`` for ``group`` (as if no commit had happened)."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = [TopicPartition(topic, p, 0) for p in partitions]
        # The broker refuses a commit from outside the group while it still counts a member of the stopped
        # processor (until that member's 6 s session has expired): try again until the group is empty.
        still_a_member = {KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION}
        deadline = time.monotonic() + 60
        while True:
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as error:
                if error.args[0].code() not in still_a_member or time.monotonic() > deadline:
                    raise
                time.sleep(1)
    finally:
        consumer.close()


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_an_alert_is_raised_from_the_stream(fresh_broker, mixed_company, tmp_path):
    jobs = mixed_company.tables["jobs"]
    base = jobs[(jobs["status"] == "completed") & jobs["rating"].notna()].iloc[0].to_dict()
    when = pd.Timestamp("2024-05-06 08:00")
    out = producer(fresh_broker.bootstrap)
    for i in range(12):
        done = when + timedelta(minutes=30 * i)
        row = dict(base, job_id=f"J{i}", callback=i < 4, created_at=done - timedelta(days=1),
                   scheduled_start=done - timedelta(hours=2), completed_at=done)
        out.produce("work_orders", value=encode_event("jobs", row, done), key=row["job_id"].encode())
    out.flush(10)
    store = tmp_path / "ops.sqlite"
    process = start("operations", fresh_broker.bootstrap, store, tmp_path)
    try:
        def alert():
            with OpsStore(store).reading() as con:
                return con.execute("SELECT rule, subject, value FROM alerts WHERE rule = 'quality_degradation'"
                                   ).fetchone()
        rule, subject, value = wait_for(alert)
        published = consume_all(fresh_broker.bootstrap, ["alerts"], expected=1)
    finally:
        stop(process)
    assert subject == f"region={base['region']}" and value == pytest.approx(4 / 12)
    assert json.loads(published[0].value())["rule"] == "quality_degradation"


def test_late_events_on_the_broker_update_their_window_inside_the_grace_period_and_are_counted_outside(
        fresh_broker, mixed_company, tmp_path):
    jobs = mixed_company.tables["jobs"]
    base = jobs[jobs["status"] == "completed"].iloc[0].to_dict()
    first = pd.Timestamp("2024-05-06 10:00")
    out = producer(fresh_broker.bootstrap)
    # One key, so one partition and this order: 10:00, 10:30 (watermark 10:30), 10:22 (its 5-minute
    # window closes at 10:35 with the 10-minute grace: added), 10:03 (closed at 10:15: late).
    for i, minutes in enumerate([0, 30, 22, 3]):
        done = first + timedelta(minutes=minutes)
        row = dict(base, job_id=f"L{i}", created_at=done - timedelta(days=1),
                   scheduled_start=done - timedelta(hours=2), completed_at=done)
        out.produce("work_orders", value=encode_event("jobs", row, done), key=b"one-key")
    out.flush(10)
    store = tmp_path / "ops.sqlite"
    process = start("operations", fresh_broker.bootstrap, store, tmp_path)
    try:
        live = LiveStore(OpsStore(store))
        counts = wait_for(lambda: (c := live.counts("operations")) and c.get("applied", 0) >= 4 and c)
    finally:
        stop(process)
    assert counts == {"applied": 4, "late": 1}
    windows = live.windows("jobs", "5m")
    windows = windows[windows["subject"].str.startswith("region=")].set_index("window_start")["n"]
    assert windows.to_dict() == {"2024-05-06T10:00:00": 1, "2024-05-06T10:20:00": 1, "2024-05-06T10:30:00": 1}

