"""Scheduled CRM and accounting syncs: ``parameters/sync.yaml``, ``quant sync due`` and ``quant sync status``.

The connectors' sync settings (:class:`~quantlib.connectors.base.SyncSettings`) say how often a
source should be read: ``real-time``, ``hourly`` or ``daily``. Here they become schedules:

* **Configuration, apart from code**: ``parameters/sync.yaml`` (or ``--config FILE``) may set,
  per source, ``enabled`` and a 5-field ``cron``, and a ``timezone`` for all of them::

      timezone: UTC
      sources:
        salesforce: {cron: "*/10 * * * *"}   # poll every 10 minutes instead of 5
        hubspot: {enabled: false}
        quickbooks: {cron: "30 2 * * *"}

  A source the file does not mention is enabled on its connector's default
  (:data:`FREQUENCY_CRON`): real-time is webhooks (``quant webhooks serve``) *plus* polling every
  5 minutes, so nothing is missed when a notification is lost; hourly on the hour; daily at 03:00.
* **Due**: a source is due when the most recent time its cron names (at or before now) is after
  the slot of its last scheduled run (:func:`due_syncs`), like ``quant schedule due``'s jobs. A
  source never run is due at once. A failed run counts for its slot (it is reported, and the exit
  status says so); the next slot runs again from the stored cursors, so nothing is lost.
* **Running** (:func:`run_due`): each due source in turn; a source without credentials is
  skipped with one line (not an error); one that fails is recorded and the others still run; a
  source whose previous run is still going (the scheduler's lock for that lake and source,
  :func:`~quantlib.schedule.locks.open_lock`: a file, or a PostgreSQL advisory lock when
  ``QUANT_OPS_DSN`` is set) is left to it.
* **Record**: every run (scheduled, or by hand through ``quant sync SOURCE``) is one JSON line in
  ``<lake>/sync/runs.jsonl`` (:data:`RUN_FIELDS`): when, source, objects, pages, rows accepted and
  rejected, cursors, outcome and a one-line error with every secret value of the environment
  replaced by ``***``. It sits beside the cursors, the write-back audit and the webhook log, so
  :func:`sync_status` reads one lake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import BaseModel, ConfigDict, field_validator

from quantlib.errors import QuantError
from quantlib.schedule.specs import check_timezone

__all__ = ["CONFIG_FILE", "FREQUENCY_CRON", "RUN_FIELDS", "DueSync", "SourceSchedule", "SyncOutcome",
           "SyncScheduleError", "connector_secrets", "default_config_path", "due_syncs", "load_sync_schedule",
           "read_runs", "record_run", "run_due", "run_record", "sync_status"]

#: The schedule file, under the project's ``parameters/``.
CONFIG_FILE = "sync.yaml"

#: A connector's default frequency as a cron expression.
FREQUENCY_CRON = {"real-time": "*/5 * * * *", "hourly": "0 * * * *", "daily": "0 3 * * *"}

#: The fields of one recorded sync run (``<lake>/sync/runs.jsonl``).
RUN_FIELDS = ("source", "trigger", "slot", "started", "finished", "outcome", "objects", "pages", "rows",
              "accepted", "rejected", "cursors", "error")

SUCCESS, FAILED, SKIPPED, BUSY, DUE = "success", "failed", "skipped", "busy", "due"


class SyncScheduleError(QuantError, ValueError):
    """``parameters/sync.yaml`` cannot be used: not YAML, an unknown source, an invalid cron or time zone."""


def _check_cron(value: str | None) -> str | None:
    if value is not None and (len(value.split()) != 5 or not croniter.is_valid(value)):
        raise ValueError(f"cron {value!r} is not a valid 5-field cron expression")
    return value


class _SourceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    cron: str | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        return _check_cron(value)


class _ScheduleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    sources: dict[str, _SourceEntry] = {}

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return check_timezone(value)


@dataclass(frozen=True)
class SourceSchedule:
    """When one source is synced.

    Attributes
    ----------
    source : str
        The connector's name.
    enabled : bool
        Whether ``quant sync due`` runs it.
    cron : str
        Five-field cron expression, read in ``timezone``.
    timezone : str
        IANA time zone of the cron expression.
    frequency, direction : str
        The connector's settings (``real-time`` / ``hourly`` / ``daily``; ``bidirectional`` / ``inbound``).
    configured : bool
        Whether ``parameters/sync.yaml`` set the cron (False: the default of the frequency).
    """

    source: str
    enabled: bool
    cron: str
    timezone: str
    frequency: str
    direction: str
    configured: bool = False

    def _iter(self, when: dt.datetime) -> croniter:
        zone = ZoneInfo(self.timezone)
        when = when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when
        return croniter(self.cron, when.astimezone(zone))

    def previous_slot(self, now: dt.datetime) -> dt.datetime:
        """The most recent time the cron names, at or before ``now`` (naive = UTC)."""
        return self._iter(now + dt.timedelta(microseconds=1)).get_prev(dt.datetime)

    def next_slot(self, after: dt.datetime) -> dt.datetime:
        """The first time the cron names strictly after ``after`` (naive = UTC)."""
        return self._iter(after).get_next(dt.datetime)


def default_config_path() -> Path:
    """``<project root>/parameters/sync.yaml``."""
    from quantlib.config import project_root

    return project_root() / "parameters" / CONFIG_FILE


def _connectors(connectors: Mapping[str, Callable] | None) -> Mapping[str, Callable]:
    if connectors is not None:
        return connectors
    import quantlib.connectors  # noqa: F401  (registers the CRM and accounting connectors)
    from quantlib.connectors.base import CONNECTORS

    return CONNECTORS


def load_sync_schedule(path: str | Path | None = None,
                       connectors: Mapping[str, Callable] | None = None) -> dict[str, SourceSchedule]:
    """Every connector's schedule: ``path`` (default ``parameters/sync.yaml``) over the connectors' defaults.

    Parameters
    ----------
    path : str or Path, optional
        The schedule file. The default file may be absent (every source on its default); a
        file given explicitly must exist.
    connectors : mapping, optional
        Name -> connector class (default the registered ones, :data:`~quantlib.connectors.base.CONNECTORS`).

    Returns
    -------
    dict of str to SourceSchedule
        By source name, sorted.

    Raises
    ------
    SyncScheduleError
        The file is not a valid schedule, or names a source no connector has.
    """
    from quantlib.config import load_yaml_model

    connectors = _connectors(connectors)
    given = path is not None
    path = Path(path) if given else default_config_path()
    if given or path.is_file():
        config = load_yaml_model(path, _ScheduleFile, "sync schedule", error=SyncScheduleError)
    else:
        config = _ScheduleFile()
    unknown = sorted(set(config.sources) - set(connectors))
    if unknown:
        raise SyncScheduleError(f"{path}: no connector {', '.join(map(repr, unknown))}; "
                                f"known: {', '.join(sorted(connectors))}")
    plans = {}
    for name in sorted(connectors):
        settings = connectors[name].settings
        entry = config.sources.get(name, _SourceEntry())
        default = FREQUENCY_CRON.get(settings.frequency)
        if entry.cron is None and default is None:
            raise SyncScheduleError(f"{path}: {name}'s frequency {settings.frequency!r} has no default cron; "
                                    f"set sources.{name}.cron")
        plans[name] = SourceSchedule(name, entry.enabled, entry.cron or default, config.timezone,
                                     settings.frequency, settings.direction, configured=entry.cron is not None)
    return plans


# --------------------------------------------------------------------------- the run record


def _sync_folder(lake):
    from quantlib.data.lake import Lake

    return (lake if isinstance(lake, Lake) else Lake(lake)).root / "sync"


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    when = when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when
    return when.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def connector_secrets(connector, env: Mapping[str, str]) -> list[str]:
    """The values an error line must not show: the connector's credentials and anything named like a secret."""
    from quantlib.publish.secrets import is_secret_name

    values = {env[name] for name in env if env.get(name) and (name in connector.credentials or is_secret_name(name))}
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def run_record(source: str, *, trigger: str, started: dt.datetime, finished: dt.datetime, report=None,
               error: BaseException | str | None = None, slot: dt.datetime | None = None,
               secrets: list[str] = ()) -> dict:
    """One run as :func:`record_run` stores it, from a :class:`~quantlib.connectors.base.SyncReport` or an error.

    The error is cut to one line and every value in ``secrets`` replaced by ``***``.
    """
    from quantlib.schedule.history import one_line

    pages = dict(report.pages) if report is not None else {}
    return {
        "source": source, "trigger": trigger, "slot": _iso(slot), "started": _iso(started),
        "finished": _iso(finished), "outcome": FAILED if error is not None else SUCCESS,
        "objects": list(pages), "pages": pages, "rows": dict(report.rows) if report is not None else {},
        "accepted": report.rows_accepted if report is not None else 0,
        "rejected": report.rows_rejected if report is not None else 0,
        "cursors": dict(report.cursors) if report is not None else {},
        "error": one_line(error, secrets=secrets) if error is not None else "",
    }


def record_run(lake, record: dict) -> None:
    """Append ``record`` (:data:`RUN_FIELDS`) to ``<lake>/sync/runs.jsonl``.

    A local lake's file is appended in one write and flushed to disk; on object storage (no
    append) the file is read and replaced under the lake's write lock.
    """
    from quantlib.data.lake import atomic_path
    from quantlib.data.storage import ObjectPath
    from quantlib.data.writelock import write_lock

    line = json.dumps({name: record.get(name) for name in RUN_FIELDS}, sort_keys=True) + "\n"
    path = _sync_folder(lake) / "runs.jsonl"
    if isinstance(path, ObjectPath):
        with write_lock(lake):
            before = path.read_bytes() if path.exists() else b""
            with atomic_path(path) as tmp:
                tmp.write_bytes(before + line.encode("utf-8"))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())


def read_runs(lake, source: str | None = None) -> list[dict]:
    """The recorded runs, oldest first (of ``source`` only when given)."""
    path = _sync_folder(lake) / "runs.jsonl"
    if not path.exists():
        return []
    runs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in runs if source is None or r.get("source") == source]


def _last_slot(runs: list[dict], source: str) -> dt.datetime | None:
    slots = [_parse(r["slot"]) for r in runs if r.get("source") == source and r.get("slot")]
    return max(slots) if slots else None


# --------------------------------------------------------------------------- due and run


@dataclass(frozen=True)
class DueSync:
    """A source due now: its slot (the cron time it runs for) and the slot of its last scheduled run."""

    schedule: SourceSchedule
    slot: dt.datetime
    last: dt.datetime | None


def due_syncs(schedules: Mapping[str, SourceSchedule], runs: list[dict], now: dt.datetime) -> list[DueSync]:
    """The enabled sources whose most recent cron time at or before ``now`` is after their last scheduled run."""
    due = []
    for plan in schedules.values():
        if not plan.enabled:
            continue
        slot, last = plan.previous_slot(now), _last_slot(runs, plan.source)
        if last is None or last < slot:
            due.append(DueSync(plan, slot, last))
    return due


@dataclass
class SyncOutcome:
    """What :func:`run_due` did with one due source.

    Attributes
    ----------
    source : str
    status : str
        ``success``, ``failed``, ``skipped`` (no credentials), ``busy`` (its previous run still
        holds the lock) or ``due`` (a dry run).
    line : str
        One line for people (no secret in it).
    record : dict or None
        The run recorded in ``runs.jsonl`` (None when nothing ran).
    """

    source: str
    status: str
    line: str
    record: dict | None = field(default=None)


def _lock_folder(lake) -> Path:
    from quantlib.data.storage import ObjectPath

    root = _sync_folder(lake).parent
    if isinstance(root, ObjectPath):
        return Path(tempfile.gettempdir()) / "quant-lake-locks"
    return Path(root) / "sync" / ".locks"


def _lock_name(lake, source: str) -> str:
    root = str(_sync_folder(lake).parent)
    return f"sync-{source}-{hashlib.sha256(root.encode('utf-8')).hexdigest()[:12]}"


def run_due(lake, now: dt.datetime | None = None, *, schedules: Mapping[str, SourceSchedule] | None = None,
            env: Mapping[str, str] | None = None, connectors: Mapping[str, Callable] | None = None,
            sources: list[str] | None = None, dry_run: bool = False,
            on_outcome: Callable[[SyncOutcome], None] | None = None) -> list[SyncOutcome]:
    """Sync every enabled source that is due at ``now`` into ``lake``, one after the other.

    Parameters
    ----------
    lake : Lake, str or Path
        The lake synced into (where the cursors and the run record live).
    now : datetime, optional
        The clock (default now, UTC; naive = UTC).
    schedules : mapping, optional
        :func:`load_sync_schedule`'s result (default: the project's ``parameters/sync.yaml``).
    env : mapping, optional
        Credentials and base URLs (default ``os.environ``).
    connectors : mapping, optional
        Name -> connector class (default the registered ones).
    sources : list of str, optional
        Only these sources (when due).
    dry_run : bool
        Say what is due; run nothing, record nothing.
    on_outcome : callable, optional
        Called with each :class:`SyncOutcome` as soon as it is known.

    Returns
    -------
    list of SyncOutcome
        One per due source. A failing source never stops the others: its error is recorded.
    """
    from quantlib.connectors.base import sync
    from quantlib.schedule.locks import LockError, LockTimeout, open_lock

    env = os.environ if env is None else env
    connectors = _connectors(connectors)
    schedules = load_sync_schedule(connectors=connectors) if schedules is None else schedules
    now = now or dt.datetime.now(dt.timezone.utc)
    chosen = {k: v for k, v in schedules.items() if sources is None or k in sources}
    outcomes = []

    def done(outcome: SyncOutcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    for item in due_syncs(chosen, read_runs(lake), now):
        source, slot = item.schedule.source, item.slot
        connector = connectors[source]()
        missing = connector.missing(env)
        if missing:
            done(SyncOutcome(source, SKIPPED, missing))
            continue
        if dry_run:
            last = _iso(item.last) or "never"
            done(SyncOutcome(source, DUE, f"{source}: due for {_iso(slot)} (last scheduled run {last})"))
            continue
        lock = open_lock(_lock_name(lake, source), _lock_folder(lake), env=env)
        try:
            lock.acquire(timeout=0)
        except LockTimeout:
            done(SyncOutcome(source, BUSY, f"{source}: its previous sync is still running ({lock.where}); left to it"))
            continue
        except LockError as exc:
            done(SyncOutcome(source, FAILED, f"{source}: failed: {exc}"))
            continue
        started = dt.datetime.now(dt.timezone.utc)
        try:
            report = sync(lake, source, env=env, connector=connector)
        except Exception as exc:  # noqa: BLE001 - one source failing must not stop the others; it is recorded
            record = run_record(source, trigger="due", slot=slot, started=started,
                                finished=dt.datetime.now(dt.timezone.utc), error=exc,
                                secrets=connector_secrets(connector, env))
        else:
            record = run_record(source, trigger="due", slot=slot, started=started,
                                finished=dt.datetime.now(dt.timezone.utc), report=report)
        finally:
            lock.release()
        record_run(lake, record)
        if record["outcome"] == SUCCESS:
            pages = sum(record["pages"].values())
            line = (f"{source}: synced {pages} page{'s' if pages != 1 else ''}, {record['accepted']} rows accepted, "
                    f"{record['rejected']} rejected")
        else:
            line = f"{source}: {record['error']}"
        done(SyncOutcome(source, record["outcome"], line, record))
    return outcomes


# --------------------------------------------------------------------------- status


def sync_status(lake, now: dt.datetime | None = None, *, schedules: Mapping[str, SourceSchedule] | None = None,
                env: Mapping[str, str] | None = None,
                connectors: Mapping[str, Callable] | None = None) -> list[dict]:
    """Per source: schedule, credentials, last run, next due, cursors, rejects, last write-back and webhook sync.

    Returns
    -------
    list of dict
        One per source (sorted), with ``source``, ``enabled``, ``frequency``, ``direction``,
        ``cron``, ``timezone``, ``credentials`` (``"set"`` or the line naming what is missing),
        ``last_run`` (the latest recorded run, any trigger, or None), ``next_due`` (``"now"``, an
        ISO time, or ``"disabled"``), ``cursors``, ``rejected_last_run``, ``last_write_back``
        (``{"at", "fields", "records"}`` or None) and ``last_webhook_sync`` (or None). No secret.
    """
    from quantlib.connectors.base import read_audit, read_cursors
    from quantlib.connectors.events import read_webhook_syncs

    env = os.environ if env is None else env
    connectors = _connectors(connectors)
    schedules = load_sync_schedule(connectors=connectors) if schedules is None else schedules
    now = now or dt.datetime.now(dt.timezone.utc)
    runs, cursors = read_runs(lake), read_cursors(lake)
    audit, hooks = read_audit(lake), read_webhook_syncs(lake)
    rows = []
    for name, plan in sorted(schedules.items()):
        mine = [r for r in runs if r.get("source") == name]
        last = mine[-1] if mine else None
        if not plan.enabled:
            next_due = "disabled"
        else:
            slot, last_slot = plan.previous_slot(now), _last_slot(runs, name)
            next_due = "now" if last_slot is None or last_slot < slot else _iso(plan.next_slot(now))
        written = audit[audit["source"] == name] if len(audit) else audit
        write_back = None
        if len(written):
            at = written["written_at"].max()
            batch = written[written["written_at"] == at]
            write_back = {"at": str(at), "fields": len(batch), "records": int(batch["record_id"].nunique())}
        hook = hooks[hooks["source"] == name] if len(hooks) else hooks
        rows.append({
            "source": name, "enabled": plan.enabled, "frequency": plan.frequency, "direction": plan.direction,
            "cron": plan.cron, "timezone": plan.timezone,
            "credentials": connectors[name]().missing(env) or "set",
            "last_run": last, "next_due": next_due, "cursors": dict(cursors.get(name, {})),
            "rejected_last_run": last["rejected"] if last else None, "last_write_back": write_back,
            "last_webhook_sync": hook.iloc[-1].to_dict() if len(hook) else None,
        })
    return rows
