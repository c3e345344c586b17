"""Where a company's data lives: bronze (raw files), silver (validated Parquet), gold (DuckDB).

Layout under one root directory::

    ROOT/bronze/<table>/<sha256-prefix>__<original file name>   raw files, never changed
    ROOT/bronze/_manifest.parquet                               what was landed, when
    ROOT/silver/<table>.parquet                                 valid rows, one file a table
    ROOT/silver/_rejects.parquet                                rejected rows with reasons
    ROOT/gold.duckdb                                            marts for engines and reports

The root is a local folder, or an object storage prefix (``s3://bucket/prefix``, held as a
:class:`~quantlib.data.storage.ObjectPath`) with the same layout; which root a command uses is
:func:`quantlib.config.resolve_lake`. Every write goes through :func:`atomic_path`: on a disk a
rename, on object storage an upload of a finished local file (an object is replaced whole, so
a reader sees the old or the new file, never half of one).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from quantlib.data.storage import ObjectPath, as_location


@dataclass(frozen=True)
class Lake:
    """The bronze / silver / gold layout of one company's data under ``root``.

    ``root`` is a folder (kept as a ``Path``) or an ``s3://`` URL (kept as an
    :class:`~quantlib.data.storage.ObjectPath`, whose paths offer the same operations).
    """

    root: Path | ObjectPath

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", as_location(self.root))

    @property
    def remote(self) -> bool:
        """True when the lake is on object storage."""
        return isinstance(self.root, ObjectPath)

    @property
    def bronze(self) -> Path:
        return self.root / "bronze"

    @property
    def silver(self) -> Path:
        return self.root / "silver"

    @property
    def gold(self) -> Path:
        return self.root / "gold.duckdb"

    @property
    def manifest(self) -> Path:
        return self.bronze / "_manifest.parquet"

    @property
    def rejects(self) -> Path:
        return self.silver / "_rejects.parquet"

    def silver_table(self, table: str) -> Path:
        return self.silver / f"{table}.parquet"

    def silver_tables(self) -> dict[str, Path]:
        """The silver tables present, by name."""
        if not self.silver.exists():
            return {}
        return {p.stem: p for p in sorted(self.silver.glob("*.parquet")) if not p.stem.startswith("_")}


def read_parquet(path: Path | ObjectPath) -> pd.DataFrame:
    """The Parquet file at ``path`` (local or on object storage) as a DataFrame."""
    if isinstance(path, ObjectPath):
        with path.open("rb") as handle:
            return pd.read_parquet(handle)
    return pd.read_parquet(path)


def atomic_path(target: Path | ObjectPath) -> "_AtomicPath | _AtomicUpload":
    """Context manager yielding a temporary local path; moved onto ``target`` on success.

    A crash or an exception leaves ``target`` as it was: never half-written. Locally the
    temporary file is next to ``target`` and renamed onto it; for an object on object storage it
    is a local temporary file, uploaded as ``target`` when the block ends without an error.
    """
    if isinstance(target, ObjectPath):
        return _AtomicUpload(target)
    return _AtomicPath(Path(target))


class _AtomicUpload:
    def __init__(self, target: ObjectPath) -> None:
        self.target = target
        self.folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Path:
        self.folder = tempfile.TemporaryDirectory(prefix="quant-upload-")
        return Path(self.folder.name) / self.target.name

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.folder is None:  # an explicit check: asserts vanish under python -O
            raise RuntimeError("__exit__ called without __enter__")
        try:
            tmp = Path(self.folder.name) / self.target.name
            if exc_type is None and tmp.exists():
                self.target.upload(tmp)
        finally:
            self.folder.cleanup()
        return False


class _AtomicPath:
    def __init__(self, target: Path) -> None:
        self.target = target
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent)
        os.close(fd)
        os.unlink(name)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.tmp is None:  # an explicit check: asserts vanish under python -O
            raise RuntimeError("__exit__ called without __enter__")
        if exc_type is None and self.tmp.exists():
            os.replace(self.tmp, self.target)
        elif self.tmp.exists():
            self.tmp.unlink()
        return False
