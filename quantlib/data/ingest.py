"""Ingest a company's own CSV / Parquet exports into the lake.

One call of :func:`ingest` takes every file under a source directory and

1. matches it to a table by the file-name globs of a *mapping* (YAML; see
   ``parameters/mappings/default.yaml``), renaming source columns to contract
   columns on the way;
2. lands the raw bytes, unchanged, in bronze
   (``lake.bronze/<table>/<sha256[:16]>__<name>``) and records the file in the
   manifest (``lake.manifest``); a file whose sha256 was already loaded is
   skipped as "already ingested", so ingesting twice adds nothing;
3. reads it (CSV must be UTF-8 and comma-separated unless the mapping says
   otherwise; Parquet as written), coerces every column per row, validates the
   rows against the table's contract, rejects rows with a key that occurs twice
   in the file, and checks foreign keys and cross-table date rules against silver
   plus the rows of this batch (tables are loaded in ``TABLE_ORDER``);
4. merges the valid rows into ``lake.silver_table(table)`` (one Parquet file a
   table, exactly the contract's columns and dtypes; a newer version of a row
   replaces the older one: the contract's ``version_column`` decides when set,
   else the later ingest wins), and appends every invalid row, with its reason,
   to ``lake.rejects``.

Row numbers
-----------
A rejected row is located by ``row``, the number of the line it starts on in the
source file, counting the header as line 1: the first data row of a CSV is
``line 2``, exactly what a text editor shows. For Parquet there is no header:
``row`` is the 1-based row number and the text says ``row N``.

Nothing is lost: ``rows_read == rows_accepted + rows_rejected`` for every file
(blank lines are not rows), and every rejected row is in ``lake.rejects`` with the
original values as JSON. Every write goes through :func:`~quantlib.data.lake.atomic_path`
and all silver / rejects / manifest files are renamed into place only after all of
them were written, so a failure leaves the warehouse as it was.
"""

from __future__ import annotations

from collections.abc import Callable

import codecs
import copy
import csv
import fnmatch
import hashlib
import io
import json
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import yaml

from quantlib.data.contracts import (
    CONTRACTS,
    TABLE_ORDER,
    TableContract,
    check_relations,
    get_contract,
    schema_failures,
)
from quantlib.data.lake import Lake, atomic_path

DEFAULT_MAPPING_PATH = Path(__file__).resolve().parents[2] / "parameters" / "mappings" / "default.yaml"

MANIFEST_COLUMNS = ["file", "sha256", "table", "bronze_path", "status", "landed_at",
                    "rows_read", "rows_accepted", "rows_rejected", "error"]
REJECT_COLUMNS = ["file", "table", "row", "field", "reason", "raw", "ingested_at"]

# File statuses in the report and the manifest.
LOADED = "loaded"
ALREADY = "already ingested"
UNUSABLE = "unusable"
SKIPPED = "skipped"

# Text read as a missing value, compared lower-cased after stripping blanks.
NULL_TOKENS = ("", "na", "n/a", "nan", "nat", "null", "none")
TRUE_TOKENS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_TOKENS = ("false", "f", "no", "n", "0", "0.0")

_OTHER_DELIMITERS = {";": ";-separated", "\t": "tab-separated", "|": "|-separated"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
# Rows of one file whose problems the report keeps; all of them are in the rejects table.
MAX_PROBLEMS_PER_FILE = 1000


# --------------------------------------------------------------------------- mapping


class MappingError(ValueError):
    """The mapping file is unreadable or names unknown tables or columns."""


@dataclass(frozen=True)
class TableMapping:
    """How files of one table are found and read.

    Attributes
    ----------
    table : str
        Contract table name.
    files : tuple of str
        File-name globs (matched case-insensitively against the file name).
    columns : dict of str to str
        Source column name -> contract column name. Unlisted columns whose name
        equals a contract column (ignoring case and blanks) are taken as is.
    delimiter : str
        CSV field separator.
    """

    table: str
    files: tuple[str, ...]
    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","


@dataclass(frozen=True)
class Mapping:
    """Which files feed which tables; see ``parameters/mappings/default.yaml``."""

    tables: dict[str, TableMapping]
    source: str = "built-in"

    def match(self, name: str) -> tuple[str | None, str | None]:
        """Return ``(table, None)`` for the table ``name`` belongs to, else ``(None, why)``.

        When globs of several tables match, the most specific glob (most literal
        characters) wins, so ``equipment_usage*.csv`` beats ``equipment*.csv``.
        """
        lower = name.lower()
        best: dict[str, int] = {}
        for table, tm in self.tables.items():
            for pattern in tm.files:
                if fnmatch.fnmatchcase(lower, pattern.lower()):
                    literal = sum(ch not in "*?[]" for ch in pattern)
                    best[table] = max(best.get(table, -1), literal)
        if not best:
            return None, "matches no table of the mapping"
        top = max(best.values())
        winners = sorted(t for t, v in best.items() if v == top)
        if len(winners) > 1:
            return None, f"matches several tables ({', '.join(winners)}); make the mapping globs distinct"
        return winners[0], None


def default_mapping() -> Mapping:
    """The identity mapping: ``<table>.csv``, ``<table>_*.csv`` (and Parquet) per table."""
    tables = {
        t: TableMapping(t, (f"{t}.csv", f"{t}_*.csv", f"{t}.parquet", f"{t}_*.parquet"))
        for t in TABLE_ORDER
    }
    return Mapping(tables, "built-in")


def load_mapping(path: str | Path | None = None) -> Mapping:
    """Read a mapping YAML file; ``None`` means the shipped default mapping.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file. Without it ``parameters/mappings/default.yaml`` of this
        repository is read, or the built-in identity mapping when it is not there
        (an installed package).

    Raises
    ------
    MappingError
        One line naming the file and what is wrong with it.
    """
    if path is None:
        if not DEFAULT_MAPPING_PATH.exists():
            return default_mapping()
        path = DEFAULT_MAPPING_PATH
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MappingError(f"mapping file {path} is not valid YAML: {first}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise MappingError(f"mapping file {path} needs a top-level 'tables:' mapping")
    tables = {}
    for table, spec in doc["tables"].items():
        if table not in CONTRACTS:
            raise MappingError(f"mapping file {path}: unknown table {table!r}; "
                               f"known tables: {', '.join(TABLE_ORDER)}")
        spec = spec or {}
        files = spec.get("files") or []
        if isinstance(files, str):
            files = [files]
        columns = spec.get("columns") or {}
        if not isinstance(columns, dict):
            raise MappingError(f"mapping file {path}: tables.{table}.columns must map source to contract names")
        contract = CONTRACTS[table]
        for src, dst in columns.items():
            if dst not in contract.columns:
                raise MappingError(f"mapping file {path}: tables.{table}.columns maps {src!r} to {dst!r}, "
                                   f"which is not a column of {table}")
        delimiter = spec.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise MappingError(f"mapping file {path}: tables.{table}.delimiter must be one character")
        tables[table] = TableMapping(table, tuple(str(f) for f in files),
                                     {str(k): str(v) for k, v in columns.items()}, delimiter)
    return Mapping(tables, str(path))


# --------------------------------------------------------------------------- report


@dataclass
class Problem:
    """One problem, as one line of text naming file, line and field."""

    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class FileReport:
    """What happened to one source file.

    ``status`` is ``"loaded"`` (read; rows accepted and/or rejected),
    ``"already ingested"`` (same sha256 loaded before), ``"unusable"`` (the file
    as a whole could not be read; see ``problems``) or ``"skipped"`` (no table
    matches its name).
    """

    file: str
    table: str | None
    status: str
    sha256: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Problems found; may exceed len(problems), which is capped (the rejects table has all).
    problems_total: int = 0


@dataclass
class IngestReport:
    """The result of :func:`ingest`: one :class:`FileReport` per source file."""

    src_dir: Path
    lake: Path
    ingested_at: pd.Timestamp
    mapping: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def unusable(self) -> list[FileReport]:
        return [f for f in self.files if f.status == UNUSABLE]

    @property
    def ok(self) -> bool:
        """True when no file was unusable (rejected rows do not count)."""
        return not self.unusable

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def problems(self) -> list[Problem]:
        return [p for f in self.files for p in f.problems]

    def file(self, name: str) -> FileReport:
        """The report of the source file called ``name`` (relative path or file name)."""
        for f in self.files:
            if f.file == name or Path(f.file).name == name:
                return f
        raise KeyError(name)


# --------------------------------------------------------------------------- reading


class UnusableFile(Exception):
    """The whole file cannot be used; the message is one line without the file name."""


@dataclass
class _Raw:
    """A file as read: source columns (text for CSV), where each row starts, bad rows."""

    frame: pd.DataFrame
    lines: np.ndarray
    unit: str  # "line" (CSV, header is line 1) or "row" (Parquet, 1-based)
    ragged: list[tuple[int, list[str], str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_file(name: str, data: bytes, tm: TableMapping) -> _Raw:
    """Read ``data`` as Parquet (by suffix or magic bytes) or as CSV text."""
    if len(data) == 0:
        raise UnusableFile("file is empty (0 bytes)")
    if data[:4] == b"PAR1" or name.lower().endswith(_PARQUET_SUFFIXES):
        return _read_parquet(data)
    return _read_csv(data, tm)


def _read_parquet(data: bytes) -> _Raw:
    if data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        raise UnusableFile("not a readable Parquet file (missing PAR1 magic bytes: truncated or not Parquet)")
    try:
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UnusableFile(f"not a readable Parquet file (corrupt or truncated): {first}") from None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return _Raw(frame, np.arange(1, len(frame) + 1, dtype=np.int64), "row")


def _check_text(data: bytes) -> bytes:
    """Refuse files that are not UTF-8 text; return the bytes without a BOM."""
    head = data[:65536]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnusableFile("file is UTF-16 encoded, not UTF-8; re-save it as UTF-8 (CSV UTF-8)")
    if head.startswith(b"PK\x03\x04"):
        raise UnusableFile("not a table: looks like an Excel/zip file; export it as CSV (UTF-8)")
    if b"\x00" in head:
        raise UnusableFile("not a table: binary data (NUL bytes), not CSV text")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnusableFile(f"not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); "
                           f"re-save the file as UTF-8") from None
    return data


def _header_fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _read_csv(data: bytes, tm: TableMapping) -> _Raw:
    data = _check_text(data)
    text_head = data[:65536].decode("utf-8", errors="replace")
    stripped = text_head.lstrip()
    if not stripped:
        raise UnusableFile("file has no header line (only blank lines)")
    if stripped[0] in "{[":
        raise UnusableFile("not a table: looks like JSON, not CSV")
    if stripped[0] == "<":
        raise UnusableFile("not a table: looks like HTML/XML, not CSV")
    first_line = text_head.splitlines()[0] if text_head.splitlines() else ""
    if not first_line.strip():
        raise UnusableFile("the first line (the header) is blank")
    header = [h.strip() for h in _header_fields(first_line, tm.delimiter)]
    known = _known_names(tm)
    if not any(_norm(h) in known for h in header):
        # Name the likely cause: another separator splits the header into known columns.
        for delim, label in _OTHER_DELIMITERS.items():
            if delim == tm.delimiter:
                continue
            other = [_norm(h) for h in _header_fields(first_line, delim)]
            if len(other) > 1 and any(h in known for h in other):
                raise UnusableFile(f"looks {label}: the header splits on {delim!r}, not {tm.delimiter!r}; "
                                   f"export it comma-separated or set delimiter: {delim!r} for "
                                   f"{tm.table} in the mapping")
        shown = ", ".join(repr(h) for h in header[:5])
        raise UnusableFile(f"not a table of {tm.table}: the header ({shown}) has none of its columns")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise UnusableFile(f"column {dupes[0]!r} appears more than once in the header")
    raw = _read_csv_fast(data, header, tm.delimiter)
    if raw is None:
        raw = _read_csv_exact(data, header, tm.delimiter)
    return raw


def _read_csv_fast(data: bytes, header: list[str], delimiter: str) -> _Raw | None:
    """Multi-threaded pyarrow read; ``None`` when line numbers could not be exact.

    Row ``i`` is on line ``i + 2`` only when every record is one line and there are
    no blank or bad lines; otherwise the exact (slower) reader is used.
    """
    bad = []

    def on_invalid(row):
        bad.append(row)
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa_arrow.string() for h in header},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa_arrow.ArrowInvalid, ValueError):
        return None
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if bad or n_lines != table.num_rows + 1:
        return None
    frame = table.to_pandas(types_mapper={pa_arrow.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)
    return _Raw(frame, np.arange(2, table.num_rows + 2, dtype=np.int64), "line")


def _read_csv_exact(data: bytes, header: list[str], delimiter: str) -> _Raw:
    """Python ``csv`` reader: exact start line of every record, ragged rows kept apart."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[int, list[str], str]] = []
    blank = 0
    width = len(header)
    end = 1
    try:
        next(reader)  # the header, already parsed
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                blank += 1
                continue
            if len(row) != width:
                what = "too many" if len(row) > width else "too few"
                ragged.append((start, row, f"{len(row)} fields but the header has {width} ({what}: "
                                           f"a stray '{delimiter}' or a missing quote?)"))
                continue
            rows.append(row)
            lines.append(start)
    except csv.Error as exc:
        raise UnusableFile(f"cannot parse as CSV near line {end + 1}: {exc}") from None
    frame = pd.DataFrame(rows, columns=header, dtype="str") if rows else \
        pd.DataFrame({h: pd.Series(dtype="str") for h in header})
    notes = [f"{blank} blank line{'s' if blank != 1 else ''} skipped"] if blank else []
    return _Raw(frame, np.asarray(lines, dtype=np.int64), "line", ragged, notes)


def _norm(name: str) -> str:
    return str(name).strip().lower()


def _known_names(tm: TableMapping) -> set[str]:
    return {_norm(c) for c in CONTRACTS[tm.table].columns} | {_norm(c) for c in tm.columns}


def _rename(frame: pd.DataFrame, tm: TableMapping, contract: TableContract) -> tuple[dict[str, str], list[str]]:
    """Source column -> contract column, and the notes about ignored / absent columns.

    Mapping entries win; otherwise a source column whose name equals a contract
    column, ignoring case and surrounding blanks, is taken.
    """
    by_norm_map = {_norm(k): v for k, v in tm.columns.items()}
    by_norm_contract = {_norm(c): c for c in contract.columns}
    rename: dict[str, str] = {}
    ignored = []
    for col in frame.columns:
        target = tm.columns.get(col) or by_norm_map.get(_norm(col)) or by_norm_contract.get(_norm(col))
        if target is None:
            ignored.append(col)
            continue
        if target in rename.values():
            other = next(k for k, v in rename.items() if v == target)
            raise UnusableFile(f"columns {other!r} and {col!r} both map to {target!r}")
        rename[col] = target
    missing = [c for c in contract.required_columns if c not in rename.values()]
    if missing:
        cols = ", ".join(repr(c) for c in missing)
        raise UnusableFile(f"missing required column{'s' if len(missing) > 1 else ''} {cols} "
                           f"(map it in the mapping file if the export names it differently)")
    notes = []
    if ignored:
        notes.append(f"ignored column{'s' if len(ignored) > 1 else ''} not in {contract.name}: "
                     + ", ".join(ignored[:10]) + (" ..." if len(ignored) > 10 else ""))
    absent = [c for c in contract.columns if c not in rename.values()]
    if absent:
        notes.append("optional column" + ("s " if len(absent) > 1 else " ") + ", ".join(absent)
                     + " absent: left empty")
    return rename, notes


# --------------------------------------------------------------------------- coercion


def _kind(contract: TableContract, column: str) -> str:
    dtype = str(contract.schema.columns[column].dtype)
    if dtype.startswith("datetime"):
        return "date"
    if dtype.startswith("int"):
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
        arr = pc.cast(pa_arrow.Array.from_pandas(text), pa_arrow.timestamp("ns"))
        return pd.Series(arr.to_pandas(), index=text.index).astype("datetime64[ns]")
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
    ``reason``. Failed cells are left missing; ``int`` and ``bool`` columns stay
    float / nullable boolean until the failed rows are dropped.
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
            failures.append(pd.DataFrame({"index": pos, "field": name, "reason": rows}))
            values = values.where(~pd.Series(bad, index=values.index))
        if not col.nullable and missing.any():
            failures.append(pd.DataFrame({"index": np.flatnonzero(missing), "field": name,
                                          "reason": "missing value"}))
        out[name] = values
    typed = pd.DataFrame(out, index=frame.index)
    return typed, _concat_failures(failures)


def _concat_failures(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({"index": pd.Series(dtype="int64"), "field": pd.Series(dtype=object),
                             "reason": pd.Series(dtype=object)})
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
                         "reason": [reasons[i] for i in positions]})


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
            s = s.astype("int64")
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
        "reason": found["reason"].astype(str).to_numpy(),
        "raw": [raw_json[p] for p in positions],
    }
    rejects = pd.DataFrame(rows)
    ragged = pd.DataFrame({
        "file": name, "table": table,
        "row": np.asarray([r[0] for r in raw.ragged], dtype=np.int64),
        "field": "", "reason": [r[2] for r in raw.ragged],
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
        problems.append(Problem(name, text, int(rec.row), rec.field or None))
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


# --------------------------------------------------------------------------- lake I/O


def _read_parquet_or(path: Path, columns: list[str]) -> pd.DataFrame:
    if path.exists():
        return pd.read_parquet(path)
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` (a temporary path of :func:`atomic_path`)."""
    df.to_parquet(path, index=False)


def _merge(old: pd.DataFrame | None, new: list[pd.DataFrame], contract: TableContract) -> pd.DataFrame:
    """Old silver plus new rows; one row per key, the newest version wins.

    With ``contract.version_column`` the row with the latest value wins (rows
    without a value lose); ties and tables without one go to the later ingest.
    """
    parts = ([old] if old is not None and len(old) else []) + [p for p in new if len(p)]
    if not parts:
        return _final_dtypes(old, contract) if old is not None else None
    merged = pd.concat([_final_dtypes(p, contract) for p in parts], ignore_index=True)
    if contract.version_column:
        merged = merged.sort_values(contract.version_column, kind="stable", na_position="first")
    merged = merged.drop_duplicates(list(contract.key), keep="last")
    if contract.version_column:
        merged = merged.sort_index()
    return merged.reset_index(drop=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _land(lake: Lake, table: str, name: str, sha: str, data: bytes) -> str:
    """Copy the raw bytes to bronze (unchanged); return the path relative to the lake root."""
    target = lake.bronze / table / f"{sha[:16]}__{Path(name).name}"
    if not (target.exists() and target.stat().st_size == len(data)):
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
    return target.relative_to(lake.root).as_posix()


def _discover(src_dir: Path, lake: Lake) -> list[Path]:
    """Files under ``src_dir`` (recursive, sorted), skipping the lake itself and names
    starting with ``.`` or ``_`` (hidden files, and side outputs such as the
    generator's ``_truth/`` folder)."""
    lake_root = lake.root.resolve()
    found = []
    for path in sorted(src_dir.rglob("*")):
        rel = path.relative_to(src_dir)
        if any(part.startswith((".", "_")) for part in rel.parts) or not path.is_file():
            continue
        resolved = path.resolve()
        if resolved == lake_root or lake_root in resolved.parents:
            continue
        found.append(path)
    return found


# --------------------------------------------------------------------------- ingest


def ingest(src_dir: str | Path, lake: Lake | str | Path, mapping: Mapping | str | Path | None = None,
           on_file: Callable[[str, str, int, int], None] | None = None) -> IngestReport:
    """Ingest every CSV / Parquet export under ``src_dir`` into ``lake``.

    Parameters
    ----------
    src_dir : str or Path
        Directory of a company's exports (searched recursively; names starting
        with ``.`` or ``_`` and a lake inside it are skipped).
    lake : Lake, str or Path
        The lake, or its root directory.
    mapping : Mapping, str or Path, optional
        A :class:`Mapping` or the path of a mapping YAML file; by default the
        shipped identity mapping (``<table>.csv``, ``<table>_*.parquet`` ...).
    on_file : callable, optional
        Progress hook, called as ``on_file(file, table, done, total)`` before each
        file is read and checked (the command line shows it as a progress bar).

    Returns
    -------
    IngestReport
        Per file: status, rows read / accepted / rejected, one-line problems.
        ``report.ok`` is False when a file was unusable.

    Raises
    ------
    MappingError
        The mapping file is invalid.
    NotADirectoryError
        ``src_dir`` is not a directory.
    OSError
        Writing the lake failed; the lake is left as it was (bronze may hold the raw files).
    """
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise NotADirectoryError(f"{src_dir} is not a directory")
    lake = lake if isinstance(lake, Lake) else Lake(Path(lake))
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    ingested_at = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us")
    report = IngestReport(src_dir, lake.root, ingested_at, mapping.source)

    manifest = _read_parquet_or(lake.manifest, MANIFEST_COLUMNS)
    loaded = manifest[manifest["status"] == LOADED] if len(manifest) else manifest
    seen = dict(zip(loaded["sha256"], loaded["file"])) if len(loaded) else {}

    # Match and land every file first; then read them table by table.
    by_table: dict[str, list[tuple[FileReport, bytes, str]]] = {}
    for path in _discover(src_dir, lake):
        name = path.relative_to(src_dir).as_posix()
        table, why = mapping.match(path.name)
        if table is None:
            report.files.append(FileReport(name, None, SKIPPED,
                                           problems=[Problem(name, f"{name}: {why}; skipped")]))
            continue
        data = path.read_bytes()
        sha = _sha256(data)
        fr = FileReport(name, table, LOADED, sha)
        report.files.append(fr)
        if sha in seen:
            fr.status = ALREADY
            fr.notes.append(f"already ingested (same content as {seen[sha]})")
            continue
        seen[sha] = name
        by_table.setdefault(table, []).append((fr, data, _land(lake, table, name, sha, data)))

    silver: dict[str, pd.DataFrame | None] = {}

    def current(table: str) -> pd.DataFrame | None:
        if table not in silver:
            path = lake.silver_table(table)
            silver[table] = _final_dtypes(pd.read_parquet(path), CONTRACTS[table]) if path.exists() else None
        return silver[table]

    changed: set[str] = set()
    reject_parts: list[pd.DataFrame] = []
    manifest_rows = []
    total = sum(len(files) for files in by_table.values())
    done = 0
    for table in TABLE_ORDER:
        contract = get_contract(table)
        for fr, data, bronze_path in by_table.get(table, []):
            if on_file is not None:
                on_file(fr.file, table, done, total)
            done += 1
            tm = mapping.tables[table]
            refs = {t: df for t in {fk.ref_table for fk in contract.foreign_keys}
                    | {r.via.ref_table for r in contract.date_rules}
                    if (df := current(t)) is not None}
            error = ""
            try:
                raw = _read_file(fr.file, data, tm)
                result = _process(fr.file, raw, tm, contract, refs, ingested_at)
            except UnusableFile as exc:
                fr.status = UNUSABLE
                error = str(exc)
                fr.problems.append(Problem(fr.file, f"{fr.file}: {error}"))
                fr.problems_total = 1
            else:
                fr.rows_read, fr.rows_rejected = result.rows_read, result.rows_rejected
                fr.rows_accepted = len(result.accepted)
                fr.problems, fr.problems_total = result.problems, result.problems_total
                fr.notes.extend(result.notes)
                if len(result.rejects):
                    reject_parts.append(result.rejects)
                if len(result.accepted):
                    silver[table] = _merge(current(table), [result.accepted], contract)
                    changed.add(table)
            manifest_rows.append({
                "file": fr.file, "sha256": fr.sha256, "table": table, "bronze_path": bronze_path,
                "status": fr.status, "landed_at": ingested_at, "rows_read": fr.rows_read,
                "rows_accepted": fr.rows_accepted, "rows_rejected": fr.rows_rejected, "error": error,
            })

    _commit(lake, {t: silver[t] for t in changed}, reject_parts, manifest, manifest_rows)
    return report


def _commit(lake: Lake, tables: dict[str, pd.DataFrame], reject_parts: list[pd.DataFrame],
            manifest: pd.DataFrame, manifest_rows: list[dict]) -> None:
    """Write silver, rejects and manifest: all to temporary files first, then rename.

    If any write fails, every temporary file is removed and nothing is renamed,
    so the lake keeps its previous state.
    """
    writes: list[tuple[pd.DataFrame, Path]] = [(df, lake.silver_table(t)) for t, df in tables.items()]
    if reject_parts:
        old = pd.read_parquet(lake.rejects) if lake.rejects.exists() else None
        new = pd.concat(reject_parts, ignore_index=True)[REJECT_COLUMNS]
        new["row"] = new["row"].astype("int64")
        writes.append((pd.concat([old, new], ignore_index=True) if old is not None else new, lake.rejects))
    if manifest_rows:
        new = pd.DataFrame(manifest_rows, columns=MANIFEST_COLUMNS)
        if len(manifest):
            # One entry per content: a retried unusable file replaces its old entry.
            manifest = manifest[~manifest["sha256"].isin(new["sha256"])]
            new = pd.concat([manifest, new], ignore_index=True)
        writes.append((new, lake.manifest))
    if not writes:
        return
    with ExitStack() as stack:
        for df, target in writes:
            tmp = stack.enter_context(atomic_path(target))
            _write_parquet(df, tmp)
