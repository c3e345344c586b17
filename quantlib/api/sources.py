"""What the read API reads: gold through one shared DuckDB connection, and a cache of answers.

The connection is opened read-only once and each request reads through a cursor of its own
(DuckDB runs cursors of one connection in parallel threads). The warehouse build replaces the
gold file atomically (a new inode), so the *data version* is the file's inode, size and
modification time: when it changes the next request opens the new file, and answers cached
under the old version are never served again (the cache is keyed by query and version).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from cachetools import LRUCache

__all__ = ["GoldSource", "WarehouseMissing"]


class WarehouseMissing(FileNotFoundError):
    """No gold file where the API was pointed (the warehouse was never built there)."""


class GoldSource:
    """Gold for many concurrent readers, with answers cached per (query, data version).

    Parameters
    ----------
    path : path-like
        The gold DuckDB file.
    cache_size : int
        Answers kept (least recently used go first).

    Attributes
    ----------
    hits : int
        Answers served from the cache (for tests and the benchmark).
    """

    def __init__(self, path: str | Path, cache_size: int = 4096):
        self.path = Path(path)
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._version: str | None = None
        self._retired: list[duckdb.DuckDBPyConnection] = []
        self._cache: LRUCache = LRUCache(maxsize=cache_size)
        self.hits = 0

    def version(self) -> str:
        """The data version: the gold file's inode, size and modification time."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise WarehouseMissing(f"no warehouse at {self.path}: run 'quant warehouse build' first") from None
        return f"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"

    def cursor(self) -> tuple[duckdb.DuckDBPyConnection, str]:
        """A cursor on the current gold file, and its data version."""
        version = self.version()
        with self._lock:
            if version != self._version or self._con is None:
                if self._con is not None:
                    # Requests still reading the old file keep their cursors; close it one
                    # rebuild later rather than under them.
                    for old in self._retired:
                        old.close()
                    self._retired = [self._con]
                self._con = duckdb.connect(str(self.path), read_only=True)
                self._version = version
            return self._con.cursor(), version

    def cached(self, key: tuple, compute: Callable[[duckdb.DuckDBPyConnection], Any]) -> tuple[Any, bool]:
        """``compute(cursor)`` for ``key`` at the current data version, from the cache when it is there.

        Returns
        -------
        (value, bool)
            The answer and whether it came from the cache.
        """
        cursor, version = self.cursor()
        try:
            with self._lock:
                if (version, key) in self._cache:
                    self.hits += 1
                    return self._cache[(version, key)], True
            value = compute(cursor)
        finally:
            cursor.close()
        with self._lock:
            self._cache[(version, key)] = value
        return value, False

    def close(self) -> None:
        with self._lock:
            for con in [*self._retired, *([self._con] if self._con is not None else [])]:
                con.close()
            self._con, self._retired, self._version = None, [], None
