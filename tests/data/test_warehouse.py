"""The gold build: tables per contract, empty tables for missing silver, atomicity, CLI."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.data.contracts import CONTRACTS, TABLE_ORDER
from quantlib.data.lake import Lake
from quantlib.data.warehouse import MARTS, build_warehouse

TS = pd.Timestamp


def _write(lake: Lake, name: str, rows: list[dict]) -> None:
    contract = CONTRACTS[name]
    lake.silver.mkdir(parents=True, exist_ok=True)
    contract.validate(pd.DataFrame(rows, columns=contract.columns)).to_parquet(
        lake.silver_table(name), index=False)


def _minimal_lake(root) -> Lake:
    """Two customers and three jobs; every other table is missing from silver."""
    lake = Lake(root)
    _write(lake, "customers", [
        {"customer_id": c, "name": c, "customer_type": "commercial", "region": "east", "zip": "01234",
         "lat": 1.0, "lon": 2.0, "acquisition_channel": "partner", "preferred_channel": "email",
         "created_date": TS("2024-01-01"), "is_priority": True} for c in ("A", "B")])
    job = {"technician_id": None, "quote_id": None, "contract_id": None, "equipment_id": None,
           "job_type": "install", "urgency": "routine", "region": "east", "scheduled_hours": 2.0,
           "labor_hours": 2.0, "travel_minutes": 0.0, "travel_miles": 0.0, "labor_cost": 10.0,
           "material_cost": 5.0, "equipment_cost": 0.0, "callback": False, "rating": None,
           "safety_incident": False}
    _write(lake, "jobs", [
        {**job, "job_id": "J1", "customer_id": "A", "service_line": "hvac", "status": "scheduled",
         "created_at": TS("2024-03-01"), "scheduled_start": TS("2024-03-02 08:00"), "completed_at": pd.NaT,
         "revenue": 0.0},
        {**job, "job_id": "J2", "customer_id": "B", "service_line": "roofing", "status": "scheduled",
         "created_at": TS("2024-03-01"), "scheduled_start": TS("2024-03-04 08:00"), "completed_at": pd.NaT,
         "revenue": 0.0},
        {**job, "job_id": "J3", "customer_id": "B", "service_line": "roofing", "status": "scheduled",
         "created_at": TS("2024-03-02"), "scheduled_start": TS("2024-03-05 08:00"), "completed_at": pd.NaT,
         "revenue": 0.0},
    ])
    return lake


def test_every_contract_table_exists_with_contract_columns(tmp_path):
    gold = build_warehouse(_minimal_lake(tmp_path))
    assert gold == tmp_path / "gold.duckdb"
    with duckdb.connect(str(gold), read_only=True) as con:
        for name in TABLE_ORDER:
            columns = [row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()]
            assert columns[:len(CONTRACTS[name].columns)] == CONTRACTS[name].columns, name
        # A missing table is there, empty, with typed columns.
        assert con.execute("SELECT count(*) FROM invoices").fetchone()[0] == 0
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE invoices)").fetchall())
        assert types["issued_date"] == "TIMESTAMP" and types["amount"] == "DOUBLE"
        assert types["disputed"] == "BOOLEAN"
        # Silver timestamps come in as plain TIMESTAMP whatever the Parquet unit.
        jobs_types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE jobs)").fetchall())
        assert jobs_types["scheduled_start"] == "TIMESTAMP"
        for mart in MARTS:
            con.execute(f"SELECT * FROM {mart}").fetchall()


def test_marts_build_on_sparse_data(tmp_path):
    gold = build_warehouse(_minimal_lake(tmp_path))
    with duckdb.connect(str(gold), read_only=True) as con:
        # 2024-03-02..2024-03-05 = 4 days x 2 service lines (hvac, roofing), zero-filled.
        assert con.execute("SELECT count(*), sum(jobs), sum(revenue) FROM daily_revenue").fetchone() == (8, 3, 0)
        assert con.execute("SELECT count(*) FROM customer_features").fetchone()[0] == 2
        # No invoices: the ageing has only its (zero) total row, the dso mart is empty.
        assert con.execute("SELECT level, total FROM receivables_ageing").fetchall() == [("total", 0)]
        assert con.execute("SELECT count(*) FROM dso").fetchone()[0] == 0
        # as_of = latest booking (J3 created 2024-03-02); future slots do not count.
        assert str(con.execute("SELECT as_of FROM build_params").fetchone()[0]) == "2024-03-02"


def test_failed_build_leaves_old_gold_intact(tmp_path):
    lake = _minimal_lake(tmp_path)
    gold = build_warehouse(lake, targets={"monthly_revenue": 1000})
    before = gold.read_bytes()
    # A corrupt silver file makes the next build fail half-way.
    lake.silver_table("invoices").write_bytes(b"this is not parquet")
    with pytest.raises(duckdb.Error):
        build_warehouse(lake, targets={"monthly_revenue": 2000})
    assert gold.read_bytes() == before
    with duckdb.connect(str(gold), read_only=True) as con:
        assert con.execute("SELECT value FROM targets").fetchone()[0] == 1000
    # No temporary files are left next to it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gold.duckdb", "silver"]


def test_rebuild_replaces_gold(tmp_path):
    lake = _minimal_lake(tmp_path)
    build_warehouse(lake, targets={"monthly_revenue": 1000})
    gold = build_warehouse(lake, targets={"monthly_revenue": 2000, "note": "text"})
    with duckdb.connect(str(gold), read_only=True) as con:
        assert dict(con.execute("SELECT key, value FROM targets").fetchall()) == {
            "monthly_revenue": 2000, "note": None}
        assert con.execute("SELECT text FROM targets WHERE key = 'note'").fetchone()[0] == "text"


def test_cli_build_reads_profile_targets(tmp_path):
    import quantlib.cli.warehouse  # noqa: F401  (registers the command)
    from quantlib.cli.app import app

    lake = _minimal_lake(tmp_path / "lake")
    profile = tmp_path / "acme.yaml"
    profile.write_text("name: Acme Roofing\nseed: 7\ncustomers: {count: 100}\n"
                       "targets:\n  monthly_revenue: 450000\n")
    result = CliRunner().invoke(app, ["warehouse", "build", "--lake", str(lake.root), "--profile", str(profile)])
    assert result.exit_code == 0, result.output
    assert "daily_revenue" in result.output and "Acme Roofing" in result.output
    with duckdb.connect(str(lake.gold), read_only=True) as con:
        assert con.execute("SELECT value FROM targets WHERE key = 'monthly_revenue'").fetchone()[0] == 450000
        assert con.execute("SELECT DISTINCT company FROM build_info").fetchone()[0] == "Acme Roofing"


def test_write_offs_and_publications_as_of_a_date_and_older_files(tmp_path):
    """An invoice written off later is open until its write-off date; files without the dates
    stay readable (an undated write-off counts from its issue, indicators get the default lag)."""
    lake = _minimal_lake(tmp_path)
    invoice = {"customer_id": "A", "due_date": TS("2024-03-31"), "amount": 100.0, "disputed": True}
    _write(lake, "invoices", [
        {**invoice, "invoice_id": "I1", "job_id": "J1", "issued_date": TS("2024-03-01"), "status": "written_off",
         "written_off_at": TS("2024-05-10")},
        {**invoice, "invoice_id": "I2", "job_id": "J2", "issued_date": TS("2024-03-01"), "status": "open",
         "written_off_at": pd.NaT},
    ])
    _write(lake, "payments", [{"payment_id": "P1", "invoice_id": "I2", "customer_id": "A",
                               "paid_date": TS("2024-06-01"), "amount": 100.0, "method": "card"}])
    # An older export: no publication dates.
    pd.DataFrame({"month": [TS("2024-03-01"), TS("2024-04-01")], "unemployment_rate": [4.0, 4.1],
                  "housing_starts": [1400.0, 1390.0], "consumer_confidence": [100.0, 99.0]}).to_parquet(
        lake.silver_table("economic_indicators"), index=False)
    with duckdb.connect(str(build_warehouse(lake)), read_only=True) as con:
        def open_at(day):
            return sorted(r[0] for r in con.execute("SELECT invoice_id FROM open_invoices_at(?::DATE)",
                                                    [day]).fetchall())
        assert open_at("2024-05-09") == ["I1", "I2"]
        assert open_at("2024-05-10") == ["I2"]
        assert open_at("2024-06-01") == []
        dso = con.execute("SELECT month_end, receivables FROM dso ORDER BY month").fetchall()
        assert dict(dso)[TS("2024-04-30").date()] == 200.0   # I1 still counts in April
        assert dict(dso)[TS("2024-05-31").date()] == 100.0
        published = con.execute("SELECT published_at FROM economic_indicators ORDER BY month").fetchall()
        assert [p[0] for p in published] == [TS("2024-04-15"), TS("2024-05-15")]
    # A write-off without a date (an older file) counts from the invoice's issue.
    with duckdb.connect(str(lake.gold)) as con:
        con.execute("UPDATE invoices SET written_off_at = NULL WHERE invoice_id = 'I1'")
        assert [r[0] for r in con.execute("SELECT invoice_id FROM open_invoices_at(DATE '2024-03-02')")
                .fetchall()] == ["I2"]
