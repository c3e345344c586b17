"""Published reports to object storage: ``quant reports push --to s3://bucket/reports``.

The reports folder is rendered locally (papermill and nbconvert write files on a disk); this
copies what it publishes, ``index.html`` and every run folder
(``<job>/<company>/<run_id>/report.html``, ``report.pdf``, ``notebook.ipynb``, ``run.json``), to
an object storage prefix, where a static website or a signed link serves them; the index links
are relative, so they work there as they do on disk.

- Only changed files are sent: a file whose object has the same size and MD5 (the ETag of a
  single-part upload) is left alone.
- Run folders go first and ``index.html`` files last, so the index never links to an object
  that is not there yet; each object appears whole when its upload completes.
- Workspace state stays out: every name starting with ``.`` (the run history, the operational
  store and comments in SQLite, locks, temporary files, logs) and SQLite side files.
- Nothing is deleted remotely: a run removed by retention locally stays on object storage
  (a bucket lifecycle rule expires old runs).

The scheduler uses the same uploader for each run it publishes when ``QUANT_REPORTS_STORAGE`` is
set (:mod:`quantlib.schedule.runner`): :func:`push_run` sends the run's folder, then
:func:`push_index` the index it rebuilt from the run history.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from quantlib.data.storage import ObjectPath, as_location
from quantlib.errors import QuantError

__all__ = ["MirrorError", "PushResult", "push_index", "push_reports", "push_run"]

_SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal", ".lock", ".tmp")
_INDEX = "index.html"


class MirrorError(QuantError, ValueError):
    """Reports cannot be pushed as asked (no reports folder, a destination that is not object storage)."""


@dataclass
class PushResult:
    """What a push did: the destination, the relative paths sent and those already there."""

    destination: ObjectPath
    sent: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def index(self) -> ObjectPath:
        return self.destination / _INDEX


def _published(reports: Path) -> list[Path]:
    """The published files under ``reports``: no dot-names at any level, no SQLite side files."""
    found = []
    for path in sorted(reports.rglob("*")):
        parts = path.relative_to(reports).parts
        if any(part.startswith(".") for part in parts) or not path.is_file() or path.name.endswith(_SKIPPED_SUFFIXES):
            continue
        found.append(path)
    return found


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # S3's ETag of a single-part upload, not a security check
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _target(destination) -> ObjectPath:
    target = as_location(destination)
    if not isinstance(target, ObjectPath):
        raise MirrorError(f"{destination}: not object storage (s3://bucket/prefix); a folder is a plain copy")
    return target


def _push(files: list[tuple[str, Path]], target: ObjectPath, listed: ObjectPath) -> PushResult:
    """Send ``files`` (relative name, local file) under ``target``, changed ones only, index pages last.

    ``listed`` is the prefix listed once to learn what is there already (``target`` or a run under it).
    """
    found = listed.fs.find(listed.path, detail=True) if listed.is_dir() else {}
    remote = {ObjectPath(f"{listed.protocol}://{name}"): info for name, info in found.items()}
    result = PushResult(target)
    pending = []
    for relative, path in files:
        info = remote.get(target / relative)
        etag = str((info or {}).get("ETag", "")).strip('"')
        if info is not None and int(info.get("size") or 0) == path.stat().st_size and etag == _md5(path):
            result.unchanged.append(relative)
        else:
            pending.append((relative, path))
    # Index pages last (deepest first, the top index at the very end): they link to the runs.
    runs = [item for item in pending if Path(item[0]).name != _INDEX]
    indexes = sorted((item for item in pending if Path(item[0]).name == _INDEX),
                     key=lambda item: -len(Path(item[0]).parts))
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda item: (target / item[0]).upload(item[1]), runs))
    for relative, path in indexes:
        (target / relative).upload(path)
    result.sent = [relative for relative, _ in runs + indexes]
    return result


def push_reports(reports: str | Path, destination: str | ObjectPath) -> PushResult:
    """Copy the published reports under ``reports`` to the object storage prefix ``destination``.

    Parameters
    ----------
    reports : path
        The reports folder (``reports/``).
    destination : str or ObjectPath
        ``s3://bucket/prefix``; endpoint and credentials from the environment
        (:mod:`quantlib.data.storage`).

    Returns
    -------
    PushResult
        The files sent and those left alone (unchanged), as paths relative to ``reports``.

    Raises
    ------
    MirrorError
        ``reports`` is not a folder or ``destination`` is not an object storage URL.
    OSError
        Object storage refused (no bucket, no access); what was sent before stays.
    """
    reports = Path(reports)
    if not reports.is_dir():
        raise MirrorError(f"{reports}: no reports folder")
    target = _target(destination)
    files = [(path.relative_to(reports).as_posix(), path) for path in _published(reports)]
    return _push(files, target, target)


def push_run(reports: str | Path, run: str, destination: str | ObjectPath) -> PushResult:
    """Copy one published run folder, ``reports/<run>`` (``job/company/run_id``), under ``destination``.

    Its files keep their place relative to ``reports`` (``<destination>/<run>/report.html`` ...);
    changed files only, as :func:`push_reports`. No index page is sent.

    Parameters
    ----------
    reports : path
        The reports folder the run was published in.
    run : str
        The run folder relative to ``reports``.
    destination : str or ObjectPath
        ``s3://bucket/prefix``.

    Returns
    -------
    PushResult

    Raises
    ------
    MirrorError
        The run folder is not there, or ``destination`` is not object storage.
    OSError
        Object storage refused (no bucket, no access).
    """
    reports = Path(reports)
    folder = reports / run
    if not folder.is_dir():
        raise MirrorError(f"{folder}: no such run folder on this machine")
    target = _target(destination)
    files = [(path.relative_to(reports).as_posix(), path) for path in _published(folder)]
    files = [(relative, path) for relative, path in files if Path(relative).name != _INDEX]
    return _push(files, target, target / run)


def push_index(index: str | Path, destination: str | ObjectPath) -> ObjectPath:
    """Upload the local index page ``index`` as ``<destination>/index.html``; return that object.

    Raises
    ------
    MirrorError
        ``destination`` is not object storage.
    OSError
        Object storage refused.
    """
    target = _target(destination) / _INDEX
    target.upload(index)
    return target
