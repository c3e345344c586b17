"""The report views of the alerts read a real store, read-only, and say plainly when it is empty."""

from __future__ import annotations

import hashlib
import socket
from contextlib import closing
from datetime import timedelta

import psycopg
import pytest

from quantlib.alerts import views
from quantlib.views import report_table
from tests.alerts.helpers import VALUES, FakeClock, check, engine, rule


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def seeded(tmp_path):
    """A store with a critical, a warning (acknowledged later) and an info alert, and one resolved alert."""
    clock = FakeClock()
    rules = [rule("cash", category="financial", comparison={"kind": "threshold", "op": "<", "value": 10,
                                                             "level": "critical"}),
             rule("late", category="operational", comparison={"kind": "threshold", "op": ">", "value": 5,
                                                               "level": "warning"}),
             rule("quiet", category="customer", comparison={"kind": "threshold", "op": ">", "value": 1,
                                                             "level": "info"}),
             rule("gone", category="customer", comparison={"kind": "threshold", "op": ">", "value": 1,
                                                            "level": "warning"})]
    VALUES.update({"cash": [("company", 3.0)], "late": [("technician T1", 9.0)], "quiet": [("company", 2.0)],
                   "gone": [("customer C1", 4.0)]})
    eng = engine(tmp_path, rules, clock)
    check(eng)
    clock.advance(hours=1)
    VALUES["gone"] = []
    check(eng)
    late = next(a for a in eng.alerts(open_only=True) if a["rule"] == "late")
    eng.acknowledge(late["id"], who="ops lead")
    yield eng, clock
    for name in ("cash", "late", "quiet", "gone"):
        VALUES.pop(name, None)


def test_open_alerts_most_severe_first_and_the_store_is_untouched(seeded):
    eng, _ = seeded
    path = eng.store.path
    before = _digest(path)
    table = views.open_alerts_table(path)
    assert list(table["level"]) == ["critical", "warning", "info"]
    assert list(table["state"]) == ["open", "acknowledged", "open"]
    assert "customer C1" not in set(table["subject"])      # resolved: not open
    assert views.open_alerts_text(table) == "3 open alerts: 1 critical, 1 warning, 1 info."
    html = report_table(table).to_html()
    assert "Since" in html and "technician T1" in html and "07 Dec 2026" in html
    assert table["message"].iloc[0].startswith("Rule cash: company")      # no "CRITICAL " in front
    by_level = views.open_alerts_by_level(path)
    assert by_level.set_index("level")[["open", "acknowledged", "total"]].to_dict("index") == {
        "critical": {"open": 1, "acknowledged": 0, "total": 1},
        "warning": {"open": 0, "acknowledged": 1, "total": 1},
        "info": {"open": 1, "acknowledged": 0, "total": 1}}
    assert _digest(path) == before
    assert len(eng.alerts()) == 4


def test_history_summary_counts_events_in_the_window(seeded):
    eng, clock = seeded
    summary = views.alert_history_summary(eng.store.path, days=30, now=clock())
    rows = summary.set_index("category").to_dict("index")
    assert rows["customer"] == {"opened": 2, "acknowledged": 0, "escalated": 0, "resolved": 1, "still_open": 1}
    assert rows["operational"] == {"opened": 1, "acknowledged": 1, "escalated": 0, "resolved": 0, "still_open": 1}
    assert rows["financial"]["opened"] == 1 and rows["financial"]["still_open"] == 1
    # Thirty-one days later nothing happened in the window; what is still open still counts.
    later = views.alert_history_summary(eng.store.path, days=30, now=clock() + timedelta(days=31))
    assert later[["opened", "acknowledged", "resolved"]].to_numpy().sum() == 0
    assert later["still_open"].sum() == 3


def test_a_missing_store_reads_as_no_alerts_and_is_not_created(tmp_path):
    path = tmp_path / "none" / "ops.sqlite"
    table = views.open_alerts_table(path)
    assert table.empty and views.open_alerts_text(table) == "No open alerts."
    assert views.open_alerts_by_level(path)["total"].tolist() == [0, 0, 0]
    assert views.alert_history_summary(path).empty
    assert not path.exists() and not path.parent.exists()


def test_the_store_defaults_to_quant_ops_db(seeded, monkeypatch):
    eng, _ = seeded
    monkeypatch.setenv("QUANT_OPS_DB", str(eng.store.path))
    assert len(views.open_alerts_table()) == 3


def test_a_postgres_store_is_read_read_only(postgres_dsn, monkeypatch):
    from quantlib.data.opstore import PostgresOpsStore

    assert views.open_alerts_table(env={"QUANT_OPS_DSN": postgres_dsn}).empty  # no schema yet: nothing created
    with closing(psycopg.connect(postgres_dsn)) as con:
        assert con.execute("SELECT to_regclass('alerts')").fetchone()[0] is None
    clock = FakeClock()
    eng = engine(PostgresOpsStore(postgres_dsn), [rule("cash", category="financial", comparison={
        "kind": "threshold", "op": "<", "value": 10, "level": "critical"})], clock)
    VALUES["cash"] = [("company", 3.0)]
    try:
        check(eng)
    finally:
        VALUES.pop("cash")
    monkeypatch.setenv("QUANT_OPS_DSN", postgres_dsn)
    table = views.open_alerts_table()
    assert table[["level", "category", "subject"]].values.tolist() == [["critical", "financial", "company"]]
    assert views.alert_history_summary(now=clock())["opened"].tolist() == [1]
    with views.read_only_store() as con, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        con.execute("DELETE FROM alerts")


def test_an_unreachable_postgres_store_is_an_error_without_the_password(tmp_path):
    from quantlib.data.opstore import OpsStoreError

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dsn = f"postgresql://ops:s3cret@127.0.0.1:{port}/ops?connect_timeout=2"
    with pytest.raises(OpsStoreError, match=f"127.0.0.1:{port}") as raised:
        views.open_alerts_table(env={"QUANT_OPS_DSN": dsn})
    assert "s3cret" not in str(raised.value)
    # An explicit SQLite store wins over the environment, as in open_ops_store.
    assert views.open_alerts_table(tmp_path / "ops.sqlite", env={"QUANT_OPS_DSN": dsn}).empty

