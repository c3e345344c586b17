"""Files that set columns of rows another file landed: a mapping's ``updates``.

A CRM's contacts are not customers, but what a contact says (its opt-outs, its numbers) decides
how its account, the customer, prefers to be reached. A mapping's top-level ``updates:`` names
such files (``files`` globs, the ``table`` they update, ``columns`` mapping a source column to the
table's key, and ``choose``/``values``/``defaults`` rules for the columns they set), and
:func:`apply_update` applies one file to the table's silver:

* rows left out by ``where`` are counted in a note, as for a table;
* a row whose key is blank, or names no row of the table (in silver, or landed by the same
  ingest: updates run after every table), is rejected naming the key, with
  ``unknown_reference``; a value the contract's column refuses is rejected naming the column;
* a row that sets nothing (no rule fits, every value blank) is read and changes nothing (a note);
* of several rows for one key, the one with the latest ``latest_by`` stamp wins (else the last
  in the file), the others are counted in a note;
* only the columns the update sets change; the row keeps every other value.

So ``rows_read == rows_accepted + rows_rejected`` holds as for any file, and the raw file is in
bronze (under the table it updates) like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from quantlib.data.contracts import TableContract, schema_failures
from quantlib.data.ingest.coercion import _final_dtypes, _reject_rows
from quantlib.data.ingest.mapping import TableMapping, _norm, apply_rules
from quantlib.data.ingest.readers import _Raw
from quantlib.data.ingest.report import Problem, UnusableFile
from quantlib.errors import RejectReason

__all__ = ["UpdateResult", "apply_update"]


@dataclass
class UpdateResult:
    """The table after one update file, and what the file's rows did."""

    table: pd.DataFrame | None
    rejects: pd.DataFrame
    rows_read: int
    rows_rejected: int
    rows_changed: int
    problems: list[Problem]
    problems_total: int
    notes: list[str]


def _blank(values: pd.Series) -> np.ndarray:
    return (values.isna() | (values.astype("string").str.strip() == "")).to_numpy()


def apply_update(name: str, raw: _Raw, um: TableMapping, contract: TableContract, current: pd.DataFrame | None,
                 ingested_at: pd.Timestamp) -> UpdateResult:
    """Set ``um.sets`` of the rows of ``current`` (the table's silver) that the rows of ``raw`` name by key.

    Raises
    ------
    UnusableFile
        The file has no column for the key.
    """
    key = contract.key[0]
    source = raw.frame.set_axis(pd.RangeIndex(len(raw.frame)))
    by_norm = {_norm(c): c for c in source.columns}
    renamed = {by_norm[_norm(src)]: dst for src, dst in um.columns.items() if _norm(src) in by_norm}
    if key not in renamed.values():
        wanted = next(src for src, dst in um.columns.items() if dst == key)
        raise UnusableFile(f"column {wanted!r} (the {key} whose row it updates) is not in the file")
    frame = apply_rules(source, source[list(renamed)].rename(columns=renamed), um)
    for column in um.sets:
        if column not in frame:
            frame[column] = None
    notes = list(raw.notes)
    failures = []
    keys = frame[key].astype("string").str.strip()
    missing_key = _blank(frame[key])
    known = set(current[key].astype(str)) if current is not None else set()
    unknown = ~missing_key & ~keys.fillna("").isin(known).to_numpy()
    for index in np.flatnonzero(missing_key):
        failures.append((index, key, RejectReason.MISSING_REQUIRED.value, f"no {key}: the row updates nothing"))
    for index in np.flatnonzero(unknown):
        failures.append((index, key, RejectReason.UNKNOWN_REFERENCE.value,
                         f"{key} {keys.iloc[index]!r} is not in {contract.name} (land its row first)"))
    bad = missing_key | unknown
    for column in um.sets:
        given = ~_blank(frame[column]) & ~bad
        if not given.any():
            continue
        check = pa.DataFrameSchema({column: contract.schema.columns[column]})
        try:
            check.validate(frame.loc[given, [column]], lazy=True)
        except pa.errors.SchemaErrors as err:
            found = schema_failures(contract.name, err)
            for rec in found.dropna(subset=["index"]).itertuples(index=False):
                failures.append((int(rec.index), column, rec.reason_code, rec.reason))
                bad[int(rec.index)] = True
    found = pd.DataFrame(failures, columns=["index", "field", "reason_code", "reason"])
    found["index"] = found["index"].astype(np.int64)
    rejects, problems, total = _reject_rows(name, contract.name, raw, found, ingested_at)

    ok = frame[~bad]
    setting = ok[~np.all([_blank(ok[c]) for c in um.sets], axis=0)] if len(ok) else ok
    if len(ok) > len(setting):
        count = len(ok) - len(setting)
        notes.append(f"{count} row{'s' if count != 1 else ''} set{'s' if count == 1 else ''} no value of "
                     f"{', '.join(um.sets)}")
    if len(setting) and um.latest_by and _norm(um.latest_by) in by_norm:
        stamps = pd.to_datetime(source.loc[setting.index, by_norm[_norm(um.latest_by)]], errors="coerce", utc=True,
                                format="mixed")
        setting = setting.loc[stamps.sort_values(kind="stable", na_position="first").index]
    winners = setting.drop_duplicates(key, keep="last")
    if len(setting) > len(winners):
        count = len(setting) - len(winners)
        by = f"the latest {um.latest_by}" if um.latest_by else "the last row"
        notes.append(f"{count} row{'s' if count != 1 else ''} for a {key} another row also sets ({by} wins)")
    table = current
    if len(winners):
        table = current.copy()
        position = pd.Series(np.arange(len(table)), index=table[key].astype(str))
        rows = position.loc[winners[key].astype(str).str.strip()].to_numpy()
        for column in um.sets:
            values = winners[column].where(~_blank(winners[column]), None)
            keep = ~_blank(winners[column])
            table[column] = table[column].astype(object)
            table.iloc[rows[keep], table.columns.get_loc(column)] = values[keep].to_numpy()
        table = _final_dtypes(table, contract)
    rows_read = len(source) + len(raw.ragged)
    return UpdateResult(table, rejects, rows_read, int(bad.sum()) + len(raw.ragged), len(winners), problems,
                        total, notes)
