"""Tests of :mod:`quantlib.data.ingest` and the ``quant ingest`` command.

Every test works on real files under ``tmp_path``. The malformed corpus lives in
``tests/data/malformed/`` (see its README); the sample company it refers to is
built by ``conftest.py``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import quantlib.cli.ingest  # noqa: F401  (registers the command on the app)
from quantlib.cli.app import app
from quantlib.data.contracts import CONTRACTS, TABLE_ORDER
from quantlib.data.ingest import (
    ALREADY,
    DEFAULT_MAPPING_PATH,
    LOADED,
    MANIFEST_COLUMNS,
    REJECT_COLUMNS,
    SKIPPED,
    UNUSABLE,
    MappingError,
    UnusableFile,
    default_mapping,
    default_mapping_path,
    ingest,
    load_mapping,
)
from quantlib.data.ingest import commit as ingest_commit
from quantlib.data.lake import Lake
from quantlib.errors import QuantError, RejectReason

from .conftest import MALFORMED, sample_tables, write_exports

# --------------------------------------------------------------------------- helpers


def snapshot(root: Path) -> dict[str, bytes]:
    """Bytes of every silver file and the manifest: what must not change."""
    lake = Lake(root)
    files = sorted(lake.silver.glob("*.parquet")) + ([lake.manifest] if lake.manifest.exists() else [])
    return {p.name: p.read_bytes() for p in files}


def src_with(tmp_path: Path, *names: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(MALFORMED / name, src / name)
    return src


def rejects(root: Path) -> pd.DataFrame:
    path = Lake(root).rejects
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=REJECT_COLUMNS)


def silver(root: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(Lake(root).silver_table(table))


def csv_record(path: Path, line: int) -> dict[str, str]:
    """The CSV record starting on ``line`` (header = line 1), read independently of ingest."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    header = next(reader)
    end = reader.line_num
    for row in reader:
        start, end = end + 1, reader.line_num
        if start == line:
            return dict(zip(header, row))
    raise AssertionError(f"no record on line {line}")


# --------------------------------------------------------------------------- malformed corpus

# file -> (table, status, rows read, accepted, rejected, expected problems)
# A row problem is (line, field, text in the reason); a file problem is the text.
ROW_CASES = {
    "customers_duplicate_keys.csv": ("customers", 3, 1, 2, [
        (2, "customer_id", "duplicate key customer_id='C10' in this file (line 2, line 4)"),
        (4, "customer_id", "duplicate key customer_id='C10'")]),
    "customers_multiline.csv": ("customers", 3, 2, 1, [
        (4, "zip", "'2135' does not match the pattern")]),
    "invoices_negative_money.csv": ("invoices", 2, 1, 1, [(3, "amount", "must be >= 0 (got -50.0)")]),
    "jobs_bad_bool.csv": ("jobs", 3, 2, 1, [(3, "callback", "cannot read 'maybe' as true/false")]),
    "jobs_bad_date.csv": ("jobs", 3, 2, 1, [(3, "created_at", "cannot read '2023-13-45' as a date")]),
    "jobs_bad_number.csv": ("jobs", 3, 2, 1, [(3, "revenue", "cannot read 'abc' as a number")]),
    "jobs_blank_lines.csv": ("jobs", 3, 2, 1, [(5, "revenue", "cannot read '12.5.1' as a number")]),
    "jobs_completed_before_created.csv": ("jobs", 3, 2, 1, [
        (3, "completed_at", "completed_at 2023-02-10 12:00:00 is before scheduled_start 2023-02-15 09:00:00")]),
    "jobs_fk_violation.csv": ("jobs", 3, 2, 1, [
        (4, "customer_id", "customer_id 'C999' not found in customers.customer_id")]),
    "jobs_missing_value.csv": ("jobs", 3, 2, 1, [(3, "customer_id", "missing value")]),
    "jobs_out_of_range.csv": ("jobs", 3, 2, 1, [
        (4, "labor_hours", "must be between 0 and 24 (got 30.0)")]),
    "jobs_ragged.csv": ("jobs", 3, 2, 1, [(3, "", "26 fields but the header has 25")]),
    "jobs_unknown_enum.csv": ("jobs", 3, 2, 1, [
        (2, "service_line", "'pool' is not one of hvac, plumbing, electrical, landscaping, roofing")]),
    "payments_paid_before_issued.csv": ("payments", 2, 1, 1, [
        (2, "paid_date", "paid_date 2023-02-01 is before invoices.issued_date 2023-02-16")]),
    "technicians_bad_whole_number.csv": ("technicians", 2, 1, 1, [
        (3, "certification_level", "cannot read '2.5' as a whole number")]),
}

FILE_CASES = {
    "customers_empty.csv": ("customers", "file is empty (0 bytes)"),
    "customers_latin1.csv": ("customers", "not UTF-8 (byte 0xeb on line 3); re-save the file as UTF-8"),
    "customers_missing_column.csv": ("customers", "missing required column 'customer_type'"),
    "jobs_binary.csv": ("jobs", "not a table: binary data"),
    "jobs_html.csv": ("jobs", "not a table: looks like HTML"),
    "jobs_json.csv": ("jobs", "not a table: looks like JSON"),
    "jobs_not_a_table.csv": ("jobs", "not a table of jobs"),
    "jobs_semicolon.csv": ("jobs", "looks ;-separated"),
    "jobs_tab.csv": ("jobs", "looks tab-separated"),
    "jobs_truncated.parquet": ("jobs", "not a readable Parquet file"),
    "jobs_utf16.csv": ("jobs", "UTF-16 encoded, not UTF-8; re-save it as UTF-8"),
}


def test_corpus_is_complete():
    on_disk = {p.name for p in MALFORMED.iterdir() if p.suffix != ".md"}
    assert on_disk == set(ROW_CASES) | set(FILE_CASES) | {"customers_header_only.csv"}
    assert len(on_disk) >= 10


def _check_bronze_and_manifest(root: Path, name: str, table: str, status: str):
    data = (MALFORMED / name).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    landed = Lake(root).bronze / table / f"{sha[:16]}__{name}"
    assert landed.read_bytes() == data  # byte-identical raw file
    manifest = pd.read_parquet(Lake(root).manifest)
    assert list(manifest.columns) == MANIFEST_COLUMNS
    row = manifest[manifest["sha256"] == sha]
    assert len(row) == 1
    row = row.iloc[0]
    assert (row["file"], row["table"], row["status"]) == (name, table, status)
    assert row["rows_read"] == row["rows_accepted"] + row["rows_rejected"]
    return row


@pytest.mark.parametrize("name", sorted(ROW_CASES))
def test_bad_rows_are_rejected_with_file_line_field(name, base_lake, tmp_path):
    table, read, accepted, rejected, expected = ROW_CASES[name]
    before_rejects = len(rejects(base_lake))
    report = ingest(src_with(tmp_path, name), base_lake)

    fr = report.file(name)
    assert (fr.status, fr.table) == (LOADED, table)
    assert (fr.rows_read, fr.rows_accepted, fr.rows_rejected) == (read, accepted, rejected)
    assert fr.rows_read == fr.rows_accepted + fr.rows_rejected
    assert report.ok  # rejected rows do not make the run fail

    lines = [str(p) for p in fr.problems]
    for line, field, text in expected:
        prefix = f"{name}: line {line}, field {field}: " if field else f"{name}: line {line}: "
        assert any(p.startswith(prefix) and text in p for p in lines), (prefix, text, lines)
    assert all("\n" not in p for p in lines)

    rej = rejects(base_lake).iloc[before_rejects:]
    assert list(rej.columns) == REJECT_COLUMNS
    assert set(rej["file"]) == {name} and set(rej["table"]) == {table}
    assert rej[["file", "row"]].drop_duplicates().shape[0] == rejected  # nothing lost, nothing twice
    for line, field, text in expected:
        hit = rej[(rej["row"] == line) & (rej["field"] == field) & rej["reason"].str.contains(text, regex=False)]
        assert len(hit) == 1, (line, field, text, rej[["row", "field", "reason"]])
        raw = json.loads(hit["raw"].iloc[0])
        if field:  # the original row, as in the file, by source column name
            assert raw == csv_record(MALFORMED / name, line)
        else:  # a ragged row has no header to pair with: the fields as a list
            assert isinstance(raw, list) and len(raw) == 26
    assert rej["ingested_at"].notna().all()

    _check_bronze_and_manifest(base_lake, name, table, LOADED)
    # Accepted rows are in silver, rejected ones are not.
    keys = set(silver(base_lake, table)[CONTRACTS[table].key[0]])
    bad_keys = {json.loads(r).get(CONTRACTS[table].key[0]) if r.startswith("{") else json.loads(r)[0]
                for r in rej["raw"]}
    assert not (bad_keys - {"C10"}) & keys  # C10 occurs once more: both copies rejected
    if name == "customers_duplicate_keys.csv":
        assert "C10" not in keys and "C11" in keys


# --------------------------------------------------------------------------- reason codes

# The code every rejected row of a corpus file carries (each file has one kind of bad row).
CORPUS_CODES = {
    "customers_duplicate_keys.csv": RejectReason.DUPLICATE_KEY,
    "customers_multiline.csv": RejectReason.BAD_FORMAT,
    "invoices_negative_money.csv": RejectReason.OUT_OF_RANGE,
    "jobs_bad_bool.csv": RejectReason.BAD_TYPE,
    "jobs_bad_date.csv": RejectReason.BAD_DATE,
    "jobs_bad_number.csv": RejectReason.BAD_TYPE,
    "jobs_blank_lines.csv": RejectReason.BAD_TYPE,
    "jobs_completed_before_created.csv": RejectReason.DATE_ORDER,
    "jobs_fk_violation.csv": RejectReason.UNKNOWN_REFERENCE,
    "jobs_missing_value.csv": RejectReason.MISSING_REQUIRED,
    "jobs_out_of_range.csv": RejectReason.OUT_OF_RANGE,
    "jobs_ragged.csv": RejectReason.RAGGED_ROW,
    "jobs_unknown_enum.csv": RejectReason.NOT_ALLOWED,
    "payments_paid_before_issued.csv": RejectReason.DATE_ORDER,
    "technicians_bad_whole_number.csv": RejectReason.BAD_TYPE,
}

# Kinds of bad row the corpus lacks: (table, column changes to the first sample row, field,
# code, text in the reason). The changed row gets a new key so only it is rejected.
BUILT_CODES = {
    "unknown_skill": ("technicians", {"skills": "hvac;pool"}, "skills",
                      RejectReason.RULE_VIOLATION, "skills must be ';'-separated service lines"),
    "date_out_of_range": ("technicians", {"hire_date": "2300-01-01"}, "hire_date",
                          RejectReason.BAD_DATE, "out of range"),
    "required_when_completed": ("jobs", {"completed_at": ""}, "completed_at",
                                RejectReason.MISSING_REQUIRED, "completed_at is missing although status"),
}


def test_reason_codes_cover_every_kind_of_rejected_row():
    assert set(CORPUS_CODES) == set(ROW_CASES)
    seen = set(CORPUS_CODES.values()) | {case[3] for case in BUILT_CODES.values()}
    # A missing column makes the whole file unusable: it never reaches the rejects table.
    assert seen == set(RejectReason) - {RejectReason.MISSING_COLUMN}


@pytest.mark.parametrize("name", sorted(CORPUS_CODES))
def test_rejected_rows_carry_their_reason_code(name, base_lake, tmp_path):
    code = CORPUS_CODES[name]
    fr = ingest(src_with(tmp_path, name), base_lake).file(name)
    rej = rejects(base_lake)
    rej = rej[rej["file"] == name]
    assert len(rej) and set(rej["reason_code"]) == {code.value}
    assert fr.problems and {p.code for p in fr.problems} == {code}


@pytest.mark.parametrize("case", sorted(BUILT_CODES))
def test_built_bad_rows_carry_their_reason_code(case, base_lake, tmp_path):
    table, changes, field, code, text = BUILT_CODES[case]
    key = CONTRACTS[table].key[0]
    row = sample_tables()[table].iloc[[0]].astype(object)
    for column, value in {key: "NEW1", **changes}.items():
        row[column] = value
    src = tmp_path / "src"
    src.mkdir()
    row.to_csv(src / f"{table}_new.csv", index=False)
    fr = ingest(src, base_lake).file(f"{table}_new.csv")
    assert (fr.rows_read, fr.rows_accepted, fr.rows_rejected) == (1, 0, 1)
    rej = rejects(base_lake)
    rej = rej[rej["file"] == f"{table}_new.csv"]
    assert rej[["row", "field", "reason_code"]].values.tolist() == [[2, field, code.value]]
    assert text in rej["reason"].iloc[0]
    assert [p.code for p in fr.problems] == [code]


def test_rejects_written_before_reason_codes_still_load_and_merge(base_lake, tmp_path):
    """A rejects table without ``reason_code`` keeps its rows, with a missing code."""
    path = Lake(base_lake).rejects
    legacy = pd.DataFrame({
        "file": ["old.csv"], "table": ["jobs"], "row": [2], "field": ["revenue"],
        "reason": ["cannot read 'x' as a number"], "raw": ['{"revenue": "x"}'],
        "ingested_at": [pd.Timestamp("2024-01-01")],
    })
    legacy.to_parquet(path, index=False)
    ingest(src_with(tmp_path, "jobs_bad_number.csv"), base_lake)
    rej = rejects(base_lake)
    assert list(rej.columns) == REJECT_COLUMNS and len(rej) == 2
    old, new = rej.iloc[0], rej.iloc[1]
    assert old["file"] == "old.csv" and old["reason"] == legacy["reason"].iloc[0] and pd.isna(old["reason_code"])
    assert new["file"] == "jobs_bad_number.csv" and new["reason_code"] == RejectReason.BAD_TYPE


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_unusable_file_is_one_line_and_changes_nothing(name, base_lake, tmp_path):
    table, text = FILE_CASES[name]
    before = snapshot(base_lake)
    before_rejects = rejects(base_lake)
    report = ingest(src_with(tmp_path, name), base_lake)

    fr = report.file(name)
    assert fr.status == UNUSABLE and not report.ok
    assert len(fr.problems) == 1
    message = str(fr.problems[0])
    assert message.startswith(f"{name}: ") and text in message and "\n" not in message
    assert (fr.rows_read, fr.rows_accepted, fr.rows_rejected) == (0, 0, 0)

    after = snapshot(base_lake)
    assert {k: v for k, v in after.items() if k != "_manifest.parquet"} == \
           {k: v for k, v in before.items() if k != "_manifest.parquet"}  # silver untouched
    pd.testing.assert_frame_equal(rejects(base_lake), before_rejects)
    row = _check_bronze_and_manifest(base_lake, name, table, UNUSABLE)
    assert text in row["error"]


def test_unusable_file_is_retried_not_skipped(base_lake, tmp_path):
    """A file that could not be read is not 'already ingested': a fixed mapping loads it."""
    src = tmp_path / "src"
    src.mkdir()
    customers = sample_tables()["customers"].rename(columns={"customer_type": "Type"})
    customers["customer_id"] = ["C30", "C31", "C32"]
    customers.to_csv(src / "customers_crm.csv", index=False)
    fr = ingest(src, base_lake).file("customers_crm.csv")
    assert fr.status == UNUSABLE and "missing required column 'customer_type'" in str(fr.problems[0])
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump({"tables": {"customers": {
        "files": ["customers_*.csv"], "columns": {"Type": "customer_type"}}}}))
    fr = ingest(src, base_lake, mapping).file("customers_crm.csv")
    assert (fr.status, fr.rows_accepted) == (LOADED, 3)
    manifest = pd.read_parquet(Lake(base_lake).manifest)
    assert manifest.loc[manifest["file"] == "customers_crm.csv", "status"].tolist() == [LOADED]


def test_header_only_is_not_an_error(base_lake, tmp_path):
    name = "customers_header_only.csv"
    before = snapshot(base_lake)
    report = ingest(src_with(tmp_path, name), base_lake)
    fr = report.file(name)
    assert report.ok and fr.status == LOADED
    assert (fr.rows_read, fr.rows_accepted, fr.rows_rejected) == (0, 0, 0)
    assert "header only: 0 data rows" in fr.notes
    assert silver(base_lake, "customers").equals(pd.read_parquet(io.BytesIO(before["customers.parquet"])))


def test_whole_corpus_at_once_loses_nothing(base_lake, tmp_path):
    """All bad files in one run: good files and good rows still load, every row is accounted for."""
    src = src_with(tmp_path, *[p.name for p in MALFORMED.iterdir() if p.suffix != ".md"])
    report = ingest(src, base_lake)
    assert not report.ok
    assert {f.file for f in report.unusable} == set(FILE_CASES)
    for f in report.files:
        assert f.rows_read == f.rows_accepted + f.rows_rejected, f
    rej = rejects(base_lake)
    assert rej[["file", "row"]].drop_duplicates().shape[0] == report.rows_rejected
    manifest = pd.read_parquet(Lake(base_lake).manifest)
    batch = manifest[manifest["landed_at"] == report.ingested_at]
    assert len(batch) == len(report.files)
    assert batch["rows_read"].sum() == report.rows_read
    # Bronze holds every file byte for byte.
    for f in report.files:
        assert (Lake(base_lake).root / batch.set_index("file").loc[f.file, "bronze_path"]).read_bytes() == \
               (src / f.file).read_bytes()


# --------------------------------------------------------------------------- clean loads


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_clean_company_lands_in_silver_with_contract_dtypes(fmt, tmp_path):
    tables = sample_tables()
    src = write_exports(tables, tmp_path / "src", fmt)
    report = ingest(src, tmp_path / "lake")
    assert report.ok and report.rows_rejected == 0
    assert report.rows_read == report.rows_accepted == sum(len(df) for df in tables.values())
    assert not Lake(tmp_path / "lake").rejects.exists()
    for name in TABLE_ORDER:
        got = silver(tmp_path / "lake", name)
        assert list(got.columns) == CONTRACTS[name].columns
        assert got.dtypes.astype(str).tolist() == tables[name].dtypes.astype(str).tolist(), name
        pd.testing.assert_frame_equal(got, tables[name], check_dtype=False)
        CONTRACTS[name].validate(got)
        bronze = list((Lake(tmp_path / "lake").bronze / name).iterdir())
        assert [p.read_bytes() for p in bronze] == [(src / f"{name}.{fmt}").read_bytes()]


def test_quotes_without_job_type_load_as_installs(tmp_path):
    """An older quotes export has no job_type: it loads, and gold and the snapshots read its quotes as installs."""
    from quantlib.data.warehouse import build_warehouse
    from quantlib.forecast.pipeline import warehouse_snapshot

    tables = sample_tables()
    tables["quotes"] = tables["quotes"].drop(columns="job_type")
    src = write_exports(tables, tmp_path / "src")
    report = ingest(src, tmp_path / "lake")
    assert report.ok and report.rows_rejected == 0
    assert any("job_type" in str(note) for note in report.file("quotes.csv").notes)
    got = silver(tmp_path / "lake", "quotes")
    assert got["quote_id"].tolist() == ["Q1"] and got["job_type"].isna().all()
    gold = build_warehouse(Lake(tmp_path / "lake"))
    import duckdb

    with duckdb.connect(str(gold), read_only=True) as con:
        assert con.execute("SELECT job_type FROM quotes").fetchall() == [("install",)]
    snap = warehouse_snapshot(gold, as_of="2023-03-01", tables=["quotes"])
    assert snap["quotes"]["job_type"].tolist() == ["install"]


def test_maintenance_events_without_failure_mode_still_load(tmp_path):
    """An older maintenance export has no failure_mode: it loads, and gold has the column, empty."""
    from quantlib.data.warehouse import build_warehouse

    tables = sample_tables()
    tables["maintenance_events"] = tables["maintenance_events"].drop(columns="failure_mode")
    src = write_exports(tables, tmp_path / "src")
    report = ingest(src, tmp_path / "lake")
    assert report.ok and report.rows_rejected == 0
    got = silver(tmp_path / "lake", "maintenance_events")
    assert got["event_id"].tolist() == ["M1"] and got["failure_mode"].isna().all()
    gold = build_warehouse(Lake(tmp_path / "lake"))
    import duckdb

    with duckdb.connect(str(gold), read_only=True) as con:
        assert con.execute("SELECT event_id, failure_mode FROM maintenance_events").fetchall() == [("M1", None)]


def test_equipment_states_without_transition_counts_still_load(tmp_path):
    """An older equipment_states export has no <from>_to_<to> counts: it loads, and gold has them, empty;
    a newer one keeps its whole counts."""
    import duckdb

    from quantlib.data.contracts import TRANSITION_COLUMNS
    from quantlib.data.warehouse import build_warehouse

    tables = sample_tables()
    new = write_exports(tables, tmp_path / "new")
    tables["equipment_states"] = tables["equipment_states"].drop(columns=list(TRANSITION_COLUMNS))
    old = write_exports(tables, tmp_path / "old")
    for src, lake in ((old, tmp_path / "old_lake"), (new, tmp_path / "new_lake")):
        report = ingest(src, lake)
        assert report.ok and report.rows_rejected == 0
        got = silver(lake, "equipment_states")
        with duckdb.connect(str(build_warehouse(Lake(lake))), read_only=True) as con:
            gold = con.execute("SELECT idle_to_idle, normal_to_heavy FROM equipment_states"
                               " ORDER BY equipment_id").fetchall()
        if src == old:
            assert got[list(TRANSITION_COLUMNS)].isna().all().all() and gold == [(None, None), (None, None)]
        else:
            assert got["idle_to_idle"].tolist() == [12, 18] and gold == [(12, 1), (18, 0)]


def test_equipment_states_without_energy_still_load(tmp_path):
    """An older equipment_states export has no energy_kwh: it loads, empty; a newer one keeps its readings."""
    tables = sample_tables()
    new = write_exports(tables, tmp_path / "new")
    tables["equipment_states"] = tables["equipment_states"].drop(columns=["energy_kwh"])
    old = write_exports(tables, tmp_path / "old")
    for src, lake in ((old, tmp_path / "old_lake"), (new, tmp_path / "new_lake")):
        report = ingest(src, lake)
        assert report.ok and report.rows_rejected == 0
        energy = silver(lake, "equipment_states").sort_values("equipment_id")["energy_kwh"]
        assert energy.isna().all() if src == old else energy.tolist() == [41.5, 18.25]


def test_reingest_same_files_adds_nothing(base_lake, tmp_path):
    src = write_exports(sample_tables(), tmp_path / "src")
    shutil.copy(MALFORMED / "jobs_bad_number.csv", src)
    ingest(src, base_lake)
    before, before_rejects = snapshot(base_lake), rejects(base_lake)
    bronze_before = sorted(p for p in Lake(base_lake).bronze.rglob("*") if p.is_file())
    report = ingest(src, base_lake)
    assert {f.status for f in report.files} == {ALREADY}
    assert all(f.notes[0].startswith("already ingested") for f in report.files)
    assert report.rows_read == 0
    assert snapshot(base_lake) == before
    pd.testing.assert_frame_equal(rejects(base_lake), before_rejects)
    assert sorted(p for p in Lake(base_lake).bronze.rglob("*") if p.is_file()) == bronze_before


def test_same_content_under_another_name_is_already_ingested(base_lake, tmp_path):
    src = src_with(tmp_path, "jobs_bad_number.csv")
    shutil.copy(src / "jobs_bad_number.csv", src / "jobs_copy.csv")
    report = ingest(src, base_lake)
    assert report.file("jobs_bad_number.csv").status == LOADED
    copy = report.file("jobs_copy.csv")
    assert copy.status == ALREADY and "jobs_bad_number.csv" in copy.notes[0]


# --------------------------------------------------------------------------- versions


def _jobs_file(path: Path, revenue: float, scheduled: str = "2023-02-15 09:00:00") -> Path:
    jobs = sample_tables()["jobs"].iloc[[0]].copy()
    jobs["revenue"] = revenue
    jobs["scheduled_start"] = pd.Timestamp(scheduled)
    jobs["completed_at"] = pd.Timestamp(scheduled) + pd.Timedelta(hours=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    jobs.to_csv(path, index=False)
    return path


def test_later_ingest_replaces_older_row(base_lake, tmp_path):
    _jobs_file(tmp_path / "a" / "jobs_update.csv", 1234.0)
    assert ingest(tmp_path / "a", base_lake).rows_accepted == 1
    jobs = silver(base_lake, "jobs")
    assert (jobs["job_id"] == "J1").sum() == 1
    assert jobs.loc[jobs["job_id"] == "J1", "revenue"].item() == 1234.0
    assert len(jobs) == 3
    # Within one batch, files load in name order: the later name wins.
    _jobs_file(tmp_path / "b" / "jobs_1.csv", 1.0)
    _jobs_file(tmp_path / "b" / "jobs_2.csv", 2.0)
    ingest(tmp_path / "b", base_lake)
    jobs = silver(base_lake, "jobs")
    assert jobs.loc[jobs["job_id"] == "J1", "revenue"].tolist() == [2.0]


def test_version_column_decides_which_row_wins(base_lake, tmp_path, monkeypatch):
    versioned = dataclasses.replace(CONTRACTS["jobs"], version_column="scheduled_start")
    monkeypatch.setitem(CONTRACTS, "jobs", versioned)
    _jobs_file(tmp_path / "a" / "jobs_new.csv", 111.0, "2023-02-20 09:00:00")
    assert ingest(tmp_path / "a", base_lake).rows_accepted == 1
    _jobs_file(tmp_path / "b" / "jobs_old.csv", 222.0, "2023-02-16 09:00:00")  # ingested later, older version
    ingest(tmp_path / "b", base_lake)
    jobs = silver(base_lake, "jobs")
    assert jobs.loc[jobs["job_id"] == "J1", "revenue"].tolist() == [111.0]


# --------------------------------------------------------------------------- relations


def test_foreign_keys_see_silver_plus_batch_in_table_order(tmp_path):
    """Customers and jobs in one batch: jobs see the customers accepted in the same run."""
    t = sample_tables()
    src = tmp_path / "src"
    write_exports({"customers": t["customers"]}, src)
    jobs = t["jobs"][["job_id", "customer_id", "service_line", "job_type", "urgency", "status", "region",
                      "created_at", "scheduled_start", "completed_at", "scheduled_hours", "labor_hours",
                      "travel_minutes", "travel_miles", "revenue", "labor_cost", "material_cost",
                      "equipment_cost", "callback", "rating", "safety_incident", "technician_id"]].copy()
    jobs.loc[2, "customer_id"] = "C999"
    jobs.loc[1, "created_at"] = pd.Timestamp("2022-12-01")  # before customer C2 was created
    jobs.loc[1, "scheduled_start"] = pd.Timestamp("2022-12-02")
    jobs.loc[1, "completed_at"] = pd.Timestamp("2022-12-02 10:00")
    jobs.to_csv(src / "jobs.csv", index=False)
    report = ingest(src, tmp_path / "lake")
    fr = report.file("jobs.csv")
    assert (fr.rows_accepted, fr.rows_rejected) == (1, 2)
    text = [str(p) for p in fr.problems]
    assert "jobs.csv: line 4, field customer_id: customer_id 'C999' not found in customers.customer_id" in text
    assert "jobs.csv: line 3, field created_at: created_at 2022-12-01 is before customers.created_date " \
           "2023-01-10" in text
    # technicians / quotes / ... are absent from the lake: those relations are not judged.
    assert silver(tmp_path / "lake", "jobs")["job_id"].tolist() == ["J1"]


def test_row_rejected_in_parent_table_is_missing_for_children(tmp_path):
    t = sample_tables()
    src = tmp_path / "src"
    customers = t["customers"].copy()
    customers["zip"] = customers["zip"].astype(object)
    customers.loc[0, "zip"] = "bad"  # C1 rejected
    write_exports({"customers": customers, "leads": t["leads"]}, src)
    report = ingest(src, tmp_path / "lake")
    assert report.file("customers.csv").rows_rejected == 1
    leads = report.file("leads.csv")
    assert (leads.rows_accepted, leads.rows_rejected) == (1, 1)
    assert "leads.csv: line 2, field customer_id: customer_id 'C1' not found" in str(leads.problems[0])


# --------------------------------------------------------------------------- coercion details


def test_values_are_read_leniently_but_exactly(tmp_path):
    t = sample_tables()
    jobs = t["jobs"].astype(object)
    jobs.loc[0, "callback"] = "Yes"
    jobs.loc[1, "callback"] = "0"
    jobs.loc[0, "safety_incident"] = " no "
    jobs.loc[0, "rating"] = "NA"  # nullable: missing
    jobs.loc[1, "rating"] = " 8 "
    jobs.loc[0, "created_at"] = "2023-02-11T08:00:00Z"
    jobs.loc[1, "revenue"] = "1e2"
    src = tmp_path / "src"
    write_exports({"customers": t["customers"], "jobs": jobs}, src)
    report = ingest(src, tmp_path / "lake")
    assert report.rows_rejected == 0, [str(p) for p in report.problems]
    got = silver(tmp_path / "lake", "jobs").set_index("job_id")
    assert got.loc["J1", "callback"] is True or got.loc["J1", "callback"] == True  # noqa: E712
    assert not got.loc["J2", "callback"] and not got.loc["J1", "safety_incident"]
    assert pd.isna(got.loc["J1", "rating"]) and got.loc["J2", "rating"] == 8.0
    assert got.loc["J1", "created_at"] == pd.Timestamp("2023-02-11 08:00")
    assert got.loc["J2", "revenue"] == 100.0


def test_one_bad_value_does_not_hide_other_rows_problems(tmp_path):
    """Row 2 cannot be read; row 3's range problem and row 4's rule problem are still found."""
    t = sample_tables()
    jobs = pd.concat([t["jobs"]] * 2, ignore_index=True).astype(object)
    jobs["job_id"] = [f"J{i}" for i in range(1, 7)]
    jobs.loc[0, "labor_hours"] = "lots"
    jobs.loc[1, "labor_hours"] = 99
    jobs.loc[2, "scheduled_start"] = "2023-07-01 07:00"  # before created_at
    src = tmp_path / "src"
    write_exports({"customers": t["customers"], "jobs": jobs}, src)
    fr = ingest(src, tmp_path / "lake").file("jobs.csv")
    text = [str(p) for p in fr.problems]
    assert text == [
        "jobs.csv: line 2, field labor_hours: cannot read 'lots' as a number",
        "jobs.csv: line 3, field labor_hours: must be between 0 and 24 (got 99.0)",
        "jobs.csv: line 4, field scheduled_start: scheduled_start 2023-07-01 07:00:00 is before created_at "
        "2023-07-01 08:00:00",
    ]
    assert (fr.rows_accepted, fr.rows_rejected) == (3, 3)


def test_short_row_is_rejected_not_padded(tmp_path, base_lake):
    src = tmp_path / "src"
    src.mkdir()
    text = (MALFORMED / "jobs_bad_number.csv").read_text().splitlines()
    text[1] = ",".join(text[1].split(",")[:5])
    (src / "jobs_short.csv").write_text("\n".join(text) + "\n")
    fr = ingest(src, base_lake).file("jobs_short.csv")
    assert "jobs_short.csv: line 2: 5 fields but the header has 25 (too few" in str(fr.problems[0])
    assert (fr.rows_read, fr.rows_accepted, fr.rows_rejected) == (3, 1, 2)


def test_parquet_rows_are_numbered_from_one(tmp_path, base_lake):
    jobs = sample_tables()["jobs"]
    jobs = jobs.assign(job_id=["J20", "J21", "J22"])
    jobs.loc[1, "revenue"] = -5.0
    src = tmp_path / "src"
    src.mkdir()
    jobs.to_parquet(src / "jobs_2024.parquet", index=False)
    fr = ingest(src, base_lake).file("jobs_2024.parquet")
    assert [str(p) for p in fr.problems] == ["jobs_2024.parquet: row 2, field revenue: must be >= 0 (got -5.0)"]
    rej = rejects(base_lake)
    assert rej["row"].tolist() == [2] and json.loads(rej["raw"].iloc[0])["job_id"] == "J21"


# --------------------------------------------------------------------------- atomic writes


def test_failed_write_leaves_silver_as_it_was(base_lake, tmp_path, monkeypatch):
    t = sample_tables()
    customers = t["customers"].assign(customer_id=["C20", "C21", "C22"])
    jobs = t["jobs"].assign(job_id=["J20", "J21", "J22"], customer_id=["C20", "C21", "C22"])
    src = write_exports({"customers": customers, "jobs": jobs}, tmp_path / "src")
    shutil.copy(MALFORMED / "jobs_bad_number.csv", src)  # also brings rejects to write
    before, before_rejects = snapshot(base_lake), rejects(base_lake)

    real = ingest_commit._write_parquet

    def failing(df, path):
        if ".jobs.parquet" in path.name:  # customers is written first, then this fails
            real(df, path)
            raise OSError("disk full")
        real(df, path)

    monkeypatch.setattr(ingest_commit, "_write_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest(src, base_lake)
    assert snapshot(base_lake) == before
    pd.testing.assert_frame_equal(rejects(base_lake), before_rejects)
    assert not list(Lake(base_lake).root.rglob("*.tmp"))  # no temporary files left

    # The manifest did not record the failed run, so a retry loads everything.
    monkeypatch.setattr(ingest_commit, "_write_parquet", real)
    report = ingest(src, base_lake)
    assert {f.status for f in report.files} == {LOADED}
    assert {"C20", "J20"} <= set(silver(base_lake, "customers")["customer_id"]) | \
        set(silver(base_lake, "jobs")["job_id"])


# --------------------------------------------------------------------------- mapping


def test_default_mapping_file_is_the_builtin_identity(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # found from any working directory
    shipped = load_mapping()
    assert shipped.source == str(default_mapping_path()) == str(DEFAULT_MAPPING_PATH)
    assert shipped.tables == default_mapping().tables


def test_ingest_errors_are_quant_errors():
    # Callers catch QuantError for "anything Quant refused"; ValueError still catches MappingError.
    assert issubclass(MappingError, QuantError) and issubclass(MappingError, ValueError)
    assert issubclass(UnusableFile, QuantError)


def test_default_mapping_follows_quant_home_set_after_import(monkeypatch, tmp_path):
    """The default mapping is looked up under the project root at call time, not at import."""
    monkeypatch.setenv("QUANT_HOME", str(tmp_path))
    assert load_mapping().source == "built-in"  # no parameters/mappings/default.yaml there
    path = tmp_path / "parameters" / "mappings" / "default.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"tables": {"jobs": {"files": ["work_orders*.csv"]}}}))
    assert default_mapping_path() == path.resolve()
    mapping = load_mapping()
    assert mapping.source == str(path.resolve()) and list(mapping.tables) == ["jobs"]


@pytest.mark.parametrize("name, table", [
    ("customers.csv", "customers"), ("Customers.CSV", "customers"), ("jobs_2024-01.parquet", "jobs"),
    ("equipment.csv", "equipment"), ("equipment_usage.csv", "equipment_usage"),
    ("equipment_usage_2024.csv", "equipment_usage"), ("equipment_2024.csv", "equipment"),
    ("notes.txt", None), ("jobs.xlsx", None),
])
def test_default_mapping_matches_generator_names(name, table):
    assert default_mapping().match(name)[0] == table


def test_custom_mapping_renames_columns_and_reports_extras(tmp_path, base_lake):
    jobs = sample_tables()["jobs"].rename(columns={"job_id": "WorkOrderID", "customer_id": "Cust",
                                                   "revenue": " Revenue "})
    jobs["WorkOrderID"] = ["W1", "W2", "W3"]
    jobs["Notes"] = "x"
    src = tmp_path / "src"
    src.mkdir()
    jobs.to_csv(src / "work_orders_march.csv", index=False)
    mapping = tmp_path / "acme.yaml"
    mapping.write_text(yaml.safe_dump({"tables": {"jobs": {
        "files": ["jobs*.csv", "work_orders*.csv"], "columns": {"WorkOrderID": "job_id", "Cust": "customer_id"}}}}))
    report = ingest(src, base_lake, mapping)
    fr = report.file("work_orders_march.csv")
    assert (fr.status, fr.table, fr.rows_accepted) == (LOADED, "jobs", 3)
    assert "ignored column not in jobs: Notes" in fr.notes
    got = silver(base_lake, "jobs")
    assert {"W1", "W2", "W3"} <= set(got["job_id"]) and list(got.columns) == CONTRACTS["jobs"].columns


def test_semicolon_file_loads_with_delimiter_in_mapping(tmp_path, base_lake):
    src = src_with(tmp_path, "jobs_semicolon.csv")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump({"tables": {"jobs": {"files": ["jobs_*.csv"], "delimiter": ";"}}}))
    fr = ingest(src, base_lake, mapping).file("jobs_semicolon.csv")
    assert (fr.status, fr.rows_accepted) == (LOADED, 3)


@pytest.mark.parametrize("doc, text", [
    ({"tables": {"work_orders": {"files": ["*.csv"]}}}, "unknown table 'work_orders'"),
    ({"tables": {"jobs": {"files": ["*.csv"], "columns": {"Cust": "client"}}}}, "'client', which is not a column"),
    ({"jobs": {"files": ["*.csv"]}}, "needs a top-level 'tables:'"),
])
def test_bad_mapping_is_one_line_error(doc, text, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(MappingError, match=text):
        load_mapping(path)


def test_unmatched_file_is_reported_and_skipped(tmp_path, base_lake):
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("hello")
    (src / ".hidden.csv").write_text("x")
    report = ingest(src, base_lake)
    assert [(f.file, f.status) for f in report.files] == [("notes.txt", SKIPPED)]
    assert str(report.files[0].problems[0]) == "notes.txt: matches no table of the mapping; skipped"
    assert report.ok
    assert not (Lake(base_lake).bronze / "notes.txt").exists()


def test_ambiguous_globs_are_reported(tmp_path, base_lake):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump({"tables": {"jobs": {"files": ["*.csv"]}, "leads": {"files": ["*.csv"]}}}))
    src = src_with(tmp_path, "jobs_bad_number.csv")
    fr = ingest(src, base_lake, mapping).files[0]
    assert fr.status == SKIPPED and "matches several tables (jobs, leads)" in str(fr.problems[0])


# --------------------------------------------------------------------------- CLI


def test_cli_ingests_and_prints_a_table(tmp_path):
    tables = sample_tables()
    n = sum(len(df) for df in tables.values())
    src = write_exports(tables, tmp_path / "src")
    result = CliRunner().invoke(app, ["ingest", str(src), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.output
    assert "customers.csv" in result.output and "loaded" in result.output
    assert f"{len(tables)} files: {n} rows read, {n} accepted, 0 rejected, 0 files unusable" in result.output
    assert Lake(tmp_path / "lake").silver_table("jobs").exists()


def test_cli_exits_1_on_unusable_file_and_loads_the_rest(tmp_path, base_lake):
    src = src_with(tmp_path, "jobs_semicolon.csv", "jobs_bad_number.csv")
    result = CliRunner().invoke(app, ["ingest", str(src), "--lake", str(base_lake)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("jobs_semicolon.csv: looks ;-separated") for line in lines)
    assert "jobs_bad_number.csv: line 3, field revenue: cannot read 'abc' as a number" in lines
    assert {"J10", "J12"} <= set(silver(base_lake, "jobs")["job_id"])


def test_cli_default_lake_is_the_demo_lake_under_the_project_root(tmp_path, monkeypatch):
    """No --lake and no QUANT_LAKE: data/demo/mixed_trades/lake under the project root, whatever the cwd."""
    src = write_exports({"customers": sample_tables()["customers"]}, tmp_path / "src")
    monkeypatch.setenv("QUANT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUANT_LAKE", raising=False)
    monkeypatch.delenv("QUANT_COMPANY", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ingest", str(src)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "data" / "demo" / "mixed_trades" / "lake" / "silver" / "customers.parquet").exists()
    assert not (tmp_path / "data" / "lake").exists()


def test_cli_bad_mapping_exits_2(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    mapping = tmp_path / "m.yaml"
    mapping.write_text("tables: [")
    result = CliRunner().invoke(app, ["ingest", str(src), "--lake", str(tmp_path / "lake"),
                                      "--mapping", str(mapping)])
    assert result.exit_code == 2
    assert "is not valid YAML" in result.output


def test_a_name_that_looks_like_a_formula_is_data_and_kept(tmp_path):
    """Ingest keeps such a value exactly; exports neutralise it (quantlib.views.export)."""
    t = sample_tables()
    customers = t["customers"].astype(object)
    hostile = '=HYPERLINK("http://x","y")'
    customers.loc[0, "name"] = hostile
    src = tmp_path / "src"
    write_exports({"customers": customers}, src)
    report = ingest(src, tmp_path / "lake")
    assert report.rows_rejected == 0, [str(p) for p in report.problems]
    got = silver(tmp_path / "lake", "customers")
    assert hostile in got["name"].tolist()
