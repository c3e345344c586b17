"""Appointment confirmations and satisfaction surveys by SMS, with the answers back as interactions.

1. :func:`send` texts a customer about a job through Twilio (the alert channels' client):
   a *confirmation* of a booked visit ("Reply YES to confirm or NO to change it") or, after the
   job, a *survey* ("How would you rate ... from 0 to 10?"). The operational store records what
   was sent to which number about which job (``sms_conversations``).
2. The customer's reply reaches Twilio's incoming-message webhook, served by ``quant webhooks
   serve`` (:mod:`quantlib.api.webhooks`), which checks Twilio's signature and calls
   :func:`record_reply`: the reply is matched to the latest conversation with that number of the
   last :data:`REPLY_WINDOW_DAYS` days and read (YES / NO; a rating 0-10).
3. :func:`land_replies` writes the replies not yet in the lake as an ``interactions`` export and
   ingests it like any other (bronze keeps the file, bad rows go to the rejects): an inbound SMS
   interaction of kind ``booking`` for a confirmation, ``survey`` with its ``satisfaction`` for
   a survey. ``quant messages land`` runs it; schedule it like the alert check.

The warehouse holds no phone numbers (the CRM does): the caller gives the number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from quantlib.notify.base import DeliveryError

__all__ = ["KINDS", "REPLY_WINDOW_DAYS", "land_replies", "message_text", "read_reply", "record_reply", "send"]

KINDS = ("confirmation", "survey")
#: Replies are matched to conversations sent this many days before them at most.
REPLY_WINDOW_DAYS = 14
_YES = {"yes", "y", "yep", "ok", "okay", "confirm", "confirmed", "c"}
_NO = {"no", "n", "nope", "cancel", "change", "reschedule"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def message_text(con, kind: str, job_id: str) -> tuple[str, str]:
    """The SMS text about ``job_id`` and its customer id, from gold.

    Raises
    ------
    KeyError
        No such job.
    ValueError
        An unknown kind, or a job that does not fit it (a confirmation for a job done or
        cancelled, a survey for a job not completed).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown message {kind!r}; known: {', '.join(KINDS)}")
    from quantlib.notify.records import job_for_message

    job = job_for_message(con, job_id)
    name, service, start = job["customer_name"], job["service"], job["scheduled_start"]
    if kind == "confirmation":
        if job["status"] != "scheduled":
            raise ValueError(f"job {job_id} is {job['status']}: nothing to confirm")
        return (f"Hello {name}, your {service} visit is booked for {start:%a %d %b} at {start:%H:%M}. "
                "Reply YES to confirm or NO to change it."), job["customer_id"]
    if job["status"] != "completed":
        raise ValueError(f"job {job_id} is {job['status']}, not completed: no survey yet")
    return (f"Hello {name}, how would you rate our {service} visit from 0 (poor) to 10 (excellent)? "
            "Reply with a number."), job["customer_id"]


def send(store, con, kind: str, job_id: str, to: str, env: Mapping[str, str], now: dt.datetime | None = None) -> str:
    """Text ``to`` about ``job_id`` (a confirmation or a survey) and record the conversation.

    Raises
    ------
    DeliveryError
        Twilio settings missing, a number not in E.164 form, or Twilio refused.
    KeyError, ValueError
        As :func:`message_text`.
    """
    from quantlib.notify.twilio import is_e164, twilio_call, twilio_client

    if not is_e164(to):
        raise DeliveryError(f"{to!r} is not an E.164 phone number like +447700900123")
    absent = [n for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "QUANT_TWILIO_FROM") if not env.get(n)]
    if absent:
        raise DeliveryError(f"{kind} SMS skipped: {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not set")
    body, customer_id = message_text(con, kind, job_id)
    client = twilio_client(env)
    sid = twilio_call(lambda: client.messages.create(to=to, from_=env["QUANT_TWILIO_FROM"], body=body).sid,
                      f"{kind} SMS")
    at = (now or _now()).isoformat()
    with store.transaction() as db:
        db.execute("INSERT INTO sms_conversations (kind, to_number, customer_id, job_id, message_sid, sent_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (kind, to, customer_id, job_id, sid, at))
    return f"sent the {kind} for job {job_id} to {to} ({sid})"


def read_reply(kind: str, body: str) -> tuple[str, float | None]:
    """What a reply says: ``(outcome, satisfaction)``; outcome ``confirmed`` / ``declined`` for a
    confirmation, ``rated`` for a survey with a number from 0 to 10, else ``unclear``."""
    words = re.findall(r"[a-z]+|\d+(?:[.,]\d+)?", body.strip().lower())
    if kind == "confirmation":
        if words and words[0] in _YES:
            return "confirmed", None
        if words and words[0] in _NO:
            return "declined", None
        return "unclear", None
    numbers = [float(w.replace(",", ".")) for w in words if w[0].isdigit()]
    if numbers and 0 <= numbers[0] <= 10:
        return "rated", numbers[0]
    return "unclear", None


def record_reply(store, from_number: str, body: str, sid: str, now: dt.datetime | None = None) -> str:
    """Match a reply to the latest conversation with ``from_number`` and record what it says; return
    the text to answer with."""
    now = now or _now()
    since = (now - dt.timedelta(days=REPLY_WINDOW_DAYS)).isoformat()
    with store.transaction() as db:
        row = db.execute("SELECT id, kind FROM sms_conversations WHERE to_number = ? AND sent_at >= ? "
                         "ORDER BY sent_at DESC, id DESC LIMIT 1", (from_number, since)).fetchone()
        if row is None:
            return "Thank you for your message. We will get back to you."
        outcome, satisfaction = read_reply(row["kind"], body)
        db.execute("UPDATE sms_conversations SET reply = ?, reply_sid = ?, replied_at = ?, outcome = ?, "
                   "satisfaction = ?, landed_at = NULL WHERE id = ?",
                   (body[:1000], sid, now.isoformat(), outcome, satisfaction, row["id"]))
    return {"confirmed": "Thank you, your visit is confirmed.",
            "declined": "Thank you, we will call you to find another time.",
            "rated": "Thank you for your rating!"}.get(
        outcome, "Sorry, we did not understand. Please reply YES or NO." if row["kind"] == "confirmation"
        else "Sorry, we did not understand. Please reply with a number from 0 to 10.")


def land_replies(store, lake, now: dt.datetime | None = None):
    """Ingest the replies not yet in the lake as inbound interactions; return the ingest report (None
    when there was nothing to land)."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    from quantlib.data.ingest import ingest

    with store.reading() as db:
        rows = [dict(r) for r in db.execute(
            "SELECT id, kind, customer_id, job_id, reply_sid, replied_at, outcome, satisfaction FROM "
            "sms_conversations WHERE replied_at IS NOT NULL AND landed_at IS NULL ORDER BY id").fetchall()]
    if not rows:
        return None
    frame = pd.DataFrame([{
        "interaction_id": f"SMS-{r['reply_sid']}", "customer_id": r["customer_id"], "job_id": r["job_id"],
        "ts": pd.Timestamp(r["replied_at"]).tz_convert("UTC").tz_localize(None).isoformat(sep=" "),
        "channel": "sms", "kind": "survey" if r["kind"] == "survey" else "booking",
        "direction": "inbound", "satisfaction": r["satisfaction"]} for r in rows])
    stamp = (now or _now()).strftime("%Y%m%dT%H%M%S")
    with tempfile.TemporaryDirectory(prefix="quant-sms-") as folder:
        frame.to_csv(Path(folder) / f"interactions_sms_replies_{stamp}.csv", index=False)
        report = ingest(folder, lake)
    if report.ok:
        with store.transaction() as db:
            db.executemany("UPDATE sms_conversations SET landed_at = ? WHERE id = ?",
                           [((now or _now()).isoformat(), r["id"]) for r in rows])
    return report
