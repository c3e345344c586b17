"""Backup and restore of a workspace: the lake, gold, the run and alert history, comments, reports.

A snapshot is one folder ``quant-snapshot-<UTC time>`` under the destination:

.. code-block:: text

    quant-snapshot-20261207T021500Z/
      MANIFEST.json        what was copied: each file's path, size and SHA-256, where it came from
      lake/                bronze (with its manifest), silver (with the rejects), gold.duckdb
      reports/             published reports, .history.sqlite (runs), .ops.sqlite (alerts,
                           predictions, work orders), .annotations.sqlite (comments)

SQLite databases are copied with SQLite's online backup (a consistent copy even while the
scheduler or an app writes); every other file byte for byte. Locks, temporary files, logs and
SQLite's ``-wal`` / ``-shm`` side files are not workspace data and stay out. :func:`restore`
checks every checksum first, copies into an empty workspace and checks the copies again, so a
restored file is byte-identical to the snapshot's; a damaged snapshot is refused naming the
file. Restoring copies, it does not rebuild.

Destinations are local folders (a mounted volume or network share included); object storage
(``s3://``) is not supported yet and is refused with that message.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from quantlib.errors import QuantError

__all__ = ["MANIFEST", "BackupError", "Snapshot", "backup", "restore", "verify"]

MANIFEST = "MANIFEST.json"
FORMAT = 1
#: Folder and file names under the reports folder that are not workspace data.
_SKIPPED_NAMES = {".locks", ".tmp", ".logs", "__pycache__"}
_SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal", ".lock")
_SQLITE_SUFFIX = ".sqlite"
_CHUNK = 1 << 20


class BackupError(QuantError, RuntimeError):
    """A backup or restore cannot proceed; the message names the file or folder and why."""


@dataclass(frozen=True)
class Snapshot:
    """A written (or read) snapshot: its folder and manifest."""

    path: Path
    manifest: dict

    @property
    def files(self) -> list[dict]:
        return self.manifest["files"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _local(destination: str | Path) -> Path:
    text = str(destination)
    if "://" in text:
        raise BackupError(f"{text}: only folders are supported as backup destinations yet (object storage such "
                          "as s3:// is not)")
    return Path(text)


def _workspace_files(root: Path) -> list[Path]:
    """The files under ``root`` that are workspace data, sorted."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_NAMES)
        for name in sorted(names):
            if name.endswith(_SKIPPED_SUFFIXES):
                continue
            found.append(Path(folder) / name)
    return found


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API, read-only on the source)."""
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def backup(lake: str | Path, destination: str | Path, reports: str | Path | None = None,
           now: datetime | None = None) -> Snapshot:
    """Snapshot ``lake`` (and ``reports``) into a new folder under ``destination``.

    Parameters
    ----------
    lake : path
        The lake root (``bronze/``, ``silver/``, ``gold.duckdb``).
    destination : path
        A folder (created when missing); the snapshot is a new folder inside it.
    reports : path, optional
        The reports folder with the run history, operational store and comments; None leaves
        them out (the manifest says so).
    now : datetime, optional
        The snapshot's time (default: now, UTC); it names the folder.

    Raises
    ------
    BackupError
        The lake has no gold database or bronze folder, the destination is object storage,
        or a snapshot of that second exists already.
    """
    lake = Path(lake)
    if not (lake / "gold.duckdb").is_file() or not (lake / "bronze").is_dir():
        raise BackupError(f"{lake}: not a lake (no gold.duckdb and bronze/); build one with 'quant warehouse build'")
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    target = _local(destination) / f"quant-snapshot-{now:%Y%m%dT%H%M%SZ}"
    try:
        target.mkdir(parents=True)
    except FileExistsError:
        raise BackupError(f"{target}: a snapshot of this second exists already") from None
    parts = {"lake": lake}
    if reports is not None and Path(reports).is_dir():
        parts["reports"] = Path(reports)
    files = []
    try:
        for part, root in parts.items():
            for source in _workspace_files(root):
                relative = Path(part) / source.relative_to(root)
                copy = target / relative
                copy.parent.mkdir(parents=True, exist_ok=True)
                if source.suffix == _SQLITE_SUFFIX:
                    _copy_sqlite(source, copy)
                else:
                    shutil.copyfile(source, copy)
                files.append({"path": relative.as_posix(), "size": copy.stat().st_size, "sha256": _sha256(copy)})
    except Exception:
        shutil.rmtree(target, ignore_errors=True)  # no half snapshot left behind
        raise
    from quantlib import __version__

    manifest = {"format": FORMAT, "created_at": now.isoformat(), "quant_version": __version__,
                "sources": {part: str(root.resolve()) for part, root in parts.items()},
                "files": files}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return Snapshot(target, manifest)


def _read(snapshot: str | Path) -> Snapshot:
    path = _local(snapshot)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path}: not a snapshot (no {MANIFEST})") from None
    except json.JSONDecodeError as problem:
        raise BackupError(f"{path / MANIFEST}: damaged ({problem})") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), list):
        raise BackupError(f"{path / MANIFEST}: not a snapshot manifest of format {FORMAT}")
    return Snapshot(path, manifest)


def verify(snapshot: str | Path) -> Snapshot:
    """Re-read every file of ``snapshot`` against its size and SHA-256 in the manifest.

    Raises
    ------
    BackupError
        A file is missing or differs; the message names the first such file.
    """
    snap = _read(snapshot)
    for entry in snap.files:
        path = snap.path / entry["path"]
        parts = Path(entry["path"]).parts
        if ".." in parts or Path(entry["path"]).is_absolute() or not parts or parts[0] not in ("lake", "reports"):
            raise BackupError(f"{snap.path / MANIFEST}: file path {entry['path']!r} is not under lake/ or reports/")
        if not path.is_file():
            raise BackupError(f"{path}: missing from the snapshot")
        if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{path}: checksum mismatch (the snapshot is damaged; restore refused)")
    return snap


def restore(snapshot: str | Path, lake: str | Path, reports: str | Path | None = None) -> Snapshot:
    """Copy a verified snapshot into an empty workspace: the lake into ``lake``, the reports folder
    into ``reports`` (default a ``reports`` folder beside ``lake``).

    Raises
    ------
    BackupError
        The snapshot is damaged (:func:`verify`), or ``lake`` / ``reports`` exists and is not empty.
    """
    snap = verify(snapshot)
    lake = Path(lake)
    reports = Path(reports) if reports is not None else lake.parent / "reports"
    targets = {"lake": lake, "reports": reports}
    for part, folder in targets.items():
        if any(entry["path"].startswith(f"{part}/") for entry in snap.files) and folder.exists() \
                and any(folder.iterdir()):
            raise BackupError(f"{folder}: not empty; restore into a new, empty folder")
    for entry in snap.files:
        part, _, rest = entry["path"].partition("/")
        target = targets[part] / rest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snap.path / entry["path"], target)
        if _sha256(target) != entry["sha256"]:
            raise BackupError(f"{target}: the restored copy differs from the snapshot (disk error?)")
    return snap
