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
  one (two writers can both see it missing and both create it). The lock is then a local lock
  file named after the lake's URL (under the system's temporary folder): **writers on one
  machine take turns; writers on different machines are not kept apart** (run the writers of an
  ``s3://`` lake from one machine, see docs/storage.md).

A lock not taken within the timeout (default 600 s, ``QUANT_LAKE_LOCK_TIMEOUT`` or the
``timeout`` argument) raises :class:`LakeLocked`, naming the lake and the lock. The same thread
may take a lake's lock again while holding it (the lock counts); another thread of the same
process waits like another process.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from quantlib.errors import QuantError

__all__ = ["DEFAULT_TIMEOUT", "LOCK_NAME", "TIMEOUT_ENV", "LakeLocked", "lock_path", "write_lock"]

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


@contextmanager
def write_lock(lake, timeout: float | None = None) -> Iterator[Path]:
    """Hold ``lake``'s write lock for the ``with`` block.

    Parameters
    ----------
    lake : Lake, str or Path
        The lake (a folder or an ``s3://`` prefix).
    timeout : float, optional
        Seconds to wait for another writer (default ``$QUANT_LAKE_LOCK_TIMEOUT``, else 600);
        0 tries once, a negative value waits for ever.

    Yields
    ------
    Path
        The lock file held.

    Raises
    ------
    LakeLocked
        Another writer held the lock for the whole timeout.
    """
    root = _root(lake)
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = _timeout(timeout)
    # One object per file in this process: the same thread may nest, other threads wait.
    lock = FileLock(str(path), is_singleton=True)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise LakeLocked(f"lake {root} is being written by another process (lock {path} still held after "
                         f"{wait:g} s); try again when it has finished, or raise {TIMEOUT_ENV}") from None
    try:
        yield path
    finally:
        lock.release()
