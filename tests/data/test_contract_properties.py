"""Properties of the data contracts, checked with hypothesis on rows of a generated company.

- any sample of valid rows passes its contract;
- one mutated value (outside an allowed set, out of range, missing, a duplicated key) fails,
  and the failure names that row, that field and the rule broken, as a reason code.
"""

from __future__ import annotations

import math

import pandas as pd
import pandera.errors
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantlib.data.contracts import CONTRACTS, schema_failures
from quantlib.errors import RejectReason

# Tables whose mutations need nothing but their own columns.
TABLES = sorted(CONTRACTS)
# Derandomized: the same examples on every run, so CI cannot turn red by chance.
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _failures(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        CONTRACTS[table].validate(frame)
    except pandera.errors.SchemaErrors as error:
        return schema_failures(table, error)
    return pd.DataFrame(columns=["index", "field", "reason", "reason_code"])


def _mutations(table: str) -> list[tuple[str, object, RejectReason]]:
    """(column, bad value, expected code) for every column whose contract a value can break."""
    out = []
    for name, column in CONTRACTS[table].schema.columns.items():
        # A missing flag reads as False when coerced to bool: not a failure to expect.
        if not column.nullable and name not in CONTRACTS[table].key and str(column.dtype) != "bool":
            out.append((name, None, RejectReason.MISSING_REQUIRED))
        for check in column.checks:
            stats = check.statistics or {}
            if check.name == "isin":
                out.append((name, "no-such-value", RejectReason.NOT_ALLOWED))
            elif check.name == "in_range":
                hi = stats["max_value"]
                out.append((name, hi + 1 if isinstance(hi, int) else hi * 2 + 1, RejectReason.OUT_OF_RANGE))
            elif check.name in ("greater_than", "greater_than_or_equal_to"):
                out.append((name, stats["min_value"] - 1, RejectReason.OUT_OF_RANGE))
    return out


@pytest.fixture(scope="module")
def tables(mixed_company):
    return {name: frame for name, frame in mixed_company.tables.items() if name in CONTRACTS and len(frame)}


@PROPERTY
@given(data=st.data())
def test_any_sample_of_valid_rows_passes(tables, data):
    table = data.draw(st.sampled_from(sorted(tables)))
    frame = tables[table]
    n = data.draw(st.integers(min_value=1, max_value=min(50, len(frame))))
    seed = data.draw(st.integers(min_value=0, max_value=2**31 - 1))
    sample = frame.sample(n=n, random_state=seed)
    assert _failures(table, sample).empty


@PROPERTY
@given(data=st.data())
def test_a_mutated_value_fails_naming_row_field_and_rule(tables, data):
    table = data.draw(st.sampled_from([t for t in sorted(tables) if _mutations(t)]))
    column, bad, code = data.draw(st.sampled_from(_mutations(table)))
    frame = tables[table].head(30).copy()
    row = data.draw(st.sampled_from(list(frame.index)))
    frame[column] = frame[column].astype(object)
    frame.at[row, column] = bad
    failures = _failures(table, frame)
    hit = failures[(failures["index"] == row) & (failures["field"] == column)]
    assert not hit.empty, f"{table}.{column}={bad!r} at row {row} passed its contract"
    assert code.value in set(hit["reason_code"]), hit.to_dict("records")
    # Only the mutated row fails.
    assert set(failures["index"].dropna()) == {row}


@PROPERTY
@given(data=st.data())
def test_a_duplicated_key_fails_on_both_rows(tables, data):
    table = data.draw(st.sampled_from(sorted(tables)))
    frame = tables[table].head(30).reset_index(drop=True)
    if len(frame) < 2:
        return
    first, second = data.draw(st.lists(st.sampled_from(list(frame.index)), min_size=2, max_size=2, unique=True))
    key = list(CONTRACTS[table].key)
    for column in key:
        frame.at[second, column] = frame.at[first, column]
    failures = _failures(table, frame)
    dupes = failures[failures["reason_code"] == RejectReason.DUPLICATE_KEY.value]
    assert {first, second} <= set(dupes["index"])
    assert all(not (isinstance(i, float) and math.isnan(i)) for i in dupes["index"])
