"""The notification channels against real local servers: aiosmtpd for e-mail, http.server for Slack."""

from __future__ import annotations

import pytest

from quantlib.notify import DeliveryError, SmtpSettings, post_slack, send_email
from tests.schedule.servers import SmtpServer, WebhookServer


def test_send_email_with_attachment(tmp_path):
    pdf = tmp_path / "board.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%%EOF\n")
    with SmtpServer("none") as server:
        settings = SmtpSettings.from_env(server.env())
        send_email(settings, ["ops@example.com"], "Alert", "Body text", [pdf])
    [got] = server.mailbox.messages
    assert got.rcpt_tos == ["ops@example.com"]
    assert got.message["Subject"] == "Alert"
    assert got.attachments == {"board.pdf": pdf.read_bytes()}


def test_slack_http_error_and_unreachable():
    with WebhookServer(status=500) as hook:
        with pytest.raises(DeliveryError, match="HTTP 500") as info:
            post_slack(hook.url, "x")
    assert hook.url not in str(info.value)
    with pytest.raises(DeliveryError) as info:
        post_slack(hook.url, "x", timeout=2)  # server is stopped now
    assert "XXXXsecretXXXX" not in str(info.value)


def test_settings_from_env():
    assert SmtpSettings.from_env({}) is None
    s = SmtpSettings.from_env({"QUANT_SMTP_HOST": "mail.test", "QUANT_SMTP_TLS": "ssl",
                               "QUANT_SMTP_PASSWORD": "pw12345"})
    assert (s.port, s.tls, s.sender, s.user) == (465, "ssl", "quant@mail.test", None)
    assert "pw12345" not in repr(s)
    with pytest.raises(DeliveryError, match="QUANT_SMTP_TLS"):
        SmtpSettings.from_env({"QUANT_SMTP_HOST": "mail.test", "QUANT_SMTP_TLS": "tls1.3"})


def test_send_email_refused_connection(tmp_path):
    settings = SmtpSettings(host="127.0.0.1", port=1, tls="none", sender="q@quant.test")
    with pytest.raises(DeliveryError, match="127.0.0.1:1"):
        send_email(settings, ["a@example.com"], "s", "b", timeout=2)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://hooks.test/x", "/tmp/hook"])
def test_slack_refuses_non_http_webhooks_without_echoing_them(url):
    with pytest.raises(DeliveryError, match="must be http") as info:
        post_slack(url, "hello")
    assert url not in str(info.value)
