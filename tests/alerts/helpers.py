"""Shared pieces of the alert tests: a fake clock, a fake metric, a recording channel, rule builders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from quantlib.alerts import AlertEngine, AlertPolicy, AlertRule, Observation, metric_source
from quantlib.alerts.channels import Message
from quantlib.alerts.sources import MetricContext
from quantlib.data.opstore import OpsStore

#: What the fake metric ``test:values`` returns: rule name -> list of (subject, value[, reference, lo, hi]).
VALUES: dict[str, list[tuple]] = {}


@metric_source("test:values")
def _values(context, rule):
    """Crafted observations for the tests (``VALUES[rule.name]``)."""
    out = []
    for row in VALUES.get(rule.name, []):
        subject, value, *rest = row
        reference, lo, hi = (list(rest) + [None, None, None])[:3]
        out.append(Observation(subject, value, reference, lo, hi, direction=rule.params.get("direction", "higher"),
                               unit="ratio"))
    return out


class FakeClock:
    """A clock tests move by hand (UTC)."""

    def __init__(self, start: datetime = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)):
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kwargs) -> None:
        self.t += timedelta(**kwargs)


class Recorder:
    """A channel that keeps what it is asked to send."""

    def __init__(self, name: str, fail: bool = False):
        self.name, self.fail, self.sent = name, fail, []

    def missing(self, message: Message, env):
        return None

    def send(self, message: Message, env):
        if self.fail:
            from quantlib.notify import DeliveryError

            raise DeliveryError(f"{self.name} down")
        self.sent.append(message)
        return "recorded"


def recorders() -> dict[str, Recorder]:
    return {n: Recorder(n) for n in ("dashboard", "email", "slack", "sms", "voice")}


def rule(name: str = "r", comparison: dict | None = None, **kw) -> AlertRule:
    data = {"name": name, "title": f"Rule {name}", "metric": "test:values", "category": "operational",
            "owner": "ops", "recipients": {"email": ["ops@example.com"], "sms": ["+447700900123"],
                                           "voice": ["+447700900123"]},
            "comparison": comparison or {"kind": "target"}}
    data.update(kw)
    return AlertRule.model_validate(data)


def engine(where, rules, clock=None, channels=None, policy=None, **kw) -> AlertEngine:
    """An engine on a fake clock with recording channels; ``where`` is a folder (a SQLite store
    there) or an :class:`OpsStore` (the ``ops_store`` fixture: SQLite and PostgreSQL)."""
    store = where if isinstance(where, OpsStore) else OpsStore(where / "ops.sqlite")
    return AlertEngine(store, rules, policy or AlertPolicy(), channels=channels if channels is not None
                       else recorders(), now=clock or FakeClock(), env=kw.pop("env", {}), **kw)


def check(eng: AlertEngine, **kw):
    return eng.check(MetricContext(None, None), **kw)
