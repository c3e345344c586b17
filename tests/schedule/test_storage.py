"""Scheduled runs published to object storage (``QUANT_REPORTS_STORAGE``), against the session's
S3-compatible server (moto's server mode, ``s3_server`` in tests/conftest.py): the run folder, then
the index rebuilt from the run history, byte-identical to the local staging copies; a failed
upload is a failed delivery in the history, retried later on the machine that staged it, not a
lost report. One test, two runs (one kernel): the suite is near its time limit."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from typer.testing import CliRunner

import quantlib.cli.schedule  # noqa: F401 - registers the commands
from quantlib.cli.app import app
from quantlib.data.storage import ObjectPath
from quantlib.schedule.runner import STORAGE_CHANNEL, Workspace, flush_outbox, run_job
from tests.schedule.conftest import write_params, write_spec


def quant(ws, *args):
    result = CliRunner().invoke(app, ["schedule", *args, "--root", str(ws.root)])
    return result.exit_code, result.output


def test_a_scheduled_run_is_uploaded_with_an_index_of_every_machines_runs(project, s3_bucket, postgres_dsn,
                                                                         monkeypatch, tmp_path):
    url = f"{s3_bucket}/acme/reports"
    monkeypatch.setenv("QUANT_REPORTS_STORAGE", url)
    # As on several machines: the run history in PostgreSQL, the index lock an advisory lock.
    monkeypatch.setenv("QUANT_OPS_DSN", postgres_dsn)
    # The kernel prints the object storage secret if it can see it (it must not).
    write_params(project, "alpha", company="alpha", show_env="AWS_SECRET_ACCESS_KEY")
    write_spec(project, "daily", outputs=["html", "pdf", "ipynb"])
    code, out = quant(project, "run", "daily")
    assert code == 0, out
    assert f"notify storage → {url}: sent" in out
    [row] = project.history().runs("daily")
    run = f"daily/alpha/{row.run_id}"
    target = ObjectPath(url)
    uploaded = {p.relative_to(target).as_posix() for p in target.files()}
    assert uploaded == {"index.html", *(f"{run}/{name}" for name in
                                        ("report.html", "report.pdf", "notebook.ipynb", "run.json"))}
    for name in uploaded:  # byte-identical to the local staging copies, the index included
        assert (target / name).read_bytes() == (project.reports / name).read_bytes(), name
    notebook = (target / run / "notebook.ipynb").read_text()
    assert "AWS_SECRET_ACCESS_KEY=None" in notebook and "quant-test-secret" not in notebook
    assert f'href="{run}/report.pdf"' in (target / "index.html").read_text()

    # Another machine: its own staging folder, the same (shared) run history, and no object
    # storage credentials yet. It publishes a notebook executed elsewhere (as under Airflow: no
    # second kernel); the upload fails, which is a failed delivery, not a lost report.
    other = Workspace.at(project.root, reports=tmp_path / "worker-2" / "reports")
    assert other.storage == url and project.history().dialect == "postgresql"
    assert not project.history_path.exists() and not (project.locks / "index.lock").exists()  # advisory locks
    spec = write_spec(project, "daily", outputs=["html"])
    executed = tmp_path / "executed.ipynb"
    executed.write_bytes((project.reports / run / "notebook.ipynb").read_bytes())
    monkeypatch.setenv("QUANT_DELIVERY_RETRIES", "0")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    second = run_job(spec, "parameters/reports/alpha.yaml", workspace=other, send=False, executed=executed)
    assert second.status == "success", second.error
    [line] = second.undelivered
    assert line.startswith(f"storage → {url}: StorageError: s3://: no credentials; set AWS_ACCESS_KEY_ID")
    staged = other.reports / "daily" / "alpha" / second.run_id / "report.html"
    assert staged.is_file()
    [attempt, _] = project.history().delivery_attempts("daily")
    assert (attempt.run_id, attempt.channel, attempt.status) == (second.run_id, STORAGE_CHANNEL, "failed")
    assert "\n" not in attempt.detail

    # Credentials back: the next `due` on that machine uploads it, and the index, rebuilt from
    # the history, lists both runs though only its own run folder is on that machine's disk.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "quant-test-secret")
    assert not (target / "daily/alpha" / second.run_id).exists()
    [(item, delivery)] = flush_outbox(workspace=other, now=datetime.now(timezone.utc) + timedelta(hours=1))
    assert item.run_id == second.run_id and delivery.status == "sent", delivery
    assert (target / "daily/alpha" / second.run_id / "report.html").read_bytes() == staged.read_bytes()
    index = (target / "index.html").read_text()
    assert f'href="{run}/report.pdf"' in index and f'href="daily/alpha/{second.run_id}/report.html"' in index
    assert (target / "index.html").read_bytes() == (other.reports / "index.html").read_bytes()
    assert not (other.reports / run).exists()
    assert [i.run_id for i in project.history().delivered(STORAGE_CHANNEL, url)] == [row.run_id, second.run_id]
    assert flush_outbox(workspace=other, now=datetime.now(timezone.utc) + timedelta(hours=2)) == []
    log = "".join((ws.reports / ".logs" / "schedule.log").read_text() for ws in (project, other))
    assert "upload attempt 1 storage" in log and "quant-test-secret" not in log
