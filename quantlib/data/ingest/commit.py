"""Write an ingest into the lake: raw bytes to bronze, rows to silver, rejects and manifest.

Bronze files are content-addressed and written as soon as a file is matched. Silver,
rejects and manifest are written by :func:`_commit` all at once: every file goes to a
temporary path of :func:`~quantlib.data.lake.atomic_path` first and is renamed into place
only when all of them were written, so a failed ingest leaves the lake as it was.
"""

from __future__ import annotations

import hashlib
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pandas as pd

from quantlib.data.contracts import TableContract
from quantlib.data.ingest.coercion import _final_dtypes
from quantlib.data.lake import Lake, atomic_path, read_parquet
from quantlib.data.storage import ObjectPath

MANIFEST_COLUMNS = ["file", "sha256", "table", "bronze_path", "status", "landed_at",
                    "rows_read", "rows_accepted", "rows_rejected", "error"]
# reason_code is a quantlib.errors.RejectReason value; reason is the same, for people.
REJECT_COLUMNS = ["file", "table", "row", "field", "reason_code", "reason", "raw", "ingested_at"]


def _read_parquet_or(path: Path, columns: list[str]) -> pd.DataFrame:
    if path.exists():
        return read_parquet(path)
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


def _read_rejects(path: Path) -> pd.DataFrame:
    """The rejects table at ``path``, in :data:`REJECT_COLUMNS`.

    A table written before reject reason codes has no ``reason_code`` column: its rows get
    a missing code rather than one guessed from the text of their reason.
    """
    old = read_parquet(path)
    if "reason_code" not in old:
        old = old.assign(reason_code=pd.Series(None, index=old.index, dtype=object))[REJECT_COLUMNS]
    return old


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _land(lake: Lake, table: str, name: str, sha: str, data: bytes) -> str:
    """Copy the raw bytes to bronze (unchanged); return the path relative to the lake root."""
    target = lake.bronze / table / f"{sha[:16]}__{Path(name).name}"
    if not (target.exists() and target.stat().st_size == len(data)):
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
    return target.relative_to(lake.root).as_posix()


def _commit(lake: Lake, tables: dict[str, pd.DataFrame], reject_parts: list[pd.DataFrame],
            manifest: pd.DataFrame, manifest_rows: list[dict]) -> None:
    """Write silver, rejects and manifest: all to temporary files first, then rename.

    If any write fails, every temporary file is removed and nothing is renamed,
    so the lake keeps its previous state. The files are moved into place silver first and the
    manifest last. On object storage every file is written locally first, then silver and the
    rejects are uploaded (four at a time) and the manifest after them: an ingest cut short
    between two uploads has not recorded its files as loaded, so running it again repeats it
    (silver's merge by key makes the repeat harmless; rejects written before the cut repeat).
    """
    writes: list[tuple[pd.DataFrame, Path]] = [(df, lake.silver_table(t)) for t, df in tables.items()]
    if reject_parts:
        old = _read_rejects(lake.rejects) if lake.rejects.exists() else None
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
    if lake.remote:
        _upload(writes)
        return
    with ExitStack() as stack:
        # Entered in reverse, so they are moved into place in order (an ExitStack unwinds last-in first).
        for df, target in reversed(writes):
            tmp = stack.enter_context(atomic_path(target))
            _write_parquet(df, tmp)


def _upload(writes: list[tuple[pd.DataFrame, ObjectPath]]) -> None:
    """Object storage: write every file locally, then upload all but the last (the manifest) four
    at a time, and the last when they all arrived; a failure anywhere uploads no manifest."""
    with tempfile.TemporaryDirectory(prefix="quant-commit-") as folder:
        staged = []
        for number, (df, target) in enumerate(writes):
            tmp = Path(folder) / f"{number}-{target.name}"
            _write_parquet(df, tmp)
            staged.append((tmp, target))
        *first, last = staged
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda item: item[1].upload(item[0]), first))
        last[1].upload(last[0])
