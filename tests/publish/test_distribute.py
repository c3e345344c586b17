"""Distribution against real local servers: aiosmtpd for e-mail, http.server for Slack."""

from __future__ import annotations

import pytest

from quantlib.publish.distribute import Notice, distribute, report_link, slack_summary
from tests.schedule.servers import SMTP_PASSWORD, SmtpServer, WebhookServer, make_cert

PDF = b"%PDF-1.7\n% a tiny stand-in pdf\n%%EOF\n"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    made = make_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("openssl is not available to make a self-signed certificate")
    return made


@pytest.fixture
def notice(tmp_path) -> Notice:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(PDF)
    return Notice(job="weekly_operations", title="Weekly operations report", company="mixed_trades",
                  period="2026-W48", status="success", link="https://reports.test/weekly/x/report.html", pdf=pdf)


def test_plain_smtp_delivers_pdf_and_link(notice):
    with SmtpServer("none") as server:
        result = distribute(notice, ["a@example.com", "b@example.com"], None, env=server.env())
    assert [d.status for d in result] == ["sent"]
    [got] = server.mailbox.messages
    assert got.rcpt_tos == ["a@example.com", "b@example.com"]
    assert got.mail_from == "quant@quant.test"
    assert got.message["Subject"] == "Weekly operations report: mixed_trades, 2026-W48"
    assert got.attachments == {"report.pdf": PDF}
    assert "https://reports.test/weekly/x/report.html" in got.body


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_auth(mode, cert, notice):
    with SmtpServer(mode, cert) as server:
        result = distribute(notice, ["exec@example.com"], None, env=server.env(cafile=cert[0]))
    assert [d.status for d in result] == ["sent"], result
    assert server.mailbox.logins == ["reports@quant.test"]
    [got] = server.mailbox.messages
    assert got.attachments["report.pdf"] == PDF


def test_wrong_password_fails_without_leaking_it(cert, notice):
    with SmtpServer("starttls", cert) as server:
        env = server.env(cafile=cert[0]) | {"QUANT_SMTP_PASSWORD": "wrong-" + SMTP_PASSWORD}
        [delivery] = distribute(notice, ["exec@example.com"], None, env=env)
    assert delivery.status == "failed"
    assert "refused" in delivery.detail and SMTP_PASSWORD not in delivery.detail
    assert server.mailbox.messages == []


def test_starttls_refuses_untrusted_certificate(cert, notice):
    # Without the CA file the self-signed certificate must not be accepted.
    with SmtpServer("starttls", cert) as server:
        env = server.env(cafile=cert[0])
        env.pop("QUANT_SMTP_CAFILE")
        [delivery] = distribute(notice, ["exec@example.com"], None, env=env)
    assert delivery.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in delivery.detail
    assert server.mailbox.messages == []


def test_slack_payload(notice):
    with WebhookServer() as hook:
        result = distribute(notice, [], "QUANT_SLACK_WEBHOOK_OPS", env={"QUANT_SLACK_WEBHOOK_OPS": hook.url})
    assert [d.status for d in result] == ["sent"]
    [payload] = hook.payloads
    assert set(payload) == {"text"}
    text = payload["text"]
    assert "\n" not in text
    for part in ("weekly_operations", "mixed_trades", "2026-W48", "SUCCESS", "https://reports.test/weekly/x/report.html"):
        assert part in text
    assert hook.paths == ["/services/T000/B000/XXXXsecretXXXX"]
    # The target shown to people names the variable, not the secret URL.
    assert hook.url not in str(result[0])


def test_failure_alert_by_mail_and_slack():
    failed = Notice(job="monthly_business_review", title="Monthly business review", company="seasonal_outdoor",
                    period="2026-11", status="failed", error="ValueError: warehouse has no jobs after 2026-10-31")
    with SmtpServer("none") as server, WebhookServer() as hook:
        env = server.env() | {"HOOK": hook.url}
        result = distribute(failed, ["exec@example.com"], "HOOK", env=env)
    assert sorted(d.status for d in result) == ["sent", "sent"]
    [mail] = server.mailbox.messages
    assert mail.message["Subject"].startswith("FAILED: Monthly business review")
    assert "warehouse has no jobs after 2026-10-31" in mail.body
    assert mail.attachments == {}
    assert "FAILED" in hook.payloads[0]["text"] and "warehouse has no jobs" in hook.payloads[0]["text"]


def test_not_configured_is_skipped_and_dry_run_sends_nothing(notice):
    skipped = distribute(notice, ["a@example.com"], "QUANT_SLACK_WEBHOOK_OPS", env={})
    assert [d.status for d in skipped] == ["skipped", "skipped"]
    assert distribute(notice, [], None, env={"QUANT_SMTP_HOST": "x"}) == []
    with SmtpServer("none") as server, WebhookServer() as hook:
        env = server.env() | {"HOOK": hook.url}
        planned = distribute(notice, ["a@example.com"], "HOOK", env=env, dry_run=True)
    assert [d.status for d in planned] == ["dry-run", "dry-run"]
    assert "report.pdf" in planned[0].detail and "a@example.com" in planned[0].target
    assert server.mailbox.messages == [] and hook.payloads == []


def test_report_link(tmp_path):
    html = tmp_path / "job" / "co" / "r1" / "report.html"
    assert report_link(html, tmp_path, env={"QUANT_REPORTS_URL": "https://r.test/reports/"}) == \
        "https://r.test/reports/job/co/r1/report.html"
    assert report_link(html, tmp_path, env={}).startswith("file:///")


def test_slack_summary_is_one_line():
    n = Notice(job="j", title="T", company="c", period="p", status="failed", error="boom")
    assert slack_summary(n) == ":x: T (j) | c | p | FAILED | boom"
