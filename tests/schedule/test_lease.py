"""Leases: a run whose process dies is found, marked failed, alerted, re-run, and its debris removed."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from quantlib.errors import RunStatus
from quantlib.schedule.history import RunHistory
from tests.schedule.conftest import write_params, write_spec, write_sql
from tests.schedule.servers import SmtpServer

SLOT = datetime(2026, 11, 27, 6, tzinfo=timezone.utc)
CLI = [sys.executable, "-c", "import quantlib.cli.schedule; from quantlib.cli.app import app; app()"]

_OLD_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, job TEXT NOT NULL, company TEXT NOT NULL,
    parameters_hash TEXT NOT NULL, scheduled_for TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
    status TEXT NOT NULL CHECK (status IN ('running','success','failed','retrying','skipped')),
    attempt INTEGER NOT NULL, error TEXT, outputs TEXT NOT NULL DEFAULT '{}'
);
"""


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_old_history_file_gains_the_lease_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(_OLD_SCHEMA)
        con.execute("INSERT INTO runs (run_id, job, company, parameters_hash, scheduled_for, started, status, attempt)"
                    " VALUES ('r0', 'j', 'a', 'h', ?, ?, 'running', 1)", (SLOT.isoformat(), SLOT.isoformat()))
    h = RunHistory(path)
    with sqlite3.connect(path) as con:
        columns = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
    assert {"pid", "host", "heartbeat_at", "tmp_dir", "lost"} <= columns
    [old] = h.runs()
    assert old.status is RunStatus.RUNNING and old.pid is None and not old.lost
    # An old row stuck in "running" has no heartbeat: its start time is its last sign of life.
    [lost] = h.reap(lease=60)
    assert lost.record.run_id == "r0" and "lease expired" in lost.reason
    assert h.runs()[0].status is RunStatus.FAILED and h.runs()[0].lost


def test_reap_dead_pid_and_expired_lease(new_history):
    h = new_history()
    gone = h.start(run_id="gone", job="j", company="a", parameters_hash="h", scheduled_for=SLOT)
    remote = h.start(run_id="remote", job="j", company="b", parameters_hash="h", scheduled_for=SLOT)
    fresh = h.start(run_id="fresh", job="j", company="c", parameters_hash="h", scheduled_for=SLOT)
    mine = h.start(run_id="mine", job="j", company="d", parameters_hash="h", scheduled_for=SLOT)
    old = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    write_sql(h, "UPDATE runs SET pid = ? WHERE id = ?", dead_pid(), gone)
    write_sql(h, "UPDATE runs SET host = 'elsewhere', heartbeat_at = ? WHERE id = ?", old, remote)
    write_sql(h, "UPDATE runs SET host = 'elsewhere' WHERE id = ?", fresh)
    lost = {x.record.run_id: x.reason for x in h.reap(lease=60)}
    assert set(lost) == {"gone", "remote"}
    assert lost["gone"].startswith("process gone: process") and socket.gethostname() in lost["gone"]
    assert lost["remote"].startswith("lease expired: process") and "elsewhere stopped heartbeating at" in lost["remote"]
    status = {r.run_id: r.status for r in h.runs()}
    assert status == {"gone": "failed", "remote": "failed", "fresh": "running", "mine": "running"}
    # A heartbeat keeps a run alive; a second reaper finds nothing more.
    h.heartbeat("mine")
    assert h.reap(lease=60) == []
    del mine


def test_lost_slot_is_due_again(new_history):
    h = new_history()
    row = h.start(run_id="r1", job="j", company="a", parameters_hash="h", scheduled_for=SLOT)
    write_sql(h, "UPDATE runs SET pid = ? WHERE id = ?", dead_pid(), row)
    assert h.last_scheduled_for("j", "a", lost_retries=1) == SLOT  # running counts until found dead
    h.reap(lease=60)
    assert h.last_scheduled_for("j", "a", lost_retries=1) is None
    assert h.last_scheduled_for("j", "a") == SLOT
    # Lost a second time: now it counts (it was alerted both times), so it is not re-run forever.
    row = h.start(run_id="r2", job="j", company="a", parameters_hash="h", scheduled_for=SLOT)
    write_sql(h, "UPDATE runs SET pid = ? WHERE id = ?", dead_pid(), row)
    h.reap(lease=60)
    assert h.last_scheduled_for("j", "a", lost_retries=1) == SLOT


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_kill9_run_is_marked_failed_rerun_and_published(project, monkeypatch):
    """`quant schedule run` killed with SIGKILL mid-notebook; `quant schedule due` recovers."""
    monkeypatch.setenv("QUANT_SCHEDULE_HEARTBEAT", "0.3")
    monkeypatch.setenv("QUANT_SCHEDULE_LEASE", "2")
    params = write_params(project, "alpha", company="alpha", sleep_seconds=120)
    write_spec(project, "daily", parameters=[str(params)], outputs=["html"],
               recipients={"emails": ["ops@example.com"]})
    with SmtpServer("none") as smtp:
        for k, v in smtp.env().items():
            monkeypatch.setenv(k, v)
        proc = subprocess.Popen([*CLI, "schedule", "run", "daily", "--root", str(project.root)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
        try:
            def executing():
                if not project.history_path.exists():
                    return False
                rows = project.history().runs("daily")
                return bool(rows) and rows[0].tmp_dir and (project.tmp / rows[0].tmp_dir.split("/")[-1]
                                                          / "notebook.ipynb").exists()
            wait_for(executing, what="the run to start its notebook")
            [running] = project.history().runs("daily")
            assert running.status == "running" and running.pid == proc.pid
            first_beat = running.heartbeat_at
            wait_for(lambda: project.history().runs("daily")[0].heartbeat_at != first_beat, 10, "a heartbeat")
        finally:
            proc.kill()
            proc.wait()
        assert list(project.tmp.iterdir())  # the killed run's debris
        (project.tmp / "stray-folder").mkdir()
        write_params(project, "alpha", company="alpha")  # the next run is quick

        from tests.schedule.test_cli_due_serve import quant

        code, out = quant(project, "due")
        assert code == 0, out
        assert "lost" in out and "process gone" in out and "success" in out
    rows = list(reversed(project.history().runs("daily")))
    assert [(r.status, r.lost) for r in rows] == [(RunStatus.FAILED, True), (RunStatus.SUCCESS, False)]
    assert f"process {proc.pid} on {socket.gethostname()} died" in rows[0].error
    assert rows[1].run_id != rows[0].run_id
    assert list(project.reports.glob("daily/alpha/*/report.html"))
    assert list(project.tmp.iterdir()) == []
    # Alerted through the usual path, then the re-run's report.
    subjects = [m.message["Subject"] for m in smtp.mailbox.messages]
    assert subjects[0].startswith("FAILED: Test report: alpha") and subjects[1].startswith("Test report: alpha")
    assert "process gone" in smtp.mailbox.messages[0].body
    # Nothing more is due.
    code, out = quant(project, "due")
    assert code == 0 and "nothing due" in out
