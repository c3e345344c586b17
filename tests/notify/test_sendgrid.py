"""SendGrid dynamic templates against a local server answering like ``POST /v3/mail/send``: the
documented request (Bearer key, personalizations, template id, data), 202 with a message id, a
refusal as a DeliveryError without the key, and a missing setting skipped with a clear line."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest
from typer.testing import CliRunner

from quantlib.notify import DeliveryError
from quantlib.notify.sendgrid import missing, send_template, template_data
from tests.schedule.servers import LocalHttpServer, reply_json

KEY = "SG.test-key-s3cret"
TEMPLATES = {"QUANT_SENDGRID_TEMPLATE_INVOICE": "d-invoice0001", "QUANT_SENDGRID_TEMPLATE_APPOINTMENT": "d-appt0001",
             "QUANT_SENDGRID_TEMPLATE_FOLLOW_UP": "d-follow0001"}


class SendGridServer(LocalHttpServer):
    """Answers /v3/mail/send as SendGrid does: 202 and X-Message-Id for a well-formed request with the
    right key; 401 with SendGrid's error body otherwise."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if self.headers.get("Authorization") != f"Bearer {KEY}" or self.path != "/v3/mail/send":
                    reply_json(self, 401, {"errors": [{"message": "The provided authorization grant is invalid, "
                                                                  "expired, or revoked", "field": None,
                                                       "help": None}]})
                    return
                self.send_response(202)
                self.send_header("X-Message-Id", "msg-0001")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._listen(Handler)

    def env(self, key: str = KEY) -> dict[str, str]:
        return {"SENDGRID_API_KEY": key, "QUANT_SENDGRID_FROM": "billing@example.com",
                "QUANT_SENDGRID_BASE_URL": self.url, **TEMPLATES}


def test_an_invoice_e_mail_is_the_documented_request(gold):
    invoice_id, amount = gold.execute("SELECT invoice_id, amount FROM invoices ORDER BY invoice_id LIMIT 1").fetchone()
    data = template_data(gold, "invoice", invoice_id)
    assert data["invoice_id"] == invoice_id and data["amount"] == f"${amount:,.2f}"
    with SendGridServer() as server:
        detail = send_template("invoice", "customer@example.com", data, server.env())
    assert detail == "sent the invoice e-mail to customer@example.com (HTTP 202, message id msg-0001)"
    [request] = server.requests
    assert request["path"] == "/v3/mail/send" and request["auth"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["template_id"] == "d-invoice0001" and body["from"] == {"email": "billing@example.com"}
    [personal] = body["personalizations"]
    assert personal["to"] == [{"email": "customer@example.com"}] and personal["dynamic_template_data"] == data


def test_appointment_and_follow_up_data_fit_the_job(gold):
    scheduled = gold.execute("SELECT job_id FROM job_facts WHERE status = 'scheduled' LIMIT 1").fetchone()[0]
    done = gold.execute("SELECT job_id FROM job_facts WHERE status = 'completed' LIMIT 1").fetchone()[0]
    appointment = template_data(gold, "appointment", scheduled)
    assert appointment["job_id"] == scheduled and appointment["date"] and appointment["time"]
    assert template_data(gold, "follow_up", done)["completed_date"]
    with pytest.raises(ValueError, match="no appointment to confirm"):
        template_data(gold, "appointment", done)
    with pytest.raises(ValueError, match="not completed"):
        template_data(gold, "follow_up", scheduled)
    with pytest.raises(KeyError, match="no job 'J-none'"):
        template_data(gold, "follow_up", "J-none")


def test_refusals_and_missing_settings(gold):
    with SendGridServer() as server:
        with pytest.raises(DeliveryError, match="HTTP 401: The provided authorization grant") as refused:
            send_template("follow_up", "a@example.com", {"job_id": "J1"}, server.env(key="SG.wrong"))
    assert "SG.wrong" not in str(refused.value) and KEY not in str(refused.value)
    assert missing("invoice", {}) == ("invoice e-mail skipped: SENDGRID_API_KEY, QUANT_SENDGRID_FROM, "
                                      "QUANT_SENDGRID_TEMPLATE_INVOICE are not set")
    assert missing("appointment", {"SENDGRID_API_KEY": "k", "QUANT_SENDGRID_FROM": "f"}) == (
        "appointment e-mail skipped: QUANT_SENDGRID_TEMPLATE_APPOINTMENT is not set")
    with pytest.raises(DeliveryError, match="not set"):
        send_template("invoice", "a@example.com", {}, {})
    with pytest.raises(DeliveryError, match="unreachable"):
        send_template("invoice", "a@example.com", {}, {**TEMPLATES, "SENDGRID_API_KEY": KEY,
                                                        "QUANT_SENDGRID_FROM": "f@example.com",
                                                        "QUANT_SENDGRID_BASE_URL": "http://127.0.0.1:9"})


def test_the_command(demo_lake, gold, monkeypatch):
    from quantlib.cli import app

    invoice_id = gold.execute("SELECT invoice_id FROM invoices ORDER BY invoice_id LIMIT 1").fetchone()[0]
    runner = CliRunner()
    for name in ("SENDGRID_API_KEY", "QUANT_SENDGRID_FROM", *TEMPLATES):
        monkeypatch.delenv(name, raising=False)
    skipped = runner.invoke(app, ["email", "invoice", invoice_id, "--to", "c@example.com", "--lake",
                                  str(demo_lake.root)])
    assert skipped.exit_code == 0 and "invoice e-mail skipped: SENDGRID_API_KEY" in skipped.output
    dry = runner.invoke(app, ["email", "invoice", invoice_id, "--to", "c@example.com", "--lake", str(demo_lake.root),
                              "--dry-run"])
    assert dry.exit_code == 0 and json.loads(dry.output)["invoice_id"] == invoice_id
    with SendGridServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        sent = runner.invoke(app, ["email", "invoice", invoice_id, "--to", "c@example.com", "--lake",
                                   str(demo_lake.root)])
    assert sent.exit_code == 0 and "message id msg-0001" in sent.output and KEY not in sent.output
    unknown = runner.invoke(app, ["email", "invoice", "I-none", "--to", "c@example.com", "--lake", str(demo_lake.root)])
    assert unknown.exit_code == 1 and "no invoice 'I-none'" in unknown.output
