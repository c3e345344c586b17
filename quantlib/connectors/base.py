"""One interface for CRM and accounting systems: read incrementally, land in the lake, write back.

A :class:`Connector` reads a vendor's objects (Salesforce ``Account``, QuickBooks ``Invoice`` ...)
page by page from a cursor, as rows in **the column names of the vendor's own export file** of that
object. So one shipped mapping (``parameters/mappings/<source>.yaml``) reads both the export a
company downloads (``quant ingest DIR --source salesforce``) and what the API sync fetches
(``quant sync salesforce``), and every synced page goes through the ordinary ingest: the raw page
is kept in bronze, rows are checked against the contracts, bad records go to the rejects with
their reasons, newer versions replace older ones in silver.

:func:`sync` drives it. Cursors (the newest modification stamp landed, per source and object) are
kept in the lake (``<lake>/sync/cursors.json``) and advanced only after a page is landed, so an
interrupted sync resumes where it stopped and a page is never lost (landing one twice is
harmless: bronze skips a file it already holds and silver keeps one version of a row).

A page may also carry records the vendor deleted (:attr:`Batch.deleted`): :func:`sync` takes them
out of silver and records them in ``<lake>/sync/deletions.parquet``
(:mod:`quantlib.connectors.deletions`); the raw pages stay in bronze.

Write-back (the bidirectional connectors) follows one conflict rule, **the system of record per
field**: a connector writes only the fields Quant owns (:attr:`Connector.owned_fields`, e.g. a
churn-risk score on the CRM account), never a field the vendor owns; so Quant and the vendor
never write the same field and no edit can be overwritten. Every field written is an audit row in
``<lake>/sync/audit.parquet`` (when, source, object, record, field, value before, value after).

Calls to a vendor go through :func:`call_with_retries`: rate limits (HTTP 429 with
``Retry-After``) and passing server errors (5xx) are waited out; anything else fails at once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

import pandas as pd

from quantlib.errors import QuantError

__all__ = ["AUDIT_COLUMNS", "Batch", "CONNECTORS", "Connector", "RetryableError", "SyncError", "SyncReport",
           "SyncSettings", "WriteBackRefused", "call_with_retries", "mapping_path", "read_audit", "read_cursors",
           "record_writes", "register", "retry_after", "sync"]

T = TypeVar("T")

#: The audit table of write-backs: one row per field written.
AUDIT_COLUMNS = ("written_at", "source", "object", "record_id", "field", "before", "after")


class SyncError(QuantError, RuntimeError):
    """A sync could not run or a vendor refused (a missing credential, an answer not in the documented shape)."""


class WriteBackRefused(QuantError, ValueError):
    """A write the conflict rule forbids: a push-only source, or a field the vendor owns."""


class RetryableError(QuantError, RuntimeError):
    """A call that may succeed later (rate limited, a passing server error); ``retry_after`` in seconds if told."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SyncSettings:
    """How a source is synced by default (the product specification's settings).

    Attributes
    ----------
    frequency : str
        ``"real-time"`` (webhooks, plus a sync to catch up), ``"hourly"`` or ``"daily"``.
    direction : str
        ``"bidirectional"`` (Quant also writes its owned fields back) or ``"inbound"`` (the vendor
        pushes to Quant; Quant never writes to it).
    """

    frequency: str
    direction: str

    @property
    def writes_back(self) -> bool:
        return self.direction == "bidirectional"


@dataclass(frozen=True)
class Batch:
    """One page of a vendor object, ready to land.

    Attributes
    ----------
    object : str
        The vendor object (``"Account"``).
    file_name : str
        The name the vendor's export of this object has (``"Account.csv"``): the shipped mapping
        matches it to a lake table.
    rows : pandas.DataFrame
        The records, in the columns of that export.
    cursor : str or None
        The newest modification stamp of these records (ISO 8601): the next sync starts there.
    deleted : pandas.DataFrame or None
        Records the vendor deleted (or voided), in the same columns (at least the ones the
        mapping reads the tables' keys from): :func:`sync` takes them out of silver through
        :func:`~quantlib.connectors.deletions.apply_deletions`.
    """

    object: str
    file_name: str
    rows: pd.DataFrame
    cursor: str | None
    deleted: pd.DataFrame | None = None


class Connector(ABC):
    """A CRM or accounting system. Subclasses set the class attributes and implement :meth:`read`.

    Attributes
    ----------
    name : str
        The source's name (``quant sync NAME``, ``parameters/mappings/NAME.yaml``).
    objects : tuple of str
        The vendor objects synced, in landing order (parents before children).
    settings : SyncSettings
        Default frequency and direction.
    credentials : tuple of str
        Environment variables the API needs.
    owned_fields : dict of str to tuple of str
        Per vendor object, the fields Quant is the system of record for (the only ones
        :meth:`write_back` may write).
    stamp_column : str or None
        The column of a page holding a record's modification stamp (a deleted record's deletion time).
    """

    name: ClassVar[str]
    objects: ClassVar[tuple[str, ...]]
    settings: ClassVar[SyncSettings]
    credentials: ClassVar[tuple[str, ...]] = ()
    owned_fields: ClassVar[dict[str, tuple[str, ...]]] = {}
    stamp_column: ClassVar[str | None] = None

    def missing(self, env: Mapping[str, str]) -> str | None:
        """The line saying which credentials are unset, or None when the API can be called."""
        unset = [name for name in self.credentials if not env.get(name)]
        return f"{self.name}: set {', '.join(unset)} to sync through the API" if unset else None

    @abstractmethod
    def read(self, obj: str, since: str | None, env: Mapping[str, str]) -> Iterator[Batch]:
        """Pages of ``obj`` modified after ``since`` (all when None), oldest first."""

    def write_back(self, obj: str, updates: pd.DataFrame, env: Mapping[str, str]) -> pd.DataFrame:
        """Write Quant's owned fields of ``obj`` to the vendor.

        Parameters
        ----------
        updates : pandas.DataFrame
            ``record_id`` plus one column per owned field.

        Returns
        -------
        pandas.DataFrame
            The fields written, in :data:`AUDIT_COLUMNS` (without ``written_at`` and ``source``).
        """
        raise WriteBackRefused(f"{self.name} is {self.settings.direction}: Quant never writes to it")

    def check_owned(self, obj: str, columns) -> None:
        """Refuse (:class:`WriteBackRefused`) a write to ``obj`` of a field the vendor owns."""
        if not self.settings.writes_back:
            raise WriteBackRefused(f"{self.name} is {self.settings.direction}: Quant never writes to it")
        owned = self.owned_fields.get(obj, ())
        foreign = [c for c in columns if c != "record_id" and c not in owned]
        if foreign:
            raise WriteBackRefused(f"{self.name} {obj}: {', '.join(foreign)} belong to {self.name} (the system of "
                                   f"record for them); Quant writes only {', '.join(owned) or 'nothing'}")


#: The connectors by name; each implementation module registers itself with :func:`register`.
CONNECTORS: dict[str, Callable[[], Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make ``cls`` known to :func:`sync` and ``quant sync`` under ``cls.name``."""
    CONNECTORS[cls.name] = cls
    return cls


def mapping_path(source: str) -> Path:
    """The shipped mapping of ``source``: ``parameters/mappings/<source>.yaml``."""
    from quantlib.config import project_root

    return project_root() / "parameters" / "mappings" / f"{source}.yaml"


def retry_after(headers) -> float | None:
    """Seconds a vendor's ``Retry-After`` header asks to wait (``headers``: any mapping, or None), else None.

    Only the delay-seconds form is read; an HTTP date or garbage counts as not said (the caller then
    backs off exponentially).
    """
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def scrub(text: str, secrets) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (what a vendor's error echoes)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def call_with_retries(call: Callable[[], T], *, attempts: int = 5, base_delay: float = 1.0, max_delay: float = 60.0,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``call``; wait out :class:`RetryableError` up to ``attempts`` times in all.

    The wait is the vendor's ``Retry-After`` when it said one (capped at ``max_delay``), else
    exponential: ``base_delay``, twice that, ... Any other exception is raised at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except RetryableError as exc:
            if attempt == attempts:
                raise SyncError(f"{exc} (gave up after {attempts} attempts)") from None
            wait = exc.retry_after if exc.retry_after is not None else base_delay * 2 ** (attempt - 1)
            sleep(min(max(wait, 0.0), max_delay))
    raise AssertionError("unreachable")  # pragma: no cover


def _sync_dir(lake) -> Path:
    from quantlib.data.lake import Lake

    return (lake if isinstance(lake, Lake) else Lake(lake)).root / "sync"


def read_cursors(lake) -> dict[str, dict[str, str]]:
    """``{source: {object: cursor}}`` as stored in ``<lake>/sync/cursors.json`` (empty when none)."""
    path = _sync_dir(lake) / "cursors.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _save_cursor(lake, source: str, obj: str, cursor: str) -> None:
    from quantlib.data.lake import atomic_path
    from quantlib.data.writelock import write_lock

    with write_lock(lake):  # another source's sync may be saving its cursor: read and replace in turn
        cursors = read_cursors(lake)
        cursors.setdefault(source, {})[obj] = cursor
        with atomic_path(_sync_dir(lake) / "cursors.json") as tmp:
            tmp.write_text(json.dumps(cursors, indent=1, sort_keys=True), encoding="utf-8")


def read_audit(lake) -> pd.DataFrame:
    """Every field Quant wrote to a vendor (:data:`AUDIT_COLUMNS`), oldest first."""
    path = _sync_dir(lake) / "audit.parquet"
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=list(AUDIT_COLUMNS))


def record_writes(lake, source: str, written: pd.DataFrame) -> pd.DataFrame:
    """Append ``written`` (object, record_id, field, before, after) to the audit table; returns the new rows."""
    from quantlib.data.lake import atomic_path
    from quantlib.data.writelock import write_lock

    rows = written.assign(written_at=pd.Timestamp.now(tz="UTC").tz_localize(None), source=source)
    rows = rows.astype({c: "string" for c in ("object", "record_id", "field", "before", "after")})[list(AUDIT_COLUMNS)]
    with write_lock(lake):  # two write-backs at once must not drop each other's audit rows
        audit = pd.concat([read_audit(lake).astype(rows.dtypes.to_dict()), rows], ignore_index=True)
        with atomic_path(_sync_dir(lake) / "audit.parquet") as tmp:
            audit.to_parquet(tmp, index=False)
    return rows


@dataclass
class SyncReport:
    """What :func:`sync` landed: per object, pages, rows and the ingest reports."""

    source: str
    pages: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    ingests: list = field(default_factory=list)
    #: Per object, the records the vendor deleted that this sync took out of silver.
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows_rejected for r in self.ingests)

    @property
    def rows_accepted(self) -> int:
        return sum(r.rows_accepted for r in self.ingests)


#: Rows of consecutive pages gathered into one ingest. Every ingest reads and rewrites the table's
#: silver file, so landing page by page grows quadratically with the records (a 20,000-company
#: HubSpot sync in 100-record pages took 123x the file import: benchmarks/README.md).
LANDING_ROWS = 20_000


class _Landing:
    """The pages of one object read but not landed yet; :meth:`land` ingests them as one file and then
    stores the newest cursor among them, so a cursor is never ahead of what silver holds."""

    def __init__(self, lake, source: str, obj: str, report: SyncReport):
        self.lake, self.source, self.obj, self.report = lake, source, obj, report
        self.pending: list[Batch] = []
        self.pending_rows = 0
        self.held: set[str] = set()  # the record keys of the pending pages
        self.keys: list[str] | None = None

    def _record_keys(self, batch: Batch) -> set[str]:
        found: set[str] = set()
        for column in (c for c in self.keys or () if c in batch.rows):
            values = batch.rows[column].astype("string").str.strip()
            found.update(values[values.notna() & (values != "")])
        return found

    def _joins(self, batch: Batch) -> bool:
        """Whether ``batch`` may land in the same ingest as the pending pages: the same file and columns,
        under the row limit, and no record of it already pending (in one file a repeated key is rejected;
        across ingests the later version replaces the earlier one)."""
        first = self.pending[0]
        if (batch.file_name != first.file_name or list(batch.rows.columns) != list(first.rows.columns)
                or self.pending_rows + len(batch.rows) > LANDING_ROWS):
            return False
        return bool(self.keys) and self.held.isdisjoint(self._record_keys(batch))

    def add(self, batch: Batch) -> None:
        if not len(batch.rows):
            if batch.cursor:  # a page of deletions alone: everything before it lands before its cursor is kept
                self.land()
                self._keep_cursor(batch.cursor)
            return
        if self.keys is None:
            from quantlib.connectors.deletions import record_key_columns

            self.keys = record_key_columns(mapping_path(self.source), batch.file_name, batch.rows.columns) or []
        if self.pending and not self._joins(batch):
            self.land()
        self.pending.append(batch)
        self.pending_rows += len(batch.rows)
        self.held |= self._record_keys(batch)
        self.report.pages[self.obj] += 1
        self.report.rows[self.obj] += len(batch.rows)

    def land(self) -> None:
        from quantlib.data.ingest import ingest

        taken, self.pending, self.pending_rows, self.held = self.pending, [], 0, set()
        if not taken:
            return
        name = taken[0].file_name
        with tempfile.TemporaryDirectory(prefix=f"quant-sync-{self.source}-") as folder:
            for i, batch in enumerate(taken):  # the pages share their columns (_joins): one header
                batch.rows.to_csv(Path(folder) / name, index=False, mode="a" if i else "w", header=not i)
            result = ingest(folder, self.lake, mapping=mapping_path(self.source))
        unlanded = [f for f in result.files if f.status in ("unusable", "skipped")]
        if unlanded:
            problems = "; ".join(str(p) for f in unlanded for p in f.problems[:1]) or "no table matches it"
            pages = "a page" if len(taken) == 1 else f"{len(taken)} pages"
            raise SyncError(f"{self.source} {self.obj}: {pages} ({name}) could not be landed: {problems}")
        self.report.ingests.append(result)
        cursor = next((b.cursor for b in reversed(taken) if b.cursor), None)
        if cursor:
            self._keep_cursor(cursor)

    def _keep_cursor(self, cursor: str) -> None:
        _save_cursor(self.lake, self.source, self.obj, cursor)
        self.report.cursors[self.obj] = cursor


def sync(lake, source: str, since: str | dt.datetime | None = None, env: Mapping[str, str] | None = None,
         objects: list[str] | None = None, connector: Connector | None = None) -> SyncReport:
    """Land ``source``'s objects modified since the stored cursor (or ``since``) in ``lake``.

    Parameters
    ----------
    lake : Lake, str or Path
        The lake.
    source : str
        A registered connector (:data:`CONNECTORS`).
    since : str or datetime, optional
        Read from here instead of the stored cursors (a full re-read: ``"1970-01-01"``).
    env : mapping, optional
        Where credentials and base URLs are read (default ``os.environ``).
    objects : list of str, optional
        A subset of the connector's objects.
    connector : Connector, optional
        An instance to use instead of ``CONNECTORS[source]()``.

    Raises
    ------
    SyncError
        Unknown source, a missing credential, or a vendor failure (pages landed before it stay,
        with their cursors).
    """
    env = os.environ if env is None else env
    if connector is None:
        if source not in CONNECTORS:
            raise SyncError(f"unknown source {source!r}; known: {', '.join(sorted(CONNECTORS))}")
        connector = CONNECTORS[source]()
    reason = connector.missing(env)
    if reason:
        raise SyncError(reason)
    chosen = list(connector.objects) if objects is None else objects
    unknown = [o for o in chosen if o not in connector.objects]
    if unknown:
        raise SyncError(f"{source} has no object {', '.join(unknown)}; it syncs {', '.join(connector.objects)}")
    start = since.isoformat() if isinstance(since, dt.datetime) else since
    stored = read_cursors(lake).get(source, {})
    report = SyncReport(source)
    for obj in chosen:
        report.pages[obj], report.rows[obj] = 0, 0
        landing = _Landing(lake, source, obj, report)
        try:
            for batch in connector.read(obj, start if start is not None else stored.get(obj), env):
                if batch.deleted is not None and len(batch.deleted):
                    from quantlib.connectors.deletions import apply_deletions

                    landing.land()  # what was read before the deletion lands first
                    removed = apply_deletions(lake, source, batch, connector.stamp_column)
                    report.deleted[obj] = report.deleted.get(obj, 0) + int(removed["removed"].sum())
                landing.add(batch)
            landing.land()
        except SyncError:
            landing.land()  # the pages read before a vendor failure stay landed, with their cursor
            raise
    return report
