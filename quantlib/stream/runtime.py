"""Run a processor on quixstreams: validate, dead-letter, apply to the live tables, raise alerts.

Each processor is one quixstreams ``Application`` (consumer group ``quant-<name>``) over its
input topic, read as raw bytes so that a malformed event reaches the validator instead of
crashing a deserializer:

1. every event is validated against its table's contract (:class:`~quantlib.stream.events.EventValidator`);
2. a failed one is published to the dead-letter topic with its reasons, keyed
   ``topic:partition:offset`` (a redelivery after a crash republishes the same key: readers
   keep one per key);
3. every event, failed or not, reaches :class:`LiveSink`, which applies the batch in one
   transaction with the partition's next offset (:meth:`quantlib.stream.live.LiveStore.apply`):
   a failed event counts as ``rejected``, a redelivered one as ``redelivered``, and nothing
   is counted twice;
4. after each checkpoint that applied events, the processor's alert rules are checked through
   the alert framework (dedup, levels, channels), and its outputs are published.

quixstreams runs at-least-once here, with ``use_changelog_topics=False``: why is in
:mod:`quantlib.stream.live`. The commit interval (``parameters/streams.yaml``,
``commit_interval``) bounds the latency from an event to its aggregate and alert.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from quixstreams.sinks.base import BaseSink

from quantlib.stream.events import EventValidator, dead_letter
from quantlib.stream.live import LiveStore, Processor

log = logging.getLogger(__name__)

DEAD_LETTER_TOPIC = "dead_letter"
#: Environment variable naming a folder where processors append their events' send and visible times.
LATENCY_ENV = "QUANT_STREAM_LATENCY_DIR"
ALERTS_TOPIC = "alerts"


class LiveSink(BaseSink):
    """The quixstreams sink that applies a checkpoint's events to the live tables (see the module doc).

    ``add`` collects each partition's events in offset order; ``flush`` (quixstreams calls it at
    each checkpoint, before committing the offsets) applies them all in one transaction.
    """

    def __init__(self, processor: Processor, store, bootstrap: str | None = None, alerts=None):
        super().__init__()
        self.processor = processor
        self.live = LiveStore(store)
        self.bootstrap = bootstrap
        self.alerts = alerts
        self._producer = None
        self._pending: dict[tuple[str, int], list] = defaultdict(list)
        self._sent_at: list[float] = []
        # Measurement hook (benchmarks.stream): where to append each event's producer send time and
        # the end of the checkpoint that made it visible (alerts included).
        folder = os.environ.get(LATENCY_ENV)
        self._latency_file = Path(folder) / f"{processor.name}-{os.getpid()}.f64" if folder else None

    def add(self, value, key, timestamp, headers, topic: str, partition: int, offset: int) -> None:
        self._pending[(topic, partition)].append((offset, value))

    def write(self, batches: list[tuple[str, int, list]]) -> int:
        """Apply ``(topic, partition, [(offset, checked)])`` batches; publish the outputs; return events applied."""
        result, counts = self.live.apply_batches(self.processor, batches)
        if self._latency_file is not None:
            self._sent_at.extend(result.sent_at)
        if result.outputs and self.bootstrap:
            for output in result.outputs:
                self._publish(output.topic, output.key, output.value)
            self._producer.flush(10)
        return counts["applied"]

    def _publish(self, topic: str, key: str, value: dict) -> None:
        from confluent_kafka import Producer

        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        self._producer.produce(topic, key=key.encode(), value=json.dumps(value, default=str,
                                                                         separators=(",", ":")).encode())

    def _publish_alerts(self, outcome) -> None:
        """Alerts opened or resolved by the check, to the alerts topic (keyed rule:subject)."""
        if not self.bootstrap:
            return
        changed = [a for a in outcome.alerts if a.get("count") == 1] + outcome.resolved
        for alert in changed:
            self._publish(ALERTS_TOPIC, f"{alert['rule']}:{alert['subject']}", alert)
        if changed:
            self._producer.flush(10)

    def flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(list)
        applied = self.write([(topic, partition, items) for (topic, partition), items in pending.items()]) \
            if pending else 0
        if applied and self.alerts is not None and self.processor.rules:
            from quantlib.alerts.sources import MetricContext

            try:
                outcome = self.alerts.check(MetricContext(store=self.alerts.store), names=list(self.processor.rules))
            except Exception:  # noqa: BLE001 - an alert failure must not stop the aggregates
                log.exception("processor %s: alert check failed", self.processor.name)
            else:
                self._publish_alerts(outcome)
        if self._sent_at:
            import numpy as np

            sent = np.asarray(self._sent_at, dtype=np.float64)
            visible = np.full(len(sent), time.time())
            with open(self._latency_file, "ab") as out:  # (sent at, visible at) pairs
                out.write(np.column_stack([sent, visible]).tobytes())
            self._sent_at = []


def alert_engine(store, rules_folder: str | Path | None = None):
    """The alert engine of the stream rules (``parameters/alerts``), or None when there are none."""
    from quantlib.alerts import AlertEngine, default_rules_folder, load_alerts

    rules, policy = load_alerts(rules_folder or default_rules_folder())
    return AlertEngine(store, rules, policy)


def build_application(processor: Processor, bootstrap: str, store, *, state_dir: str | Path,
                      commit_interval: float = 0.5, alerts=None, group_prefix: str = "quant-",
                      extra_consumer_config: dict[str, Any] | None = None):
    """The quixstreams application of ``processor`` (not started: call ``.run()``)."""
    from quixstreams import Application, message_context

    app = Application(
        broker_address=bootstrap, consumer_group=f"{group_prefix}{processor.name}", auto_offset_reset="earliest",
        commit_interval=commit_interval, use_changelog_topics=False, auto_create_topics=False,
        state_dir=str(state_dir), loglevel="WARNING", processing_guarantee="at-least-once",
        # Tansu's group joins take ~20 s with the default session timeout (../shared/FACTS.md).
        consumer_extra_config={"session.timeout.ms": 6000, **(extra_consumer_config or {})},
    )
    source = app.topic(processor.topic, value_deserializer="bytes", key_deserializer="bytes")
    dead = app.topic(DEAD_LETTER_TOPIC, value_serializer="bytes", key_serializer="str")
    validator = EventValidator(processor.tables)

    def check(raw: bytes):
        return raw, validator.check(raw)

    def to_dead_letter(pair) -> bytes:
        context = message_context()
        return dead_letter(pair[0], context.topic, context.partition, context.offset, pair[1].problems)

    def dead_letter_key(_value) -> str:
        context = message_context()
        return f"{context.topic}:{context.partition}:{context.offset}"

    checked = app.dataframe(source).apply(check)
    checked.filter(lambda pair: not pair[1].ok).apply(to_dead_letter).to_topic(dead, key=dead_letter_key)
    checked.apply(lambda pair: pair[1]).sink(LiveSink(processor, store, bootstrap, alerts))
    return app


def run_processor(name: str, bootstrap: str, *, store=None, lake: str | Path | None = None,
                  commit_interval: float = 0.5, state_dir: str | Path | None = None,
                  with_alerts: bool = True) -> None:
    """Run processor ``name`` until stopped (SIGTERM / SIGINT: quixstreams commits and exits)."""
    from quantlib.config import project_root
    from quantlib.data.opstore import open_ops_store
    from quantlib.stream.processors import get_processor
    from quantlib.stream.reference import load_reference

    store = store or open_ops_store()
    processor = get_processor(name)(load_reference(lake))
    engine = alert_engine(store) if with_alerts and processor.rules else None
    state = Path(state_dir or project_root() / ".cache" / "stream" / "state") / name
    state.mkdir(parents=True, exist_ok=True)
    app = build_application(processor, bootstrap, store, state_dir=state, commit_interval=commit_interval,
                            alerts=engine)
    log.info("processor %s on %s (pid %d)", name, bootstrap, os.getpid())
    app.run()
