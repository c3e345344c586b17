"""PostgreSQL pieces of the operational store: the same tables, SQL and behaviour as SQLite.

:class:`quantlib.data.opstore.PostgresOpsStore` (chosen by
:func:`~quantlib.data.opstore.open_ops_store` when ``QUANT_OPS_DSN`` is set) is built from
these, and so are the scheduler's run history (:class:`quantlib.schedule.history.PostgresRunHistory`)
and locks (:class:`quantlib.schedule.locks.AdvisoryLock`) in the same database. They need psycopg 3
(the ``postgres`` extra: ``pip install 'quant-workspace[postgres]'``), imported only when such a
store is opened; this module imports nothing of quantlib.

What makes it the same store as the SQLite one:

* **One SQL dialect.** Its connections (:class:`PgConnection`) take the ``?`` placeholders the
  callers write and hand psycopg ``%s`` ones (:func:`qmark_to_format`); rows (:class:`Row`) are
  read by column name and by index, and ``dict(row)`` works, as with :class:`sqlite3.Row`.
* **One schema.** The same :data:`~quantlib.data.opstore.MIGRATIONS`, recorded in the same
  ``schema_version`` table; types mapped by :func:`~quantlib.data.opstore.migration_sql`.
* **Writers queue.** Every write transaction first takes one transaction-level advisory lock
  (:data:`WRITE_LOCK`), waiting up to ``timeout`` seconds, like SQLite's ``BEGIN IMMEDIATE``
  with its busy timeout. Under READ COMMITTED each later statement then sees everything the
  previous writers committed, so the alert engine's read-then-write dedup cannot race a
  concurrent check (and the partial unique index "one open alert per rule x subject" backs it
  up). Reads run in autocommit and never wait.
* **One way in.** :class:`PgDatabase` parses a DSN once and opens connections, with one
  description and one redaction for every message; :func:`advisory_key` turns a lock's name
  into the same advisory-lock key on every host.
* **Secrets stay out.** The DSN is kept private; ``repr``, ``PostgresOpsStore.location`` and
  every error name user, host, port and database only, and any password found in the DSN is
  redacted from driver messages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["PgConnection", "PgDatabase", "Row", "WRITE_LOCK", "advisory_key", "describe_dsn", "password_in",
           "qmark_to_format", "redact_dsn", "row_factory"]

#: The ``pg_advisory_xact_lock`` key every write transaction takes first ("QUANT" in ASCII).
WRITE_LOCK = 0x5155414E54



def advisory_key(name: str) -> int:
    """A stable ``bigint`` advisory-lock key for ``name`` (the first 8 bytes of its SHA-256, signed).

    The same name gives the same key on every host and in every release, so processes on
    several machines that lock ``"job__company"`` lock the same thing.

    Parameters
    ----------
    name : str

    Returns
    -------
    int
        In PostgreSQL's ``bigint`` range.
    """
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


# A quoted literal or identifier (kept, with % doubled), a ? placeholder or a lone %.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")
_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)@", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


@lru_cache(maxsize=512)
def qmark_to_format(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s`` (and literal ``%`` as ``%%``).

    Question marks inside quoted literals and identifiers are left alone.

    Parameters
    ----------
    sql : str

    Returns
    -------
    str
    """
    def swap(match: re.Match) -> str:
        piece = match.group(0)
        return "%s" if piece == "?" else piece.replace("%", "%%")

    return _TOKENS.sub(swap, sql)


def redact_dsn(text: str, password: str | None = None) -> str:
    """``text`` with DSN passwords (URI user info, ``password=`` pairs, and ``password`` itself) as ``***``.

    Parameters
    ----------
    text : str
    password : str, optional
        A known password, replaced wherever it appears (when 4 characters or longer, so that
        ordinary words survive).

    Returns
    -------
    str
    """
    text = _URI_PASSWORD.sub(r"\1***@", text)
    text = _KV_PASSWORD.sub(r"\1***", text)
    if password and len(password) >= 4:
        text = text.replace(password, "***")
    return text


def describe_dsn(params: Mapping[str, str]) -> str:
    """A password-free URI naming user, host, port and database of parsed DSN ``params``.

    Parameters
    ----------
    params : mapping
        As ``psycopg.conninfo.conninfo_to_dict`` returns them.

    Returns
    -------
    str
        E.g. ``postgresql://quant@db.example:5433/ops`` (a socket folder as ``?host=``).
    """
    user = params.get("user") or ""
    host = params.get("host") or params.get("hostaddr") or ""
    port = params.get("port") or ""
    dbname = params.get("dbname") or user
    where = f"{user}@" if user else ""
    query = ""
    if host.startswith("/"):
        query = f"?host={host}"
    else:
        where += host + (f":{port}" if port else "")
    return f"postgresql://{where}/{dbname}{query}"


class Row(Sequence):
    """One result row, readable by column name and by index (like :class:`sqlite3.Row`).

    ``dict(row)`` gives ``{column: value}``; iterating gives the values.
    """

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: Sequence[Any]):
        self._index = index
        self._values = tuple(values)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._index)

    def __eq__(self, other) -> bool:
        if isinstance(other, Row):
            return self._values == other._values and list(self._index) == list(other._index)
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values))!r})"


def row_factory(cursor):
    """psycopg row factory making :class:`Row` objects."""
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> Row:
        return Row(index, values)

    return make


class PgConnection:
    """A psycopg connection speaking the operational store's dialect (``?`` placeholders, :class:`Row`).

    Parameters
    ----------
    raw : psycopg.Connection
        Opened with this module's row factory; :attr:`raw` stays available.
    """

    def __init__(self, raw):
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = ()):
        """Run one statement; returns the psycopg cursor (``fetchone``, ``fetchall``, iteration)."""
        cur = self.raw.cursor()
        cur.execute(qmark_to_format(sql), tuple(parameters))
        return cur

    def executemany(self, sql: str, seq_of_parameters):
        """Run one statement for each parameter tuple."""
        cur = self.raw.cursor()
        cur.executemany(qmark_to_format(sql), [tuple(p) for p in seq_of_parameters])
        return cur

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()


def password_in(dsn: str) -> str | None:
    """The password of a DSN that could not be parsed, as far as one can be seen in it."""
    for pattern in (_URI_PASSWORD, _KV_PASSWORD):
        found = pattern.search(dsn)
        if found:
            return found.group(2).strip("'")
    return None


class PgDatabase:
    """A PostgreSQL database named by a DSN that is never shown: parsed once, connected on demand.

    The stores built on PostgreSQL (the operational store, the run history, the scheduler's
    locks) open their connections through one of these, so they parse, describe and redact a
    DSN alike.

    Parameters
    ----------
    dsn : str
        A libpq connection string or URI. Kept private: never printed.
    error : type
        The exception raised when the DSN is malformed or a connection fails (the caller's own,
        a :class:`~quantlib.errors.QuantError`); its message names the database without the password.
    setting : str
        Where the DSN came from (e.g. ``"QUANT_OPS_DSN"``), for the malformed-DSN message.
    what : str
        What the database holds (``"operational store"``), for the connection-failure message.
    timeout : float
        At most this many seconds (and at most 10) to connect, unless the DSN sets ``connect_timeout``.
    application_name : str
        Shown in ``pg_stat_activity`` unless the DSN sets one.

    Raises
    ------
    error
        psycopg missing or the DSN malformed.
    """

    def __init__(self, dsn: str, *, error: type[Exception], setting: str, what: str, timeout: float = 30.0,
                 application_name: str = "quant"):
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:  # pragma: no cover - the test extra installs it
            raise error(f"{setting} asks for PostgreSQL but psycopg is not installed: "
                        "pip install 'quant-workspace[postgres]'") from None
        self._dsn = dsn
        self._error = error
        self.what = what
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise error(f"{setting} is not a valid PostgreSQL connection string or URI: "
                        f"{redact_dsn(str(exc).strip(), password_in(dsn))}") from None
        self.password = params.get("password")
        self.location = describe_dsn(params)
        self._connect_args: dict[str, Any] = {}
        if "connect_timeout" not in params:
            self._connect_args["connect_timeout"] = max(1, int(min(timeout, 10)))
        if "application_name" not in params:
            self._connect_args["application_name"] = application_name

    def __repr__(self) -> str:
        return f"PgDatabase({self.location!r})"

    def redact(self, text: str) -> str:
        """``text`` (e.g. a driver message) on one line, with this DSN's password and any other redacted."""
        return redact_dsn(" ".join(str(text).split()), self.password)

    def connect(self, autocommit: bool = False) -> PgConnection:
        """A fresh connection (rows as :class:`Row`); the caller closes it.

        Raises
        ------
        error
            When the server cannot be reached or refuses (password redacted).
        """
        import psycopg

        try:
            raw = psycopg.connect(self._dsn, autocommit=autocommit, row_factory=row_factory, **self._connect_args)
        except psycopg.Error as exc:
            raise self._error(f"cannot connect to the PostgreSQL {self.what} {self.location}: "
                              f"{self.redact(exc)}") from None
        return PgConnection(raw)
