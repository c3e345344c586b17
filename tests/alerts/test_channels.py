"""Each channel against a local server that checks the documented request (SMTP, Slack, Twilio REST)."""

from __future__ import annotations

import base64
import json
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

from quantlib.alerts.channels import (
    EmailChannel,
    Message,
    SlackChannel,
    SmsChannel,
    VoiceChannel,
    WhatsAppChannel,
    default_channels,
)
from quantlib.errors import AlertLevel
from quantlib.notify import DeliveryError
from tests.alerts.helpers import VALUES, FakeClock, check, engine, rule
from tests.schedule.servers import LocalHttpServer, SmtpServer, WebhookServer, reply_json

SID = "AC" + "0" * 31 + "1"
TOKEN = "twilio-auth-token-s3cret"
FROM = "+447700900000"


class TwilioServer(LocalHttpServer):
    """Answers Twilio's Messages.json and Calls.json like the API does, after checking the request:
    POST, the account's path, HTTP Basic auth with SID and token, and the form fields."""

    def __init__(self, status: int = 201):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = dict(urllib.parse.parse_qsl(body))
                auth = self.headers.get("Authorization", "")
                user, _, password = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
                outer.requests.append({"path": self.path, "form": form, "user": user, "password": password,
                                       "content_type": self.headers.get("Content-Type", "")})
                base = f"/2010-04-01/Accounts/{SID}/"
                ok = (auth.startswith("Basic ") and (user, password) == (SID, TOKEN)
                      and self.path in (base + "Messages.json", base + "Calls.json")
                      and self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"))
                if not ok or status != 201:
                    code = 401 if not ok else status
                    payload = {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/"
                               "errors/20003", "status": code}
                elif self.path.endswith("Messages.json"):
                    code = 201
                    payload = {"sid": "SM" + "a" * 32, "account_sid": SID, "to": form.get("To"),
                               "from": form.get("From"), "body": form.get("Body"), "status": "queued",
                               "direction": "outbound-api", "api_version": "2010-04-01",
                               "uri": f"{base}Messages/SM{'a' * 32}.json"}
                else:
                    code = 201
                    payload = {"sid": "CA" + "b" * 32, "account_sid": SID, "to": form.get("To"),
                               "from": form.get("From"), "status": "queued", "direction": "outbound-api",
                               "api_version": "2010-04-01", "uri": f"{base}Calls/CA{'b' * 32}.json"}
                reply_json(self, code, payload)

            def log_message(self, *args):
                pass

        self._listen(Handler)

    def env(self, token: str = TOKEN) -> dict[str, str]:
        return {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": token, "QUANT_TWILIO_FROM": FROM,
                "QUANT_TWILIO_BASE_URL": self.url}


def _message(channel, targets, title="CRITICAL #1 cash_flow_runway: company <low> & falling"):
    return Message("alert", channel, tuple(targets), title, "body text", AlertLevel.CRITICAL, (1,))


def test_sms_posts_the_documented_request():
    with TwilioServer() as server:
        detail = SmsChannel().send(_message("sms", ["+447700900123", "+447700900124"]), server.env())
    assert detail.startswith("sent 2 SMS (SM")
    assert [r["path"] for r in server.requests] == [f"/2010-04-01/Accounts/{SID}/Messages.json"] * 2
    first = server.requests[0]
    assert first["form"] == {"To": "+447700900123", "From": FROM,
                             "Body": "CRITICAL #1 cash_flow_runway: company <low> & falling"}
    assert (first["user"], first["password"]) == (SID, TOKEN)


def test_whatsapp_posts_a_message_between_whatsapp_addresses():
    env_whatsapp = {"QUANT_TWILIO_WHATSAPP_FROM": "+14155238886"}
    with TwilioServer() as server:
        detail = WhatsAppChannel().send(_message("whatsapp", ["+447700900123"]), {**server.env(), **env_whatsapp})
    assert detail.startswith("sent 1 WhatsApp message(s) (SM")
    [req] = server.requests
    assert req["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert req["form"] == {"To": "whatsapp:+447700900123", "From": "whatsapp:+14155238886",
                           "Body": "CRITICAL #1 cash_flow_runway: company <low> & falling\nbody text"}
    missing = WhatsAppChannel().missing(_message("whatsapp", ["+447700900123"]), {"TWILIO_ACCOUNT_SID": SID,
                                                                                  "TWILIO_AUTH_TOKEN": TOKEN})
    assert missing == "whatsapp skipped: QUANT_TWILIO_WHATSAPP_FROM is not set"
    assert (WhatsAppChannel().missing(_message("whatsapp", []), {})
            == "whatsapp skipped: the rule has no whatsapp numbers")


def test_voice_call_says_the_alert_in_twiml():
    with TwilioServer() as server:
        detail = VoiceChannel().send(_message("voice", ["+447700900123"]), server.env())
    assert detail.startswith("placed 1 call(s) (CA")
    [req] = server.requests
    assert req["path"] == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert req["form"]["To"] == "+447700900123" and req["form"]["From"] == FROM
    assert req["form"]["Twiml"] == ("<Response><Say>CRITICAL #1 cash_flow_runway: company &lt;low&gt; &amp; "
                                    "falling</Say></Response>")


def test_twilio_refusal_is_a_delivery_error_without_the_token():
    with TwilioServer() as server:
        with pytest.raises(DeliveryError, match="HTTP 401 code 20003") as info:
            SmsChannel().send(_message("sms", ["+447700900123"]), server.env(token="wrong-token-value"))
    assert "wrong-token-value" not in str(info.value)
    with pytest.raises(DeliveryError, match="Twilio SMS failed"):
        SmsChannel().send(_message("sms", ["+447700900123"]), dict(server.env(), QUANT_TWILIO_BASE_URL=server.url))


def test_missing_twilio_settings_are_named():
    m = _message("sms", ["+447700900123"])
    assert SmsChannel().missing(m, {}) == ("sms skipped: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, QUANT_TWILIO_FROM "
                                           "are not set")
    assert VoiceChannel().missing(m, {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN}) == (
        "voice skipped: QUANT_TWILIO_FROM is not set")
    assert SmsChannel().missing(_message("sms", []), {}) == "sms skipped: the rule has no sms numbers"


def test_email_through_the_smtp_sender():
    with SmtpServer("none") as server:
        assert EmailChannel().missing(_message("email", ["ops@example.com"]), server.env()) is None
        EmailChannel().send(_message("email", ["ops@example.com"]), server.env())
    [got] = server.mailbox.messages
    assert got.rcpt_tos == ["ops@example.com"]
    assert got.message["Subject"].startswith("CRITICAL #1 cash_flow_runway")
    assert got.body.strip() == "body text"


def test_slack_posts_to_the_webhook_the_rule_names():
    with WebhookServer() as hook:
        env = {"QUANT_SLACK_WEBHOOK_OPS": hook.url}
        SlackChannel().send(_message("slack", ["QUANT_SLACK_WEBHOOK_OPS"]), env)
    [payload] = hook.payloads
    assert payload["text"].startswith("*CRITICAL #1 cash_flow_runway")
    assert SlackChannel().missing(_message("slack", []), {}) == "slack skipped: QUANT_SLACK_WEBHOOK_ALERTS is not set"


def test_a_critical_alert_end_to_end_through_every_real_channel(tmp_path):
    """One check: e-mail via aiosmtpd, Slack via a webhook, SMS and a call via the Twilio server;
    the history records every delivery and never a secret."""
    VALUES.clear()
    VALUES["r"] = [("company", 50.0, 100.0)]
    with SmtpServer("none") as smtp, WebhookServer() as hook, TwilioServer() as twilio:
        env = {**smtp.env(), **twilio.env(), "QUANT_SLACK_WEBHOOK_ALERTS": hook.url,
               "QUANT_TWILIO_WHATSAPP_FROM": "+14155238886"}
        recipients = {"email": ["ops@example.com"], "sms": ["+447700900123"], "voice": ["+447700900123"],
                      "whatsapp": ["+447700900125"]}
        eng = engine(tmp_path, [rule("r", recipients=recipients)], FakeClock(), default_channels(), env=env)
        out = check(eng)
    VALUES.clear()
    assert {d.message.channel: d.status for d in out.deliveries} == {
        "dashboard": "sent", "email": "sent", "slack": "sent", "sms": "sent", "whatsapp": "sent", "voice": "sent"}
    assert len(smtp.mailbox.messages) == 1 and len(hook.payloads) == 1
    assert sorted(r["path"].rsplit("/", 1)[1] for r in twilio.requests) == ["Calls.json", "Messages.json",
                                                                             "Messages.json"]
    assert {r["form"]["To"] for r in twilio.requests} == {"+447700900123", "whatsapp:+447700900125"}
    history = json.dumps(eng.history())
    assert history.count('"notified"') == 5
    for secret in (TOKEN, hook.url):
        assert secret not in history
    assert TOKEN not in (tmp_path / "ops.sqlite").read_bytes().decode("latin-1")
