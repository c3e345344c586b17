"""Run history: rows, the due query, and redaction."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone

import pytest

from quantlib.errors import RunStatus
from quantlib.schedule.history import RunHistory, one_line, parameters_hash, redact


def test_rows_and_last_scheduled(tmp_path):
    h = RunHistory(tmp_path / "reports" / ".history.sqlite")
    slot1 = datetime(2026, 11, 26, 6, tzinfo=timezone.utc)
    slot2 = datetime(2026, 11, 27, 6, tzinfo=timezone.utc)
    assert h.last_scheduled_for("j", "a") is None
    r1 = h.start(run_id="r1", job="j", company="a", parameters_hash="h", scheduled_for=slot1)
    h.finish(r1, "retrying", error=RuntimeError("boom\nsecond line"))
    r2 = h.start(run_id="r1", job="j", company="a", parameters_hash="h", scheduled_for=slot1, attempt=2)
    h.finish(r2, "success", outputs={"html": "j/a/r1/report.html"})
    skipped = h.start(run_id="r2", job="j", company="a", parameters_hash="h", scheduled_for=slot2,
                      status="skipped")
    h.finish(skipped, "skipped", error="already running")
    assert h.last_scheduled_for("j", "a") == slot1  # skipped rows do not count as a run
    assert h.last_scheduled_for("j", "b") is None
    rows = h.runs("j")
    assert [r.status for r in rows] == ["skipped", "success", "retrying"]
    assert rows[2].error == "RuntimeError: boom second line" and rows[2].attempt == 1
    assert rows[1].outputs == {"html": "j/a/r1/report.html"}
    assert h.last_success("j", "a").attempt == 2


def test_statuses_are_stored_as_the_old_strings(tmp_path):
    # A history file written before RunStatus existed holds plain strings; it must still read,
    # and new rows must hold the same strings.
    path = tmp_path / "h.sqlite"
    h = RunHistory(path)
    slot = datetime(2026, 11, 26, 6, tzinfo=timezone.utc)
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO runs (run_id, job, company, parameters_hash, scheduled_for, started, status,"
                    " attempt) VALUES ('old', 'j', 'a', 'h', ?, ?, 'failed', 1)", (slot.isoformat(), slot.isoformat()))
    new = h.start(run_id="new", job="j", company="a", parameters_hash="h", scheduled_for=slot)
    h.finish(new, RunStatus.SUCCESS)
    with sqlite3.connect(path) as con:
        stored = [s for (s,) in con.execute("SELECT status FROM runs ORDER BY id")]
    assert stored == ["failed", "success"]
    rows = h.runs("j")
    assert [r.status for r in rows] == [RunStatus.SUCCESS, RunStatus.FAILED]
    assert all(isinstance(r.status, RunStatus) for r in rows)
    assert h.last_success("j", "a").run_id == "new"


def test_unknown_status_is_refused(tmp_path):
    h = RunHistory(tmp_path / "h.sqlite")
    row = h.start(run_id="r", job="j", company="a", parameters_hash="h", scheduled_for=datetime.now(timezone.utc))
    with pytest.raises(ValueError, match="unknown status"):
        h.finish(row, "done")
    with pytest.raises(ValueError):
        h.finish(row, RunStatus.DRY_RUN)  # a dry run is never recorded

def test_concurrent_writers(tmp_path):
    h = RunHistory(tmp_path / "h.sqlite")

    def write(i):
        for k in range(20):
            row = h.start(run_id=f"{i}-{k}", job="j", company=str(i), parameters_hash="h",
                          scheduled_for=datetime.now(timezone.utc))
            h.finish(row, "success")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(h.runs(limit=1000)) == 80


def test_redaction(monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("QUANT_SLACK_WEBHOOK_OPS", "https://hooks.slack.test/T/B/abc")
    text = "login hunter2-secret failed posting to https://hooks.slack.test/T/B/abc"
    assert redact(text) == "login *** failed posting to ***"
    assert "hunter2" not in one_line(ValueError(text))
    long = one_line("x" * 1000)
    assert len(long) == 500
    assert one_line("Traceback (most recent call last):\n  File x\nKeyError: 'k'") == "KeyError: 'k'"


def test_parameters_hash_is_order_free():
    assert parameters_hash({"a": 1, "b": 2}) == parameters_hash({"b": 2, "a": 1})
    assert parameters_hash({"a": 1}) != parameters_hash({"a": 2})
