"""The engine on a fake clock: dedup, level changes, resolve, escalation, quiet hours, snooze, digest, storms.

Tests taking ``ops_store`` run once on SQLite and once on PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest

from quantlib.alerts import AlertEngine, AlertError, AlertPolicy, parse_duration
from quantlib.errors import AlertEvent, AlertLevel, AlertState
from tests.alerts.helpers import VALUES, FakeClock, Recorder, check, engine, recorders, rule

CRITICAL_DROP = 60.0   # 40 % below a target of 100
WARNING_DROP = 75.0    # 25 %
INFO_DROP = 85.0       # 15 %


@pytest.fixture(autouse=True)
def _clean_values():
    VALUES.clear()
    yield
    VALUES.clear()


def _sent(channels, name, kind=None):
    return [m for m in channels[name].sent if kind is None or m.kind == kind]


def _events(eng, alert_id):
    return [h["event"] for h in eng.history(alert_id)]


def test_one_alert_per_rule_and_subject_updated_not_repeated(ops_store):
    chans, clock = recorders(), FakeClock()
    eng = engine(ops_store, [rule("r")], clock, chans)
    VALUES["r"] = [("company", WARNING_DROP, 100)]
    out = check(eng)
    assert [(a["rule"], a["subject"], a["level"], a["state"]) for a in out.alerts] == [
        ("r", "company", "warning", "open")]
    assert len(_sent(chans, "email")) == 1 and _sent(chans, "sms") == []  # warning: no SMS
    for _ in range(3):
        clock.advance(minutes=5)
        VALUES["r"] = [("company", WARNING_DROP - 1, 100)]
        check(eng)
    [alert] = eng.alerts()
    assert alert["count"] == 4 and alert["value"] == WARNING_DROP - 1
    assert len(_sent(chans, "email")) == 1  # updated, not repeated
    assert _events(eng, alert["id"]) == ["opened", "notified", "notified"]  # e-mail + Slack of the first check


def test_a_rising_level_is_news_a_falling_one_is_not(ops_store):
    chans = recorders()
    eng = engine(ops_store, [rule("r")], FakeClock(), chans)
    VALUES["r"] = [("company", WARNING_DROP, 100)]
    check(eng)
    VALUES["r"] = [("company", CRITICAL_DROP, 100)]
    check(eng)
    assert [m.level for m in _sent(chans, "email")] == [AlertLevel.WARNING, AlertLevel.CRITICAL]
    assert len(_sent(chans, "sms")) == len(_sent(chans, "voice")) == 1
    VALUES["r"] = [("company", WARNING_DROP, 100)]
    check(eng)
    assert len(_sent(chans, "email")) == 2
    VALUES["r"] = [("company", CRITICAL_DROP, 100)]
    check(eng)  # back up: critical again is news
    assert len(_sent(chans, "email")) == 3
    [alert] = eng.alerts()
    assert _events(eng, alert["id"]).count("level_changed") == 3


def test_cleared_alerts_resolve_with_a_message_to_those_told(ops_store):
    chans = recorders()
    eng = engine(ops_store, [rule("r")], FakeClock(), chans)
    VALUES["r"] = [("a", WARNING_DROP, 100), ("b", INFO_DROP, 100)]
    check(eng)
    VALUES["r"] = []
    out = check(eng)
    assert sorted(a["subject"] for a in out.resolved) == ["a", "b"]
    assert {a["state"] for a in eng.alerts()} == {"resolved"}
    # Only "a" was told (info goes to the dashboard and the digest, not e-mail).
    assert [m.title for m in _sent(chans, "email", "resolution")] == ["RESOLVED r: a"]
    VALUES["r"] = [("a", WARNING_DROP, 100)]
    check(eng)
    assert len(eng.alerts(open_only=True)) == 1 and len(eng.alerts()) == 3  # a new alert, the old one kept


def test_a_rule_that_fails_or_has_no_data_keeps_its_alerts(tmp_path):
    from quantlib.alerts import MetricUnavailable, metric_source

    calls = {"n": 0}

    @metric_source("test:flaky")
    def _flaky(context, r):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database locked")
        if calls["n"] == 3:
            raise MetricUnavailable("no data in the window")
        from quantlib.alerts import Observation
        return [Observation("company", 50.0, 100.0)]

    eng = engine(tmp_path, [rule("f", metric="test:flaky")])
    check(eng)
    out = check(eng)
    assert out.errors and "database locked" in out.errors[0].error
    out = check(eng)
    assert out.results[0].unavailable == "no data in the window"
    assert eng.alerts(open_only=True)[0]["count"] == 1  # still open, untouched


def test_critical_escalates_when_not_acknowledged_in_time(ops_store):
    chans, clock = recorders(), FakeClock()
    policy = AlertPolicy(escalation={"after_minutes": 15, "recipients": {"email": ["boss@example.com"],
                                                                         "sms": ["+447700900999"]}})
    eng = engine(ops_store, [rule("r")], clock, chans, policy)
    VALUES["r"] = [("company", CRITICAL_DROP, 100)]
    check(eng)
    clock.advance(minutes=14, seconds=59)
    check(eng)
    assert _sent(chans, "email", "escalation") == []
    clock.advance(seconds=1)
    check(eng)
    [esc] = _sent(chans, "email", "escalation")
    assert esc.targets == ("boss@example.com",)
    assert _sent(chans, "sms", "escalation")[0].targets == ("+447700900999",)
    clock.advance(hours=1)
    check(eng)
    assert len(_sent(chans, "email", "escalation")) == 1  # once
    [alert] = eng.alerts()
    assert alert["escalated_at"] is not None and "escalated" in _events(eng, alert["id"])


def test_acknowledged_or_snoozed_criticals_do_not_escalate(ops_store):
    chans, clock = recorders(), FakeClock()
    eng = engine(ops_store, [rule("a"), rule("s")], clock, chans)
    VALUES["a"] = [("company", CRITICAL_DROP, 100)]
    VALUES["s"] = [("company", CRITICAL_DROP, 100)]
    check(eng)
    ids = {a["rule"]: a["id"] for a in eng.alerts()}
    clock.advance(minutes=5)
    assert eng.acknowledge(ids["a"])["state"] == "acknowledged"
    assert eng.snooze(ids["s"], "2h")["state"] == "snoozed"
    clock.advance(minutes=30)
    check(eng)
    assert _sent(chans, "email", "escalation") == []
    # The snooze runs out while still breaching: open again, and escalation follows in time.
    clock.advance(hours=2)
    check(eng)
    assert {a["rule"]: a["state"] for a in eng.alerts()} == {"a": "acknowledged", "s": "open"}
    assert "unsnoozed" in _events(eng, ids["s"])
    clock.advance(minutes=1)
    check(eng)
    assert [m.alert_ids for m in _sent(chans, "email", "escalation")] == [(ids["s"],)]


def test_quiet_hours_hold_non_critical_messages_not_critical_ones(ops_store):
    chans = recorders()
    clock = FakeClock(dt.datetime(2026, 12, 7, 23, 0, tzinfo=dt.timezone.utc))
    policy = AlertPolicy(timezone="UTC", quiet_hours={"start": "22:00", "end": "07:00"})
    eng = engine(ops_store, [rule("w"), rule("c")], clock, chans, policy)
    VALUES["w"] = [("company", WARNING_DROP, 100)]
    VALUES["c"] = [("company", CRITICAL_DROP, 100)]
    check(eng)
    assert [m.title.split()[0] for m in _sent(chans, "email")] == ["CRITICAL"]
    w = next(a for a in eng.alerts() if a["rule"] == "w")
    clock.advance(hours=1)
    check(eng)  # still quiet: deferred once, not again
    assert _events(eng, w["id"]).count("deferred") == 1
    clock.t = dt.datetime(2026, 12, 8, 7, 0, tzinfo=dt.timezone.utc)
    check(eng)
    assert sorted(m.title.split()[0] for m in _sent(chans, "email", "alert")) == ["CRITICAL", "WARNING"]


def test_quiet_hours_follow_the_policy_time_zone():
    from quantlib.alerts.rules import QuietHours

    q = QuietHours(start=dt.time(22), end=dt.time(7))
    assert q.contains(dt.time(23)) and q.contains(dt.time(6, 59)) and not q.contains(dt.time(7))
    assert not QuietHours(start=dt.time(13), end=dt.time(14)).contains(dt.time(14))
    policy = AlertPolicy(timezone="America/New_York", quiet_hours={"start": "22:00", "end": "07:00"})
    e = AlertEngine(None, [], policy)
    # 03:00 UTC is 22:00 in New York (EST): quiet there.
    assert e._quiet(dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.timezone.utc))
    assert not e._quiet(dt.datetime(2026, 12, 8, 2, 59, tzinfo=dt.timezone.utc))


def test_info_alerts_go_to_the_daily_digest_once_a_day(ops_store):
    chans = recorders()
    clock = FakeClock(dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.timezone.utc))
    policy = AlertPolicy(timezone="UTC", digest_at="08:00", digest_recipients={"email": ["ops@example.com"]})
    eng = engine(ops_store, [rule("r", category="financial"), rule("q")], clock, chans, policy)
    VALUES["r"] = [("a", INFO_DROP, 100), ("b", INFO_DROP, 100)]
    VALUES["q"] = [("x", INFO_DROP, 100)]
    check(eng)
    assert _sent(chans, "email") == []  # info: nothing immediate, digest not due before 08:00
    clock.advance(hours=1)
    check(eng)
    [digest] = _sent(chans, "email", "digest")
    assert digest.targets == ("ops@example.com",) and len(digest.alert_ids) == 3
    assert "financial (2)" in digest.body and "operational (1)" in digest.body
    clock.advance(hours=3)
    check(eng)
    assert len(_sent(chans, "email", "digest")) == 1
    clock.advance(days=1)
    check(eng)
    assert len(_sent(chans, "email", "digest")) == 2


def test_dry_run_changes_no_state_and_sends_nothing(ops_store):
    chans = recorders()
    eng = engine(ops_store, [rule("r")], FakeClock(), chans)
    VALUES["r"] = [("company", CRITICAL_DROP, 100)]
    out = check(eng, dry_run=True)
    assert out.alerts and {d.status for d in out.deliveries} == {"dry-run"}
    assert {d.message.channel for d in out.deliveries} == {"dashboard", "email", "slack", "sms", "whatsapp", "voice"}
    assert all(not c.sent for c in chans.values())
    assert eng.alerts() == [] and eng.history() == []


def test_a_storm_of_10000_breaching_rows_is_one_alert_per_rule_and_subject(tmp_path):
    chans, clock = recorders(), FakeClock()
    eng = engine(tmp_path, [rule("r1"), rule("r2")], clock, chans)
    for name in ("r1", "r2"):
        VALUES[name] = [(f"tech {i % 5}", 60.0 + (i % 30), 100.0) for i in range(10_000)]
    for _ in range(3):
        check(eng)
        clock.advance(minutes=1)
    alerts = eng.alerts()
    assert len(alerts) == 10
    assert sorted({(a["rule"], a["subject"]) for a in alerts}) == sorted(
        (r, f"tech {i}") for r in ("r1", "r2") for i in range(5))
    assert {a["count"] for a in alerts} == {3}
    assert len(_sent(chans, "email")) == 10


def test_concurrent_checks_keep_one_alert_per_rule_and_subject(ops_store):
    # Several checks at once (cron overlapping a manual run) read "no open alert" and insert:
    # serialised writers make each see the previous one's alert, so nothing is duplicated or lost.
    import threading

    from quantlib.alerts.engine import RuleResult
    from quantlib.alerts.evaluate import Finding

    rules = [rule(f"r{i}") for i in range(3)]
    eng = engine(ops_store, rules, FakeClock(), {})
    results = [RuleResult(r.name, [Finding(r.name, s, "operational", AlertLevel.WARNING, WARNING_DROP, 100.0, None,
                                           -0.25, f"{r.name} {s}") for s in ("a", "b")]) for r in rules]
    start, errors = threading.Barrier(6), []

    def run():
        start.wait()
        try:
            for _ in range(3):
                eng.apply(results)
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    alerts = eng.alerts()
    assert len(alerts) == 6 and {a["count"] for a in alerts} == {18}
    assert sum(_events(eng, a["id"]).count("opened") for a in alerts) == 6


def test_a_failed_channel_is_recorded_and_retried_a_skipped_one_is_not(ops_store):
    chans = recorders()
    chans["email"] = Recorder("email", fail=True)
    eng = engine(ops_store, [rule("r")], FakeClock(), chans)
    VALUES["r"] = [("company", WARNING_DROP, 100)]
    out = check(eng)
    assert {d.message.channel: d.status for d in out.deliveries} == {"dashboard": "sent", "email": "failed",
                                                                    "slack": "sent"}
    out = check(eng)  # retried (the alert's "sent" mark was undone)
    assert [d.status for d in out.deliveries if d.message.channel == "email"] == ["failed"]
    chans["email"].fail = False
    check(eng)
    assert len(chans["email"].sent) == 1
    check(eng)
    assert len(chans["email"].sent) == 1


def test_channels_without_credentials_are_skipped_with_a_clear_line(tmp_path):
    from quantlib.alerts.channels import default_channels

    eng = engine(tmp_path, [rule("r")], FakeClock(), default_channels(), env={})
    VALUES["r"] = [("company", CRITICAL_DROP, 100)]
    out = check(eng)
    lines = {d.message.channel: (d.status, d.detail) for d in out.deliveries}
    assert lines["dashboard"][0] == "sent"
    assert lines["email"] == ("skipped", "email skipped: QUANT_SMTP_HOST is not set")
    assert lines["slack"] == ("skipped", "slack skipped: QUANT_SLACK_WEBHOOK_ALERTS is not set")
    assert lines["sms"] == ("skipped", "sms skipped: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, QUANT_TWILIO_FROM "
                                       "are not set")
    assert lines["voice"][0] == "skipped"
    assert lines["whatsapp"] == ("skipped", "whatsapp skipped: the rule has no whatsapp numbers")
    [alert] = eng.alerts()
    assert _events(eng, alert["id"]).count("skipped") == 5


def test_every_state_change_is_in_the_history(ops_store):
    clock = FakeClock()
    eng = engine(ops_store, [rule("r")], clock)
    VALUES["r"] = [("company", WARNING_DROP, 100)]
    check(eng)
    [alert] = eng.alerts()
    clock.advance(minutes=1)
    eng.acknowledge(alert["id"])
    eng.snooze(alert["id"], timedelta(minutes=30))
    done, deliveries = eng.resolve(alert["id"])
    assert done["state"] == AlertState.RESOLVED and done["resolved_at"]
    states = [(h["event"], h["from_state"], h["to_state"]) for h in eng.history(alert["id"])
              if h["event"] not in (AlertEvent.NOTIFIED, AlertEvent.SKIPPED)]
    assert states == [("opened", None, "open"), ("acknowledged", "open", "acknowledged"),
                      ("snoozed", "acknowledged", "snoozed"), ("resolved", "snoozed", "resolved")]
    assert {d.message.kind for d in deliveries} == {"resolution"}
    with pytest.raises(AlertError, match="already resolved"):
        eng.resolve(alert["id"])
    with pytest.raises(AlertError, match="is resolved"):
        eng.acknowledge(alert["id"])
    with pytest.raises(AlertError, match="no alert #999"):
        eng.snooze(999, "1h")


@pytest.mark.parametrize("text, expected", [("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)),
                                            ("1d", timedelta(days=1)), ("1.5h", timedelta(minutes=90)),
                                            ("45s", timedelta(seconds=45))])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "-1h", "0m", "2 hours", "1y"])
def test_bad_durations(text):
    with pytest.raises(AlertError, match="like 30m, 2h or 1d"):
        parse_duration(text)
