"""Turn one file's raw frame into contract-typed rows plus the rows rejected, with why.

Every column is coerced on its own, so a bad value fails only its row; rows whose every
value could be read are then checked by the contract schema (without its key check),
for keys occurring twice in the file, and against the tables they refer to. Each failed
row becomes a rejects-table row holding the original values as JSON.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

from quantlib.data.contracts import TableContract, check_relations, schema_failures
from quantlib.data.ingest.mapping import TableMapping, _rename, apply_rules
from quantlib.data.ingest.readers import _Raw
from quantlib.data.ingest.report import MAX_PROBLEMS_PER_FILE, Problem, UnusableFile
from quantlib.errors import RejectReason

# Text read as a missing value, compared lower-cased after stripping blanks.
NULL_TOKENS = ("", "na", "n/a", "nan", "nat", "null", "none")
TRUE_TOKENS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_TOKENS = ("false", "f", "no", "n", "0", "0.0")


def _kind(contract: TableContract, column: str) -> str:
    dtype = str(contract.schema.columns[column].dtype)
    if dtype.startswith("datetime"):
        return "date"
    if dtype.lower().startswith("int"):  # int64, or pandas' nullable Int64 of an optional column
        return "int"
    if dtype.startswith("float"):
        return "number"
    if dtype == "bool":
        return "bool"
    return "str"


_WHAT = {"number": "a number", "int": "a whole number", "date": "a date",
         "bool": "true/false (true/false, yes/no or 1/0)"}
_TS_MIN, _TS_MAX = pd.Timestamp.min, pd.Timestamp.max


def _as_text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Stripped text of ``s`` (NaN where missing) and the missing mask."""
    if s.dtype == object or not pd.api.types.is_string_dtype(s.dtype):
        # Parquet may hold numbers, dates or mixed objects where text is expected.
        isna = s.isna().to_numpy()
        s = s.map(str, na_action="ignore").astype(object).where(~isna)
    text = s.astype(pd.StringDtype("pyarrow", na_value=np.nan)).str.strip()
    missing = (text.isna() | text.str.lower().isin(NULL_TOKENS)).to_numpy()
    return text.where(~missing), missing


def _to_number(text: pd.Series) -> pd.Series:
    try:  # Arrow's cast is ~20x faster; it refuses the whole column on one bad value.
        arr = pc.cast(pa_arrow.Array.from_pandas(text), pa_arrow.float64())
        return pd.Series(arr.to_numpy(zero_copy_only=False), index=text.index)
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowNotImplementedError):
        return pd.to_numeric(text, errors="coerce").astype(float)


def _to_datetime(text: pd.Series) -> pd.Series:
    try:  # Arrow's cast handles plain ISO dates and times (no zone) fast.
        # Microseconds, so a year like 2300 parses and is then reported as out of range
        # (a nanosecond cast would fail it as unreadable under pandas 2).
        arr = pc.cast(pa_arrow.Array.from_pandas(text), pa_arrow.timestamp("us"))
        return pd.Series(arr.to_pandas(), index=text.index).astype("datetime64[us]")
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowNotImplementedError):
        pass
    # ISO with zones: converted to UTC, then stored without zone (like naive values).
    out = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
    rest = out.isna() & text.notna()
    if rest.any():
        # Other layouts (e.g. 03/15/2024, month first): inferred from the first value left.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                other = pd.to_datetime(text[rest], errors="coerce", utc=True).dt.tz_localize(None)
            except (ValueError, TypeError):
                other = pd.Series(pd.NaT, index=text.index[rest])
        out = out.astype("datetime64[us]")
        out[rest] = other.astype("datetime64[us]")
    return out


def _coerce(frame: pd.DataFrame, contract: TableContract) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract-typed copy of ``frame`` (contract columns) and the per-row failures.

    Every column is converted on its own, so a bad value fails only its row and
    the other rows keep every other check. Failures: ``index`` (position), ``field``,
    ``reason``, ``reason_code``. Failed cells are left missing; ``int`` and ``bool``
    columns stay float / nullable boolean until the failed rows are dropped.
    """
    out = {}
    failures = []
    n = len(frame)
    for name, col in contract.schema.columns.items():
        if name not in frame:
            out[name] = pd.Series(np.nan, index=frame.index)
            if _kind(contract, name) == "date":
                out[name] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
            continue
        src = frame[name]
        kind = _kind(contract, name)
        bad = np.zeros(n, dtype=bool)
        reasons = None
        if kind == "number" and pd.api.types.is_numeric_dtype(src.dtype) and not pd.api.types.is_bool_dtype(src.dtype):
            values = src.astype(float)
            missing = values.isna().to_numpy()
        elif kind == "date" and pd.api.types.is_datetime64_any_dtype(src.dtype):
            values = src.dt.tz_convert(None) if getattr(src.dt, "tz", None) is not None else src
            missing = values.isna().to_numpy()
        elif kind == "bool" and pd.api.types.is_bool_dtype(src.dtype):
            values = src.astype("boolean")
            missing = values.isna().to_numpy()
        else:
            text, missing = _as_text(src)
            if kind in ("number", "int"):
                values = _to_number(text)
            elif kind == "date":
                values = _to_datetime(text)
            elif kind == "bool":
                low = text.str.lower()
                values = pd.Series(pd.array(np.where(low.isin(TRUE_TOKENS), True, False), dtype="boolean"),
                                   index=text.index)
                values[~(low.isin(TRUE_TOKENS) | low.isin(FALSE_TOKENS)).to_numpy()] = pd.NA
            else:
                values = text
            bad = ~missing & values.isna().to_numpy()
        if kind == "int":
            values = values.astype(float)
            frac = ~bad & ~missing & (np.mod(values.fillna(0).to_numpy(), 1) != 0)
            bad = bad | frac
        if kind == "date":
            values = values.astype("datetime64[us]") if values.dtype != "datetime64[ns]" else values
            if values.dtype != "datetime64[ns]":
                out_of_range = (values.notna() & ((values < _TS_MIN) | (values > _TS_MAX))).to_numpy()
                reasons = out_of_range
                bad = bad | out_of_range
                values = values.where(~out_of_range).astype("datetime64[ns]")
            if name.endswith("date"):
                # Date columns are midnight of the day (see contracts); time columns keep the time.
                values = values.dt.normalize()
        if bad.any():
            pos = np.flatnonzero(bad)
            rows = []
            for p, v in zip(pos, src.iloc[pos]):
                shown = v.strip() if isinstance(v, str) else v
                if reasons is not None and reasons[p]:
                    rows.append(f"date {shown!r} is out of range (years 1678-2261)")
                else:
                    rows.append(f"cannot read {shown!r} as {_WHAT[kind]}")
            # Out-of-range dates are unusable dates too; other kinds are unreadable values.
            code = RejectReason.BAD_DATE if kind == "date" else RejectReason.BAD_TYPE
            failures.append(pd.DataFrame({"index": pos, "field": name, "reason": rows,
                                          "reason_code": code.value}))
            values = values.where(~pd.Series(bad, index=values.index))
        if not col.nullable and missing.any():
            failures.append(pd.DataFrame({"index": np.flatnonzero(missing), "field": name,
                                          "reason": "missing value",
                                          "reason_code": RejectReason.MISSING_REQUIRED.value}))
        out[name] = values
    typed = pd.DataFrame(out, index=frame.index)
    return typed, _concat_failures(failures)


def _concat_failures(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({"index": pd.Series(dtype="int64"), "field": pd.Series(dtype=object),
                             "reason": pd.Series(dtype=object), "reason_code": pd.Series(dtype=object)})
    return pd.concat(parts, ignore_index=True)


def _duplicate_keys(typed: pd.DataFrame, eligible: np.ndarray, contract: TableContract,
                    lines: np.ndarray, unit: str) -> pd.DataFrame:
    """Rows whose key occurs more than once in the file: all copies are rejected."""
    key = list(contract.key)
    sub = typed.loc[eligible, key]
    dup = sub.duplicated(keep=False)
    if not dup.any():
        return _concat_failures([])
    sub = sub[dup]
    positions = sub.index.to_numpy()
    groups = sub.groupby(key if len(key) > 1 else key[0], sort=False).groups
    reasons = {}
    for values, idx in groups.items():
        values = values if isinstance(values, tuple) else (values,)
        shown = ", ".join(f"{k}={_show(v)}" for k, v in zip(key, values))
        where = ", ".join(f"{unit} {lines[i]}" for i in list(idx)[:5])
        for i in idx:
            reasons[i] = f"duplicate key {shown} in this file ({where})"
    return pd.DataFrame({"index": positions, "field": ",".join(key),
                         "reason": [reasons[i] for i in positions],
                         "reason_code": RejectReason.DUPLICATE_KEY.value})


def _show(value) -> str:
    if isinstance(value, pd.Timestamp):
        return repr(str(value.date()) if value == value.normalize() else str(value))
    return repr(value)


_UNIQUE_FREE: dict[str, pa.DataFrameSchema] = {}


def _schema_without_key(contract: TableContract) -> pa.DataFrameSchema:
    """The contract schema minus the key check (duplicates are reported by :func:`_duplicate_keys`)."""
    if contract.name not in _UNIQUE_FREE:
        schema = copy.deepcopy(contract.schema)
        schema.unique = None
        _UNIQUE_FREE[contract.name] = schema
    return _UNIQUE_FREE[contract.name]


def _final_dtypes(df: pd.DataFrame, contract: TableContract) -> pd.DataFrame:
    """``df`` with exactly the contract's columns, in order, cast to the contract dtypes."""
    out = {}
    for name in contract.columns:
        s = df[name]
        kind = _kind(contract, name)
        if kind == "int":
            s = s.astype("Int64" if contract.schema.columns[name].nullable else "int64")
        elif kind == "number":
            s = s.astype("float64")
        elif kind == "bool":
            s = s.astype(bool)
        elif kind == "date":
            s = s.astype("datetime64[ns]")
        else:
            s = s.astype(pd.StringDtype("pyarrow", na_value=np.nan))
        out[name] = s
    return pd.DataFrame(out, index=df.index)


# --------------------------------------------------------------------------- one file


@dataclass
class _FileResult:
    accepted: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    rows_rejected: int
    problems: list[Problem]
    problems_total: int
    notes: list[str]


def _process(name: str, raw: _Raw, tm: TableMapping, contract: TableContract,
             refs: dict[str, pd.DataFrame], ingested_at: pd.Timestamp) -> _FileResult:
    """Coerce, validate, de-duplicate and relate the rows of one file."""
    rename, notes = _rename(raw.frame, tm, contract)
    notes = raw.notes + notes
    frame = raw.frame[list(rename)].rename(columns=rename)
    frame.index = pd.RangeIndex(len(frame))
    frame = apply_rules(raw.frame.set_axis(pd.RangeIndex(len(raw.frame))), frame, tm)
    typed, failures = _coerce(frame, contract)
    parts = [failures]
    failed = np.zeros(len(frame), dtype=bool)
    failed[failures["index"].to_numpy(dtype=np.int64)] = True
    dups = _duplicate_keys(typed, ~failed, contract, raw.lines, raw.unit)
    parts.append(dups)
    # Pandera sees only rows whose every value could be read, with final dtypes,
    # so its checks run on every column (it skips the checks of a column it could not coerce).
    clean = ~failed
    if clean.any():
        candidate = _final_dtypes(typed[clean], contract)
        try:
            candidate = _schema_without_key(contract).validate(candidate, lazy=True)
        except pa.errors.SchemaErrors as err:
            found = schema_failures(contract.name, err)
            frame_level = found[found["index"].isna()]
            if len(frame_level):
                raise UnusableFile(f"could not check the rows: {frame_level['reason'].iloc[0]}") from None
            found["index"] = found["index"].astype(np.int64)
            parts.append(found)
            candidate = candidate.drop(index=np.unique(found["index"].to_numpy()), errors="ignore")
        if len(dups):
            candidate = candidate.drop(index=dups["index"].to_numpy(), errors="ignore")
        relation = check_relations(contract.name, candidate, refs)
        if len(relation):
            relation = relation.assign(index=relation["index"].astype(np.int64))
            parts.append(relation)
            candidate = candidate.drop(index=relation["index"].unique())
    else:
        candidate = _final_dtypes(typed.iloc[:0], contract)
    found = _concat_failures(parts)
    rejects, problems, total = _reject_rows(name, contract.name, raw, found, ingested_at)
    rows_read = len(raw.frame) + len(raw.ragged)
    rows_rejected = found["index"].nunique() + len(raw.ragged)
    if rows_read == 0:
        notes.append("header only: 0 data rows")
    return _FileResult(candidate.reset_index(drop=True), rejects, rows_read, rows_rejected,
                       problems, total, notes)


def _reject_rows(name: str, table: str, raw: _Raw, found: pd.DataFrame,
                 ingested_at: pd.Timestamp) -> tuple[pd.DataFrame, list[Problem], int]:
    """Rejects-table rows and one-line problems for the failures of one file."""
    found = found.sort_values(["index"], kind="stable")
    positions = found["index"].to_numpy(dtype=np.int64)
    lines = raw.lines[positions] if len(positions) else np.array([], dtype=np.int64)
    raw_json = {}
    for p in np.unique(positions):
        # Original column names and values, as read, so the row can be fixed at the source.
        record = raw.frame.iloc[int(p)].to_dict()
        raw_json[p] = json.dumps({str(k): _jsonable(v) for k, v in record.items()}, ensure_ascii=False)
    rows = {
        "file": name, "table": table,
        "row": lines.astype(np.int64),
        "field": found["field"].astype(str).to_numpy(),
        "reason_code": found["reason_code"].astype(str).to_numpy(),
        "reason": found["reason"].astype(str).to_numpy(),
        "raw": [raw_json[p] for p in positions],
    }
    rejects = pd.DataFrame(rows)
    ragged = pd.DataFrame({
        "file": name, "table": table,
        "row": np.asarray([r[0] for r in raw.ragged], dtype=np.int64),
        "field": "", "reason_code": RejectReason.RAGGED_ROW.value, "reason": [r[2] for r in raw.ragged],
        "raw": [json.dumps(r[1], ensure_ascii=False) for r in raw.ragged],
    })
    rejects = pd.concat([ragged, rejects], ignore_index=True) if len(ragged) else rejects
    rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
    rejects["ingested_at"] = ingested_at
    total = len(rejects)
    problems = []
    for rec in rejects.head(MAX_PROBLEMS_PER_FILE).itertuples(index=False):
        where = f"{raw.unit} {rec.row}"
        text = (f"{name}: {where}, field {rec.field}: {rec.reason}" if rec.field
                else f"{name}: {where}: {rec.reason}")
        problems.append(Problem(name, text, int(rec.row), rec.field or None, RejectReason(rec.reason_code)))
    return rejects, problems, total


def _jsonable(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (str, int, float)):
        return value
    return str(value)
