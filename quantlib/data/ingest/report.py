"""What :func:`~quantlib.data.ingest.ingest` reports: per-file status, row counts, problems.

Also home of :class:`UnusableFile`, the one exception that turns a whole file into an
``"unusable"`` entry of the report: the readers raise it, and so does the column renaming
of :mod:`~quantlib.data.ingest.mapping`, so it lives here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from quantlib.errors import QuantError, RejectReason

# File statuses in the report and the manifest.
LOADED = "loaded"
ALREADY = "already ingested"
UNUSABLE = "unusable"
SKIPPED = "skipped"

# Rows of one file whose problems the report keeps; all of them are in the rejects table.
MAX_PROBLEMS_PER_FILE = 1000


class UnusableFile(QuantError):
    """The whole file cannot be used; the message is one line without the file name."""


@dataclass
class Problem:
    """One problem, as one line of text naming file, line and field.

    ``code`` says why a row was rejected (the ``reason_code`` of its rejects row); it is
    None for file-level problems (an unusable or skipped file).
    """

    file: str
    message: str
    line: int | None = None
    field: str | None = None
    code: RejectReason | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class FileReport:
    """What happened to one source file.

    ``status`` is ``"loaded"`` (read; rows accepted and/or rejected),
    ``"already ingested"`` (same sha256 loaded before), ``"unusable"`` (the file
    as a whole could not be read; see ``problems``) or ``"skipped"`` (no table
    matches its name).
    """

    file: str
    table: str | None
    status: str
    sha256: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Problems found; may exceed len(problems), which is capped (the rejects table has all).
    problems_total: int = 0


@dataclass
class IngestReport:
    """The result of :func:`~quantlib.data.ingest.ingest`: one :class:`FileReport` per source file."""

    src_dir: Path
    lake: Path
    ingested_at: pd.Timestamp
    mapping: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def unusable(self) -> list[FileReport]:
        return [f for f in self.files if f.status == UNUSABLE]

    @property
    def ok(self) -> bool:
        """True when no file was unusable (rejected rows do not count)."""
        return not self.unusable

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def problems(self) -> list[Problem]:
        return [p for f in self.files for p in f.problems]

    def file(self, name: str) -> FileReport:
        """The report of the source file called ``name`` (relative path or file name)."""
        for f in self.files:
            if f.file == name or Path(f.file).name == name:
                return f
        raise KeyError(name)
