"""The alert engine: rules in, alert state in the operational store, messages out.

Behaviour (Alertmanager is the anchor):

* **Deduplication.** One open alert per rule x subject: a rule still breaching updates its
  alert (value, level, count, last seen) instead of repeating it; a unique index in the store
  enforces it. A new message goes out only when an alert opens or its level goes up.
* **Routing by level** (the spec): ``info`` to the dashboard and the daily digest;
  ``warning`` to the dashboard, e-mail and Slack at once; ``critical`` to those plus SMS and a
  phone call at once.
* **Escalation.** A critical alert not acknowledged within ``policy.escalation.after_minutes``
  of its first message goes to the management team (e-mail, SMS, call), once.
* **Quiet hours.** Non-critical messages are held back during ``policy.quiet_hours`` (local
  time) and go out at the first check after them; critical ones always go.
* **Acknowledge / snooze / resolve.** An acknowledged alert is not escalated and gets no new
  message unless its level goes up; a snoozed one gets none until its snooze ends; an alert
  whose rule stops breaching is resolved, with a resolution message to those who were told.
* **Digest.** Once a day after ``policy.digest_at`` (local time), every open info alert in one
  e-mail, grouped by category.

Every state change (and every delivery, skip or failure) is a row of ``alert_history``. Time
comes from an injectable clock (``now``), so tests drive dedup, escalation and quiet hours on a
fake one. A dry run does everything inside a transaction that is rolled back and sends nothing.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping

from quantlib.alerts.channels import DEFAULT_SLACK_ENV, Channel, Message, default_channels
from quantlib.alerts.evaluate import Finding, evaluate_observations
from quantlib.alerts.rules import AlertPolicy, AlertRule, Recipients
from quantlib.alerts.sources import MetricContext, MetricUnavailable, observe
from quantlib.data.opstore import OpsStore, iso_utc
from quantlib.errors import AlertEvent, AlertLevel, AlertState, QuantError
from quantlib.notify import DeliveryError

__all__ = ["AlertEngine", "AlertError", "CheckOutcome", "Delivery", "RuleResult", "parse_duration"]

Clock = Callable[[], datetime]
#: A connection of :meth:`OpsStore.transaction` / :meth:`OpsStore.reading` (SQLite or PostgreSQL: same SQL).
Connection = Any
#: One stored row, read by column name (``sqlite3.Row`` or :class:`quantlib.data.opstore_pg.Row`).
Row = Any


class AlertError(QuantError, ValueError):
    """An alert command cannot be done (unknown id, already resolved, bad duration)."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d`` (also ``45s``, ``1w``) as a timedelta.

    Raises
    ------
    AlertError
        For anything else, or a duration that is not positive.
    """
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = str(text).strip().lower()
    number, unit = text[:-1], text[-1:]
    try:
        amount = float(number)
    except ValueError:
        amount = float("nan")
    if unit not in units or not amount > 0:
        raise AlertError(f"duration {text!r}: use a positive number and a unit, like 30m, 2h or 1d")
    return timedelta(**{units[unit]: amount})


@dataclass
class RuleResult:
    """How one rule's evaluation went: its findings, or why it has none."""

    rule: str
    findings: list[Finding] = field(default_factory=list)
    observations: int = 0
    unavailable: str | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """What happened to one message: ``sent``, ``skipped`` (with why), ``failed`` or ``dry-run``."""

    message: Message
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:>7} {self.message.describe()}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class CheckOutcome:
    """The result of :meth:`AlertEngine.check`.

    Attributes
    ----------
    results : list of RuleResult
    alerts : list of dict
        Every alert that is breaching now (after dedup), as stored: ``id, rule, subject, level,
        state, value, count, ...``.
    resolved : list of dict
        Alerts resolved by this check because their rule stopped breaching.
    deliveries : list of Delivery
    dry_run : bool
    """

    results: list[RuleResult] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    resolved: list[dict] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    dry_run: bool = False

    @property
    def errors(self) -> list[RuleResult]:
        return [r for r in self.results if r.error]

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "alerts": self.alerts,
            "resolved": self.resolved,
            "rules": [{"rule": r.rule, "findings": len(r.findings), "observations": r.observations,
                       "unavailable": r.unavailable, "error": r.error, "seconds": round(r.seconds, 4)}
                      for r in self.results],
            "deliveries": [{"status": d.status, "kind": d.message.kind, "channel": d.message.channel,
                            "targets": list(d.message.targets), "title": d.message.title,
                            "alert_ids": list(d.message.alert_ids), "detail": d.detail} for d in self.deliveries],
        }


#: Which channels each level reaches at once (info: the dashboard, then the digest).
LEVEL_CHANNELS = {
    AlertLevel.INFO: ("dashboard",),
    AlertLevel.WARNING: ("dashboard", "email", "slack"),
    AlertLevel.CRITICAL: ("dashboard", "email", "slack", "sms", "whatsapp", "voice"),
}
_ORDER = {lvl.value: lvl.rank for lvl in AlertLevel}


def _targets(channel: str, recipients: Recipients) -> tuple[str, ...]:
    if channel == "email":
        return recipients.email
    if channel == "sms":
        return recipients.sms
    if channel == "voice":
        return recipients.voice
    if channel == "whatsapp":
        return recipients.whatsapp
    if channel == "slack":
        return (recipients.slack_env or DEFAULT_SLACK_ENV,)
    return ()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class AlertEngine:
    """Evaluate rules, keep alert state, send messages.

    Parameters
    ----------
    store : OpsStore
    rules : iterable of AlertRule
    policy : AlertPolicy, optional
    channels : mapping of name to Channel, optional
        Default :func:`~quantlib.alerts.channels.default_channels`.
    now : callable, optional
        The clock (timezone-aware UTC datetimes); default the system clock.
    env : mapping, optional
        Where channels read their settings and secrets (default ``os.environ``).
    """

    def __init__(self, store: OpsStore, rules: Iterable[AlertRule], policy: AlertPolicy | None = None,
                 channels: Mapping[str, Channel] | None = None, now: Clock | None = None,
                 env: Mapping[str, str] | None = None):
        self.store = store
        self.rules = {r.name: r for r in rules if r.enabled}
        self.policy = policy or AlertPolicy()
        self.channels = dict(channels) if channels is not None else default_channels()
        self.now = now or _utc_now
        self.env = env

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, context: MetricContext, names: Iterable[str] | None = None) -> list[RuleResult]:
        """Every rule's (or the ``names``d rules') findings in ``context``; a failing rule is reported,
        the others still run."""
        chosen = None if names is None else set(names)
        if context.store is None:  # slow sources keep their value per gold build there
            context.store = self.store
        results = []
        for rule in self.rules.values():
            if chosen is not None and rule.name not in chosen:
                continue
            started = time.perf_counter()
            result = RuleResult(rule.name)
            try:
                observations = observe(context, rule)
                result.observations = len(observations)
                result.findings = evaluate_observations(rule, observations)
            except MetricUnavailable as exc:
                result.unavailable = str(exc)
            except Exception as exc:  # one broken rule must not silence the others
                from quantlib.schedule.history import one_line

                result.error = one_line(exc)
            result.seconds = time.perf_counter() - started
            results.append(result)
        return results

    def check(self, context: MetricContext, *, dry_run: bool = False,
              names: Iterable[str] | None = None) -> CheckOutcome:
        """Evaluate every rule (or the ``names``d ones) and apply the findings (see :meth:`apply`).

        Alerts of rules left out stay as they are (never resolved for lack of a finding), but
        their escalations and digests still happen, with their rules' recipients.
        """
        if dry_run:  # a dry run changes no state, a source's cache included
            context.remember = False
        return self.apply(self.evaluate(context, names), dry_run=dry_run)

    # ------------------------------------------------------------------ state
    def apply(self, results: list[RuleResult], *, dry_run: bool = False) -> CheckOutcome:
        """Store the findings (dedup, resolve, escalate, digest), then send what is due.

        Rules whose evaluation failed or had no data keep their alerts as they are: only a rule
        that ran and found nothing for a subject resolves that subject's alert.
        """
        now = self.now()
        stamp = iso_utc(now)
        outcome = CheckOutcome(results=results, dry_run=dry_run)
        messages: list[Message] = []
        with self.store.transaction(rollback=dry_run) as con:
            evaluated = [r for r in results if r.error is None and r.unavailable is None and r.rule in self.rules]
            names = [r.rule for r in evaluated]
            open_rows = self._open_alerts(con, names)
            seen: set[tuple[str, str]] = set()
            for result in evaluated:
                for f in result.findings:
                    seen.add((f.rule, f.subject))
                    row = open_rows.get((f.rule, f.subject))
                    self._upsert(con, f, row, now, stamp)
            for key, row in open_rows.items():
                if key not in seen:
                    outcome.resolved.append(dict(row))
                    messages += self._resolve(con, row, stamp, "the rule no longer breaches")
            messages += self._due_messages(con, now, stamp)
            messages += self._escalations(con, now, stamp)
            messages += self._digest(con, now, stamp)
            if seen:
                outcome.alerts = self._rows_for(con, seen)
            if dry_run:
                outcome.deliveries = [Delivery(m, "dry-run", "") for m in messages]
        if not dry_run:
            outcome.deliveries = self.send(messages)
        return outcome

    @staticmethod
    def _open_alerts(con: Connection, rules: list[str]) -> dict[tuple[str, str], Row]:
        if not rules:
            return {}
        rows = con.execute(f"SELECT * FROM alerts WHERE state != ? AND rule IN ({','.join('?' * len(rules))})",
                           (AlertState.RESOLVED.value, *rules)).fetchall()
        return {(r["rule"], r["subject"]): r for r in rows}

    @staticmethod
    def _rows_for(con: Connection, keys: set[tuple[str, str]]) -> list[dict]:
        rows = con.execute("SELECT * FROM alerts WHERE state != ? ORDER BY id", (AlertState.RESOLVED.value,))
        return [dict(r) for r in rows if (r["rule"], r["subject"]) in keys]

    @staticmethod
    def _history(con: Connection, alert_id: int, stamp: str, event: AlertEvent, *, from_state=None,
                 to_state=None, level=None, value=None, detail=None) -> None:
        con.execute("INSERT INTO alert_history (alert_id, at, event, from_state, to_state, level, value, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (alert_id, stamp, str(event), None if from_state is None else str(from_state),
                     None if to_state is None else str(to_state), None if level is None else str(level), value,
                     detail))

    def _upsert(self, con, f: Finding, row, now: datetime, stamp: str) -> None:
        level = f.level.value
        if row is None:
            cur = con.execute(
                "INSERT INTO alerts (rule, subject, category, level, state, value, reference, threshold, variance,"
                " message, first_seen, last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id",
                (f.rule, f.subject, f.category, level, AlertState.OPEN.value, f.value, f.reference, f.threshold,
                 f.variance, f.message, stamp, stamp))
            self._history(con, cur.fetchone()[0], stamp, AlertEvent.OPENED, to_state=AlertState.OPEN, level=level,
                          value=f.value, detail=f.message)
            return
        state = row["state"]
        if state == AlertState.SNOOZED.value and row["snoozed_until"] and _when(row["snoozed_until"]) <= now:
            self._history(con, row["id"], stamp, AlertEvent.UNSNOOZED, from_state=state, to_state=AlertState.OPEN,
                          level=level, value=f.value)
            state = AlertState.OPEN.value
            con.execute("UPDATE alerts SET snoozed_until = NULL WHERE id = ?", (row["id"],))
        if level != row["level"]:
            rose = _ORDER[level] > _ORDER[row["level"]]
            if rose and state == AlertState.ACKNOWLEDGED.value:
                # Acknowledged at a lower level: worse news needs a fresh acknowledgement.
                state = AlertState.OPEN.value
            self._history(con, row["id"], stamp, AlertEvent.LEVEL_CHANGED, from_state=row["state"], to_state=state,
                          level=level, value=f.value, detail=f"{row['level']} -> {level}: {f.message}")
            if not rose and row["notified_level"] and _ORDER[row["notified_level"]] > _ORDER[level]:
                # Came down: a later rise to the old level is news again.
                con.execute("UPDATE alerts SET notified_level = ? WHERE id = ?", (level, row["id"]))
        con.execute(
            "UPDATE alerts SET level = ?, state = ?, value = ?, reference = ?, threshold = ?, variance = ?,"
            " message = ?, last_seen = ?, count = count + 1 WHERE id = ?",
            (level, state, f.value, f.reference, f.threshold, f.variance, f.message, stamp, row["id"]))

    def _rule_recipients(self, rule_name: str) -> Recipients:
        rule = self.rules.get(rule_name)
        return rule.recipients if rule is not None else Recipients()

    def _messages_for(self, kind: str, row, level: AlertLevel, channels: Iterable[str], recipients: Recipients,
                      title: str, body: str) -> list[Message]:
        out = []
        for name in channels:
            out.append(Message(kind, name, _targets(name, recipients), title, body, level, (row["id"],),
                               {"previous_notified": row["notified_level"]}))
        return out

    def _resolve(self, con, row, stamp: str, why: str) -> list[Message]:
        con.execute("UPDATE alerts SET state = ?, resolved_at = ? WHERE id = ?",
                    (AlertState.RESOLVED.value, stamp, row["id"]))
        self._history(con, row["id"], stamp, AlertEvent.RESOLVED, from_state=row["state"],
                      to_state=AlertState.RESOLVED, level=row["level"], value=row["value"], detail=why)
        if not row["notified_level"] or row["notified_level"] == AlertLevel.INFO.value:
            return []
        title = f"RESOLVED {row['rule']}: {row['subject']}"
        body = f"Alert #{row['id']} ({row['level']}) is resolved: {why}.\nLast: {row['message']}"
        channels = [c for c in LEVEL_CHANNELS[AlertLevel.WARNING] if c != "dashboard"]
        return self._messages_for("resolution", row, AlertLevel(row["level"]), channels,
                                  self._rule_recipients(row["rule"]), title, body)

    def _quiet(self, now: datetime) -> bool:
        quiet = self.policy.quiet_hours
        return quiet is not None and quiet.contains(now.astimezone(self.policy.zone).time().replace(tzinfo=None))

    def _due_messages(self, con, now: datetime, stamp: str) -> list[Message]:
        """Alerts (warning and up, open) whose level has not been sent yet, unless quiet hours hold them."""
        rows = con.execute("SELECT * FROM alerts WHERE state = ? AND level != ?",
                           (AlertState.OPEN.value, AlertLevel.INFO.value)).fetchall()
        quiet = self._quiet(now)
        out: list[Message] = []
        for row in rows:
            if row["notified_level"] and _ORDER[row["notified_level"]] >= _ORDER[row["level"]]:
                continue
            level = AlertLevel(row["level"])
            if quiet and level is not AlertLevel.CRITICAL:
                last = con.execute("SELECT event, level FROM alert_history WHERE alert_id = ? ORDER BY id DESC"
                                   " LIMIT 1", (row["id"],)).fetchone()
                if last is None or (last["event"], last["level"]) != (AlertEvent.DEFERRED.value, row["level"]):
                    self._history(con, row["id"], stamp, AlertEvent.DEFERRED, level=level, value=row["value"],
                                  detail="quiet hours")
                continue
            con.execute("UPDATE alerts SET notified_level = ?, notified_at = ? WHERE id = ?",
                        (row["level"], stamp, row["id"]))
            title = f"{level.value.upper()} #{row['id']} {row['rule']}: {row['subject']}"
            body = f"{row['message']}\nFirst seen {row['first_seen']}, seen {row['count']} time(s)."
            out += self._messages_for("alert", row, level, LEVEL_CHANNELS[level], self._rule_recipients(row["rule"]),
                                      title, body)
        return out

    def _escalations(self, con, now: datetime, stamp: str) -> list[Message]:
        after = timedelta(minutes=self.policy.escalation.after_minutes)
        rows = con.execute(
            "SELECT * FROM alerts WHERE state = ? AND level = ? AND escalated_at IS NULL AND notified_at IS NOT NULL",
            (AlertState.OPEN.value, AlertLevel.CRITICAL.value)).fetchall()
        out: list[Message] = []
        team = self.policy.escalation.recipients
        for row in rows:
            if now - _when(row["notified_at"]) < after:
                continue
            con.execute("UPDATE alerts SET escalated_at = ? WHERE id = ?", (stamp, row["id"]))
            self._history(con, row["id"], stamp, AlertEvent.ESCALATED, from_state=row["state"],
                          to_state=row["state"], level=row["level"], value=row["value"],
                          detail=f"not acknowledged within {self.policy.escalation.after_minutes:g} minutes")
            title = f"ESCALATED CRITICAL #{row['id']} {row['rule']}: {row['subject']}"
            body = (f"Not acknowledged within {self.policy.escalation.after_minutes:g} minutes.\n{row['message']}\n"
                    f"Acknowledge with: quant alerts ack {row['id']}")
            out += self._messages_for("escalation", row, AlertLevel.CRITICAL, ("email", "sms", "whatsapp", "voice"),
                                      team, title, body)
        return out

    def _digest(self, con, now: datetime, stamp: str) -> list[Message]:
        local = now.astimezone(self.policy.zone)
        today = local.date().isoformat()
        if local.time().replace(tzinfo=None) < self.policy.digest_at:
            return []
        if self.store.get_meta("last_digest", con) == today:
            return []
        OpsStore.set_meta(con, "last_digest", today)
        rows = con.execute("SELECT * FROM alerts WHERE state != ? AND level = ? ORDER BY category, rule, subject",
                           (AlertState.RESOLVED.value, AlertLevel.INFO.value)).fetchall()
        if not rows:
            return []
        groups: dict[str, list] = defaultdict(list)
        for row in rows:
            groups[row["category"]].append(row)
            con.execute("UPDATE alerts SET digested_at = ? WHERE id = ?", (stamp, row["id"]))
            self._history(con, row["id"], stamp, AlertEvent.DIGESTED, level=row["level"], value=row["value"],
                          detail=f"digest of {today}")
        lines = []
        for category, items in sorted(groups.items()):
            lines.append(f"{category} ({len(items)})")
            lines += [f"  #{r['id']} {r['message']}" for r in items]
        title = f"Alert digest {today}: {len(rows)} info alert(s)"
        recipients = self.policy.digest_recipients
        ids = tuple(r["id"] for r in rows)
        channels = ("email", "slack") if recipients.slack_env else ("email",)
        return [Message("digest", name, _targets(name, recipients), title, "\n".join(lines), AlertLevel.INFO, ids)
                for name in channels]

    # ------------------------------------------------------------------ sending
    def send(self, messages: list[Message]) -> list[Delivery]:
        """Send each message on its channel and record the outcome in the alert history.

        A channel that lacks its settings is skipped with its reason; a failure is recorded
        (redacted) and the alert's "already sent" mark is undone so the next check retries.
        """
        import os

        from quantlib.schedule.history import one_line

        env = os.environ if self.env is None else self.env
        deliveries = []
        for m in messages:
            channel = self.channels.get(m.channel)
            if channel is None:
                deliveries.append(Delivery(m, "skipped", f"{m.channel} skipped: no such channel"))
                continue
            reason = channel.missing(m, env)
            if reason is not None:
                deliveries.append(Delivery(m, "skipped", reason))
                continue
            try:
                deliveries.append(Delivery(m, "sent", channel.send(m, env)))
            except DeliveryError as exc:
                secrets = [v for k, v in env.items() if v and len(v) >= 4 and _is_secret(k)]
                deliveries.append(Delivery(m, "failed", one_line(exc, secrets=secrets)))
        if deliveries:
            self._record(deliveries)
        return deliveries

    def _record(self, deliveries: list[Delivery]) -> None:
        stamp = iso_utc(self.now())
        events = {"sent": AlertEvent.NOTIFIED, "skipped": AlertEvent.SKIPPED, "failed": AlertEvent.FAILED}
        with self.store.transaction() as con:
            for d in deliveries:
                m = d.message
                if d.status == "sent" and m.channel == "dashboard":
                    continue  # the alert row itself is the dashboard's record
                detail = f"{m.kind} via {m.channel} to {', '.join(m.targets) or '-'}: {d.detail}"
                for alert_id in m.alert_ids:
                    self._history(con, alert_id, stamp, events[d.status], level=m.level, detail=detail)
                if d.status == "failed" and m.kind == "alert":
                    for alert_id in m.alert_ids:
                        con.execute("UPDATE alerts SET notified_level = ? WHERE id = ? AND notified_level = ?",
                                    (m.meta.get("previous_notified"), alert_id, m.level.value))
                if d.status == "failed" and m.kind == "escalation":
                    for alert_id in m.alert_ids:
                        con.execute("UPDATE alerts SET escalated_at = NULL WHERE id = ?", (alert_id,))

    # ------------------------------------------------------------------ commands
    def _get(self, con, alert_id: int, open_only: bool = False):
        row = con.execute("SELECT * FROM alerts WHERE id = ?", (int(alert_id),)).fetchone()
        if row is None:
            raise AlertError(f"no alert #{alert_id}")
        if open_only and row["state"] == AlertState.RESOLVED.value:
            raise AlertError(f"alert #{alert_id} is resolved")
        return row

    def acknowledge(self, alert_id: int, who: str = "") -> dict:
        """Acknowledge an open or snoozed alert: no escalation, no repeat unless its level rises."""
        stamp = iso_utc(self.now())
        with self.store.transaction() as con:
            row = self._get(con, alert_id, open_only=True)
            con.execute("UPDATE alerts SET state = ?, acknowledged_at = ?, snoozed_until = NULL WHERE id = ?",
                        (AlertState.ACKNOWLEDGED.value, stamp, row["id"]))
            self._history(con, row["id"], stamp, AlertEvent.ACKNOWLEDGED, from_state=row["state"],
                          to_state=AlertState.ACKNOWLEDGED, level=row["level"], value=row["value"], detail=who or None)
            return dict(self._get(con, alert_id))

    def snooze(self, alert_id: int, duration: timedelta | str) -> dict:
        """Silence an alert for ``duration`` (``"2h"``): no message, no escalation until then."""
        if isinstance(duration, str):
            duration = parse_duration(duration)
        now = self.now()
        until = iso_utc(now + duration)
        with self.store.transaction() as con:
            row = self._get(con, alert_id, open_only=True)
            con.execute("UPDATE alerts SET state = ?, snoozed_until = ? WHERE id = ?",
                        (AlertState.SNOOZED.value, until, row["id"]))
            self._history(con, row["id"], iso_utc(now), AlertEvent.SNOOZED, from_state=row["state"],
                          to_state=AlertState.SNOOZED, level=row["level"], value=row["value"],
                          detail=f"until {until}")
            return dict(self._get(con, alert_id))

    def resolve(self, alert_id: int, why: str = "resolved by hand", *,
                send: bool = True) -> tuple[dict, list[Delivery]]:
        """Resolve an alert now (a resolution message goes to those who were told)."""
        stamp = iso_utc(self.now())
        with self.store.transaction() as con:
            row = self._get(con, alert_id)
            if row["state"] == AlertState.RESOLVED.value:
                raise AlertError(f"alert #{alert_id} is already resolved")
            messages = self._resolve(con, row, stamp, why)
            done = dict(self._get(con, alert_id))
        return done, (self.send(messages) if send else [])

    def alerts(self, *, open_only: bool = False, limit: int = 500) -> list[dict]:
        """Stored alerts, newest first (``open_only``: not resolved)."""
        sql, args = "SELECT * FROM alerts", []
        if open_only:
            sql += " WHERE state != ?"
            args.append(AlertState.RESOLVED.value)
        with self.store.reading() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))]

    def history(self, alert_id: int | None = None) -> list[dict]:
        """The alert history (of one alert), oldest first."""
        sql, args = "SELECT * FROM alert_history", []
        if alert_id is not None:
            sql += " WHERE alert_id = ?"
            args.append(int(alert_id))
        with self.store.reading() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY id", args)]


def _is_secret(name: str) -> bool:
    from quantlib.publish.secrets import is_secret_name

    return is_secret_name(name)


def dumps(data) -> str:
    """JSON for ``--json`` output (dates and enums as text)."""
    return json.dumps(data, default=str, indent=2)
