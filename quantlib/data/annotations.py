"""Comments and annotations on dashboards, charts and data points: a small SQLite database.

Managers comment on what they see ("December's dip: two technicians off sick"), on a whole
dashboard, on one chart or on one point of a chart, and resolve the comment when it is dealt
with. The comments live next to the run history (``reports/.annotations.sqlite``, or
``$QUANT_ANNOTATIONS_DB``) and are shown in the apps (a comments panel), in reports
(:func:`quantlib.views.annotations.annotations_table`, markers on charts) and by the read API.

A *target* names what is commented on: ``dashboard:<name>``, ``chart:<dashboard>/<chart>`` or
``report:<notebook>``; a comment on a data point also carries the point (``point_x``, and
``point_series`` when the chart has several). Text and author are stored as typed; whatever
shows them escapes them.

>>> store = AnnotationStore("reports/.annotations.sqlite")                    # doctest: +SKIP
>>> note = store.add("chart:executive_dashboard/daily_revenue", "Storm week", "ana",
...                  point_x="2024-12-03")                                     # doctest: +SKIP
>>> store.resolve(note.id, by="ben")                                           # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from quantlib.errors import QuantError

__all__ = ["ANNOTATIONS_ENV", "Annotation", "AnnotationError", "AnnotationStore", "default_annotations_path"]

#: The variable naming the database file (default ``reports/.annotations.sqlite``).
ANNOTATIONS_ENV = "QUANT_ANNOTATIONS_DB"
TARGET = re.compile(r"^(dashboard|chart|report):[A-Za-z0-9_.\-/]{1,200}$")
MAX_TEXT, MAX_AUTHOR = 4000, 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    target       TEXT NOT NULL,
    point_x      TEXT,
    point_series TEXT,
    author       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    text         TEXT NOT NULL,
    resolved_at  TEXT,
    resolved_by  TEXT
);
CREATE INDEX IF NOT EXISTS annotations_target ON annotations (target, created_at);
"""
COLUMNS = ["id", "target", "point_x", "point_series", "author", "created_at", "text", "resolved_at", "resolved_by"]


class AnnotationError(QuantError, ValueError):
    """A comment that cannot be stored or changed as asked; the message says why."""


@dataclass(frozen=True)
class Annotation:
    """One comment (a row of ``annotations``)."""

    id: int
    target: str
    point_x: str | None
    point_series: str | None
    author: str
    created_at: str
    text: str
    resolved_at: str | None
    resolved_by: str | None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


def default_annotations_path(reports: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``$QUANT_ANNOTATIONS_DB``, else ``REPORTS/.annotations.sqlite`` (REPORTS default ``<project>/reports``)."""
    from quantlib.config import project_root

    env = os.environ if env is None else env
    if reports is None and env.get(ANNOTATIONS_ENV):
        return Path(env[ANNOTATIONS_ENV])
    return (Path(reports) if reports else project_root() / "reports") / ".annotations.sqlite"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class AnnotationStore:
    """The comments database (SQLite, created on first write).

    Parameters
    ----------
    path : path-like, optional
        Default :func:`default_annotations_path`.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_annotations_path()

    def _connect(self, write: bool) -> sqlite3.Connection:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30)
            con.executescript(_SCHEMA)
        else:
            con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        con.row_factory = sqlite3.Row
        return con

    def add(self, target: str, text: str, author: str, *, point_x=None, point_series: str | None = None,
            now: str | None = None) -> Annotation:
        """Store a comment on ``target`` (and a point of it); return it.

        Raises
        ------
        AnnotationError
            A malformed target, an empty or too long text or author.
        """
        text, author = str(text or "").strip(), str(author or "").strip()
        if not TARGET.match(str(target)):
            raise AnnotationError(f"target {target!r}: use dashboard:NAME, chart:DASHBOARD/CHART or report:NAME")
        if not text or len(text) > MAX_TEXT:
            raise AnnotationError(f"text: between 1 and {MAX_TEXT} characters, got {len(text)}")
        if not author or len(author) > MAX_AUTHOR:
            raise AnnotationError(f"author: between 1 and {MAX_AUTHOR} characters, got {len(author)}")
        x = None if point_x is None else str(point_x.date() if isinstance(point_x, pd.Timestamp) else point_x)
        with closing(self._connect(write=True)) as con, con:
            cursor = con.execute(
                "INSERT INTO annotations (target, point_x, point_series, author, created_at, text) "
                "VALUES (?, ?, ?, ?, ?, ?)", (target, x, point_series, author, now or _now(), text))
            row = con.execute("SELECT * FROM annotations WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return Annotation(**dict(row))

    def _set_resolved(self, annotation_id: int, resolved_at: str | None, by: str | None) -> Annotation:
        with closing(self._connect(write=True)) as con, con:
            row = con.execute("SELECT * FROM annotations WHERE id = ?", (int(annotation_id),)).fetchone()
            if row is None:
                raise AnnotationError(f"no comment #{annotation_id}")
            con.execute("UPDATE annotations SET resolved_at = ?, resolved_by = ? WHERE id = ?",
                        (resolved_at, by, int(annotation_id)))
            row = con.execute("SELECT * FROM annotations WHERE id = ?", (int(annotation_id),)).fetchone()
        return Annotation(**dict(row))

    def resolve(self, annotation_id: int, by: str, now: str | None = None) -> Annotation:
        """Mark comment ``annotation_id`` resolved by ``by``."""
        if not str(by or "").strip():
            raise AnnotationError("by: who resolves the comment")
        return self._set_resolved(annotation_id, now or _now(), str(by).strip()[:MAX_AUTHOR])

    def reopen(self, annotation_id: int) -> Annotation:
        """Mark comment ``annotation_id`` open again."""
        return self._set_resolved(annotation_id, None, None)

    def frame(self, target: str | None = None, prefix: bool = False, include_resolved: bool = True) -> pd.DataFrame:
        """Comments, oldest first: on ``target`` (or every target starting with it, with ``prefix``).

        Returns
        -------
        DataFrame
            :data:`COLUMNS`; ``created_at`` and ``resolved_at`` as UTC timestamps. Empty (same
            columns) when the database does not exist yet (reading never creates it).
        """
        if not self.path.is_file():
            rows = []
        else:
            sql, args = "SELECT * FROM annotations WHERE 1 = 1", []
            if target is not None:
                sql += " AND substr(target, 1, ?) = ?" if prefix else " AND target = ?"
                args += [len(target), target] if prefix else [target]
            if not include_resolved:
                sql += " AND resolved_at IS NULL"
            with closing(self._connect(write=False)) as con:
                rows = [tuple(r) for r in con.execute(sql + " ORDER BY created_at, id", args).fetchall()]
        frame = pd.DataFrame(rows, columns=COLUMNS)
        for column in ("created_at", "resolved_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame["id"] = frame["id"].astype("int64")
        return frame

    def open_comments(self, prefixes: list[str]) -> pd.DataFrame:
        """The open comments on every target starting with one of ``prefixes``, oldest first (each once)."""
        frames = [self.frame(prefix, prefix=True, include_resolved=False) for prefix in prefixes]
        frame = pd.concat([f for f in frames if len(f)] or frames[:1] or [self.frame("none:")], ignore_index=True)
        return frame.drop_duplicates("id").sort_values(["created_at", "id"]).reset_index(drop=True)
