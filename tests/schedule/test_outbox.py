"""The outbox: failed deliveries are kept, retried within the run and by later `due` calls, and shown."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from quantlib.schedule.history import OUTBOX_SENT
from tests.schedule.conftest import write_spec
from tests.schedule.servers import SMTP_PASSWORD, SmtpServer, WebhookServer
from tests.schedule.test_cli_due_serve import quant


def test_server_down_run_fails_then_due_delivers(project, monkeypatch):
    monkeypatch.setenv("QUANT_DELIVERY_RETRIES", "1")
    monkeypatch.setenv("QUANT_DELIVERY_BACKOFF", "0.05")
    monkeypatch.setenv("QUANT_SMTP_PASSWORD", SMTP_PASSWORD)  # set, so the redaction is exercised
    write_spec(project, "daily", outputs=["html"], cron="0 6 * * *",
               recipients={"emails": ["exec@example.com"], "slack_webhook_env": "QUANT_SLACK_WEBHOOK_OPS"})
    smtp = SmtpServer("none")  # created, not started: its port refuses connections
    for k, v in smtp.env().items():
        monkeypatch.setenv(k, v)
    with WebhookServer(status=500) as broken_hook:
        monkeypatch.setenv("QUANT_SLACK_WEBHOOK_OPS", broken_hook.url)
        code, out = quant(project, "run", "daily")
    assert code == 3, out
    assert "success" in out and "undelivered" in out and "kept in the outbox" in out
    assert len(broken_hook.payloads) == 2  # first attempt and the in-run retry
    history = project.history()
    pending = history.pending()
    assert sorted(i.channel for i in pending) == ["email", "slack"] and all(i.attempts == 2 for i in pending)
    assert "HTTP 500" in next(i.last_error for i in pending if i.channel == "slack")

    # The servers come back; the next `due` (nothing is due to run) delivers both, once their next
    # attempt has come (0.1 s after the last failure, which a fast machine can beat).
    deadline = time.monotonic() + 10
    while len(history.pending(datetime.now(timezone.utc))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    with smtp, WebhookServer() as hook:
        monkeypatch.setenv("QUANT_SLACK_WEBHOOK_OPS", hook.url)
        code, out = quant(project, "due")
        assert code == 0, out
        assert "nothing due" in out and "outbox daily / alpha (success): email → exec@example.com: sent" in out
        [mail] = smtp.mailbox.messages
        assert mail.message["Subject"].startswith("Test report: alpha")
        [payload] = hook.payloads
        assert "SUCCESS" in payload["text"]
    assert history.pending() == []
    assert {i.status for i in history.outbox(range(1, 10))} == {OUTBOX_SENT}
    attempts = history.delivery_attempts("daily")
    by_channel = {c: [a.status for a in reversed(attempts) if a.channel == c] for c in ("email", "slack")}
    assert by_channel == {"email": ["failed", "failed", "sent"], "slack": ["failed", "failed", "sent"]}

    code, out = quant(project, "history", "daily")
    assert code == 0 and "Deliveries" in out and "HTTP 500" in out and "sent" in out
    # Nothing secret in the outbox, the history or the log: not the webhook URLs, not the password.
    written = b"".join(p.read_bytes() for p in project.reports.rglob("*") if p.is_file())
    for secret in (broken_hook.url, hook.url, "XXXXsecretXXXX", SMTP_PASSWORD):
        assert secret.encode() not in written
    assert json.loads(json.dumps(pending[0].notice))["company"] == "alpha"
    # Delivered: a further `due` has nothing to send.
    code, out = quant(project, "due")
    assert code == 0 and "outbox" not in out
