"""One failure never hides the others: a lost worker, a failing serve cycle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import quantlib.schedule.runner as runner_mod
from quantlib.errors import RunStatus
from quantlib.schedule.executors import EXECUTORS, InlineExecutor
from quantlib.schedule.runner import run_many, serve
from tests.schedule.conftest import write_spec
from tests.schedule.servers import SmtpServer

SLOT = datetime(2026, 11, 27, 6, tzinfo=timezone.utc)


def _boom(x):
    if x == 2:
        raise RuntimeError("worker lost")
    return x


def test_inline_map_returns_exceptions_in_place():
    with InlineExecutor() as ex:
        out = ex.map(_boom, [1, 2, 3], return_exceptions=True)
        assert out[0] == 1 and out[2] == 3 and isinstance(out[1], RuntimeError)
        with pytest.raises(RuntimeError):
            ex.map(_boom, [1, 2, 3])


class LosesBeta(InlineExecutor):
    """An executor whose worker for beta dies (as a lost Dask worker or a broken pool would)."""

    def map(self, fn, items, *, return_exceptions=False):
        def run(task):
            if task.parameter_file.stem == "beta":
                raise OSError("worker tcp://127.0.0.1:40000 lost (KilledWorker)")
            return fn(task)
        return super().map(run, items, return_exceptions=return_exceptions)


def test_one_lost_worker_does_not_skip_the_others_notifications(project, monkeypatch):
    monkeypatch.setitem(EXECUTORS, "loses-beta", LosesBeta)
    spec = write_spec(project, parameters=["parameters/reports/alpha.yaml", "parameters/reports/beta.yaml"],
                      outputs=["html"], recipients={"emails": ["exec@example.com"]})
    with SmtpServer("none") as smtp:
        for k, v in smtp.env().items():
            monkeypatch.setenv(k, v)
        alpha, beta = run_many(spec, workspace=project, scheduled_for=SLOT, executor="loses-beta")
    assert alpha.status is RunStatus.SUCCESS and alpha.run_dir.is_dir()
    assert beta.status is RunStatus.FAILED and "KilledWorker" in beta.error
    subjects = sorted(m.message["Subject"] for m in smtp.mailbox.messages)
    assert subjects == ["FAILED: Test report: beta, 2026-11-27", "Test report: alpha, 2026-11-27"]
    [row] = project.history().runs("test_report", "beta")
    assert row.status is RunStatus.FAILED and row.lost and "the executor lost the run" in row.error
    # The lost company's slot is due again; alpha's is done.
    due = runner_mod.due_runs(project.load_specs(), SLOT + timedelta(hours=1), workspace=project)
    assert [d.company for d in due] == ["beta"]


def test_serve_survives_a_failing_cycle_and_alerts_once(project, monkeypatch):
    write_spec(project, "minutely", cron="* * * * *", outputs=["html"], recipients={"emails": ["ops@example.com"]})
    real = runner_mod.run_due
    calls = []

    def flaky_run_due(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise OSError("database disk image is malformed")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "run_due", flaky_run_due)
    clock = [datetime(2026, 11, 27, 10, 0, 30, tzinfo=timezone.utc)]
    waits, errors, fired = [], [], []

    def wait(seconds):
        waits.append(seconds)
        clock[0] += timedelta(seconds=seconds)
        return len(waits) >= 3

    with SmtpServer("none") as smtp:
        for k, v in smtp.env().items():
            monkeypatch.setenv(k, v)
        serve(workspace=project, clock=lambda: clock[0], wait=wait, executor="inline",
              on_outcome=fired.append, on_error=errors.append)
    assert len(calls) == 3 and [o.status for o in fired] == ["success"]
    assert waits[:2] == [runner_mod._SERVE_ERROR_PAUSE] * 2
    assert len(errors) == 2 and "database disk image is malformed" in errors[0]
    alerts = [m for m in smtp.mailbox.messages if m.message["Subject"].startswith("FAILED")]
    assert len(alerts) == 1 and "malformed" in alerts[0].body
    assert "scheduler cycle failed" in project.log_file.read_text()


class RecordsBatches(InlineExecutor):
    """An inline executor that remembers every batch it was given."""

    batches: list[list[str]] = []

    def map(self, fn, items, *, return_exceptions=False):
        items = list(items)
        RecordsBatches.batches.append([f"{t.spec.name}/{t.parameter_file.stem}" for t in items])
        return super().map(fn, items, return_exceptions=return_exceptions)


def test_due_jobs_run_side_by_side_on_one_executor(project, monkeypatch):
    """Independent jobs due at once go to one executor batch, not one job after another."""
    monkeypatch.setitem(EXECUTORS, "records", RecordsBatches)
    RecordsBatches.batches = []
    write_spec(project, "first_report", outputs=["html"],
               parameters=["parameters/reports/alpha.yaml", "parameters/reports/beta.yaml"])
    write_spec(project, "second_report", outputs=["html"])
    outcomes = runner_mod.run_due(SLOT + timedelta(minutes=5), workspace=project, executor="records")
    assert sorted(f"{o.job}/{o.company}" for o in outcomes) == [
        "first_report/alpha", "first_report/beta", "second_report/alpha"]
    assert all(o.status is RunStatus.SUCCESS for o in outcomes)
    assert [sorted(b) for b in RecordsBatches.batches] == [
        ["first_report/alpha", "first_report/beta", "second_report/alpha"]]


def test_a_failing_notification_does_not_record_published_runs_again(project, monkeypatch):
    """A notice that raises after the runs were recorded must not fail them a second time as lost."""
    write_spec(project, outputs=["html"], parameters=["parameters/reports/alpha.yaml", "parameters/reports/beta.yaml"],
               recipients={"emails": ["exec@example.com"]})

    def broken_notify(*args, **kwargs):
        raise OSError("disk full while queueing the notice")

    monkeypatch.setattr(runner_mod, "notify", broken_notify)
    outcomes = runner_mod.run_due(SLOT + timedelta(minutes=5), workspace=project, executor="inline")
    assert [o.status for o in outcomes] == [RunStatus.SUCCESS, RunStatus.SUCCESS]
    assert all("notifications not sent" in " ".join(o.undelivered) for o in outcomes)
    for company in ("alpha", "beta"):
        [row] = project.history().runs("test_report", company)
        assert row.status is RunStatus.SUCCESS and not row.lost
    assert runner_mod.due_runs(project.load_specs(), SLOT + timedelta(hours=1), workspace=project) == []
