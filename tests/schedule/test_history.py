"""Run history: rows, the due query, the outbox, and redaction.

Tests taking ``new_history`` (tests/schedule/conftest.py) run once on SQLite and once on
PostgreSQL (a real server started for the session).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import datetime, timezone

import pytest

from quantlib.errors import RunStatus
from quantlib.schedule.history import RunHistory, one_line, parameters_hash, redact


def test_rows_and_last_scheduled(new_history):
    h = new_history()
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


def test_unknown_status_is_refused(new_history):
    h = new_history()
    row = h.start(run_id="r", job="j", company="a", parameters_hash="h", scheduled_for=datetime.now(timezone.utc))
    with pytest.raises(ValueError, match="unknown status"):
        h.finish(row, "done")
    with pytest.raises(ValueError):
        h.finish(row, RunStatus.DRY_RUN)  # a dry run is never recorded


def test_concurrent_writers(new_history):
    h = new_history()

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
    # The shared database's password too, whichever form the DSN takes.
    monkeypatch.setenv("QUANT_OPS_DSN", "postgresql://quant:db-pass-123@db.example/ops")
    assert one_line("auth failed for db-pass-123") == "auth failed for ***"
    monkeypatch.setenv("QUANT_OPS_DSN", "host=db.example password=db-pass-456 dbname=ops")
    assert redact("auth failed for db-pass-456") == "auth failed for ***"


def test_parameters_hash_is_order_free():
    assert parameters_hash({"a": 1, "b": 2}) == parameters_hash({"b": 2, "a": 1})
    assert parameters_hash({"a": 1}) != parameters_hash({"a": 2})


def test_the_outbox_counts_attempts_and_keeps_them(new_history):
    h = new_history()
    first = h.enqueue(run_id="r1", job="j", company="a", channel="email", target="exec@example.com",
                      notice={"job": "j", "status": "success"}, emails=["exec@example.com"])
    second = h.enqueue(run_id="r1", job="j", company="a", channel="slack", target="QUANT_SLACK_WEBHOOK_OPS",
                       notice={"job": "j"}, slack_env="QUANT_SLACK_WEBHOOK_OPS")
    assert second > first
    later = datetime(2099, 1, 1, tzinfo=timezone.utc)
    h.record_delivery(first, "failed", "SMTP 451 try later", next_attempt=later)
    h.record_delivery(second, "sent")
    now = datetime.now(timezone.utc)
    assert h.pending(now) == []  # the failed one waits for its next attempt
    [waiting] = h.pending()
    assert (waiting.id, waiting.attempts, waiting.emails, waiting.notice) == (
        first, 1, ["exec@example.com"], {"job": "j", "status": "success"})
    assert waiting.last_error == "SMTP 451 try later" and waiting.next_attempt.startswith("2099-01-01")
    h.record_delivery(first, "sent")
    assert h.pending() == [] and [i.status for i in h.outbox([first, second])] == ["sent", "sent"]
    attempts = h.delivery_attempts("j")
    assert [(a.delivery_id, a.attempt, a.status) for a in attempts] == [(first, 2, "sent"), (second, 1, "sent"),
                                                                       (first, 1, "failed")]


def test_two_reapers_claim_a_dead_run_once(new_history):
    h = new_history()
    h.start(run_id="r", job="j", company="a", parameters_hash="h", scheduled_for=datetime.now(timezone.utc))
    reapers, barrier, found = [new_history() for _ in range(4)], threading.Barrier(4), []

    def reap(history):
        barrier.wait()
        found.extend(history.reap(lease=0.0, now=datetime(2100, 1, 1, tzinfo=timezone.utc)))

    threads = [threading.Thread(target=reap, args=(r,)) for r in reapers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [x.record.run_id for x in found] == ["r"]  # one alert, not one per reaper
    assert h.runs()[0].lost


def test_the_ops_dsn_puts_the_history_in_postgresql_next_to_the_store(postgres_dsn, tmp_path, monkeypatch):
    from quantlib.data.opstore import PostgresOpsStore
    from quantlib.schedule.history import HISTORY_TABLES, PostgresRunHistory, open_run_history
    from quantlib.schedule.runner import Workspace

    dsn = postgres_dsn.replace("postgres:@", "postgres:s3cret-pw@")  # the test server trusts local users
    monkeypatch.setenv("QUANT_OPS_DSN", dsn)
    ws = Workspace.at(tmp_path)
    h = ws.history(create=False)
    assert isinstance(h, PostgresRunHistory) and not ws.history_path.exists()
    assert "s3cret-pw" not in repr(h) and h.location.startswith("postgresql://postgres@/ops_")
    h.start(run_id="r", job="j", company="a", parameters_hash="h", scheduled_for=datetime.now(timezone.utc))
    # One database for every host's shared state: the operational store's migrations and the history's
    # tables live side by side (a store migration must never take one of the history's table names).
    store = PostgresOpsStore(dsn)
    with store.reading() as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables"
                                            " WHERE table_schema = current_schema()")}
    assert set(HISTORY_TABLES) <= tables and {"alerts", "predictions"} <= tables
    assert [r.run_id for r in open_run_history().runs()] == ["r"]
    # An explicit history file still wins (quant schedule --history).
    assert type(Workspace.at(tmp_path, history=tmp_path / "own.sqlite").history()) is RunHistory
    assert type(open_run_history(tmp_path / "own.sqlite")) is RunHistory


def test_an_unreachable_history_server_is_a_clear_error_without_the_password():
    from quantlib.errors import QuantError
    from quantlib.schedule.history import RunHistoryError, open_run_history

    dsn = "postgresql://quant:s3cret-pw@127.0.0.1:9/opsdb?connect_timeout=2"
    with pytest.raises(RunHistoryError) as caught:
        open_run_history(env={"QUANT_OPS_DSN": dsn})
    message = str(caught.value)
    assert "cannot connect to the PostgreSQL run history postgresql://quant@127.0.0.1:9/opsdb" in message
    assert "s3cret-pw" not in message and isinstance(caught.value, QuantError)


def _open_together(path, barrier, answers, opener):
    try:
        barrier.wait()
        opener(path)
        answers.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        answers.put(f"{type(exc).__name__}: {exc}")


def _open_history(path):
    h = RunHistory(path)
    row = h.start(run_id="r", job="j", company="c", parameters_hash="h",
                  scheduled_for=datetime(2026, 12, 7, tzinfo=timezone.utc))
    h.finish(row, RunStatus.SUCCESS)


def _open_ops_store(path):
    from quantlib.data.opstore import OpsStore

    OpsStore(path)


@pytest.mark.parametrize("opener", [_open_history, _open_ops_store], ids=["run history", "ops store"])
def test_workers_opening_a_new_file_together_all_get_in(tmp_path, opener):
    # Two scheduler workers opening a new history at once: switching the file to WAL met the
    # other connection and SQLite refused at once ("database is locked"), without waiting out
    # the busy timeout; a fresh-clone `make test` lost a run that way (about 1 open in 13 here).
    import multiprocessing

    context = multiprocessing.get_context("fork")
    failures = []
    for attempt in range(15):
        path = tmp_path / f"new{attempt}.sqlite"
        barrier, answers = context.Barrier(3), context.Queue()
        workers = [context.Process(target=_open_together, args=(path, barrier, answers, opener)) for _ in range(3)]
        for w in workers:
            w.start()
        failures += [a for a in (answers.get(timeout=60) for _ in workers) if a != "ok"]
        for w in workers:
            w.join(timeout=60)
        with closing(sqlite3.connect(path)) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert failures == []
