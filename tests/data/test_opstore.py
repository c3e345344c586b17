"""The operational store: WAL SQLite next to the run history, versioned schema, concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date, datetime, timezone

import pytest

from quantlib.data.opstore import (
    MIGRATIONS,
    OpsStore,
    OpsStoreError,
    default_ops_path,
    open_ops_store,
)


def test_created_in_wal_mode_at_the_latest_schema_version(tmp_path):
    store = OpsStore(tmp_path / "sub" / ".ops.sqlite")
    assert store.schema_version() == MIGRATIONS[-1][0]
    with store.reading() as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"alerts", "alert_history", "predictions", "meta", "schema_version"} <= tables
    # Opening again applies nothing twice.
    assert OpsStore(store.path).schema_version() == MIGRATIONS[-1][0]
    with store.reading() as con:
        assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


def test_a_newer_store_is_refused(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    with store.transaction() as con:
        con.execute("INSERT INTO schema_version (version) VALUES (999)")
    with pytest.raises(OpsStoreError, match="newer than this code"):
        OpsStore(store.path)


def test_default_path_is_next_to_the_run_history(tmp_path):
    assert default_ops_path(tmp_path / "reports", env={}) == tmp_path / "reports" / ".ops.sqlite"
    assert default_ops_path(env={"QUANT_OPS_DB": str(tmp_path / "x.sqlite")}) == tmp_path / "x.sqlite"
    assert default_ops_path(env={}).parent.name == "reports"


def test_postgres_dsn_is_refused_clearly_not_silently_ignored(tmp_path):
    with pytest.raises(OpsStoreError, match="PostgreSQL operational store is not implemented"):
        open_ops_store(env={"QUANT_OPS_DSN": "postgresql://u@db/quant"})
    assert open_ops_store(tmp_path / "o.sqlite", env={"QUANT_OPS_DSN": "postgresql://u@db/quant"}).path.exists()


def test_one_open_alert_per_rule_and_subject_is_enforced_by_the_schema(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    row = ("r", "s", "financial", "warning", "open", "m", "t", "t")
    sql = ("INSERT INTO alerts (rule, subject, category, level, state, message, first_seen, last_seen)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    with store.transaction() as con:
        con.execute(sql, row)
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as con:
            con.execute(sql, row)
    with store.transaction() as con:
        con.execute("UPDATE alerts SET state = 'resolved'")
        con.execute(sql, row)  # a resolved alert does not block a new one


def test_a_rolled_back_transaction_leaves_nothing(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    with store.transaction(rollback=True) as con:
        OpsStore.set_meta(con, "k", "v")
        assert store.get_meta("k", con) == "v"
    assert store.get_meta("k") is None


def test_concurrent_writers_wait_instead_of_failing(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    errors = []

    def write(n):
        try:
            for i in range(20):
                store.record_predictions([{"series_id": f"w{n}", "target_date": date(2026, 1, 1 + i % 28),
                                           "value": i}], model="m", version="1", params_hash="h")
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.predictions(model="m")) == 80


def test_predictions_round_trip(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    at = datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)
    n = store.record_predictions(
        [{"series_id": "revenue", "target_date": date(2026, 12, 6), "value": 1200.5, "lo": 900, "hi": 1500}],
        model="revenue_forecaster", version="0.1", params_hash="abc123", window_start=date(2025, 12, 1),
        window_end=date(2026, 11, 30), recorded_at=at)
    assert n == 1
    [row] = store.predictions("revenue_forecaster", "revenue")
    assert (row["target_date"], row["value"], row["lo"], row["hi"], row["window_end"]) == (
        "2026-12-06", 1200.5, 900.0, 1500.0, "2026-11-30")
    assert row["recorded_at"].startswith("2026-12-05T09:30:00")
