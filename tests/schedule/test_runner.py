"""The runner end to end: real kernels, real rendering, real SMTP and webhook servers."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from quantlib.schedule.runner import run_job
from tests.schedule.conftest import write_params, write_spec
from tests.schedule.servers import SMTP_PASSWORD, SmtpServer, WebhookServer, make_cert

SLOT = datetime(2026, 11, 27, 6, tzinfo=timezone.utc)


def published(ws) -> list[Path]:
    return sorted(p for p in ws.reports.glob("*/*/*") if p.is_dir())


def all_bytes(ws) -> bytes:
    """Everything the scheduler wrote: reports, history, logs."""
    return b"".join(p.read_bytes() for p in ws.reports.rglob("*") if p.is_file())


@pytest.fixture
def servers(monkeypatch):
    with SmtpServer("none") as smtp, WebhookServer() as hook:
        for k, v in smtp.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("TEST_HOOK", hook.url)
        yield smtp, hook


def test_success_publishes_and_distributes(project, servers):
    smtp, hook = servers
    spec = write_spec(project, recipients={"emails": ["exec@example.com"], "slack_webhook_env": "TEST_HOOK"})
    outcome = run_job(spec, "parameters/reports/alpha.yaml", workspace=project, scheduled_for=SLOT)
    assert outcome.status == "success", outcome.summary()
    [run_dir] = published(project)
    assert run_dir == outcome.run_dir and run_dir.parent == project.reports / "test_report" / "alpha"
    assert {p.name for p in run_dir.iterdir()} >= {"report.html", "report.pdf", "notebook.ipynb", "run.json"}
    assert (project.reports / "index.html").is_file()
    assert "Jobs completed: 210" in (run_dir / "notebook.ipynb").read_text()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["company"] == "alpha" and record["job"] == "test_report"
    # Nothing is left in the temporary area.
    assert list(project.tmp.iterdir()) == []

    [row] = project.history().runs("test_report")
    assert (row.status, row.attempt, row.company) == ("success", 1, "alpha")
    assert datetime.fromisoformat(row.scheduled_for) == SLOT
    assert set(row.outputs) == {"html", "pdf", "notebook"}
    assert record["outputs"] == {"html": "report.html", "pdf": "report.pdf", "notebook": "notebook.ipynb"}
    index = (project.reports / "index.html").read_text()
    assert "test_report/alpha/" in index and "report.pdf" in index

    [mail] = smtp.mailbox.messages
    assert mail.rcpt_tos == ["exec@example.com"]
    assert mail.message["Subject"] == "Test report: alpha, 2026-11-27"
    assert mail.attachments["report.pdf"] == (run_dir / "report.pdf").read_bytes()
    assert "notebook.ipynb" in mail.attachments
    assert (run_dir / "report.html").resolve().as_uri() in mail.body
    [payload] = hook.payloads
    assert "test_report" in payload["text"] and "alpha" in payload["text"] and "SUCCESS" in payload["text"]
    assert sorted(d.split(":")[0] for d in outcome.deliveries) == ["email → exec@example.com",
                                                                   "slack → slack ($TEST_HOOK)"]


def test_failure_publishes_nothing_retries_and_alerts(project, servers):
    smtp, hook = servers
    params = write_params(project, "alpha_broken", company="alpha", fail=True)
    spec = write_spec(project, parameters=[str(params)], retries={"count": 2, "backoff": 1.5, "jitter": 0},
                      recipients={"emails": ["ops@example.com"], "slack_webhook_env": "TEST_HOOK"})
    waits: list[float] = []
    outcome = run_job(spec, params, workspace=project, scheduled_for=SLOT, sleep=waits.append)
    assert outcome.status == "failed" and outcome.attempts == 3
    assert waits == [1.5, 3.0]  # exponential backoff
    assert "RuntimeError" in outcome.error and "failed on purpose" in outcome.error and "\n" not in outcome.error
    # Nothing published: no run folder, no index, no temporary leftovers.
    assert published(project) == [] and not (project.reports / "test_report").exists()
    assert not (project.reports / "index.html").exists()
    assert list(project.tmp.iterdir()) == []
    rows = project.history().runs("test_report")
    assert [(r.attempt, r.status) for r in reversed(rows)] == [(1, "retrying"), (2, "retrying"), (3, "failed")]
    assert rows[0].error == outcome.error
    # The alert arrives once, after the last retry, by both channels.
    [mail] = smtp.mailbox.messages
    assert mail.message["Subject"] == "FAILED: Test report: alpha, 2026-11-27"
    assert outcome.error in mail.body and mail.attachments == {}
    [payload] = hook.payloads
    assert "FAILED" in payload["text"] and "failed on purpose" in payload["text"]


def test_fails_once_then_succeeds(project, tmp_path):
    marker = tmp_path / "marker"
    params = write_params(project, "alpha_flaky", company="alpha", marker=str(marker))
    spec = write_spec(project, parameters=[str(params)], retries={"count": 2, "backoff": 0.25, "jitter": 0},
                      outputs=["html"])
    waits: list[float] = []
    outcome = run_job(spec, params, workspace=project, scheduled_for=SLOT, sleep=waits.append)
    assert outcome.status == "success" and outcome.attempts == 2 and waits == [0.25]
    assert marker.read_text() == "first attempt"
    [run_dir] = published(project)
    assert {p.name for p in run_dir.iterdir()} == {"report.html", "notebook.ipynb", "run.json"}
    rows = project.history().runs("test_report")
    assert [(r.attempt, r.status) for r in reversed(rows)] == [(1, "retrying"), (2, "success")]
    assert "first attempt fails on purpose" in rows[1].error
    assert len({r.run_id for r in rows}) == 1  # one run, two attempts


def test_invalid_parameters_fail_before_any_kernel(project):
    params = write_params(project, "alpha_typo", company="alpha", wrok_seconds=1)
    spec = write_spec(project, parameters=[str(params)], retries={"count": 3, "backoff": 100})
    outcome = run_job(spec, params, workspace=project, scheduled_for=SLOT,
                      sleep=lambda s: pytest.fail("parameter errors are not retried"))
    assert outcome.status == "failed" and outcome.attempts == 0
    assert "wrok_seconds: unknown parameter" in outcome.error
    [row] = project.history().runs("test_report")
    assert row.status == "failed" and "wrok_seconds" in row.error
    assert not project.tmp.exists() or list(project.tmp.iterdir()) == []
    assert published(project) == []


def test_second_concurrent_run_is_skipped(project):
    params = write_params(project, "alpha_slow", company="alpha", work_seconds=4.0)
    spec = write_spec(project, parameters=[str(params)], outputs=["html"])
    outcomes = {}

    def go(key):
        outcomes[key] = run_job(spec, params, workspace=project, scheduled_for=SLOT)

    first = threading.Thread(target=go, args=("first",))
    first.start()
    # Wait until the first run holds the lock (its history row exists).
    lock_file = project.locks / "test_report__alpha.lock"
    for _ in range(200):
        if project.history_path.exists() and project.history().runs("test_report"):
            break
        threading.Event().wait(0.05)
    go("second")
    first.join()
    assert outcomes["first"].status == "success"
    second = outcomes["second"]
    assert second.status == "skipped"
    assert "already running" in second.error and str(lock_file) in second.error
    assert len(published(project)) == 1
    statuses = sorted(r.status for r in project.history().runs("test_report"))
    assert statuses == ["skipped", "success"]


def test_dry_run_runs_and_sends_nothing(project, servers):
    smtp, hook = servers
    spec = write_spec(project, recipients={"emails": ["exec@example.com"], "slack_webhook_env": "TEST_HOOK"})
    outcome = run_job(spec, "parameters/reports/alpha.yaml", workspace=project, scheduled_for=SLOT, dry_run=True)
    assert outcome.status == "dry-run"
    text = "\n".join(outcome.plan)
    assert "would run notebooks/report.ipynb for alpha" in text
    assert "email → exec@example.com: dry-run" in text and "slack ($TEST_HOOK): dry-run" in text
    assert hook.url not in text
    assert smtp.mailbox.messages == [] and hook.payloads == []
    assert published(project) == [] and project.history().runs() == []


def test_secrets_never_written(project, monkeypatch, tmp_path):
    cert = make_cert(tmp_path)
    if cert is None:
        pytest.skip("openssl missing")
    with SmtpServer("starttls", cert) as smtp, WebhookServer() as hook:
        for k, v in smtp.env(cafile=cert[0]).items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
        monkeypatch.setenv("QUANT_SLACK_WEBHOOK_OPS", hook.url)
        # The notebook tries to print the password: the kernel must not have it.
        ok = write_params(project, "alpha_env", company="alpha", show_env="QUANT_SMTP_PASSWORD")
        bad = write_params(project, "alpha_env_fail", company="alpha", show_env="SMTP_PASSWORD", fail=True)
        spec = write_spec(project, parameters=[str(ok), str(bad)],
                          recipients={"emails": ["exec@example.com"], "slack_webhook_env": "QUANT_SLACK_WEBHOOK_OPS"})
        good = run_job(spec, ok, workspace=project, scheduled_for=SLOT)
        failed = run_job(spec, bad, workspace=project, scheduled_for=SLOT)
    assert good.status == "success" and failed.status == "failed"
    assert len(smtp.mailbox.messages) == 2 and smtp.mailbox.logins == ["reports@quant.test"] * 2
    assert len(hook.payloads) == 2
    assert "QUANT_SMTP_PASSWORD=None" in (good.run_dir / "notebook.ipynb").read_text()
    written = all_bytes(project)
    assert project.log_file.exists() and project.history_path.exists()
    for secret in (SMTP_PASSWORD, hook.url, "XXXXsecretXXXX"):
        assert secret.encode() not in written
    # The environment is whole again afterwards.
    import os
    assert os.environ["SMTP_PASSWORD"] == SMTP_PASSWORD
