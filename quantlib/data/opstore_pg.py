"""The operational store on PostgreSQL (``QUANT_OPS_DSN``): the same tables, SQL and behaviour as SQLite.

:class:`PostgresOpsStore` is chosen by :func:`quantlib.data.opstore.open_ops_store` when
``QUANT_OPS_DSN`` is set. It needs psycopg 3 (the ``postgres`` extra:
``pip install 'quant-workspace[postgres]'``), imported only when such a store is opened.

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
* **Secrets stay out.** The DSN is kept private; ``repr``, :attr:`PostgresOpsStore.location` and
  every error name user, host, port and database only, and any password found in the DSN is
  redacted from driver messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from functools import lru_cache
from typing import Any

from quantlib.data.opstore import OPS_DSN_ENV, OpsStore, OpsStoreError

__all__ = ["PgConnection", "PostgresOpsStore", "Row", "describe_dsn", "qmark_to_format", "redact_dsn", "WRITE_LOCK"]

#: The ``pg_advisory_xact_lock`` key every write transaction takes first ("QUANT" in ASCII).
WRITE_LOCK = 0x5155414E54

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


def _row_factory(cursor):
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


class PostgresOpsStore(OpsStore):
    """The operational store in a PostgreSQL database.

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

    def __init__(self, dsn: str, timeout: float = 30.0):
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:  # pragma: no cover - the test extra installs it
            raise OpsStoreError(f"{OPS_DSN_ENV} asks for PostgreSQL but psycopg is not installed: "
                                "pip install 'quant-workspace[postgres]'") from None
        self.path = None
        self.timeout = timeout
        self.IntegrityError = psycopg.IntegrityError
        self._dsn = dsn
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise OpsStoreError(f"{OPS_DSN_ENV} is not a valid PostgreSQL connection string or URI: "
                                f"{redact_dsn(str(exc).strip(), _password_in(dsn))}") from None
        self._password = params.get("password")
        self._location = describe_dsn(params)
        self._connect_args: dict[str, Any] = {}
        if "connect_timeout" not in params:
            self._connect_args["connect_timeout"] = max(1, int(min(timeout, 10)))
        if "application_name" not in params:
            self._connect_args["application_name"] = "quant-ops"
        self._migrate()

    def __repr__(self) -> str:
        return f"PostgresOpsStore({self._location!r})"

    @property
    def location(self) -> str:
        """User, host, port and database as a URI without the password."""
        return self._location

    def connect(self, autocommit: bool = False) -> PgConnection:
        """A fresh connection (rows as :class:`Row`); the caller closes it.

        Raises
        ------
        OpsStoreError
            When the server cannot be reached or refuses (password redacted).
        """
        import psycopg

        try:
            raw = psycopg.connect(self._dsn, autocommit=autocommit, row_factory=_row_factory,
                                  **self._connect_args)
        except psycopg.Error as exc:
            raise OpsStoreError(f"cannot connect to the PostgreSQL operational store {self._location}: "
                                f"{redact_dsn(' '.join(str(exc).split()), self._password)}") from None
        return PgConnection(raw)

    @contextmanager
    def transaction(self, rollback: bool = False) -> Iterator[PgConnection]:
        """One write transaction, after every earlier writer's (the advisory :data:`WRITE_LOCK`).

        Commits on success, rolls back on an exception, and always rolls back when
        ``rollback`` is true (a dry run sees its own changes, nobody else ever does).

        Raises
        ------
        OpsStoreError
            When another writer holds the store longer than ``timeout``.
        """
        import psycopg

        with closing(self.connect()) as con:
            try:
                con.execute("SELECT set_config('lock_timeout', ?, true)", (f"{int(self.timeout * 1000)}ms",))
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


def _password_in(dsn: str) -> str | None:
    """The password of a DSN that could not be parsed, as far as one can be seen in it."""
    for pattern in (_URI_PASSWORD, _KV_PASSWORD):
        found = pattern.search(dsn)
        if found:
            return found.group(2).strip("'")
    return None
