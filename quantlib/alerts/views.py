"""Report tables of the alerts in the operational store, read-only.

Reports (the daily ``risk_alerts`` notebook, the monthly review) show alert state; they never
change it. These views open the SQLite file in read-only mode (``mode=ro``) and a PostgreSQL
store in read-only transactions, so a report can neither write a row nor create or migrate a
store: a store that does not exist yet reads as "no alerts".

>>> table = open_alerts_table()                       # doctest: +SKIP
>>> open_alerts_text(table)                           # doctest: +SKIP
'2 open alerts: 1 critical, 1 warning.'
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib.data.opstore import OPS_DSN_ENV, OpsStoreError, PostgresOpsStore, default_ops_path, iso_utc
from quantlib.errors import AlertLevel, AlertState
from quantlib.views.tables import table_view, with_formats

__all__ = ["HISTORY_EVENTS", "LEVEL_ORDER", "NO_OPEN_ALERTS", "alert_history_summary", "message_without_level",
           "open_alerts", "open_alerts_by_level", "open_alerts_table", "open_alerts_text", "read_only_store",
           "store_path", "store_target"]

#: Most severe first: the order of every table here.
LEVEL_ORDER = (AlertLevel.CRITICAL.value, AlertLevel.WARNING.value, AlertLevel.INFO.value)
#: What an empty open-alerts table says, plainly.
NO_OPEN_ALERTS = "No open alerts."
#: The history events counted by :func:`alert_history_summary`, with their column names.
HISTORY_EVENTS = {"opened": "opened", "acknowledged": "acknowledged", "escalated": "escalated",
                  "resolved": "resolved"}

_OPEN_COLUMNS = ["id", "level", "category", "rule", "subject", "message", "state", "first_seen", "last_seen",
                 "count"]


def store_target(store=None, env: Mapping[str, str] | None = None) -> "Path | PostgresOpsStore":
    """Where the alerts are read: the store asked for, never another.

    ``store`` (an :class:`~quantlib.data.opstore.OpsStore`, a
    :class:`~quantlib.data.opstore.PostgresOpsStore` or a SQLite path), else the PostgreSQL
    database of ``$QUANT_OPS_DSN``, else the SQLite file ``$QUANT_OPS_DB``, else
    ``reports/.ops.sqlite`` (the order of :func:`~quantlib.data.opstore.open_ops_store`).

    Returns
    -------
    Path or PostgresOpsStore
        A SQLite file (it may not exist yet), or a PostgreSQL store not connected and never
        migrated by these views.
    """
    if isinstance(store, PostgresOpsStore):
        return PostgresOpsStore(store._dsn, timeout=store.timeout, migrate=False)
    if store is None:
        environ = os.environ if env is None else env
        if environ.get(OPS_DSN_ENV):
            return PostgresOpsStore(environ[OPS_DSN_ENV], migrate=False)
        return default_ops_path(env=env)
    return Path(getattr(store, "path", store))


def store_path(store=None, env: Mapping[str, str] | None = None) -> Path:
    """The SQLite file of :func:`store_target`; :class:`~quantlib.data.opstore.OpsStoreError`
    when the store is a PostgreSQL database (it has no file)."""
    target = store_target(store, env)
    if isinstance(target, PostgresOpsStore):
        raise OpsStoreError(f"the operational store is the PostgreSQL database {target.location}, not a file")
    return target


@contextmanager
def read_only_store(store=None, env: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A read-only connection to the operational store, or ``None`` when it has no alerts table yet.

    Parameters
    ----------
    store : OpsStore, PostgresOpsStore or path, optional
        Default as :func:`store_target`: ``$QUANT_OPS_DSN``, ``$QUANT_OPS_DB``, ``reports/.ops.sqlite``.
    env : mapping, optional
        Where those variables are read (default ``os.environ``).

    Notes
    -----
    SQLite is opened with ``mode=ro``; PostgreSQL with ``default_transaction_read_only``, so
    neither backend lets a report write, create or migrate anything. Rows read by column name.

    Raises
    ------
    OpsStoreError
        The PostgreSQL server cannot be reached (the message names it without the password).
    """
    target = store_target(store, env)
    if isinstance(target, PostgresOpsStore):
        with target.read_only() as con:
            yield con
        return
    if not target.is_file():
        yield None
        return
    with closing(sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)) as con:
        con.row_factory = sqlite3.Row
        has_alerts = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
                                 ).fetchone()[0]
        yield con if has_alerts else None


def _level_rank(levels: pd.Series) -> pd.Series:
    return levels.map({lvl: i for i, lvl in enumerate(LEVEL_ORDER)}).fillna(len(LEVEL_ORDER))


def open_alerts(store=None, env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every alert not resolved (open, acknowledged or snoozed), most severe first, then oldest first.

    Returns
    -------
    DataFrame
        ``id, level, category, rule, subject, message, state, first_seen, last_seen, count``
        (times as UTC timestamps); empty (same columns) without a store.
    """
    with read_only_store(store, env) as con:
        rows = [] if con is None else [dict(r) for r in con.execute(
            f"SELECT {', '.join(_OPEN_COLUMNS)} FROM alerts WHERE state != ?", (AlertState.RESOLVED.value,))]
    frame = pd.DataFrame(rows, columns=_OPEN_COLUMNS)
    for column in ("first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame = frame.assign(_rank=_level_rank(frame["level"])).sort_values(["_rank", "first_seen", "id"])
    return frame.drop(columns="_rank").reset_index(drop=True)


@table_view(formats={"first_seen": "date", "count": "int"},
            labels={"id": "Alert", "first_seen": "Since", "count": "Checks seen", "message": "What",
                    "subject": "About"})
def open_alerts_table(store=None, env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The open alerts for a report: level, category, what, about whom, state, since when, how often.

    ``message`` is the alert's message without its leading level word (the level is a column).

    ``attrs["empty_message"]`` is :data:`NO_OPEN_ALERTS` (what a report prints instead of an
    empty table).
    """
    alerts = open_alerts(store, env)
    table = alerts[["id", "level", "category", "subject", "message", "state", "first_seen", "count"]].copy()
    table["first_seen"] = table["first_seen"].dt.tz_localize(None)
    # The engine's messages start with the level in capitals ("WARNING Late jobs..."): the
    # table has a level column, so the message reads from the rule's title on.
    table["message"] = [message_without_level(m, lvl) for m, lvl in zip(table["message"], table["level"])]
    table.attrs["empty_message"] = NO_OPEN_ALERTS
    return table


def message_without_level(message: str, level: str) -> str:
    """An alert message without the leading level word the engine writes (``"WARNING "``)."""
    prefix = f"{str(level).upper()} "
    return message[len(prefix):] if str(message).startswith(prefix) else message


def open_alerts_by_level(store=None, env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Open alerts counted by level (critical, warning, info; every level a row, zero included).

    Columns: ``level, open, acknowledged, snoozed, total``.
    """
    alerts = open_alerts(store, env)
    states = [AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value]
    counts = pd.crosstab(alerts["level"], alerts["state"]) if len(alerts) else pd.DataFrame()
    counts = counts.reindex(index=list(LEVEL_ORDER), columns=states, fill_value=0)
    table = counts.rename_axis(index="level", columns=None).reset_index()
    table["total"] = table[states].sum(axis=1)
    return with_formats(table, {c: "int" for c in [*states, "total"]},
                        {"open": "Not acknowledged", "total": "All open"})


def open_alerts_text(table: pd.DataFrame) -> str:
    """One sentence: ``"No open alerts."`` or ``"3 open alerts: 1 critical, 2 warning."``."""
    if table.empty:
        return NO_OPEN_ALERTS
    counts = table["level"].value_counts()
    parts = [f"{counts[lvl]} {lvl}" for lvl in LEVEL_ORDER if counts.get(lvl, 0)]
    n = len(table)
    return f"{n} open alert{'s' if n != 1 else ''}: {', '.join(parts)}."


def alert_history_summary(store=None, days: int = 30, now: datetime | None = None,
                          env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """What happened to alerts in the last ``days`` days, by category: opened, acknowledged, escalated, resolved.

    Counted from ``alert_history`` (one alert counts once per event kind), with the alerts of
    each category still open now.

    Parameters
    ----------
    days : int
        The window, ending at ``now``.
    now : datetime, optional
        Default the system clock (alert times are wall-clock times).

    Returns
    -------
    DataFrame
        ``category, opened, acknowledged, escalated, resolved, still_open``, one row per category
        with any of them, categories in alphabetical order; ``attrs["since"]`` is the window's start.
    """
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    columns = ["category", *HISTORY_EVENTS.values(), "still_open"]
    with read_only_store(store, env) as con:
        rows = [] if con is None else [dict(r) for r in con.execute(
            "SELECT a.category, h.event, count(DISTINCT h.alert_id) AS n FROM alert_history h"
            " JOIN alerts a ON a.id = h.alert_id WHERE h.at >= ? AND h.at <= ? GROUP BY 1, 2",
            (iso_utc(since), iso_utc(now)))]
        still = [] if con is None else [dict(r) for r in con.execute(
            "SELECT category, count(*) AS n FROM alerts WHERE state != ? GROUP BY 1",
            (AlertState.RESOLVED.value,))]
    events = pd.DataFrame(rows, columns=["category", "event", "n"])
    events = events[events["event"].isin(list(HISTORY_EVENTS))]
    table = events.pivot_table(index="category", columns="event", values="n", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=list(HISTORY_EVENTS), fill_value=0).rename(columns=HISTORY_EVENTS)
    open_now = pd.DataFrame(still, columns=["category", "n"]).set_index("category")["n"]
    table = table.reindex(table.index.union(open_now.index), fill_value=0)
    table["still_open"] = open_now.reindex(table.index, fill_value=0)
    table = table.rename_axis(index="category", columns=None).reset_index()[columns]
    table[columns[1:]] = table[columns[1:]].astype(int)
    table = table.sort_values("category").reset_index(drop=True)
    table.attrs["since"] = since
    return with_formats(table, {c: "int" for c in columns[1:]}, {"still_open": "Open now"})
