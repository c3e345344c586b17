"""Run history: one SQLite row per attempt of a scheduled run.

SQLite from the standard library is enough here: one small file (``reports/.history.sqlite``
by default), safe to write from several processes at once (WAL journal plus a busy timeout),
and readable with any SQLite tool. Nothing secret is ever stored: errors are cut to one line
and passed through :func:`redact` first.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from quantlib.errors import RunStatus
from quantlib.publish.secrets import SECRET_ENV_NAMES  # one list for kernels, logs and history

__all__ = [
    "RunHistory",
    "RunRecord",
    "STATUSES",
    "parameters_hash",
    "one_line",
    "redact",
    "secret_values",
]

#: The statuses a history row can hold (a dry run is never recorded).
STATUSES = tuple(s for s in RunStatus if s is not RunStatus.DRY_RUN)


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
    outputs         TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS runs_job_company ON runs (job, company, scheduled_for);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _iso(when: datetime) -> str:
    # Stored in UTC so text comparison orders times correctly across time zones.
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def parameters_hash(values: Mapping[str, Any]) -> str:
    """A stable short hash of a parameter set (key order does not matter)."""
    blob = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def secret_values(extra_env_names: Iterable[str] = (), env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the secret environment variables that are set (longest first)."""
    env = os.environ if env is None else env
    names = {*SECRET_ENV_NAMES, *extra_env_names}
    # Every Slack webhook variable is a secret, whatever job names it.
    names |= {k for k in env if k.startswith("QUANT_SLACK_WEBHOOK")}
    values = {env[n] for n in names if env.get(n)}
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

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> "RunRecord":
        data = dict(row)
        data["outputs"] = json.loads(data["outputs"] or "{}")
        data["status"] = RunStatus(data["status"])
        return cls(**data)


class RunHistory:
    """The run-history database.

    Parameters
    ----------
    path : path-like
        The SQLite file; created (with its folder) on first use.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # A fresh connection per call: cheap, and safe across threads and forked workers.
        con = sqlite3.connect(self.path, timeout=30)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout = 30000")
        con.execute("PRAGMA journal_mode = WAL")
        return con

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
    ) -> int:
        """Record that an attempt started; returns the row id."""
        with closing(self._connect()) as con, con:
            cur = con.execute(
                "INSERT INTO runs (run_id, job, company, parameters_hash, scheduled_for, started, status, attempt)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, job, company, parameters_hash, _iso(scheduled_for), _now(), RunStatus(status).value, attempt),
            )
            return int(cur.lastrowid)

    def finish(
        self,
        row_id: int,
        status: RunStatus,
        *,
        error: BaseException | str | None = None,
        outputs: Mapping[str, str] | None = None,
    ) -> None:
        """Record how an attempt ended (usually ``SUCCESS``, ``FAILED``, ``RETRYING`` or ``SKIPPED``).

        A plain string with the same value is accepted (``"success"``).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with closing(self._connect()) as con, con:
            con.execute(
                "UPDATE runs SET status = ?, finished = ?, error = ?, outputs = ? WHERE id = ?",
                (
                    RunStatus(status).value,
                    _now(),
                    None if error is None else one_line(error),
                    json.dumps(dict(outputs or {}), sort_keys=True),
                    row_id,
                ),
            )

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
        with closing(self._connect()) as con:
            return [RunRecord._from_row(r) for r in con.execute(sql, args)]

    def last_scheduled_for(self, job: str, company: str) -> datetime | None:
        """The latest scheduled time any attempt was recorded for (``None`` if never run).

        Skipped attempts (another run held the lock) do not count: the run that held the
        lock records its own row.
        """
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT MAX(scheduled_for) FROM runs WHERE job = ? AND company = ? AND status != ?",
                (job, company, RunStatus.SKIPPED.value),
            ).fetchone()
        return None if row[0] is None else datetime.fromisoformat(row[0])

    def last_success(self, job: str, company: str) -> RunRecord | None:
        """The most recent successful run of a job for a company."""
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT * FROM runs WHERE job = ? AND company = ? AND status = ? ORDER BY id DESC LIMIT 1",
                (job, company, RunStatus.SUCCESS.value),
            ).fetchone()
        return None if row is None else RunRecord._from_row(row)
