"""The scheduler's locks: one run per job and company, one writer of ``reports/index.html``.

One small interface (:class:`RunLock`: ``acquire(timeout)``, ``release()``, ``is_locked``, a
context manager, ``where`` for messages), two implementations chosen by :func:`open_lock`:

* by default a lock file under ``reports/.locks/`` (:class:`FileRunLock`, the ``filelock``
  package): the operating system drops it when its holder dies, but only processes that see
  the same file system lock the same thing, and lock files on network file systems are
  unreliable;
* when ``QUANT_OPS_DSN`` is set, a session-level PostgreSQL advisory lock in the database that
  also holds the operational store and the run history (:class:`AdvisoryLock`), so schedulers
  and Dask workers on several machines exclude each other. The lock lives as long as the
  connection that took it: when its holder process dies, or its host vanishes (the server's TCP
  keepalives, set on that connection, notice within about a minute), the server ends the
  session and the lock is free again, with no stale file to clean up.

Both poll until the timeout, like ``filelock``: ``timeout=0`` tries once, a negative timeout
waits for ever, and a lock not taken in time raises :class:`LockTimeout`. The advisory-lock key
is :func:`~quantlib.data.opstore_pg.advisory_key` of the lock's name, the same on every host:
one database per deployment (two deployments sharing a database would share their locks). An
advisory lock needs a session of its own, so a connection pooler in transaction mode
(PgBouncer's default) must not sit between the scheduler and the server.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from filelock import FileLock, Timeout

from quantlib.data.opstore import OPS_DSN_ENV
from quantlib.data.opstore_pg import PgDatabase, advisory_key
from quantlib.errors import QuantError

__all__ = ["AdvisoryLock", "FileRunLock", "LockError", "LockTimeout", "RunLock", "open_lock"]

_log = logging.getLogger(__name__)

#: Prefix of every advisory-lock name, so the keys cannot meet another application's.
KEY_PREFIX = "quant.schedule.lock:"


class LockTimeout(QuantError, TimeoutError):
    """A lock was not taken within its timeout: someone else holds it."""


class LockError(QuantError, RuntimeError):
    """A lock cannot be taken at all: its PostgreSQL server unreachable or refusing (password never shown)."""


@runtime_checkable
class RunLock(Protocol):
    """What the runner needs of a lock, whatever holds it."""

    name: str

    @property
    def where(self) -> str:
        """The lock, for messages: ``lock PATH`` or ``advisory lock 'NAME' in DATABASE`` (never a password)."""

    @property
    def is_locked(self) -> bool:
        """Whether this object holds the lock now."""

    def acquire(self, timeout: float = -1) -> None:
        """Take the lock, polling for at most ``timeout`` seconds (0: once; negative: for ever).

        Raises
        ------
        LockTimeout
            Someone else held it for the whole time.
        """

    def release(self) -> None:
        """Give the lock back (nothing happens if it is not held)."""

    def __enter__(self) -> "RunLock":
        ...

    def __exit__(self, *exc) -> None:
        ...


class _Context:
    """``with lock:`` acquires with the lock's default timeout and always releases."""

    default_timeout: float = -1

    def __enter__(self):
        self.acquire(self.default_timeout)
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class FileRunLock(_Context):
    """A lock file (``filelock``), the default: processes sharing one file system exclude each other.

    Parameters
    ----------
    path : path-like
        The lock file; its folder is created.
    name : str, optional
        The lock's name (default the file's stem).
    timeout : float
        What ``with lock:`` waits (default for ever).
    """

    def __init__(self, path: str | Path, name: str | None = None, timeout: float = -1):
        self.path = Path(path)
        self.name = name or self.path.stem
        self.default_timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path))

    def __repr__(self) -> str:
        return f"FileRunLock({str(self.path)!r})"

    @property
    def where(self) -> str:
        return f"lock {self.path}"

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked

    def acquire(self, timeout: float = -1) -> None:
        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            raise LockTimeout(f"{self.where} is held by another process") from None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()


class AdvisoryLock(_Context):
    """A session-level PostgreSQL advisory lock on a connection of its own.

    ``acquire`` opens a connection (autocommit) and polls ``pg_try_advisory_lock(key)`` every
    ``poll`` seconds until it succeeds or the timeout passes; the connection stays open while
    the lock is held (closing it, or its process dying, releases the lock); ``release`` unlocks
    and closes it.

    Parameters
    ----------
    dsn : str
        A libpq connection string or URI. Kept private: never printed.
    name : str
        The lock's name; its key is :func:`~quantlib.data.opstore_pg.advisory_key` of
        ``"quant.schedule.lock:" + name``.
    timeout : float
        What ``with lock:`` waits (default for ever).
    poll : float
        Seconds between two tries.

    Raises
    ------
    LockError
        psycopg missing or the DSN malformed (here), the server unreachable (at ``acquire``).
    """

    def __init__(self, dsn: str, name: str, timeout: float = -1, poll: float = 0.1):
        self.name = name
        self.key = advisory_key(KEY_PREFIX + name)
        self.default_timeout = timeout
        self.poll = poll
        self._database = PgDatabase(dsn, error=LockError, setting=OPS_DSN_ENV, what="lock database",
                                    application_name=f"quant-lock {name}"[:63])
        self._con = None

    def __repr__(self) -> str:
        return f"AdvisoryLock({self.name!r}, {self._database.location!r})"

    @property
    def where(self) -> str:
        return f"advisory lock {self.name!r} in {self._database.location}"

    @property
    def is_locked(self) -> bool:
        return self._con is not None

    def acquire(self, timeout: float = -1) -> None:
        if self._con is not None:
            return
        con = self._database.connect(autocommit=True)
        try:
            self._keep_alive(con)
            deadline = time.monotonic() + timeout
            while not con.execute("SELECT pg_try_advisory_lock(?)", (self.key,)).fetchone()[0]:
                remaining = deadline - time.monotonic()
                if timeout >= 0 and remaining <= 0:
                    raise LockTimeout(f"{self.where} is held by another session")
                time.sleep(self.poll if timeout < 0 else min(self.poll, remaining))
        except BaseException as exc:
            con.close()
            if isinstance(exc, QuantError):
                raise
            import psycopg

            if isinstance(exc, psycopg.Error):
                raise LockError(f"{self.where}: {self._database.redact(exc)}") from None
            raise
        self._con = con

    @staticmethod
    def _keep_alive(con) -> None:
        # The server ends the session (and frees the lock) when the holder's host goes silent,
        # not hours later; a server-wide idle_session_timeout must not end a long run's lock.
        for setting, value in (("tcp_keepalives_idle", "30"), ("tcp_keepalives_interval", "10"),
                               ("tcp_keepalives_count", "3")):
            con.execute("SELECT set_config(?, ?, false)", (setting, value))
        if con.raw.info.server_version >= 140000:
            con.execute("SELECT set_config('idle_session_timeout', '0', false)")

    def release(self) -> None:
        con, self._con = self._con, None
        if con is None:
            return
        try:
            held = con.execute("SELECT pg_advisory_unlock(?)", (self.key,)).fetchone()[0]
            if not held:
                _log.warning("%s was no longer held when released", self.where)
        except Exception as exc:  # noqa: BLE001 - a dead session holds no lock: nothing is left to free
            _log.warning("%s: its session ended before the release (%s)", self.where, self._database.redact(exc))
        finally:
            con.close()


def open_lock(name: str, folder: str | Path, *, timeout: float = -1,
              env: Mapping[str, str] | None = None) -> RunLock:
    """The scheduler's lock called ``name``: an advisory lock when PostgreSQL is configured, else a file.

    Parameters
    ----------
    name : str
        E.g. ``"daily__alpha"`` (a job and company) or ``"index"``.
    folder : path-like
        Where lock files go (``reports/.locks``); unused with PostgreSQL.
    timeout : float
        What ``with lock:`` waits (default for ever).
    env : mapping, optional
        Where ``QUANT_OPS_DSN`` is read (default ``os.environ``).

    Returns
    -------
    RunLock
        :class:`AdvisoryLock` in the database of ``$QUANT_OPS_DSN``, else
        :class:`FileRunLock` at ``folder/NAME.lock``.
    """
    env = os.environ if env is None else env
    if env.get(OPS_DSN_ENV):
        return AdvisoryLock(env[OPS_DSN_ENV], name, timeout=timeout)
    return FileRunLock(Path(folder) / f"{name}.lock", name=name, timeout=timeout)
