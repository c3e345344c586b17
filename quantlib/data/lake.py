"""Where a company's data lives: bronze (raw files), silver (validated Parquet), gold (DuckDB).

Layout under one root directory::

    ROOT/bronze/<table>/<sha256-prefix>__<original file name>   raw files, never changed
    ROOT/bronze/_manifest.parquet                               what was landed, when
    ROOT/silver/<table>.parquet                                 valid rows, one file a table
    ROOT/silver/_rejects.parquet                                rejected rows with reasons
    ROOT/gold.duckdb                                            marts for engines and reports

Paths are local by default; the same layout works on any fsspec URL later. Which root a
command uses is :func:`quantlib.config.resolve_lake`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Lake:
    """The bronze / silver / gold layout of one company's data under ``root``."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

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


def atomic_path(target: Path) -> "_AtomicPath":
    """Context manager yielding a temporary path next to ``target``; renamed onto it on success.

    A crash or an exception leaves ``target`` as it was: never half-written.
    """
    return _AtomicPath(Path(target))


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
