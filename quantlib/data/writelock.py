"""One writer at a time per lake: the lock that ingest (and the sync state files) write under.

Several things write one lake: ``quant ingest``, ``quant sync`` (run by hand, by ``quant sync due``
from cron, or by a webhook), ``quant external refresh``, the conversations' ingest. Each reads
silver, merges its rows in and renames the files into place; two at once would each write the
silver *they* read plus their own rows, and the later rename would silently drop the earlier
writer's rows. :func:`write_lock` makes them take turns.

Where the lock is
-----------------
* A local lake: the lock file ``<lake>/.quant-write.lock`` (the ``filelock`` package, ``flock``
  underneath): every process that sees the lake's folder through the same file system waits
  for it; the operating system frees it when its holder dies. Lock files on network file
  systems (NFS, SMB) are only as reliable as the file system's locking.
* A lake on object storage (``s3://``): object storage has no lock, and a lock *object* is not
  one (two writers can both see it missing and both create it). With ``QUANT_OPS_DSN`` set (the
  PostgreSQL database the run history and the scheduler's locks already share), the lock is a
  session-level advisory lock there, keyed by the lake's URL: writers on every machine using
  that database take turns, and the server frees the lock when its holder's session ends.
  Without it, the lock is a local lock file named after the URL (under the system's temporary
  folder): **writers on one machine take turns; writers on different machines are not kept
  apart** (run the writers of an ``s3://`` lake from one machine, see docs/storage.md).

A lock not taken within the timeout (default 600 s, ``QUANT_LAKE_LOCK_TIMEOUT`` or the
``timeout`` argument) raises :class:`LakeLocked`, naming the lake and the lock. The same thread
may take a lake's lock again while holding it (the lock counts); another thread of the same
process waits like another process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from quantlib.errors import QuantError

__all__ = ["DEFAULT_TIMEOUT", "LOCK_NAME", "TIMEOUT_ENV", "LakeLockError", "LakeLocked", "lock_path",
           "write_lock"]

#: The lock file in a local lake's root (a dot-name: ingest, listings and backups leave it out).
LOCK_NAME = ".quant-write.lock"
#: Seconds to wait for the lock, from the environment.
TIMEOUT_ENV = "QUANT_LAKE_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 600.0


class LakeLocked(QuantError, TimeoutError):
    """Another process kept writing the lake for the whole timeout."""


def _root(lake):
    from quantlib.data.lake import Lake

    return (lake if isinstance(lake, Lake) else Lake(lake)).root


def lock_path(lake) -> Path:
    """The lock file of ``lake``: ``<lake>/.quant-write.lock``, or a local file named after an ``s3://`` URL."""
    from quantlib.data.storage import ObjectPath

    root = _root(lake)
    if isinstance(root, ObjectPath):
        digest = hashlib.sha256(str(root).encode("utf-8")).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "quant-lake-locks" / f"{digest}.lock"
    return Path(root) / LOCK_NAME


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return float(timeout)
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        return float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise LakeLocked(f"{TIMEOUT_ENV}={text!r} is not a number of seconds") from None


class LakeLockError(QuantError, RuntimeError):
    """The lock cannot be taken at all: its PostgreSQL server unreachable or refusing (password never shown)."""


_log = logging.getLogger(__name__)

#: Per thread, the lakes whose lock this thread holds, with how many times: nesting only counts.
_held = threading.local()

#: Prefix of the advisory-lock names, so the keys cannot meet another lock's.
KEY_PREFIX = "quant.lake.write:"


class _AdvisoryLakeLock:
    """A session-level PostgreSQL advisory lock on a connection of its own (for ``s3://`` lakes)."""

    def __init__(self, dsn: str, root) -> None:
        from quantlib.data.opstore import OPS_DSN_ENV
        from quantlib.data.opstore_pg import PgDatabase, advisory_key

        self.key = advisory_key(KEY_PREFIX + str(root))
        self._database = PgDatabase(dsn, error=LakeLockError, setting=OPS_DSN_ENV, what="lake lock database",
                                    application_name="quant-lake-lock")
        self.where = f"advisory lock {KEY_PREFIX + str(root)!r} in {self._database.location}"
        self._con = None

    def acquire(self, timeout: float) -> bool:
        con = self._database.connect(autocommit=True)
        try:
            # The server ends the session (and frees the lock) soon after the holder's host goes silent.
            for setting, value in (("tcp_keepalives_idle", "30"), ("tcp_keepalives_interval", "10"),
                                   ("tcp_keepalives_count", "3")):
                con.execute("SELECT set_config(?, ?, false)", (setting, value))
            deadline = time.monotonic() + timeout
            while not con.execute("SELECT pg_try_advisory_lock(?)", (self.key,)).fetchone()[0]:
                if timeout >= 0 and time.monotonic() >= deadline:
                    con.close()
                    return False
                time.sleep(0.05)
        except BaseException as exc:
            con.close()
            import psycopg

            if isinstance(exc, psycopg.Error):
                raise LakeLockError(f"{self.where}: {self._database.redact(exc)}") from None
            raise
        self._con = con
        return True

    def release(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            try:
                con.execute("SELECT pg_advisory_unlock(?)", (self.key,))
            except Exception as exc:  # noqa: BLE001 - a dead session holds no lock: nothing is left to free
                _log.warning("%s: its session ended before the release (%s)", self.where, self._database.redact(exc))
            finally:
                con.close()


class _FileLakeLock:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.where = f"lock {path}"
        self._lock = FileLock(str(path))

    def acquire(self, timeout: float) -> bool:
        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


@contextmanager
def write_lock(lake, timeout: float | None = None, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Hold ``lake``'s write lock for the ``with`` block.

    Parameters
    ----------
    lake : Lake, str or Path
        The lake (a folder or an ``s3://`` prefix).
    timeout : float, optional
        Seconds to wait for another writer (default ``$QUANT_LAKE_LOCK_TIMEOUT``, else 600);
        0 tries once, a negative value waits for ever.
    env : mapping, optional
        Where ``QUANT_OPS_DSN`` (for an ``s3://`` lake) is read (default ``os.environ``).

    Yields
    ------
    str
        The lock held, for messages (``lock PATH`` or ``advisory lock '...' in DATABASE``).

    Raises
    ------
    LakeLocked
        Another writer held the lock for the whole timeout.
    LakeLockError
        The PostgreSQL database of ``QUANT_OPS_DSN`` cannot be reached (``s3://`` lakes only).
    """
    from quantlib.data.opstore import OPS_DSN_ENV
    from quantlib.data.storage import ObjectPath

    root = _root(lake)
    key = str(root.resolve())
    held = _held.__dict__.setdefault("lakes", {})
    if key in held:
        held[key][0] += 1
        try:
            yield held[key][1].where
        finally:
            held[key][0] -= 1
        return
    env = os.environ if env is None else env
    wait = _timeout(timeout)
    if isinstance(root, ObjectPath) and env.get(OPS_DSN_ENV):
        lock = _AdvisoryLakeLock(env[OPS_DSN_ENV], root)
    else:
        lock = _FileLakeLock(lock_path(root))
    if not lock.acquire(wait):
        raise LakeLocked(f"lake {root} is being written by another process ({lock.where} still held after "
                         f"{wait:g} s); try again when it has finished, or raise {TIMEOUT_ENV}")
    held[key] = [1, lock]
    try:
        yield lock.where
    finally:
        del held[key]
        lock.release()
