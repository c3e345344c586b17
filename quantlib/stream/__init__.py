"""Real-time analytics on Kafka: configuration, the broker and topics, events and their replay.

The code speaks only the Kafka protocol, so the same commands run against the local broker
(Tansu, started by ``quant stream up``) or a production cluster (``--brokers`` or
``parameters/streams.yaml``). See ``docs/stream.md``.
"""

from quantlib.stream.broker import BrokerError, LocalBroker, describe_topics, ensure_topics
from quantlib.stream.config import StreamConfigError, StreamSettings, load_stream_settings
from quantlib.stream.events import Checked, EventValidator, Problem, dead_letter, encode_event, event_model
from quantlib.stream.replay import ReplayError, ReplaySummary, load_events, replay

__all__ = [
    "BrokerError", "Checked", "EventValidator", "LocalBroker", "Problem", "ReplayError", "ReplaySummary",
    "StreamConfigError", "StreamSettings", "dead_letter", "describe_topics", "encode_event", "ensure_topics",
    "event_model", "load_events", "load_stream_settings", "replay",
]
