"""Contract tests: good frames pass, and every rule of ``contracts.py`` can fail.

The cases are derived from the contracts themselves (every column check, every
not-null rule, every key, every foreign key and date rule), so a rule added to a
contract is tested automatically; row rules need a hand-written breaking change
and ``test_every_row_rule_has_a_case`` fails until one is added.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from quantlib.data.contracts import CONTRACTS, TABLE_ORDER, check_relations, schema_failures

from .conftest import sample_tables

TABLES = sample_tables()


def failures(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """schema_failures of validating ``df``; empty when it is valid."""
    try:
        CONTRACTS[table].validate(df)
    except pa.errors.SchemaErrors as err:
        return schema_failures(table, err)
    return pd.DataFrame(columns=["index", "field", "reason"])


def with_value(table: str, column: str, value, row: int = 0) -> pd.DataFrame:
    df = TABLES[table].copy()
    if value is pd.NA and str(df[column].dtype) == "bool":
        df[column] = df[column].astype("boolean")  # an object None would be coerced to False
    else:
        df[column] = df[column].astype(object)
    df.loc[row, column] = value
    return df


# --------------------------------------------------------------------------- good frames


@pytest.mark.parametrize("table", TABLE_ORDER)
def test_good_frame_passes(table):
    assert failures(table, TABLES[table]).empty
    assert check_relations(table, TABLES[table], TABLES).empty


def test_every_table_has_a_good_frame():
    assert set(TABLES) == set(CONTRACTS)
    for table, df in TABLES.items():
        assert list(df.columns) == CONTRACTS[table].columns
        assert len(df) >= 1


# --------------------------------------------------------------------------- column checks


def _breaking_values(check, dtype: str) -> list[tuple[object, str]]:
    """Values that fail ``check`` on a ``dtype`` column, with text the reason must contain."""
    stats = check.statistics or {}
    if check.name == "str_length":
        return [("", "must not be empty")]
    if check.name == "isin":
        return [("not-a-value", "'not-a-value' is not one of")]
    if check.name == "str_matches":
        return [("12a45", "'12a45' does not match the pattern")]
    if check.name == "in_range":
        lo, hi = stats["min_value"], stats["max_value"]
        cast = int if dtype.lower().startswith("int") else float  # int64, or Int64 (optional)
        low = cast(lo if not stats.get("include_min", True) else lo - 1)
        high = cast(hi if not stats.get("include_max", True) else hi + 1)
        return [(low, f"(got {low!r})"), (high, f"(got {high!r})")]
    if check.name == "greater_than":
        return [(stats["min_value"], f"must be > {stats['min_value']}")]
    if check.name == "greater_than_or_equal_to":
        return [(stats["min_value"] - 1, f"must be >= {stats['min_value']}")]
    if check.name == "skills_known":
        return [("hvac;pool", "skills must be ';'-separated service lines (got 'hvac;pool')")]
    raise AssertionError(f"no breaking value for check {check.name!r}: add one to this test")


COLUMN_CASES = [
    pytest.param(table, column, value, text, id=f"{table}.{column}.{check.name}={value!r}")
    for table in TABLE_ORDER
    for column, col in CONTRACTS[table].schema.columns.items()
    for check in col.checks
    for value, text in _breaking_values(check, str(col.dtype))
]


@pytest.mark.parametrize("table, column, value, text", COLUMN_CASES)
def test_column_check_fails(table, column, value, text):
    found = failures(table, with_value(table, column, value))
    assert len(found) == 1, found
    row = found.iloc[0]
    assert (row["index"], row["field"]) == (0, column)
    assert text in row["reason"], row["reason"]


NOT_NULL_CASES = [
    pytest.param(table, column, id=f"{table}.{column}")
    for table in TABLE_ORDER
    for column, col in CONTRACTS[table].schema.columns.items()
    if not col.nullable
]


@pytest.mark.parametrize("table, column", NOT_NULL_CASES)
def test_required_value_missing_fails(table, column):
    value = pd.NA if str(TABLES[table][column].dtype) == "bool" else None
    found = failures(table, with_value(table, column, value, row=0))
    hit = found[(found["field"] == column) & (found["reason"] == "missing value")]
    assert hit["index"].tolist() == [0], found


NULLABLE_CASES = [
    pytest.param(table, column, id=f"{table}.{column}")
    for table in TABLE_ORDER
    for column, col in CONTRACTS[table].schema.columns.items()
    if col.nullable
]


@pytest.mark.parametrize("table, column", NULLABLE_CASES)
def test_optional_value_missing_passes(table, column):
    df = with_value(table, column, None, row=len(TABLES[table]) - 1)
    found = failures(table, df)
    # Rules needing the value in some states (decided_at of a won quote) report their own reason.
    assert not ((found["field"] == column) & (found["reason"] == "missing value")).any(), found


TYPE_CASES = [
    pytest.param(table, column, word, id=f"{table}.{column}")
    for table in TABLE_ORDER
    for column, col in CONTRACTS[table].schema.columns.items()
    for word in [{"float64": "a number", "int64": "a whole number", "Int64": "a whole number",
                  "datetime64[ns]": "a date"}.get(str(col.dtype))]
    if word
]


@pytest.mark.parametrize("table, column, word", TYPE_CASES)
def test_unreadable_value_fails_once(table, column, word):
    found = failures(table, with_value(table, column, "abc"))
    rows = found[found["field"] == column]
    assert rows["reason"].tolist() == [f"cannot read 'abc' as {word}"]
    assert rows["index"].tolist() == [0]


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("table", TABLE_ORDER)
def test_duplicate_key_fails(table):
    df = pd.concat([TABLES[table], TABLES[table].iloc[[0]]], ignore_index=True)
    key = CONTRACTS[table].key
    found = failures(table, df)
    assert sorted(found["index"].tolist()) == [0, len(df) - 1]
    assert set(found["field"]) == {",".join(key)}
    for reason in found["reason"]:
        assert reason.startswith("duplicate key ") and all(f"{k}=" in reason for k in key), reason


# --------------------------------------------------------------------------- row rules

# rule name -> (table, changes to row 0, field, text of the reason)
ROW_RULE_CASES = {
    "termination_date_not_before_hire_date": (
        "technicians", {"termination_date": pd.Timestamp("2019-12-31")}, "termination_date",
        "termination_date 2019-12-31 is before hire_date 2020-01-01"),
    "decided_at_not_before_created_at": (
        "quotes", {"decided_at": pd.Timestamp("2023-02-04 10:00")}, "decided_at",
        "decided_at 2023-02-04 10:00:00 is before created_at 2023-02-05 10:00:00"),
    "decided_at_required_when_won": (
        "quotes", {"decided_at": pd.NaT}, "decided_at", "decided_at is missing although status is 'won'"),
    "decided_at_required_when_lost": (
        "quotes", {"status": "lost", "decided_at": pd.NaT}, "decided_at",
        "decided_at is missing although status is 'lost'"),
    "end_date_not_before_start_date": (
        "contracts", {"end_date": pd.Timestamp("2023-01-14")}, "end_date",
        "end_date 2023-01-14 is before start_date 2023-01-15"),
    "scheduled_start_not_before_created_at": (
        "jobs", {"scheduled_start": pd.Timestamp("2023-02-11 07:00")}, "scheduled_start",
        "scheduled_start 2023-02-11 07:00:00 is before created_at 2023-02-11 08:00:00"),
    "completed_at_not_before_scheduled_start": (
        "jobs", {"completed_at": pd.Timestamp("2023-02-15 08:00")}, "completed_at",
        "completed_at 2023-02-15 08:00:00 is before scheduled_start 2023-02-15 09:00:00"),
    "completed_at_required_when_completed": (
        "jobs", {"completed_at": pd.NaT}, "completed_at",
        "completed_at is missing although status is 'completed'"),
    "technician_id_required_when_completed": (
        "jobs", {"technician_id": None}, "technician_id",
        "technician_id is missing although status is 'completed'"),
    "written_off_at_not_before_issued_date": (
        "invoices", {"written_off_at": pd.Timestamp("2023-02-15")}, "written_off_at",
        "written_off_at 2023-02-15 is before issued_date 2023-02-16"),
    "published_at_not_before_month": (
        "economic_indicators", {"published_at": pd.Timestamp("2022-12-31")}, "published_at",
        "published_at 2022-12-31 is before month 2023-01-01"),
    "due_date_not_before_issued_date": (
        "invoices", {"due_date": pd.Timestamp("2023-02-15")}, "due_date",
        "due_date 2023-02-15 is before issued_date 2023-02-16"),
    "completed_date_not_before_scheduled_date": (
        "maintenance_events", {"completed_date": pd.Timestamp("2023-02-28")}, "completed_date",
        "completed_date 2023-02-28 is before scheduled_date 2023-03-01"),
}


def test_every_row_rule_has_a_case():
    rules = {check.name for c in CONTRACTS.values() for check in c.schema.checks}
    assert rules == set(ROW_RULE_CASES)


@pytest.mark.parametrize("rule", sorted(ROW_RULE_CASES))
def test_row_rule_fails(rule):
    table, changes, field, text = ROW_RULE_CASES[rule]
    df = TABLES[table].copy()
    for column, value in changes.items():
        df[column] = df[column].astype(object) if df[column].dtype != "datetime64[ns]" else df[column]
        df.loc[0, column] = value
    found = failures(table, df)
    assert found[["index", "field", "reason"]].values.tolist() == [[0, field, text]]


# --------------------------------------------------------------------------- relations

FK_CASES = [
    pytest.param(table, fk, id=f"{table}.{fk.column}->{fk.ref_table}")
    for table in TABLE_ORDER for fk in CONTRACTS[table].foreign_keys
]


@pytest.mark.parametrize("table, fk", FK_CASES)
def test_foreign_key_fails(table, fk):
    df = TABLES[table].copy()
    df[fk.column] = df[fk.column].astype(object)
    df.loc[0, fk.column] = "NOPE"
    found = check_relations(table, df, TABLES)
    assert found[["index", "field", "reason"]].values.tolist() == [
        [0, fk.column, f"{fk.column} 'NOPE' not found in {fk.ref_table}.{fk.ref_column}"]]


@pytest.mark.parametrize("table, fk", FK_CASES)
def test_foreign_key_not_judged_without_its_table(table, fk):
    df = TABLES[table].copy()
    df[fk.column] = df[fk.column].astype(object)
    df.loc[0, fk.column] = "NOPE"
    others = {k: v for k, v in TABLES.items() if k != fk.ref_table}
    found = check_relations(table, df, others)
    assert found[found["field"] == fk.column].empty


def test_nullable_foreign_key_may_be_missing():
    df = TABLES["jobs"].copy()
    assert df["quote_id"].isna().any() and df["contract_id"].isna().any()
    assert check_relations("jobs", df, TABLES).empty


DATE_RULE_CASES = [
    pytest.param(table, rule, id=f"{table}.{rule.column}>={rule.via.ref_table}.{rule.ref_date}")
    for table in TABLE_ORDER for rule in CONTRACTS[table].date_rules
]


@pytest.mark.parametrize("table, rule", DATE_RULE_CASES)
def test_date_rule_fails(table, rule):
    df = TABLES[table].copy()
    ref = TABLES[rule.via.ref_table].set_index(rule.via.ref_column)[rule.ref_date]
    ref_date = ref[df.loc[0, rule.via.column]]
    df.loc[0, rule.column] = ref_date - pd.Timedelta(days=1)
    found = check_relations(table, df, TABLES)
    assert found[["index", "field"]].values.tolist() == [[0, rule.column]]
    assert found["reason"].iloc[0] == (
        f"{rule.column} {(ref_date - pd.Timedelta(days=1)).date()} is before "
        f"{rule.via.ref_table}.{rule.ref_date} {ref_date.date()}")


@pytest.mark.parametrize("table, rule", DATE_RULE_CASES)
def test_date_rule_compares_days(table, rule):
    """Same day, earlier hour, is not a violation: date columns are midnight of the day."""
    df = TABLES[table].copy()
    ref = TABLES[rule.via.ref_table].set_index(rule.via.ref_column)[rule.ref_date]
    df.loc[0, rule.column] = ref[df.loc[0, rule.via.column]].normalize()
    assert check_relations(table, df, TABLES).empty


# --------------------------------------------------------------------------- schema_failures


def test_missing_column_is_a_frame_level_failure():
    found = failures("customers", TABLES["customers"].drop(columns="zip"))
    assert found["reason"].tolist() == ["missing required column 'zip'"]
    assert found["field"].tolist() == ["zip"] and np.isnan(found["index"].iloc[0])


def test_composite_key_reported_once_per_row():
    df = pd.concat([TABLES["telemetry"], TABLES["telemetry"].iloc[[0]]], ignore_index=True)
    found = failures("telemetry", df)
    assert found["reason"].tolist() == ["duplicate key equipment_id='E1', ts=2023-02-15"] * 2


def test_unreadable_value_does_not_report_rules_that_could_not_run():
    df = with_value("technicians", "hire_date", "abc")
    found = failures("technicians", df)
    assert found[["index", "field", "reason"]].values.tolist() == [[0, "hire_date", "cannot read 'abc' as a date"]]
