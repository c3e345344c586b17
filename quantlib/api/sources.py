"""What the read API reads: gold through one shared DuckDB connection, and a cache of answers.

The connection is opened read-only once and each request reads through a cursor of its own
(DuckDB runs cursors of one connection in parallel threads). The warehouse build replaces the
gold file atomically (a new inode), so the *data version* is the file's inode, size and
modification time: when it changes the next request opens the new file, and answers cached
under the old version are never served again (the cache is keyed by query and version).

Two things keep visitors from waiting on a computation: concurrent requests for one answer
that is not cached yet wait for a single computation of it instead of each running it (a
dashboard's first minute after a restart sends the same summary many times at once), and a
``warm`` function, run in a background thread whenever a data version is first seen, fills the
cache with the answers most asked for (the API's: KPI summaries at the build date and the last
twelve month ends).

Gold on object storage (``s3://.../gold.duckdb``) is read through its local copy
(:func:`quantlib.data.gold.gold_file`, cached by the object's ETag): at most every ``refresh``
seconds a request asks the server whether a new build was uploaded; a new build is a new copy,
so a new data version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from cachetools import LRUCache

from quantlib.data.storage import ObjectPath, is_remote
from quantlib.errors import WarehouseNotFoundError

__all__ = ["GoldSource", "WarehouseMissing"]

log = logging.getLogger(__name__)


class WarehouseMissing(WarehouseNotFoundError):
    """No gold file where the API was pointed (the warehouse was never built there)."""


class GoldSource:
    """Gold for many concurrent readers, with answers cached per (query, data version).

    Parameters
    ----------
    path : path-like or str
        The gold DuckDB file, or its object storage URL (``s3://bucket/lake/gold.duckdb``).
    cache_size : int
        Answers kept (least recently used go first).
    warm : callable, optional
        ``warm(source)``, run in a background thread each time a new data version is opened,
        to compute the answers most asked for through :meth:`cached`.
    refresh : float
        For gold on object storage: seconds between two checks for a new build (each one round
        trip to the server).

    Attributes
    ----------
    hits : int
        Answers served from the cache (for tests and the benchmark).
    warmed : threading.Event
        Set once ``warm`` finished for the current data version (at once without ``warm``).
    """

    def __init__(self, path: str | Path, cache_size: int = 4096, warm: Callable[[GoldSource], None] | None = None,
                 refresh: float = 5.0):
        #: The object the local copy comes from, for gold on object storage.
        self.remote = ObjectPath(str(path)) if is_remote(path) else None
        #: The local file read (for remote gold: the current copy, once fetched).
        self.path = None if self.remote is not None else Path(path)
        self.refresh = refresh
        self._checked = 0.0
        self.cache_size = cache_size
        self.warm = warm
        self.warmed = threading.Event()
        self._computing: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._version: str | None = None
        self._retired: list[duckdb.DuckDBPyConnection] = []
        self._cache: LRUCache = LRUCache(maxsize=cache_size)
        self._warming: threading.Thread | None = None
        #: Set by :meth:`close`: a warm-up stops at its next step.
        self.stopping = threading.Event()
        self.hits = 0

    def _local(self) -> Path:
        """The local gold file; for remote gold, the copy of the latest build (checked every ``refresh`` s)."""
        if self.remote is None:
            return self.path
        now = time.monotonic()
        if self.path is None or now - self._checked >= self.refresh:
            from quantlib.data.gold import gold_file

            try:
                self.path = gold_file(self.remote)
            except WarehouseNotFoundError:
                raise WarehouseMissing(f"no warehouse at {self.remote}: run 'quant warehouse build' first") from None
            self._checked = now
        return self.path

    def version(self) -> str:
        """The data version: the gold file's inode, size and modification time."""
        return self._current()[1]

    def _current(self) -> tuple[Path, str]:
        path = self._local()
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise WarehouseMissing(f"no warehouse at {path}: run 'quant warehouse build' first") from None
        return path, f"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"

    def cursor(self) -> tuple[duckdb.DuckDBPyConnection, str]:
        """A cursor on the current gold file, and its data version."""
        path, version = self._current()
        opened = False
        with self._lock:
            if version != self._version or self._con is None:
                opened = True
                if self._con is not None:
                    # Requests still reading the old file keep their cursors; close it one
                    # rebuild later rather than under them.
                    for old in self._retired:
                        old.close()
                    self._retired = [self._con]
                self._con = duckdb.connect(str(path), read_only=True)
                self._version = version
                self.warmed.clear()
            cursor = self._con.cursor()
        if opened:
            if self.warm is None:
                self.warmed.set()
            else:
                self._warming = threading.Thread(target=self._warm, args=(version,), name="api-warm", daemon=True)
                self._warming.start()
        return cursor, version

    def _warm(self, version: str) -> None:
        started = time.perf_counter()
        try:
            self.warm(self)
        except Exception:  # noqa: BLE001 - a failed warm-up only means misses; requests still answer
            log.exception("warming the API's cache failed")
        finally:
            if version == self._version:
                self.warmed.set()
        log.info("API cache warmed for data version %s in %.1f s", version, time.perf_counter() - started)

    def cached(self, key: tuple, compute: Callable[[duckdb.DuckDBPyConnection], Any]) -> tuple[Any, bool]:
        """``compute(cursor)`` for ``key`` at the current data version, from the cache when it is there.

        Returns
        -------
        (value, bool)
            The answer and whether it came from the cache.
        """
        cursor, version = self.cursor()
        try:
            hit = self._lookup(version, key)
            if hit is not None:
                return hit[0], True
            with self._lock:
                computing = self._computing.setdefault((version, key), threading.Lock())
            # One computation per answer: the others wait for it and read it from the cache.
            with computing:
                hit = self._lookup(version, key)
                if hit is not None:
                    return hit[0], True
                try:
                    value = compute(cursor)
                    with self._lock:
                        self._cache[(version, key)] = value
                finally:
                    with self._lock:
                        self._computing.pop((version, key), None)
        finally:
            cursor.close()
        return value, False

    def _lookup(self, version: str, key: tuple) -> tuple[Any] | None:
        with self._lock:
            if (version, key) in self._cache:
                self.hits += 1
                return (self._cache[(version, key)],)
        return None

    def close(self) -> None:
        """Stop the warm-up (it ends its current step) and close the connections."""
        self.stopping.set()
        if self._warming is not None and self._warming is not threading.current_thread():
            self._warming.join(timeout=120)
        with self._lock:
            for con in [*self._retired, *([self._con] if self._con is not None else [])]:
                con.close()
            self._con, self._retired, self._version = None, [], None
