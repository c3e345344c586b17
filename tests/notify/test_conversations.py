"""SMS confirmations and surveys end to end: texts through a local Twilio server, replies through the
webhook receiver with Twilio's signature (a forged one refused), and the replies landed in the lake
as inbound interactions."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.parse
import urllib.request

import pandas as pd
import pytest
from twilio.request_validator import RequestValidator

from quantlib.api.webhooks import create_webhook_app
from quantlib.data.lake import Lake
from quantlib.data.opstore import open_ops_store
from quantlib.notify import DeliveryError
from quantlib.notify.conversations import land_replies, read_reply, record_reply, send
from tests.alerts.test_channels import TOKEN, TwilioServer
from tests.api.helpers import serving


def _jobs(gold):
    # One statement at a time: a DuckDB connection holds one result.
    sql = "SELECT job_id FROM job_facts WHERE status = ? ORDER BY job_id LIMIT 1"
    return gold.execute(sql, ["scheduled"]).fetchone()[0], gold.execute(sql, ["completed"]).fetchone()[0]


def _post(url: str, form: dict, signature: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                     headers={"X-Twilio-Signature": signature,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # nosec B310 - the test's own server
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_texts_replies_and_interactions(demo_lake, gold, tmp_path):
    store = open_ops_store(tmp_path / "ops.sqlite")
    booked, done = _jobs(gold)
    with TwilioServer() as twilio:
        env = twilio.env()
        assert send(store, gold, "confirmation", booked, "+15555550123", env).startswith(
            f"sent the confirmation for job {booked} to +15555550123 (SM")
        send(store, gold, "survey", done, "+15555550124", env)
        with pytest.raises(DeliveryError, match="not an E.164"):
            send(store, gold, "survey", done, "555-0124", env)
        with pytest.raises(ValueError, match="nothing to confirm"):
            send(store, gold, "confirmation", done, "+15555550124", env)
    texts = [r["form"]["Body"] for r in twilio.requests]
    assert "Reply YES to confirm or NO to change it." in texts[0] and "from 0 (poor) to 10" in texts[1]
    with pytest.raises(DeliveryError, match="TWILIO_ACCOUNT_SID"):
        send(store, gold, "survey", done, "+15555550124", {})

    app = create_webhook_app(store, env={"TWILIO_AUTH_TOKEN": TOKEN})
    with serving(app) as base:
        url = f"{base}/twilio/sms"
        validator = RequestValidator(TOKEN)
        forged = {"From": "+15555550124", "Body": "0", "MessageSid": "SM" + "f" * 32}
        status, _ = _post(url, forged, validator.compute_signature(url, {**forged, "Body": "10"}))
        assert status == 403  # signed for another body: refused, nothing recorded
        for number, body, sid in (("+15555550123", "Yes please", "SM" + "1" * 32),
                                  ("+15555550124", "8 - great job", "SM" + "2" * 32)):
            form = {"From": number, "Body": body, "MessageSid": sid, "AccountSid": "AC" + "0" * 31 + "1"}
            status, answer = _post(url, form, validator.compute_signature(url, form))
            assert status == 200 and answer.startswith("<?xml") and "<Message>Thank you" in answer
    with store.reading() as db:
        rows = {r["kind"]: dict(r) for r in db.execute("SELECT * FROM sms_conversations").fetchall()}
    assert (rows["confirmation"]["outcome"], rows["survey"]["outcome"], rows["survey"]["satisfaction"]) == (
        "confirmed", "rated", 8.0)

    lake = Lake(tmp_path / "lake")
    shutil.copytree(demo_lake.root, lake.root)
    report = land_replies(store, lake)
    assert report.ok and report.rows_accepted == 2
    interactions = pd.read_parquet(lake.silver_table("interactions")).set_index("interaction_id")
    survey = interactions.loc["SMS-SM" + "2" * 32]
    assert (survey["kind"], survey["direction"], survey["channel"], survey["satisfaction"], survey["job_id"]) == (
        "survey", "inbound", "sms", 8.0, done)
    assert interactions.loc["SMS-SM" + "1" * 32, "kind"] == "booking"
    assert land_replies(store, lake) is None  # landed once


def test_reading_replies():
    assert read_reply("confirmation", " YES ") == ("confirmed", None)
    assert read_reply("confirmation", "no, Tuesday is bad") == ("declined", None)
    assert read_reply("confirmation", "who is this?") == ("unclear", None)
    assert read_reply("survey", "9.5") == ("rated", 9.5)
    assert read_reply("survey", "I'd say 7,5") == ("rated", 7.5)
    assert read_reply("survey", "11") == ("unclear", None)


def test_an_unknown_number_gets_a_polite_answer_and_no_record(tmp_path):
    store = open_ops_store(tmp_path / "ops.sqlite")
    assert record_reply(store, "+15555550199", "hello", "SM" + "9" * 32).startswith("Thank you for your message")
    with store.reading() as db:
        assert db.execute("SELECT count(*) FROM sms_conversations").fetchone()[0] == 0
    app = create_webhook_app(store, env={})
    with serving(app) as base:
        status, body = _post(f"{base}/twilio/sms", {"From": "+1", "MessageSid": "x"}, "sig")
    assert status == 503 and "TWILIO_AUTH_TOKEN is not set" in body


def test_replies_are_recorded_on_both_store_backends(ops_store):
    import datetime as dt

    with ops_store.transaction() as db:
        db.execute("INSERT INTO sms_conversations (kind, to_number, customer_id, job_id, message_sid, sent_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   ("survey", "+15555550124", "C1", "J1", "SM1", "2030-01-01T10:00:00+00:00"))
    when = dt.datetime(2030, 1, 2, tzinfo=dt.timezone.utc)
    assert record_reply(ops_store, "+15555550124", "10!", "SM2", now=when) == "Thank you for your rating!"
    with ops_store.reading() as db:
        row = dict(db.execute("SELECT outcome, satisfaction, reply_sid FROM sms_conversations").fetchone())
    assert row == {"outcome": "rated", "satisfaction": 10.0, "reply_sid": "SM2"}
    late = dt.datetime(2030, 2, 1, tzinfo=dt.timezone.utc)  # past the reply window: no conversation matches
    assert record_reply(ops_store, "+15555550124", "3", "SM3", now=late).startswith("Thank you for your message")
