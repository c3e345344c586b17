"""Replay a generated company's events into the input topics, in event-time order.

``quant stream replay --company C --speed 600`` reads the company's raw exports (the tables
``parameters/streams.yaml`` maps to input topics), turns each row into an event
(:func:`quantlib.stream.events.encode_event`) and sends it when its event time comes round on
a clock running ``speed`` times faster than the company's (600: a day in 144 seconds; 0: as
fast as the broker takes them). The Kafka message timestamp is the event time, so windows
downstream are in event time whatever the replay speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.errors import QuantError
from quantlib.stream.config import StreamSettings
from quantlib.stream.events import encode_event


class ReplayError(QuantError, ValueError):
    """The company's raw exports cannot be replayed (the message names the file)."""


@dataclass
class ReplaySummary:
    """What a replay sent: events per topic, the event-time span and the wall time."""

    sent: dict[str, int] = field(default_factory=dict)
    first_event: pd.Timestamp | None = None
    last_event: pd.Timestamp | None = None
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())


EVENT_COLUMNS = ["topic", "table", "key", "event_time", "row"]


def _events(topic: str, source, rows: pd.DataFrame, start=None, end=None) -> pd.DataFrame:
    """``rows`` of ``source.table`` as events of ``topic``: dated by the first of its time columns set."""
    times = pd.to_datetime(rows[source.time[0]])
    for column in source.time[1:]:
        times = times.fillna(pd.to_datetime(rows[column]))
    keep = times.notna()
    if start is not None:
        keep &= times >= pd.Timestamp(start)
    if end is not None:
        keep &= times < pd.Timestamp(end)
    rows, times = rows[keep], times[keep]
    return pd.DataFrame({"topic": topic, "table": source.table, "key": rows[source.key].astype(str).to_numpy(),
                         "event_time": times.to_numpy(),
                         "row": rows.astype(object).where(rows.notna(), None).to_dict("records")},
                        columns=EVENT_COLUMNS)


def _in_time_order(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values("event_time", kind="stable", ignore_index=True)


def load_events(raw: str | Path, settings: StreamSettings, start=None, end=None,
                limit: int | None = None) -> pd.DataFrame:
    """The events to replay, in event-time order.

    Parameters
    ----------
    raw : path
        The company's raw exports (``data/demo/<company>/raw``), one Parquet file per table.
    settings : StreamSettings
        Which tables feed which topic (``sources``).
    start, end : date-like, optional
        Keep events with ``start <= event_time < end``.
    limit : int, optional
        Keep the first ``limit`` events (after ``start``).

    Returns
    -------
    DataFrame
        ``topic, table, key, event_time, row`` (``row`` a dict of the row), sorted by event time.
    """
    raw = Path(raw)
    frames = []
    for topic, sources in settings.sources.items():
        for source in sources:
            path = raw / f"{source.table}.parquet"
            if not path.is_file():
                raise ReplayError(f"{path}: missing (generate the company first: quant generate)")
            frames.append(_events(topic, source, pd.read_parquet(path), start, end))
    if not frames:
        raise ReplayError("parameters/streams.yaml maps no table to an input topic (sources)")
    events = _in_time_order(frames)
    return events.head(limit) if limit is not None else events


def table_events(table: str, rows: pd.DataFrame, settings: StreamSettings) -> pd.DataFrame:
    """``rows`` of ``table`` as events for the topic that carries it (empty when none does), in time order."""
    return _in_time_order([_events(topic, source, rows) for topic, sources in settings.sources.items()
                           for source in sources if source.table == table and not rows.empty])


def producer(bootstrap: str, extra: dict | None = None):
    """A confluent-kafka producer tuned for throughput with delivery guaranteed (acks=all, idempotent)."""
    from confluent_kafka import Producer

    config = {"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all", "enable.idempotence": True,
              "compression.type": "none", "queue.buffering.max.messages": 1_000_000}
    config.update(extra or {})
    return Producer(config)


def replay(events: pd.DataFrame, bootstrap: str, speed: float = 0.0, progress=None) -> ReplaySummary:
    """Send ``events`` (from :func:`load_events`) to their topics on ``bootstrap``.

    Parameters
    ----------
    speed : float
        How many times faster than the company's clock (0: as fast as possible).
    progress : callable, optional
        Called with the number of events sent so far, every 1,000 events.

    Raises
    ------
    ReplayError
        When the broker did not acknowledge every event (the count is in the message).
    """
    summary = ReplaySummary()
    if events.empty:
        return summary
    out = producer(bootstrap)
    failed = []

    def on_delivery(error, message):
        if error is not None:
            failed.append(error)

    times = pd.to_datetime(events["event_time"])
    first = times.iloc[0]
    offsets = ((times - first).dt.total_seconds() / speed).to_numpy() if speed > 0 else np.zeros(len(events))
    stamps_ms = (times.astype("int64") // 1_000_000).to_numpy()
    began = time.monotonic()
    counts: dict[str, int] = {}
    for i, (topic, table, key, event_time, row) in enumerate(events[["topic", "table", "key", "event_time", "row"]]
                                                                .itertuples(index=False, name=None)):
        wait = offsets[i] - (time.monotonic() - began)
        if wait > 0:
            out.flush(wait)  # deliver what is queued while the clock catches up
            remaining = offsets[i] - (time.monotonic() - began)
            if remaining > 0:
                time.sleep(remaining)
        value = encode_event(table, row, pd.Timestamp(event_time))
        while True:
            try:
                out.produce(topic, value=value, key=key.encode(), timestamp=int(stamps_ms[i]), on_delivery=on_delivery)
                break
            except BufferError:
                out.poll(0.05)
        out.poll(0)
        counts[topic] = counts.get(topic, 0) + 1
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    left = out.flush(60)
    if left or failed:
        raise ReplayError(f"the broker at {bootstrap} did not acknowledge {left + len(failed)} of "
                          f"{len(events)} events ({failed[0] if failed else 'timed out'})")
    summary.sent = counts
    summary.first_event, summary.last_event = times.iloc[0], times.iloc[-1]
    summary.seconds = time.monotonic() - began
    if progress is not None:
        progress(len(events))
    return summary
