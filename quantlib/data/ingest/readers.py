"""Read a source file's bytes into the raw frame: Parquet as written, CSV as UTF-8 text.

Whole-file problems (empty, not UTF-8, not a table, wrong separator, corrupt Parquet)
raise :class:`~quantlib.data.ingest.report.UnusableFile` with one line of text; a CSV
row with the wrong number of fields is kept apart as *ragged* and rejected later.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa_arrow
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from quantlib.data.ingest.mapping import TableMapping, _known_names, _norm
from quantlib.data.ingest.report import UnusableFile

_OTHER_DELIMITERS = {";": ";-separated", "\t": "tab-separated", "|": "|-separated"}
_PARQUET_SUFFIXES = (".parquet", ".pq")


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
