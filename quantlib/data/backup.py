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

Destinations, snapshots and the lake may be local folders (a mounted volume or network share
included) or object storage prefixes (``s3://bucket/prefix``, :mod:`quantlib.data.storage`). On
object storage a snapshot's files are streamed up and hashed on the way (the digest is of the
bytes sent, the stored size is checked); ``MANIFEST.json`` is written last, so a snapshot cut
short has none and is refused as "not a snapshot".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from quantlib.data.storage import ObjectPath, StorageError, as_location
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
    """A written (or read) snapshot: its folder (a ``Path``, or an ``ObjectPath`` on object storage) and manifest."""

    path: Path | ObjectPath
    manifest: dict

    @property
    def files(self) -> list[dict]:
        return self.manifest["files"]


def _sha256(path: Path | ObjectPath) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _location(text: str | Path | ObjectPath) -> Path | ObjectPath:
    """A local folder or an object storage prefix; an unusable URL is a :class:`BackupError`."""
    try:
        return as_location(text)
    except StorageError as problem:
        raise BackupError(str(problem)) from None


def _workspace_files(root: Path | ObjectPath) -> list[Path | ObjectPath]:
    """The files under ``root`` that are workspace data, sorted."""
    if isinstance(root, ObjectPath):
        return [path for path in root.files()
                if not any(part in _SKIPPED_NAMES for part in path.relative_to(root).parts[:-1])
                and not path.name.endswith(_SKIPPED_SUFFIXES)]
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


def _stream(source: Path | ObjectPath, target: Path | ObjectPath) -> tuple[int, str]:
    """Copy ``source`` to ``target`` chunk by chunk; the size and SHA-256 of the bytes written."""
    digest, size = hashlib.sha256(), 0
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    stored = target.stat().st_size
    if stored != size:
        raise BackupError(f"{target}: {stored} bytes stored of {size} written")
    return size, digest.hexdigest()


def _copy(source: Path | ObjectPath, target: Path | ObjectPath) -> tuple[int, str]:
    """Copy one workspace file; the size and SHA-256 of the copy.

    A local SQLite database goes through the online backup (into a local temporary file first
    when the target is object storage); anything else is copied byte for byte.
    """
    local = isinstance(target, Path)
    if local:
        target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path) and source.suffix == _SQLITE_SUFFIX:
        if local:
            _copy_sqlite(source, target)
            return target.stat().st_size, _sha256(target)
        with tempfile.TemporaryDirectory(prefix="quant-backup-") as folder:
            copy = Path(folder) / source.name
            _copy_sqlite(source, copy)
            return _stream(copy, target)
    if local and isinstance(source, Path):
        shutil.copyfile(source, target)
        return target.stat().st_size, _sha256(target)
    return _stream(source, target)


def _remove(target: Path | ObjectPath) -> None:
    if isinstance(target, ObjectPath):
        target.rmtree()
    else:
        shutil.rmtree(target, ignore_errors=True)


def backup(lake: str | Path, destination: str | Path, reports: str | Path | None = None,
           now: datetime | None = None) -> Snapshot:
    """Snapshot ``lake`` (and ``reports``) into a new folder under ``destination``.

    Parameters
    ----------
    lake : path or URL
        The lake root (``bronze/``, ``silver/``, ``gold.duckdb``), a folder or ``s3://bucket/prefix``.
    destination : path or URL
        A folder (created when missing) or ``s3://bucket/prefix``; the snapshot is a new folder
        (prefix) inside it.
    reports : path, optional
        The reports folder with the run history, operational store and comments; None leaves
        them out (the manifest says so).
    now : datetime, optional
        The snapshot's time (default: now, UTC); it names the folder.

    Raises
    ------
    BackupError
        The lake has no gold database or bronze folder, the destination is not a folder or an
        ``s3://`` prefix, or a snapshot of that second exists already.
    """
    lake = _location(lake)
    if not (lake / "gold.duckdb").is_file() or not (lake / "bronze").is_dir():
        raise BackupError(f"{lake}: not a lake (no gold.duckdb and bronze/); build one with 'quant warehouse build'")
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    target = _location(destination) / f"quant-snapshot-{now:%Y%m%dT%H%M%SZ}"
    try:
        if isinstance(target, ObjectPath) and target.exists():
            raise FileExistsError(str(target))
        target.mkdir(parents=True)
    except FileExistsError:
        raise BackupError(f"{target}: a snapshot of this second exists already") from None
    parts = {"lake": lake}
    if reports is not None and _location(reports).is_dir():
        parts["reports"] = _location(reports)
    files = []
    try:
        for part, root in parts.items():
            for source in _workspace_files(root):
                relative = PurePosixPath(part) / source.relative_to(root).as_posix()
                size, digest = _copy(source, target / relative.as_posix())
                files.append({"path": relative.as_posix(), "size": size, "sha256": digest})
    except Exception:
        _remove(target)  # no half snapshot left behind
        raise
    from quantlib import __version__

    manifest = {"format": FORMAT, "created_at": now.isoformat(), "quant_version": __version__,
                "sources": {part: str(root.resolve()) for part, root in parts.items()},
                "files": files}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return Snapshot(target, manifest)


def _read(snapshot: str | Path | ObjectPath) -> Snapshot:
    path = _location(snapshot)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path}: not a snapshot (no {MANIFEST})") from None
    except json.JSONDecodeError as problem:
        raise BackupError(f"{path / MANIFEST}: damaged ({problem})") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), list):
        raise BackupError(f"{path / MANIFEST}: not a snapshot manifest of format {FORMAT}")
    return Snapshot(path, manifest)


def verify(snapshot: str | Path | ObjectPath) -> Snapshot:
    """Re-read every file of ``snapshot`` against its size and SHA-256 in the manifest.

    Raises
    ------
    BackupError
        A file is missing or differs; the message names the first such file.
    """
    snap = _read(snapshot)
    for entry in snap.files:
        relative = PurePosixPath(entry["path"])
        parts = relative.parts
        if ".." in parts or relative.is_absolute() or not parts or parts[0] not in ("lake", "reports"):
            raise BackupError(f"{snap.path / MANIFEST}: file path {entry['path']!r} is not under lake/ or reports/")
    if isinstance(snap.path, ObjectPath):
        # One listing gives every size; the objects are read four at a time (each read is a
        # round trip), and the first damaged file in manifest order is the one named.
        sizes = snap.path.sizes()
        for entry in snap.files:
            path = snap.path / entry["path"]
            if path not in sizes:
                raise BackupError(f"{path}: missing from the snapshot")
        with ThreadPoolExecutor(max_workers=4) as pool:
            digests = list(pool.map(lambda entry: _sha256(snap.path / entry["path"]), snap.files))
        for entry, digest in zip(snap.files, digests):
            path = snap.path / entry["path"]
            if sizes[path] != entry["size"] or digest != entry["sha256"]:
                raise BackupError(f"{path}: checksum mismatch (the snapshot is damaged; restore refused)")
        return snap
    for entry in snap.files:
        path = snap.path / entry["path"]
        if not path.is_file():
            raise BackupError(f"{path}: missing from the snapshot")
        if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{path}: checksum mismatch (the snapshot is damaged; restore refused)")
    return snap


def restore(snapshot: str | Path | ObjectPath, lake: str | Path | ObjectPath,
            reports: str | Path | ObjectPath | None = None) -> Snapshot:
    """Copy a verified snapshot into an empty workspace: the lake into ``lake``, the reports folder
    into ``reports`` (default a ``reports`` folder beside ``lake``).

    Raises
    ------
    BackupError
        The snapshot is damaged (:func:`verify`), or ``lake`` / ``reports`` exists and is not empty.
    """
    snap = verify(snapshot)
    lake = _location(lake)
    reports = _location(reports) if reports is not None else lake.parent / "reports"
    targets = {"lake": lake, "reports": reports}
    for part, folder in targets.items():
        if any(entry["path"].startswith(f"{part}/") for entry in snap.files) and folder.exists() \
                and any(folder.iterdir()):
            raise BackupError(f"{folder}: not empty; restore into a new, empty folder")

    def copy(entry: dict) -> None:
        part, _, rest = entry["path"].partition("/")
        target = targets[part] / rest
        source = snap.path / entry["path"]
        if isinstance(source, Path) and isinstance(target, Path):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        else:
            _stream(source, target)
        if _sha256(target) != entry["sha256"]:
            raise BackupError(f"{target}: the restored copy differs from the snapshot (disk error?)")

    local = all(isinstance(place, Path) for place in (snap.path, lake, reports))
    # Object storage: four files at a time (each a round trip); the first failure is raised.
    with ThreadPoolExecutor(max_workers=1 if local else 4) as pool:
        list(pool.map(copy, snap.files))
    return snap
