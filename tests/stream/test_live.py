"""The live tables: a batch and its partition's offset in one transaction; redelivered events skipped;
late events counted; state kept with the offsets. On SQLite and PostgreSQL."""

from datetime import datetime, timedelta

import pytest

from quantlib.stream.events import Checked
from quantlib.stream.live import BatchResult, Contribution, LiveStore, Processor
from quantlib.stream.windows import hopping, tumbling


class Counter(Processor):
    """Counts events per subject in 5-minute and hourly windows; keeps a running total per key."""

    name = "counter"
    topic = "t"
    tables = ("telemetry",)
    windows = (tumbling("5m", 5), hopping("1h", 60, 15))
    grace = timedelta(minutes=10)

    def state_keys(self, events):
        return {c.row["key"] for c in events}

    def process(self, events, state):
        result = BatchResult()
        for index, checked in enumerate(events):
            key = checked.row["key"]
            state[key] = state.get(key, 0) + 1
            result.contributions.append((index, Contribution("events", key, checked.row["value"])))
        return result


def event(minute, key="a", value=1.0, ok=True):
    when = datetime(2024, 3, 1, 10) + timedelta(minutes=minute)
    if not ok:
        return Checked("telemetry", problems=["bad"])
    return Checked("telemetry", row={"key": key, "value": value}, event_time=when, sent_at=1.0)


def total(live, span="5m", subject="a"):
    frame = live.windows("events", span)
    return float(frame[frame["subject"] == subject]["n"].sum())


def test_a_batch_is_applied_once_even_when_delivered_again(ops_store):
    live, proc = LiveStore(ops_store), Counter()
    batch = [(0, event(0)), (1, event(1)), (2, event(2, ok=False)), (3, event(3, key="b"))]
    _, counts = live.apply(proc, "t", 0, batch)
    assert counts == {"applied": 3, "rejected": 1, "late": 0, "redelivered": 0}
    # The same events again (a crash before the offset commit) and one new: only the new one counts.
    _, counts = live.apply(proc, "t", 0, batch + [(4, event(4))])
    assert counts == {"applied": 1, "rejected": 0, "late": 0, "redelivered": 4}
    assert total(live) == 3 and total(live, subject="b") == 1
    assert live.state("counter") == {"a": 3, "b": 1}
    assert live.counts("counter") == {"applied": 4, "rejected": 1, "redelivered": 4}
    # A batch delivered again as a whole changes nothing but the redelivery count.
    _, counts = live.apply(proc, "t", 0, batch)
    assert counts == {"applied": 0, "rejected": 0, "late": 0, "redelivered": 4}
    assert live.counts("counter")["redelivered"] == 8 and total(live) == 3
    # Another partition has its own offsets.
    _, counts = live.apply(proc, "t", 1, [(0, event(5))])
    assert counts["applied"] == 1


def test_hourly_hopping_windows_each_take_the_event(ops_store):
    live = LiveStore(ops_store)
    live.apply(Counter(), "t", 0, [(0, event(7, value=2.5))])
    frame = live.windows("events", "1h")
    assert len(frame) == 4 and set(frame["total"]) == {2.5}


def test_late_events_inside_the_grace_period_count_and_outside_are_counted_late(ops_store):
    live, proc = LiveStore(ops_store), Counter()
    live.apply(proc, "t", 0, [(0, event(0)), (1, event(30))])  # watermark 10:30
    # 10:22 sits in [10:20, 10:25), open until 10:35: added.
    _, counts = live.apply(proc, "t", 0, [(2, event(22))])
    assert counts["late"] == 0
    frame = live.windows("events", "5m").set_index("window_start")
    assert frame.loc["2024-03-01T10:20:00", "n"] == 1
    # 10:03 sits in [10:00, 10:05), closed at 10:15: counted late, not added to it.
    _, counts = live.apply(proc, "t", 0, [(3, event(3))])
    assert counts["late"] == 1
    frame = live.windows("events", "5m").set_index("window_start")
    assert frame.loc["2024-03-01T10:00:00", "n"] == 1
    assert live.counts("counter")["late"] == 1
    # Its hourly windows still open ([9:30, 10:30) closes at 10:40) took it; a closed one did not.
    hourly = live.windows("events", "1h").set_index("window_start")
    assert hourly.loc["2024-03-01T09:30:00", "n"] == 3  # 10:00, 10:22 and the late 10:03
    assert hourly.loc["2024-03-01T09:15:00", "n"] == 1  # closed at 10:25: only 10:00


def test_current_windows_are_the_fullest_open_ones_at_the_watermark(ops_store):
    live, proc = LiveStore(ops_store), Counter()
    live.apply(proc, "t", 0, [(i, event(m)) for i, m in enumerate([0, 10, 20, 50])])
    current = live.current("events", "1h", "counter")
    [row] = current.itertuples(index=False)
    # Watermark 10:50: open hourly windows start 10:00, 10:15, 10:30, 10:45; the fullest is 10:00.
    assert row.window_start == "2024-03-01T10:00:00" and row.n == 4
    assert row.hours == pytest.approx(50 / 60)
