"""The operational store: WAL SQLite next to the run history, versioned schema, concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from quantlib.data.opstore import (
    MIGRATIONS,
    PREDICTION_COLUMNS,
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


def _predictions(n: int = 1, **values) -> pd.DataFrame:
    day = date(2026, 11, 30)
    base = {"run_id": "run-1", "model": "revenue_forecast", "version": "0.1", "params_hash": "abc123",
            "as_of": day, "window_start": date(2025, 12, 1), "window_end": day, "quantity": "revenue",
            "subject": "all", "target_start": date(2026, 12, 1), "target_end": date(2026, 12, 30),
            "value": 1200.5, "lo_80": 900.0, "hi_80": 1500.0}
    base.update(values)
    return pd.DataFrame([base] * n)


def test_concurrent_writers_wait_instead_of_failing(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    errors = []

    def write(n):
        try:
            for i in range(20):
                store.record_predictions(_predictions(subject=f"w{n}", target_end=date(2026, 12, 1 + i % 28),
                                                      value=float(i), model="m"))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.prediction_frame(model="m")) == 80


def test_predictions_round_trip_with_proper_types(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    at = datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)
    churn = _predictions(model="churn_risk", quantity="churn", subject="C1", value=0.25, lo_80=np.nan, hi_80=None,
                         window_start=None)
    frame = pd.DataFrame(_predictions().to_dict("records") + churn.to_dict("records"))
    # Timestamps and extra columns are accepted; dates come back as dates.
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["extra"] = "ignored"
    assert store.record_predictions(frame, recorded_at=at) == 2
    got = store.prediction_frame()
    assert list(got.columns) == [*PREDICTION_COLUMNS, "id", "recorded_at"]
    assert got["as_of"].tolist() == [date(2026, 11, 30)] * 2
    assert got["target_end"].tolist() == [date(2026, 12, 30)] * 2
    assert got["window_start"].tolist() == [date(2025, 12, 1), None]
    assert got["value"].dtype == float and got["value"].tolist() == [1200.5, 0.25]
    assert got["lo_80"].iloc[0] == 900.0 and np.isnan(got["lo_80"].iloc[1]) and np.isnan(got["hi_80"].iloc[1])
    assert got["recorded_at"].iloc[0].startswith("2026-12-05T09:30:00")
    churn = store.prediction_frame(model="churn_risk")
    assert churn["subject"].tolist() == ["C1"]
    assert store.prediction_frame(quantity="revenue")["model"].tolist() == ["revenue_forecast"]
    assert store.prediction_frame(model="clv").empty
    assert list(store.prediction_frame(model="clv").columns) == [*PREDICTION_COLUMNS, "id", "recorded_at"]


def test_the_store_keeps_the_monitoring_columns():
    from quantlib.monitor import PREDICTION_COLUMNS as MONITORED

    assert tuple(MONITORED) == PREDICTION_COLUMNS


def test_missing_columns_and_empty_required_values_are_refused(tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    with pytest.raises(ValueError, match="missing column.*quantity, subject"):
        store.record_predictions(_predictions().drop(columns=["quantity", "subject"]))
    with pytest.raises(ValueError, match="required column.*value"):
        store.record_predictions(_predictions(value=np.nan))
    assert store.prediction_frame().empty


def test_a_version_1_store_migrates_to_the_prediction_records(tmp_path):
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as con:  # a store as version 1 created it, with an alert in it
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in (s.strip() for s in dict(MIGRATIONS)[1].split(";")):
            if statement:
                con.execute(statement)
        con.execute("INSERT INTO schema_version (version) VALUES (1)")
        con.execute("INSERT INTO alerts (rule, subject, category, level, state, message, first_seen, last_seen)"
                    " VALUES ('r', 's', 'financial', 'warning', 'open', 'm', 't', 't')")
        con.commit()
    store = OpsStore(path)
    assert store.schema_version() == 2
    with store.reading() as con:
        assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1  # alert state survives
        columns = [r[1] for r in con.execute("PRAGMA table_info(predictions)")]
        indexes = {r[1] for r in con.execute("PRAGMA index_list(predictions)")}
        indexed = [r[2] for r in con.execute("PRAGMA index_info(predictions_target)")]
    assert columns == ["id", *PREDICTION_COLUMNS, "recorded_at"]
    assert "predictions_model" not in indexes and indexed == ["model", "quantity", "subject", "target_end"]
    assert store.record_predictions(_predictions(3)) == 3
    assert len(store.prediction_frame()) == 3
