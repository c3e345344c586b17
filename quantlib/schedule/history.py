"""Run history: one row per attempt of a scheduled run, the outbox and its delivery attempts.

Two backends, one interface (:class:`RunHistory`), chosen by :func:`open_run_history`:

* by default SQLite from the standard library: one small file (``reports/.history.sqlite``),
  safe to write from several processes of one machine at once (WAL journal plus a busy
  timeout), readable with any SQLite tool;
* when ``QUANT_OPS_DSN`` is set, the operational store's PostgreSQL database
  (:class:`PostgresRunHistory`), so schedulers and Dask workers on several machines share one
  history: the same tables, SQL and behaviour, through the operational store's PostgreSQL
  pieces (:mod:`quantlib.data.opstore_pg`: ``?`` placeholders, rows by column name, a DSN whose
  password is never shown). An explicit history file (``--history``) still wins.

Nothing secret is ever stored: errors are cut to one line and passed through :func:`redact` first.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from quantlib.data.opstore import OPS_DSN_ENV, migration_sql, open_sqlite
from quantlib.data.opstore_pg import PgDatabase, advisory_key, password_in
from quantlib.errors import QuantError, RunStatus
from quantlib.publish.secrets import SECRET_ENV_NAMES  # one list for kernels, logs and history

__all__ = [
    "DeliveryAttempt",
    "LostRun",
    "HISTORY_FILE",
    "HISTORY_TABLES",
    "OutboxItem",
    "PostgresRunHistory",
    "RunHistory",
    "RunHistoryError",
    "RunRecord",
    "STATUSES",
    "parameters_hash",
    "one_line",
    "open_run_history",
    "redact",
    "secret_values",
]

#: The statuses a history row can hold (a dry run is never recorded).
STATUSES = tuple(s for s in RunStatus if s is not RunStatus.DRY_RUN)


#: The tables of the run history (in a PostgreSQL database shared with the operational store,
#: whose tables must never take these names).
HISTORY_TABLES = ("runs", "deliveries", "delivery_attempts")

#: The SQLite file of the run history in a reports folder.
HISTORY_FILE = ".history.sqlite"


class RunHistoryError(QuantError, RuntimeError):
    """The run history cannot be opened (a PostgreSQL server unreachable, a malformed DSN)."""


# The CHECK list comes from RunStatus; a file created before a status was added keeps its old list.
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL,
    job             TEXT NOT NULL,
    company         TEXT NOT NULL,
    parameters_hash TEXT NOT NULL,
    scheduled_for   TEXT NOT NULL,
    started         TEXT NOT NULL,
    finished        TEXT,
    status          TEXT NOT NULL CHECK (status IN ({','.join(f"'{s.value}'" for s in STATUSES)})),
    attempt         INTEGER NOT NULL,
    error           TEXT,
    outputs         TEXT NOT NULL DEFAULT '{{}}',
    pid             INTEGER,
    host            TEXT,
    heartbeat_at    TEXT,
    tmp_dir         TEXT,
    lost            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_job_company ON runs (job, company, scheduled_for);
CREATE TABLE IF NOT EXISTS deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT,
    job          TEXT NOT NULL,
    company      TEXT NOT NULL,
    channel      TEXT NOT NULL,
    target       TEXT NOT NULL,
    emails       TEXT NOT NULL DEFAULT '[]',
    slack_env    TEXT,
    notice       TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created      TEXT NOT NULL,
    next_attempt TEXT,
    last_error   TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (status, next_attempt);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT
);
"""

#: Outbox statuses: waiting for a (first or further) attempt, done, not configured, abandoned.
OUTBOX_PENDING, OUTBOX_SENT, OUTBOX_SKIPPED, OUTBOX_GAVE_UP = "pending", "sent", "skipped", "gave-up"


# Columns added after the first release: (name, declaration) for ALTER TABLE on old files.
_ADDED_COLUMNS = (
    ("pid", "INTEGER"),
    ("host", "TEXT"),
    ("heartbeat_at", "TEXT"),
    ("tmp_dir", "TEXT"),
    ("lost", "INTEGER NOT NULL DEFAULT 0"),
)

#: Statuses of a run that is (or claims to be) still in progress, i.e. holds a lease.
LIVE_STATUSES = (RunStatus.RUNNING.value, RunStatus.RETRYING.value)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _now_precise() -> str:
    # Heartbeats are compared against leases of a few seconds in tests: keep the fraction.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    try:
        # A killed child nobody has waited for yet is a zombie: dead for our purposes.
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _iso(when: datetime) -> str:
    # Stored in UTC so text comparison orders times correctly across time zones.
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _iso_precise(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parameters_hash(values: Mapping[str, Any]) -> str:
    """A stable short hash of a parameter set (key order does not matter)."""
    blob = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def secret_values(extra_env_names: Iterable[str] = (), env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the secret environment variables that are set (longest first).

    The password of the shared database's DSN (``QUANT_OPS_DSN``) is one of them.
    """
    env = os.environ if env is None else env
    names = {*SECRET_ENV_NAMES, *extra_env_names}
    # Every Slack webhook variable is a secret, whatever job names it.
    names |= {k for k in env if k.startswith("QUANT_SLACK_WEBHOOK")}
    names |= {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}  # object storage (quantlib.data.storage)
    values = {env[n] for n in names if env.get(n)}
    if env.get(OPS_DSN_ENV) and password_in(env[OPS_DSN_ENV]):
        values.add(password_in(env[OPS_DSN_ENV]))
    # Very short values would redact ordinary words; real secrets are longer.
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """Replace every secret value in ``text`` with ``***``."""
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, "***")
    return text


def one_line(error: BaseException | str, limit: int = 500, secrets: Iterable[str] | None = None) -> str:
    """A one-line, redacted description of an error, for the history and for alerts."""
    if isinstance(error, BaseException):
        text = str(error).strip()
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    else:
        text = error
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # The last line of a traceback-like message is the one that says what went wrong.
    line = lines[-1] if len(lines) > 1 and lines[0].startswith("Traceback") else " ".join(lines)
    line = redact(line, secrets)
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class RunRecord:
    """One row of the ``runs`` table."""

    id: int
    run_id: str
    job: str
    company: str
    parameters_hash: str
    scheduled_for: str
    started: str
    finished: str | None
    status: RunStatus
    attempt: int
    error: str | None
    outputs: dict[str, str]
    pid: int | None = None
    host: str | None = None
    heartbeat_at: str | None = None
    tmp_dir: str | None = None
    lost: bool = False

    @classmethod
    def _from_row(cls, row) -> "RunRecord":
        data = dict(row)
        data["outputs"] = json.loads(data["outputs"] or "{}")
        data["status"] = RunStatus(data["status"])
        data["lost"] = bool(data.get("lost"))
        return cls(**data)


@dataclass(frozen=True)
class OutboxItem:
    """One message for one channel in the outbox (``deliveries`` table).

    ``notice`` is the :class:`~quantlib.publish.distribute.Notice` as a dict; ``emails`` and
    ``slack_env`` say where it goes (the NAME of the webhook variable, never its value).
    """

    id: int
    run_id: str | None
    job: str
    company: str
    channel: str
    target: str
    emails: list[str]
    slack_env: str | None
    notice: dict
    status: str
    attempts: int
    created: str
    next_attempt: str | None
    last_error: str | None

    @classmethod
    def _from_row(cls, row) -> "OutboxItem":
        data = dict(row)
        data["emails"] = json.loads(data["emails"] or "[]")
        data["notice"] = json.loads(data["notice"])
        return cls(**data)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One attempt to deliver an outbox item, as ``quant schedule history`` shows it."""

    delivery_id: int
    job: str
    company: str
    run_id: str | None
    channel: str
    target: str
    attempt: int
    at: str
    status: str
    detail: str | None


@dataclass(frozen=True)
class LostRun:
    """A run found dead by :meth:`RunHistory.reap` and marked failed.

    Attributes
    ----------
    record : RunRecord
        The row as it was before it was marked failed.
    reason : str
        Why it is dead (``"lease expired: process 1234 on host stopped heartbeating at …"``).
    """

    record: RunRecord
    reason: str


def open_run_history(path: str | Path | None = None, *, reports: str | Path | None = None,
                     env: Mapping[str, str] | None = None, create: bool = True) -> "RunHistory | None":
    """The run history, opened (its tables created on first use).

    Parameters
    ----------
    path : path-like, optional
        A SQLite file; when given it wins over the environment (``--history``).
    reports : path-like, optional
        The reports folder whose ``.history.sqlite`` is the default file (default
        ``<project root>/reports``).
    env : mapping, optional
        Where ``QUANT_OPS_DSN`` is read (default ``os.environ``).
    create : bool
        False: ``None`` rather than a new SQLite file when none exists yet (for readers; a
        configured PostgreSQL history is always opened).

    Returns
    -------
    RunHistory or None
        ``path`` (SQLite), else the PostgreSQL database of ``$QUANT_OPS_DSN``
        (:class:`PostgresRunHistory`, shared with the operational store), else
        ``REPORTS/.history.sqlite``.

    Raises
    ------
    RunHistoryError
        When PostgreSQL is configured but cannot be reached, refuses, or the DSN is malformed
        (the message names user, host, port and database, never the password).
    """
    env = os.environ if env is None else env
    if path is None and env.get(OPS_DSN_ENV):
        return PostgresRunHistory(env[OPS_DSN_ENV])
    if path is None:
        if reports is None:
            from quantlib.config import project_root

            reports = project_root() / "reports"
        path = Path(reports) / HISTORY_FILE
    if not create and not Path(path).exists():
        return None
    return RunHistory(path)


class RunHistory:
    """The run-history database: its interface, and its SQLite backend.

    :class:`PostgresRunHistory` is the PostgreSQL backend: it replaces the connection methods
    (``_writing``, ``_reading``, ``_columns``) and inherits the rest, so both run the same SQL.

    Parameters
    ----------
    path : path-like
        The SQLite file; created (with its folder) on first use.

    Attributes
    ----------
    dialect : str
        ``"sqlite"`` or ``"postgresql"``.
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._create()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    @property
    def location(self) -> str:
        """Where the history is, for messages (no secret in it)."""
        return str(self.path)

    def exists(self) -> bool:
        """Whether anything was ever recorded here (the SQLite file exists); opening creates it."""
        return self.path.exists()

    def _create(self) -> None:
        with self._writing() as con:
            self._lock_schema(con)
            for statement in migration_sql(_SCHEMA, self.dialect):
                con.execute(statement)
            # Files written before leases existed lack the new columns: add them in place.
            have = self._columns(con)
            for name, decl in _ADDED_COLUMNS:
                if name not in have:
                    con.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")

    @staticmethod
    def _lock_schema(con) -> None:
        """Keep concurrent openers of a new history apart (SQLite's DDL is serialised already)."""

    @staticmethod
    def _columns(con) -> set[str]:
        return {row["name"] for row in con.execute("PRAGMA table_info(runs)")}

    def _connect(self) -> sqlite3.Connection:
        # A fresh connection per call: cheap, and safe across threads and forked workers.
        return open_sqlite(self.path, 30)

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """One transaction: committed on success, rolled back on an exception; closed afterwards."""
        with closing(self._connect()) as con, con:
            yield con

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A connection for reads (closed afterwards)."""
        with closing(self._connect()) as con:
            yield con

    def start(
        self,
        *,
        run_id: str,
        job: str,
        company: str,
        parameters_hash: str,
        scheduled_for: datetime,
        attempt: int = 1,
        status: RunStatus = RunStatus.RUNNING,
        tmp_dir: str | Path | None = None,
    ) -> int:
        """Record that an attempt started; returns the row id.

        The row carries this process's id and host and a first heartbeat: the lease that
        :meth:`reap` checks. ``tmp_dir`` is the temporary folder the attempt will work in.
        """
        with self._writing() as con:
            cur = con.execute(
                "INSERT INTO runs (run_id, job, company, parameters_hash, scheduled_for, started, status, attempt,"
                " pid, host, heartbeat_at, tmp_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (run_id, job, company, parameters_hash, _iso(scheduled_for), _now(), RunStatus(status).value, attempt,
                 os.getpid(), socket.gethostname(), _now_precise(), None if tmp_dir is None else str(tmp_dir)),
            )
            return int(cur.fetchone()[0])

    def heartbeat(self, run_id: str) -> None:
        """Renew the lease of ``run_id``'s latest attempt (while it is running or retrying)."""
        with self._writing() as con:
            con.execute(
                "UPDATE runs SET heartbeat_at = ?, pid = ?, host = ? WHERE id = (SELECT MAX(id) FROM runs"
                f" WHERE run_id = ?) AND status IN ({','.join('?' * len(LIVE_STATUSES))})",
                (_now_precise(), os.getpid(), socket.gethostname(), run_id, *LIVE_STATUSES),
            )

    def live(self) -> list[RunRecord]:
        """The latest attempt of every run still marked running or retrying."""
        with self._reading() as con:
            rows = con.execute(
                f"SELECT * FROM runs WHERE status IN ({','.join('?' * len(LIVE_STATUSES))})"
                " AND id = (SELECT MAX(id) FROM runs AS r WHERE r.run_id = runs.run_id) ORDER BY id",
                LIVE_STATUSES,
            ).fetchall()
        return [RunRecord._from_row(r) for r in rows]

    def reap(self, lease: float, now: datetime | None = None) -> list[LostRun]:
        """Mark runs whose process is gone as failed (``lost``) and return them.

        A run is dead when its lease expired (no heartbeat for ``lease`` seconds) or when it
        was started on this host by a process that no longer exists.

        Parameters
        ----------
        lease : float
            Seconds a heartbeat stays valid.
        now : datetime, optional
            The current time (default: now, UTC).
        """
        now = now or datetime.now(timezone.utc)
        here = socket.gethostname()
        lost = []
        for rec in self.live():
            beat = rec.heartbeat_at or rec.started
            try:
                last = datetime.fromisoformat(beat)
            except ValueError:
                last = datetime.min.replace(tzinfo=timezone.utc)
            last = last if last.tzinfo else last.replace(tzinfo=timezone.utc)
            who = f"process {rec.pid if rec.pid is not None else '?'} on {rec.host or 'an unknown host'}"
            if rec.pid is not None and rec.host == here and not pid_alive(rec.pid):
                reason = f"process gone: {who} died; its last heartbeat was at {last.isoformat(timespec='seconds')}"
            elif (now - last).total_seconds() > lease:
                reason = f"lease expired: {who} stopped heartbeating at {last.isoformat(timespec='seconds')}"
            else:
                continue
            with self._writing() as con:
                # Only if still live: two reapers at once must not both claim (and alert) it.
                cur = con.execute(
                    "UPDATE runs SET status = ?, finished = ?, error = ?, lost = 1 WHERE id = ?"
                    f" AND status IN ({','.join('?' * len(LIVE_STATUSES))})",
                    (RunStatus.FAILED.value, _now(), one_line(reason), rec.id, *LIVE_STATUSES),
                )
            if cur.rowcount:
                lost.append(LostRun(rec, one_line(reason)))
        return lost

    def finish(
        self,
        row_id: int,
        status: RunStatus,
        *,
        error: BaseException | str | None = None,
        outputs: Mapping[str, str] | None = None,
        lost: bool = False,
    ) -> None:
        """Record how an attempt ended (usually ``SUCCESS``, ``FAILED``, ``RETRYING`` or ``SKIPPED``).

        A plain string with the same value is accepted (``"success"``). ``lost`` marks a run
        whose process or worker died, so its slot is run again (see :meth:`last_scheduled_for`).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._writing() as con:
            con.execute(
                "UPDATE runs SET status = ?, finished = ?, error = ?, outputs = ?, lost = ? WHERE id = ?",
                (
                    RunStatus(status).value,
                    _now(),
                    None if error is None else one_line(error),
                    json.dumps(dict(outputs or {}), sort_keys=True),
                    int(lost),
                    row_id,
                ),
            )

    # -- the outbox ------------------------------------------------------------------------

    def enqueue(self, *, run_id: str | None, job: str, company: str, channel: str, target: str,
                notice: Mapping[str, Any], emails: Iterable[str] = (), slack_env: str | None = None) -> int:
        """Put a message for one channel in the outbox (pending, due now); returns its id.

        ``notice`` must hold nothing secret (it is the public part of a run's notice).
        """
        with self._writing() as con:
            cur = con.execute(
                "INSERT INTO deliveries (run_id, job, company, channel, target, emails, slack_env, notice, status,"
                " created, next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (run_id, job, company, channel, redact(target), json.dumps(list(emails)), slack_env,
                 redact(json.dumps(dict(notice), sort_keys=True, default=str)), OUTBOX_PENDING, _now(),
                 _now_precise()),
            )
            return int(cur.fetchone()[0])

    def record_delivery(self, delivery_id: int, status: str, detail: str = "", *,
                        next_attempt: datetime | None = None, final_status: str | None = None,
                        secrets: Iterable[str] | None = None) -> None:
        """Record one attempt (``sent``, ``failed``, ``skipped``) and the item's new state.

        A failed attempt stays pending until ``next_attempt`` unless ``final_status`` is given.
        """
        line = one_line(detail, secrets=secrets) if detail else None
        state = final_status or {"sent": OUTBOX_SENT, "skipped": OUTBOX_SKIPPED}.get(status, OUTBOX_PENDING)
        with self._writing() as con:
            # Counted by the UPDATE itself (it locks the row): two recorders never share a number.
            (attempts,) = con.execute(
                "UPDATE deliveries SET attempts = attempts + 1, status = ?, next_attempt = ?, last_error = ?"
                " WHERE id = ? RETURNING attempts",
                (state, None if next_attempt is None else _iso_precise(next_attempt),
                 line if status == "failed" else None, delivery_id),
            ).fetchone()
            con.execute("INSERT INTO delivery_attempts (delivery_id, attempt, at, status, detail)"
                        " VALUES (?, ?, ?, ?, ?)", (delivery_id, attempts, _now(), status, line))

    def pending(self, now: datetime | None = None) -> list[OutboxItem]:
        """Outbox items waiting for an attempt whose time has come (all pending ones if ``now`` is None)."""
        sql, args = "SELECT * FROM deliveries WHERE status = ?", [OUTBOX_PENDING]
        if now is not None:
            sql += " AND (next_attempt IS NULL OR next_attempt <= ?)"
            args.append(_iso_precise(now))
        with self._reading() as con:
            return [OutboxItem._from_row(r) for r in con.execute(sql + " ORDER BY id", args)]

    def outbox(self, ids: Iterable[int]) -> list[OutboxItem]:
        """The outbox items with these ids."""
        ids = list(ids)
        if not ids:
            return []
        with self._reading() as con:
            rows = con.execute(f"SELECT * FROM deliveries WHERE id IN ({','.join('?' * len(ids))}) ORDER BY id", ids)
            return [OutboxItem._from_row(r) for r in rows]

    def delivered(self, channel: str, target: str) -> list[OutboxItem]:
        """Every outbox item sent on ``channel`` to ``target``, oldest first (e.g. the runs uploaded
        to one object storage prefix, whose index lists them)."""
        with self._reading() as con:
            rows = con.execute("SELECT * FROM deliveries WHERE channel = ? AND target = ? AND status = ? ORDER BY id",
                               (channel, target, OUTBOX_SENT))
            return [OutboxItem._from_row(r) for r in rows]

    def delivery_attempts(self, job: str | None = None, company: str | None = None,
                          limit: int = 100) -> list[DeliveryAttempt]:
        """Every recorded delivery attempt, most recent first."""
        sql = ("SELECT a.delivery_id, d.job, d.company, d.run_id, d.channel, d.target, a.attempt, a.at, a.status,"
               " a.detail FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE 1=1")
        args: list[Any] = []
        if job is not None:
            sql += " AND d.job = ?"
            args.append(job)
        if company is not None:
            sql += " AND d.company = ?"
            args.append(company)
        sql += " ORDER BY a.id DESC LIMIT ?"
        args.append(limit)
        with self._reading() as con:
            return [DeliveryAttempt(**dict(r)) for r in con.execute(sql, args)]

    def runs(self, job: str | None = None, company: str | None = None, limit: int = 100) -> list[RunRecord]:
        """Most recent attempts first, optionally for one job and company."""
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if job is not None:
            sql += " AND job = ?"
            args.append(job)
        if company is not None:
            sql += " AND company = ?"
            args.append(company)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._reading() as con:
            return [RunRecord._from_row(r) for r in con.execute(sql, args)]

    def last_scheduled_for(self, job: str, company: str, lost_retries: int | None = None) -> datetime | None:
        """The latest scheduled time any attempt was recorded for (``None`` if never run).

        Skipped attempts (another run held the lock) do not count: the run that held the
        lock records its own row.

        Parameters
        ----------
        lost_retries : int, optional
            When given, a slot whose only runs were lost (their process died: see
            :meth:`reap`) does not count until it has been lost more than this many times, so
            the scheduler runs it again; after that it counts (it was alerted every time).
        """
        with self._reading() as con:
            rows = con.execute(
                "SELECT scheduled_for, SUM(CASE WHEN lost = 0 THEN 1 ELSE 0 END) AS kept,"
                " COUNT(DISTINCT CASE WHEN lost = 1 THEN run_id END) AS lost"
                " FROM runs WHERE job = ? AND company = ? AND status != ? GROUP BY scheduled_for",
                (job, company, RunStatus.SKIPPED.value),
            ).fetchall()
        slots = [r["scheduled_for"] for r in rows
                 if lost_retries is None or r["kept"] or r["lost"] > lost_retries]
        return datetime.fromisoformat(max(slots)) if slots else None

    def last_success(self, job: str, company: str) -> RunRecord | None:
        """The most recent successful run of a job for a company."""
        with self._reading() as con:
            row = con.execute(
                "SELECT * FROM runs WHERE job = ? AND company = ? AND status = ? ORDER BY id DESC LIMIT 1",
                (job, company, RunStatus.SUCCESS.value),
            ).fetchone()
        return None if row is None else RunRecord._from_row(row)


class PostgresRunHistory(RunHistory):
    """The run history in a PostgreSQL database (by default the operational store's, ``QUANT_OPS_DSN``).

    The same tables (SQLite's storage types mapped as the operational store maps them, see
    :func:`~quantlib.data.opstore.migration_sql`) and the same SQL as :class:`RunHistory`,
    through :class:`~quantlib.data.opstore_pg.PgDatabase` connections. Each call is one
    transaction on a fresh connection, under READ COMMITTED: the claim-style updates
    (:meth:`reap` marks a run only while it is still live, :meth:`record_delivery` counts its
    attempt in the row it updates) take the row's lock, so two hosts never both claim a run
    or number an attempt twice. The tables are created under an advisory lock, so several
    workers opening a new database at once do not race.

    Parameters
    ----------
    dsn : str
        A libpq connection string or URI. Kept private: never printed.
    timeout : float
        At most this many seconds (and at most 10) to connect, unless the DSN sets ``connect_timeout``.

    Raises
    ------
    RunHistoryError
        psycopg missing, a malformed DSN, the server unreachable or refusing; the message names
        the database without its password.
    """

    dialect = "postgresql"

    def __init__(self, dsn: str, timeout: float = 30.0):
        self.path = None
        self._database = PgDatabase(dsn, error=RunHistoryError, setting=OPS_DSN_ENV, what="run history",
                                    timeout=timeout, application_name="quant-schedule")
        self._create()

    @property
    def location(self) -> str:
        """User, host, port and database as a URI without the password."""
        return self._database.location

    def exists(self) -> bool:
        """Always true: the database exists (opening it created the tables)."""
        return True

    @staticmethod
    def _lock_schema(con) -> None:
        # CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin on PostgreSQL.
        con.execute("SELECT pg_advisory_xact_lock(?)", (advisory_key("quant.schedule.history.schema"),))

    @staticmethod
    def _columns(con) -> set[str]:
        return {row["column_name"] for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = 'runs'")}

    def _connect(self):
        return self._database.connect()

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with closing(self._database.connect()) as con:
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        with closing(self._database.connect(autocommit=True)) as con:
            yield con
