"""The operational store: state written continuously, next to the run history, never in gold.

``gold.duckdb`` is replaced by every warehouse build and DuckDB allows one writer or many
readers, so alert state and history, recorded predictions and (later) work orders,
annotations and live aggregates live here instead. Two backends, one interface
(:class:`OpsStore`): by default one SQLite file in WAL mode (``reports/.ops.sqlite``), safe to
write from several processes at once (WAL journal plus a busy timeout) and readable alongside
gold by reports and apps; or, when ``QUANT_OPS_DSN`` is set, a PostgreSQL database
(:class:`PostgresOpsStore`, needs the ``postgres`` extra: psycopg 3)
for several hosts or heavier write loads.

=====================  ==================================================================
``QUANT_OPS_DSN``      a libpq connection string or URI (``postgresql://user@host/db``,
                       ``host=... dbname=...``): the store is that PostgreSQL database. Its
                       password (better kept in ``PGPASSWORD`` or ``~/.pgpass``) is never
                       printed: errors and ``repr`` name user, host, port and database only
``QUANT_OPS_DB``       the SQLite file when no DSN is set (default
                       ``<project root>/reports/.ops.sqlite``)
=====================  ==================================================================

Callers use one dialect on both backends: a connection from :meth:`OpsStore.transaction` or
:meth:`OpsStore.reading` takes SQL with ``?`` placeholders (values are always bound, never
spliced into SQL text), returns rows readable by column name and by index, and new ids come
from ``INSERT ... RETURNING id``. Write transactions are serialised on both (SQLite's
``BEGIN IMMEDIATE``; a transaction-level advisory lock on PostgreSQL), so a read-then-write
(the alert engine's dedup) never races another writer; readers never wait.

The schema is versioned: ``schema_version`` holds the version applied and :data:`MIGRATIONS`
the steps from one version to the next, applied in order inside one transaction when a store
is opened (see :func:`migration_sql` for how a step reads on PostgreSQL).

Tables (version 1)
    ``alerts``
        One row per alert: a rule x subject while open (a partial unique index enforces
        "one open alert per rule x subject"), kept after it is resolved.
    ``alert_history``
        Every state change and delivery of an alert (``event``, ``from_state``,
        ``to_state``, ``level``, ``value``, ``detail``).
    ``predictions``
        Replaced in version 2 (nothing recorded into the version-1 shape).
    ``meta``
        Small key/value state (e.g. when the last digest went out).

Version 2
    ``predictions``
        One row per recorded prediction in the monitoring shape
        (:data:`quantlib.monitor.records.PREDICTION_COLUMNS`: run, model, version, parameter
        hash, as-of date, data window, quantity, subject, target period, value and 80 %
        interval) plus ``id`` and ``recorded_at``; indexed by model, quantity, subject and
        target end. :mod:`quantlib.monitor` scores them as the actuals arrive.

Version 5 (the stream processors' live tables, :mod:`quantlib.stream.live`)
    ``stream_offsets``
        Per processor and input partition: the next offset to apply and the watermark (the
        largest event time seen). Written in the same transaction as the aggregates, so an
        event redelivered after a crash is recognised and skipped: exactly once in effect.
    ``stream_windows``
        Windowed aggregates (``metric, span, window_start, subject``: count, sum, sum of
        squares), updated as events arrive.
    ``stream_state``
        Per-key state of a processor (a unit's control chart, a customer's recent contacts), JSON.
    ``stream_counts``
        Per processor: events applied, rejected to the dead-letter topic, late, redelivered.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

from quantlib.config import project_root
from quantlib.data.opstore_pg import WRITE_LOCK, PgConnection, PgDatabase
from quantlib.errors import QuantError

__all__ = ["MIGRATIONS", "OPS_DB_ENV", "OPS_DSN_ENV", "PREDICTION_COLUMNS", "OpsStore", "OpsStoreError",
           "PostgresOpsStore", "default_ops_path", "iso_utc", "latest_prediction_run", "migration_sql",
           "open_ops_store", "open_sqlite", "use_wal"]

OPS_DB_ENV = "QUANT_OPS_DB"
OPS_DSN_ENV = "QUANT_OPS_DSN"
OPS_FILE = ".ops.sqlite"


class OpsStoreError(QuantError, RuntimeError):
    """The operational store cannot be opened or is newer than this code."""


#: (version, SQL) in order; a store at version n gets every step above n. The SQL is written for
#: SQLite with the portable types TEXT, REAL and INTEGER (:func:`migration_sql` maps them for
#: PostgreSQL); a step that must differ more is a mapping ``{"sqlite": ..., "postgresql": ...}``
#: (e.g. one that copies rows with their ids into an identity column, which PostgreSQL must
#: follow with ``setval``).
MIGRATIONS: tuple[tuple[int, str | Mapping[str, str]], ...] = (
    (1, """
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    category        TEXT NOT NULL,
    level           TEXT NOT NULL,
    state           TEXT NOT NULL,
    value           REAL,
    reference       REAL,
    threshold       REAL,
    variance        REAL,
    message         TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    count           INTEGER NOT NULL DEFAULT 1,
    acknowledged_at TEXT,
    snoozed_until   TEXT,
    escalated_at    TEXT,
    resolved_at     TEXT,
    notified_level  TEXT,
    notified_at     TEXT,
    digested_at     TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (rule, subject) WHERE state != 'resolved';
CREATE INDEX alerts_state ON alerts (state, level);
CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id),
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    level       TEXT,
    value       REAL,
    detail      TEXT
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);
CREATE TABLE predictions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    model        TEXT NOT NULL,
    version      TEXT NOT NULL,
    params_hash  TEXT NOT NULL,
    window_start TEXT,
    window_end   TEXT,
    series_id    TEXT NOT NULL,
    target_date  TEXT NOT NULL,
    value        REAL NOT NULL,
    lo           REAL,
    hi           REAL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX predictions_model ON predictions (model, series_id, target_date);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
"""),
    (2, """
DROP INDEX IF EXISTS predictions_model;
DROP TABLE predictions;
CREATE TABLE predictions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT NOT NULL,
    model        TEXT NOT NULL,
    version      TEXT NOT NULL,
    params_hash  TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    window_start TEXT,
    window_end   TEXT,
    quantity     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    target_start TEXT NOT NULL,
    target_end   TEXT NOT NULL,
    value        REAL NOT NULL,
    lo_80        REAL,
    hi_80        REAL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX predictions_target ON predictions (model, quantity, subject, target_end);
CREATE INDEX predictions_run ON predictions (run_id)
"""),
    (3, """
CREATE TABLE work_orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    equipment_id    TEXT NOT NULL,
    status          TEXT NOT NULL,
    opened_on       TEXT NOT NULL,
    health          REAL NOT NULL,
    reason          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    window_start    TEXT NOT NULL,
    window_end      TEXT NOT NULL,
    skill           TEXT,
    estimated_hours REAL,
    created_at      TEXT NOT NULL,
    closed_on       TEXT,
    close_reason    TEXT
);
CREATE UNIQUE INDEX work_orders_one_open ON work_orders (equipment_id) WHERE status = 'open';
CREATE INDEX work_orders_opened ON work_orders (opened_on)
"""),
    # the slot proposed around the booked jobs (quant maintenance plan --schedule), or why there is none
    (4, """
ALTER TABLE work_orders ADD COLUMN planned_date TEXT;
ALTER TABLE work_orders ADD COLUMN planned_technician TEXT;
ALTER TABLE work_orders ADD COLUMN planned_arrival TEXT;
ALTER TABLE work_orders ADD COLUMN planned_drive_minutes REAL;
ALTER TABLE work_orders ADD COLUMN planned_note TEXT;
ALTER TABLE work_orders ADD COLUMN planned_at TEXT
"""),
    # live aggregates of the stream processors (quantlib.stream): windows, per-key state, counts and
    # each input partition's next offset and watermark, all written in one transaction per batch
    (5, """
CREATE TABLE stream_offsets (
    processor   TEXT NOT NULL,
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    watermark   TEXT,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (processor, topic, partition)
);
CREATE TABLE stream_counts (
    processor TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (processor, name)
);
CREATE TABLE stream_windows (
    metric       TEXT NOT NULL,
    span         TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end   TEXT NOT NULL,
    subject      TEXT NOT NULL,
    n            INTEGER NOT NULL,
    total        REAL NOT NULL,
    total_sq     REAL NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (metric, span, window_start, subject)
);
CREATE INDEX stream_windows_recent ON stream_windows (metric, span, window_end);
CREATE TABLE stream_state (
    processor  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (processor, key)
)
"""),
    # the windows a checkpoint updated, read back to publish them (business_metrics)
    (6, """
CREATE INDEX stream_windows_updated ON stream_windows (updated_at)
"""),
    # appointment confirmations and satisfaction surveys by SMS (quantlib.notify.conversations):
    # what was sent to which number about which job, the reply, and when it went into the lake
    (7, """
CREATE TABLE sms_conversations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    to_number    TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    job_id       TEXT,
    message_sid  TEXT,
    sent_at      TEXT NOT NULL,
    reply        TEXT,
    reply_sid    TEXT,
    replied_at   TEXT,
    outcome      TEXT,
    satisfaction REAL,
    landed_at    TEXT
);
CREATE INDEX sms_conversations_number ON sms_conversations (to_number, sent_at)
"""),
)

#: The columns of a prediction record (the same list as
#: :data:`quantlib.monitor.records.PREDICTION_COLUMNS`, kept here so the store needs no engine).
PREDICTION_COLUMNS = ("run_id", "model", "version", "params_hash", "as_of", "window_start", "window_end",
                      "quantity", "subject", "target_start", "target_end", "value", "lo_80", "hi_80")
_DATE_COLUMNS = ("as_of", "window_start", "window_end", "target_start", "target_end")
_REQUIRED = ("run_id", "model", "version", "params_hash", "as_of", "quantity", "subject", "target_start",
             "target_end", "value")

SCHEMA_VERSION = MIGRATIONS[-1][0]

#: SQLite type -> PostgreSQL type with the same range (SQLite stores INTEGER in 8 bytes, REAL as a double).
_PG_TYPES = ((re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE),
              "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
             (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
             (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"))


def migration_sql(step: str | Mapping[str, str], dialect: str) -> list[str]:
    """The statements of one migration step for ``dialect`` (``"sqlite"`` or ``"postgresql"``).

    Parameters
    ----------
    step : str or mapping
        SQL written for SQLite, statements separated by ``;``; or a mapping of dialect to SQL.
    dialect : str

    Returns
    -------
    list of str
        The statements in order. For PostgreSQL a plain step gets SQLite's storage types:
        ``INTEGER PRIMARY KEY AUTOINCREMENT`` becomes a ``BIGINT`` identity column,
        ``INTEGER`` ``BIGINT`` and ``REAL`` ``DOUBLE PRECISION`` (PostgreSQL's ``REAL`` is a
        4-byte float); everything else (partial indexes, ``ON CONFLICT``) reads the same on both.
    """
    sql = step[dialect] if isinstance(step, Mapping) else step
    if dialect == "postgresql" and not isinstance(step, Mapping):
        for pattern, replacement in _PG_TYPES:
            sql = pattern.sub(replacement, sql)
    return [s.strip() for s in sql.split(";") if s.strip()]


def use_wal(con: sqlite3.Connection, timeout: float) -> None:
    """Put the SQLite database behind ``con`` in WAL mode (the mode persists in the file).

    Switching needs the file to itself, and SQLite answers a switch that meets another
    connection with "database is locked" at once, without waiting out ``busy_timeout``: two
    workers opening a new file together failed that way. So the mode is read first (nothing
    to do once it is WAL) and the switch is retried for up to ``timeout`` seconds; a file still
    in its old mode then works as before, writers queueing on the busy timeout.
    """
    if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            if str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        if time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def open_sqlite(path, timeout: float, **connect_options) -> sqlite3.Connection:
    """A new connection to the SQLite file at ``path`` as the operational store and the run history
    open theirs: rows as :class:`sqlite3.Row`, writers waiting up to ``timeout`` seconds for one
    another, WAL mode (:func:`use_wal`). ``connect_options`` go to :func:`sqlite3.connect`."""
    con = sqlite3.connect(path, timeout=timeout, **connect_options)
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    use_wal(con, timeout)
    return con


def iso_utc(when: datetime) -> str:
    """``when`` as UTC ISO text with microseconds (naive = UTC), so text order is time order."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def default_ops_path(reports: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``$QUANT_OPS_DB``, else ``REPORTS/.ops.sqlite`` (REPORTS default: ``<project root>/reports``),
    next to the run history ``reports/.history.sqlite``."""
    env = os.environ if env is None else env
    if reports is None and env.get(OPS_DB_ENV):
        return Path(env[OPS_DB_ENV])
    return (Path(reports) if reports else project_root() / "reports") / OPS_FILE


def open_ops_store(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> "OpsStore":
    """The operational store, opened and migrated.

    Parameters
    ----------
    path : path-like, optional
        A SQLite file; when given it wins over the environment.
    env : mapping, optional
        Where ``QUANT_OPS_DSN`` and ``QUANT_OPS_DB`` are read (default ``os.environ``).

    Returns
    -------
    OpsStore
        ``path`` (SQLite), else the PostgreSQL database of ``$QUANT_OPS_DSN``
        (:class:`PostgresOpsStore`), else the SQLite file
        ``$QUANT_OPS_DB``, else ``reports/.ops.sqlite``.

    Raises
    ------
    OpsStoreError
        When the store cannot be opened: PostgreSQL unreachable or refusing (the message names
        user, host, port and database, never the password), psycopg not installed, a schema
        newer than this code.
    """
    env = os.environ if env is None else env
    if path is None and env.get(OPS_DSN_ENV):
        return PostgresOpsStore(env[OPS_DSN_ENV])
    return OpsStore(path if path is not None else default_ops_path(env=env))


class OpsStore:
    """The operational store's interface, and its SQLite backend.

    :class:`PostgresOpsStore` is the PostgreSQL backend: it replaces
    the connection methods (``connect``, ``transaction``, ``reading``) and inherits the rest.

    Parameters
    ----------
    path : path-like
        The SQLite file; created (with its folder) and migrated on first use.
    timeout : float
        Seconds a writer waits for another one (busy timeout).

    Attributes
    ----------
    dialect : str
        ``"sqlite"`` or ``"postgresql"``.
    IntegrityError : type
        The exception a constraint violation (e.g. a second open alert) raises on this backend.
    """

    dialect = "sqlite"
    IntegrityError: type[Exception] = sqlite3.IntegrityError

    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    def __repr__(self) -> str:
        return f"OpsStore({str(self.path)!r})"

    @property
    def location(self) -> str:
        """Where the store is, for messages (no secret in it)."""
        return str(self.path)

    def connect(self) -> sqlite3.Connection:
        """A fresh connection (rows as :class:`sqlite3.Row`); the caller closes it."""
        con = open_sqlite(self.path, self.timeout, isolation_level=None)
        con.execute("PRAGMA foreign_keys = ON")
        return con

    @contextmanager
    def transaction(self, rollback: bool = False, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: writers queue instead of failing later).

        Commits on success, rolls back on an exception, and always rolls back when
        ``rollback`` is true (a dry run sees its own changes, nobody else ever does).
        ``durable=False`` commits without waiting for the disk (SQLite's ``synchronous = NORMAL``
        in WAL mode, PostgreSQL's ``synchronous_commit = off``): a power cut may undo the last
        commits, never half of one; for writers that can redo them (the stream processors).
        """
        with closing(self.connect()) as con:
            if not durable:
                con.execute("PRAGMA synchronous = NORMAL")
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("ROLLBACK" if rollback else "COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (closed afterwards)."""
        with closing(self.connect()) as con:
            yield con

    def schema_version(self) -> int:
        """The schema version applied (that of the last step of :data:`MIGRATIONS` once opened)."""
        with self.reading() as con:
            return self._version(con)

    @staticmethod
    def _version(con) -> int:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self) -> None:
        with self.transaction() as con:
            current = self._version(con)
            if current > SCHEMA_VERSION:
                raise OpsStoreError(f"{self.location}: schema version {current} is newer than this code "
                                    f"({SCHEMA_VERSION}); upgrade quantlib")
            for version, sql in MIGRATIONS:
                if version > current:
                    for statement in migration_sql(sql, self.dialect):
                        con.execute(statement)
                    con.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    # -- key/value -------------------------------------------------------------------------

    def get_meta(self, key: str, con: sqlite3.Connection | None = None) -> str | None:
        if con is not None:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else row[0]
        with self.reading() as own:
            return self.get_meta(key, own)

    @staticmethod
    def set_meta(con: sqlite3.Connection, key: str, value: str) -> None:
        con.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- recorded predictions --------------------------------------------------------------

    def record_predictions(self, frame, recorded_at: datetime | None = None) -> int:
        """Record prediction rows; returns the number written.

        Parameters
        ----------
        frame : DataFrame
            Rows with the columns of :data:`PREDICTION_COLUMNS` (further columns are ignored).
            ``lo_80``, ``hi_80`` and the data window may be missing values; the others may not.
        recorded_at : datetime, optional
            When (default now, UTC).

        Raises
        ------
        ValueError
            A column is missing, or a required value (run, model, dates, value...) is empty.
        """
        import pandas as pd

        missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"predictions are missing column(s) {', '.join(missing)}; "
                             f"expected {', '.join(PREDICTION_COLUMNS)}")
        rows = frame[list(PREDICTION_COLUMNS)]
        empty = [c for c in _REQUIRED if rows[c].isna().any()]
        if empty:
            raise ValueError(f"predictions have empty value(s) in required column(s) {', '.join(empty)}")
        at = iso_utc(recorded_at or datetime.now(timezone.utc))

        def cell(column, value):
            if pd.isna(value):
                return None
            if column in _DATE_COLUMNS:
                return pd.Timestamp(value).date().isoformat()
            if column in ("value", "lo_80", "hi_80"):
                return float(value)
            return str(value)

        values = [tuple(cell(c, v) for c, v in zip(PREDICTION_COLUMNS, row)) + (at,)
                  for row in rows.itertuples(index=False, name=None)]
        names = ", ".join(PREDICTION_COLUMNS)
        marks = ", ".join("?" * (len(PREDICTION_COLUMNS) + 1))
        with self.transaction() as con:
            con.executemany(f"INSERT INTO predictions ({names}, recorded_at) VALUES ({marks})", values)  # nosec B608
        return len(values)

    def prediction_frame(self, model: str | None = None, quantity: str | None = None):
        """Recorded predictions, oldest first, optionally of one model and quantity.

        Returns
        -------
        DataFrame
            :data:`PREDICTION_COLUMNS` (dates as :class:`datetime.date`, ``value`` /
            ``lo_80`` / ``hi_80`` as floats) plus ``id`` and ``recorded_at``.
        """
        sql, args = "SELECT * FROM predictions WHERE 1=1", []
        if model is not None:
            sql += " AND model = ?"
            args.append(model)
        if quantity is not None:
            sql += " AND quantity = ?"
            args.append(quantity)
        with self.reading() as con:
            return _prediction_rows(con, sql + " ORDER BY id", args)

    def latest_prediction_run(self, model: str, quantity: str | None = None, subject: str | None = None):
        """The rows of ``model``'s latest recorded run (:func:`latest_prediction_run`)."""
        with self.reading() as con:
            return latest_prediction_run(con, model, quantity, subject)


def _prediction_rows(con, sql: str, args: list):
    """``sql``'s prediction rows as :meth:`OpsStore.prediction_frame` types them."""
    import pandas as pd

    cursor = con.execute(sql, args)
    names = [d[0] for d in cursor.description]
    frame = pd.DataFrame([tuple(r) for r in cursor.fetchall()], columns=names)
    frame = frame[[*PREDICTION_COLUMNS, "id", "recorded_at"]]
    for column in _DATE_COLUMNS:
        frame[column] = [None if v is None else date.fromisoformat(v) for v in frame[column]]
    for column in ("value", "lo_80", "hi_80"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["id"] = frame["id"].astype("int64")
    return frame


def latest_prediction_run(con, model: str, quantity: str | None = None, subject: str | None = None):
    """The rows of ``model``'s latest recorded run (the run of its last recorded row), shortest horizon first.

    The one reading of "the latest forecast" for the API, the dashboards and reports. ``con`` is
    any connection to the store (SQLite or PostgreSQL, read-only is enough) or None (no store
    yet: no rows). With ``quantity``, the latest run that recorded that quantity and only its
    rows; with ``subject``, only that subject's rows of it.

    Returns
    -------
    DataFrame
        As :meth:`OpsStore.prediction_frame`, ordered by ``target_end`` then ``id``; empty when
        nothing was recorded.
    """
    import pandas as pd

    if con is None:
        return pd.DataFrame(columns=[*PREDICTION_COLUMNS, "id", "recorded_at"])
    where, args = "model = ?", [model]
    if quantity is not None:
        where += " AND quantity = ?"
        args.append(quantity)
    rows_where, rows_args = where, list(args)
    if subject is not None:
        rows_where += " AND subject = ?"
        rows_args.append(subject)
    sql = (f"SELECT * FROM predictions WHERE {rows_where} AND run_id = "  # nosec B608 - fixed column names
           f"(SELECT run_id FROM predictions WHERE {where} ORDER BY id DESC LIMIT 1) ORDER BY target_end, id")
    return _prediction_rows(con, sql, rows_args + args)


class PostgresOpsStore(OpsStore):
    """The operational store in a PostgreSQL database (see :mod:`quantlib.data.opstore_pg`).

    Parameters
    ----------
    dsn : str
        A libpq connection string or URI. Kept private: never printed.
    timeout : float
        Seconds a writer waits for another one (``lock_timeout`` of the write lock), and at
        most 10 s to connect unless the DSN sets ``connect_timeout``.

    Raises
    ------
    OpsStoreError
        psycopg missing, a malformed DSN, the server unreachable or refusing, a schema newer
        than this code; the message names the database without its password.
    """

    dialect = "postgresql"

    def __init__(self, dsn: str, timeout: float = 30.0, migrate: bool = True):
        # First: it says what to install when psycopg is missing.
        self._database = PgDatabase(dsn, error=OpsStoreError, setting=OPS_DSN_ENV, what="operational store",
                                    timeout=timeout, application_name="quant-ops")
        import psycopg

        self.path = None
        self.timeout = timeout
        self.IntegrityError = psycopg.IntegrityError
        self._dsn = dsn
        self._password = self._database.password
        self._location = self._database.location
        if migrate:
            self._migrate()

    def __repr__(self) -> str:
        return f"PostgresOpsStore({self._location!r})"

    @property
    def location(self) -> str:
        """User, host, port and database as a URI without the password."""
        return self._location

    def connect(self, autocommit: bool = False) -> PgConnection:
        """A fresh connection (rows as :class:`~quantlib.data.opstore_pg.Row`); the caller closes it.

        Raises
        ------
        OpsStoreError
            When the server cannot be reached or refuses (password redacted).
        """
        return self._database.connect(autocommit)

    @contextmanager
    def transaction(self, rollback: bool = False, durable: bool = True) -> Iterator[PgConnection]:
        """One write transaction, after every earlier writer's (the advisory :data:`WRITE_LOCK`).

        Commits on success, rolls back on an exception, and always rolls back when
        ``rollback`` is true (a dry run sees its own changes, nobody else ever does);
        ``durable=False``: ``synchronous_commit = off`` for this transaction (see the SQLite store).

        Raises
        ------
        OpsStoreError
            When another writer holds the store longer than ``timeout``.
        """
        import psycopg

        with closing(self.connect()) as con:
            try:
                con.execute("SELECT set_config('lock_timeout', ?, true)", (f"{int(self.timeout * 1000)}ms",))
                if not durable:
                    con.execute("SELECT set_config('synchronous_commit', 'off', true)")
                try:
                    con.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
                except psycopg.errors.LockNotAvailable:
                    raise OpsStoreError(f"{self._location}: another writer held the operational store "
                                        f"for more than {self.timeout:g} s") from None
                yield con
            except BaseException:
                con.rollback()
                raise
            if rollback:
                con.rollback()
            else:
                con.commit()

    @contextmanager
    def reading(self) -> Iterator[PgConnection]:
        """A connection for reads in autocommit (closed afterwards)."""
        with closing(self.connect(autocommit=True)) as con:
            yield con

    @contextmanager
    def read_only(self) -> Iterator[PgConnection | None]:
        """A connection whose transactions the server refuses to let write, or ``None`` when
        the database has no store schema yet (nothing is created). Closed afterwards."""
        with closing(self.connect(autocommit=True)) as con:
            con.execute("SET default_transaction_read_only = on")
            exists = con.execute("SELECT to_regclass('alerts') IS NOT NULL").fetchone()[0]
            yield con if exists else None
