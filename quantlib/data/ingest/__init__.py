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
   else the later ingest wins), and appends every invalid row, with its reason
   (a :class:`~quantlib.errors.RejectReason` code plus a sentence), to ``lake.rejects``.

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
them were written, so a failure leaves the warehouse as it was. The manifest read, the checks
against silver, the merge and the commit run under the lake's write lock
(:func:`~quantlib.data.writelock.write_lock`), so two ingests of one lake take turns instead of
one dropping the other's rows.

Modules
-------
:mod:`~quantlib.data.ingest.mapping`
    file globs -> tables, source -> contract column names.
:mod:`~quantlib.data.ingest.readers`
    CSV / Parquet bytes -> the raw frame; whole-file checks.
:mod:`~quantlib.data.ingest.coercion`
    per-row coercion, duplicate keys, contract and relation checks, reject rows.
:mod:`~quantlib.data.ingest.commit`
    bronze landing, silver merge, the atomic write of silver / rejects / manifest.
:mod:`~quantlib.data.ingest.updates`
    files that set columns of rows other files landed (a mapping's ``updates``), applied after
    every table.
:mod:`~quantlib.data.ingest.report`
    the report dataclasses and file statuses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from quantlib.data.contracts import CONTRACTS, TABLE_ORDER, get_contract
from quantlib.data.ingest.coercion import (
    FALSE_TOKENS,
    NULL_TOKENS,
    TRUE_TOKENS,
    _final_dtypes,
    _process,
)
from quantlib.data.ingest.commit import (
    MANIFEST_COLUMNS,
    REJECT_COLUMNS,
    _commit,
    _land,
    _merge,
    _read_parquet_or,
    _sha256,
)
from quantlib.data.ingest.mapping import (
    Mapping,
    MappingError,
    TableMapping,
    default_mapping,
    default_mapping_path,
    load_mapping,
    where_rows,
)
from quantlib.data.ingest.readers import _Raw, _read_file
from quantlib.data.ingest.report import (
    ALREADY,
    LOADED,
    MAX_PROBLEMS_PER_FILE,
    SKIPPED,
    UNUSABLE,
    FileReport,
    IngestReport,
    Problem,
    UnusableFile,
)
from quantlib.data.ingest.updates import apply_update
from quantlib.data.lake import Lake, read_parquet
from quantlib.data.writelock import write_lock
from quantlib.errors import RejectReason

__all__ = [
    "ALREADY",
    "DEFAULT_MAPPING_PATH",
    "FALSE_TOKENS",
    "LOADED",
    "MANIFEST_COLUMNS",
    "MAX_PROBLEMS_PER_FILE",
    "NULL_TOKENS",
    "REJECT_COLUMNS",
    "SKIPPED",
    "TRUE_TOKENS",
    "UNUSABLE",
    "FileReport",
    "IngestReport",
    "Mapping",
    "MappingError",
    "Problem",
    "RejectReason",
    "TableMapping",
    "UnusableFile",
    "default_mapping",
    "default_mapping_path",
    "ingest",
    "load_mapping",
]


def __getattr__(name: str) -> Path:
    # DEFAULT_MAPPING_PATH was a constant fixed at import; kept as a name, computed on access
    # so that $QUANT_HOME set after import is honoured.
    if name == "DEFAULT_MAPPING_PATH":
        return default_mapping_path()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _rows_of(raw: _Raw, tm: TableMapping, first: bool) -> _Raw:
    """``raw`` without the rows its table's ``where`` leaves out; ragged rows stay with the file's first table."""
    keep, note = where_rows(raw.frame, tm)
    if note is None and first:
        return raw
    return _Raw(raw.frame[keep].reset_index(drop=True), raw.lines[keep], raw.unit,
                raw.ragged if first else [], raw.notes + ([note] if note else []))


# --------------------------------------------------------------------------- ingest


def ingest(src_dir: str | Path, lake: Lake | str | Path, mapping: Mapping | str | Path | None = None,
           on_file: Callable[[str, str, int, int], None] | None = None,
           on_accepted: Callable[[str, pd.DataFrame], None] | None = None) -> IngestReport:
    """Ingest every CSV / Parquet export under ``src_dir`` into ``lake``.

    Parameters
    ----------
    src_dir : str or Path
        Directory of a company's exports (searched recursively; names starting
        with ``.`` or ``_`` and a lake inside it are skipped).
    lake : Lake, str or Path
        The lake, or its root directory or ``s3://`` prefix.
    mapping : Mapping, str or Path, optional
        A :class:`Mapping` or the path of a mapping YAML file; by default the
        shipped identity mapping (``<table>.csv``, ``<table>_*.parquet`` ...).
    on_file : callable, optional
        Progress hook, called as ``on_file(file, table, done, total)`` before each
        file is read and checked (the command line shows it as a progress bar).
    on_accepted : callable, optional
        Called as ``on_accepted(table, rows)`` with each table's rows accepted by this run,
        once they are committed to silver (``quant ingest --publish`` sends them as events).

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
    LakeLocked
        Another writer held the lake's write lock for the whole timeout
        (:mod:`quantlib.data.writelock`); nothing was read or written.
    OSError
        Writing the lake failed; the lake is left as it was (bronze may hold the raw files).
    """
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise NotADirectoryError(f"{src_dir} is not a directory")
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    ingested_at = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us")
    report = IngestReport(src_dir, lake.root, ingested_at, mapping.source)

    # One writer at a time: another ingest's commit between our read of silver and ours would be lost.
    with write_lock(lake):
        manifest = _read_parquet_or(lake.manifest, MANIFEST_COLUMNS)
        loaded = manifest[manifest["status"] == LOADED] if len(manifest) else manifest
        seen = dict(zip(loaded["sha256"], loaded["file"])) if len(loaded) else {}

        # Match and land every file first; then read them table by table.
        by_table: dict[str, list[tuple[FileReport, bytes, str]]] = {}
        update_files: list[tuple[FileReport, bytes, str, TableMapping, bool]] = []
        for path in _discover(src_dir, lake):
            name = path.relative_to(src_dir).as_posix()
            table, why = mapping.match(path.name)
            # A file may feed further tables (the mapping's also_from); the first one reports its ragged rows.
            targets = ([table] if table else []) + mapping.also(path.name, table)
            # Or it sets columns of rows other files land (the mapping's updates), after every table.
            updates = [mapping.updates[u] for u in mapping.updated_by(path.name)]
            if not targets and not updates:
                report.files.append(FileReport(name, None, SKIPPED,
                                               problems=[Problem(name, f"{name}: {why}; skipped")]))
                continue
            data = path.read_bytes()
            sha = _sha256(data)
            already = seen.get(sha)
            seen.setdefault(sha, name)
            for um in updates:
                fr = FileReport(name, um.table, LOADED, sha)
                report.files.append(fr)
                if already is not None:
                    fr.status = ALREADY
                    fr.notes.append(f"already ingested (same content as {already})")
                    continue
                update_files.append((fr, data, _land(lake, um.table, name, sha, data), um,
                                     not targets and um is updates[0]))
            for target in targets:
                fr = FileReport(name, target, LOADED, sha)
                report.files.append(fr)
                if already is not None:
                    fr.status = ALREADY
                    fr.notes.append(f"already ingested (same content as {already})")
                    continue
                by_table.setdefault(target, []).append((fr, data, _land(lake, target, name, sha, data),
                                                        target == targets[0]))

        silver: dict[str, pd.DataFrame | None] = {}

        def current(table: str) -> pd.DataFrame | None:
            if table not in silver:
                path = lake.silver_table(table)
                silver[table] = _final_dtypes(read_parquet(path), CONTRACTS[table]) if path.exists() else None
            return silver[table]

        changed: set[str] = set()
        accepted: dict[str, list[pd.DataFrame]] = {}
        reject_parts: list[pd.DataFrame] = []
        manifest_rows = []
        total = sum(len(files) for files in by_table.values()) + len(update_files)
        done = 0
        for table in TABLE_ORDER:
            contract = get_contract(table)
            for fr, data, bronze_path, first in by_table.get(table, []):
                if on_file is not None:
                    on_file(fr.file, table, done, total)
                done += 1
                tm = mapping.tables[table]
                refs = {t: df for t in {fk.ref_table for fk in contract.foreign_keys}
                        | {r.via.ref_table for r in contract.date_rules}
                        if (df := current(t)) is not None}
                error = ""
                try:
                    raw = _rows_of(_read_file(fr.file, data, tm), tm, first)
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
                        accepted.setdefault(table, []).append(result.accepted)
                manifest_rows.append({
                    "file": fr.file, "sha256": fr.sha256, "table": table, "bronze_path": bronze_path,
                    "status": fr.status, "landed_at": ingested_at, "rows_read": fr.rows_read,
                    "rows_accepted": fr.rows_accepted, "rows_rejected": fr.rows_rejected, "error": error,
                })
        for fr, data, bronze_path, um, first in update_files:
            if on_file is not None:
                on_file(fr.file, um.table, done, total)
            done += 1
            error = ""
            try:
                raw = _rows_of(_read_file(fr.file, data, um), um, first)
                result = apply_update(fr.file, raw, um, get_contract(um.table), current(um.table), ingested_at)
            except UnusableFile as exc:
                fr.status, error, fr.problems_total = UNUSABLE, str(exc), 1
                fr.problems.append(Problem(fr.file, f"{fr.file}: {error}"))
            else:
                fr.rows_read, fr.rows_rejected = result.rows_read, result.rows_rejected
                fr.rows_accepted = result.rows_read - result.rows_rejected
                fr.problems, fr.problems_total = result.problems, result.problems_total
                fr.notes.extend([f"sets {', '.join(um.sets)} of {result.rows_changed} {um.table} rows",
                                 *result.notes])
                if len(result.rejects):
                    reject_parts.append(result.rejects)
                if result.rows_changed:
                    silver[um.table] = result.table
                    changed.add(um.table)
            manifest_rows.append({
                "file": fr.file, "sha256": fr.sha256, "table": um.table, "bronze_path": bronze_path,
                "status": fr.status, "landed_at": ingested_at, "rows_read": fr.rows_read,
                "rows_accepted": fr.rows_accepted, "rows_rejected": fr.rows_rejected, "error": error,
            })

        _commit(lake, {t: silver[t] for t in changed}, reject_parts, manifest, manifest_rows)
    if on_accepted is not None:
        for table, parts in accepted.items():
            on_accepted(table, pd.concat(parts, ignore_index=True))
    return report
