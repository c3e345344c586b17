"""Backup and restore: a snapshot of the demo lake and a live reports folder restores byte-identical;
a damaged snapshot is refused naming the file; restore only into an empty workspace. The same on
object storage (s3://, the session's local S3 server)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from quantlib.data.backup import MANIFEST, BackupError, backup, restore, verify
from quantlib.data.storage import ObjectPath


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def workspace(demo_lake, tmp_path):
    """A copy of the demo lake and a reports folder with live SQLite databases, a report and clutter."""
    lake = tmp_path / "ws" / "lake"
    shutil.copytree(demo_lake.root, lake)
    reports = tmp_path / "ws" / "reports"
    (reports / "weekly_operations" / "2024-12-31").mkdir(parents=True)
    (reports / "weekly_operations" / "2024-12-31" / "report.html").write_text("<html>report</html>")
    history = sqlite3.connect(reports / ".history.sqlite")
    history.execute("PRAGMA journal_mode=WAL")  # as the scheduler keeps it: the -wal file is live
    history.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    history.execute("INSERT INTO runs (name) VALUES ('weekly_operations')")
    history.commit()  # left open: a backup runs while the scheduler writes
    (reports / ".locks").mkdir()
    (reports / ".locks" / "schedule.lock").write_text("pid")
    (reports / ".tmp").mkdir()
    (reports / ".tmp" / "half.html").write_text("temporary")
    yield lake, reports, history
    history.close()


def test_backup_and_restore_byte_identical(workspace, tmp_path):
    lake, reports, history = workspace
    snap = backup(lake, tmp_path / "backups", reports, now=datetime(2026, 12, 7, 2, 15, tzinfo=timezone.utc))
    assert snap.path == tmp_path / "backups" / "quant-snapshot-20261207T021500Z"
    paths = {entry["path"] for entry in snap.files}
    assert {"lake/gold.duckdb", "lake/bronze/_manifest.parquet", "reports/.history.sqlite",
            "reports/weekly_operations/2024-12-31/report.html"} <= paths
    assert any(p.startswith("lake/silver/") for p in paths)
    assert not any(".locks" in p or ".tmp" in p or p.endswith(("-wal", "-shm")) for p in paths)
    # The live database's committed row is in the copy, though it was still open in WAL mode.
    with sqlite3.connect(snap.path / "reports" / ".history.sqlite") as copy:
        assert copy.execute("SELECT name FROM runs").fetchall() == [("weekly_operations",)]
    assert json.loads((snap.path / MANIFEST).read_text())["sources"]["lake"] == str(lake.resolve())

    new_lake = tmp_path / "restored" / "lake"
    restore(snap.path, new_lake)
    for entry in snap.files:
        part, _, rest = entry["path"].partition("/")
        restored = (new_lake if part == "lake" else tmp_path / "restored" / "reports") / rest
        assert _digest(restored) == _digest(snap.path / entry["path"]) == entry["sha256"], entry["path"]
    # Every lake file is the original's, byte for byte (the lake has no live database).
    for original in lake.rglob("*"):
        if original.is_file() and not original.name.endswith(".lock"):  # the ingest's write lock is no data
            assert _digest(new_lake / original.relative_to(lake)) == _digest(original)
    assert not any(p.name.endswith(".lock") for p in new_lake.rglob("*"))
    with duckdb.connect(str(new_lake / "gold.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM job_facts").fetchone()[0] > 0


def test_a_damaged_snapshot_is_refused_naming_the_file(workspace, tmp_path):
    lake, reports, _ = workspace
    snap = backup(lake, tmp_path / "backups", reports)
    assert verify(snap.path).files == snap.files
    victim = snap.path / "lake" / "bronze" / "_manifest.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"_manifest.parquet: checksum mismatch"):
        verify(snap.path)
    with pytest.raises(BackupError, match=r"_manifest.parquet: checksum mismatch"):
        restore(snap.path, tmp_path / "new" / "lake")
    assert not (tmp_path / "new").exists()  # nothing copied from a damaged snapshot
    victim.unlink()
    with pytest.raises(BackupError, match=r"_manifest.parquet: missing from the snapshot"):
        verify(snap.path)


def test_restore_needs_an_empty_workspace_and_a_real_snapshot(workspace, tmp_path):
    lake, reports, _ = workspace
    snap = backup(lake, tmp_path / "backups", reports)
    busy = tmp_path / "busy" / "lake"
    busy.mkdir(parents=True)
    (busy / "keep.txt").write_text("do not overwrite")
    with pytest.raises(BackupError, match="not empty"):
        restore(snap.path, busy)
    assert (busy / "keep.txt").read_text() == "do not overwrite"
    with pytest.raises(BackupError, match="not a snapshot"):
        verify(tmp_path)
    with pytest.raises(BackupError, match="only s3://"):
        backup(lake, "gs://bucket/backups", reports)
    with pytest.raises(BackupError, match="not a lake"):
        backup(tmp_path / "nothing", tmp_path / "backups")
    manifest = json.loads((snap.path / MANIFEST).read_text())
    manifest["files"][0]["path"] = "../../etc/passwd"
    (snap.path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="not under lake/ or reports/"):
        verify(snap.path)


def test_the_commands(workspace, tmp_path):
    from quantlib.cli import app

    lake, reports, _ = workspace
    runner = CliRunner()
    made = runner.invoke(app, ["backup", "--lake", str(lake), "--reports", str(reports), "--to", str(tmp_path / "b")])
    assert made.exit_code == 0, made.output
    snapshot = Path(made.stdout.strip().splitlines()[-1])
    assert snapshot.parent == tmp_path / "b" and (snapshot / MANIFEST).is_file()
    checked = runner.invoke(app, ["backup", "verify", str(snapshot)])
    assert checked.exit_code == 0 and "every checksum matches" in checked.output
    done = runner.invoke(app, ["restore", str(snapshot), "--lake", str(tmp_path / "r" / "lake"),
                               "--reports", str(tmp_path / "r" / "out")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "r" / "out" / ".history.sqlite").is_file()
    assert (tmp_path / "r" / "lake" / "gold.duckdb").is_file()
    (snapshot / "reports" / ".history.sqlite").write_bytes(b"corrupt")
    refused = runner.invoke(app, ["backup", "verify", str(snapshot)])
    assert refused.exit_code == 1 and ".history.sqlite: checksum mismatch" in refused.output
    missing = runner.invoke(app, ["backup", "--lake", str(lake)])
    assert missing.exit_code == 2 and "--to DEST is required" in missing.output


# -- object storage ---------------------------------------------------------------------------
# A few-file workspace: per file, object storage costs a round trip or two; the volume is tested
# on local folders above and the lake on object storage in test_lake_s3.py.


@pytest.fixture
def small_workspace(tmp_path):
    """A lake (a real, small gold.duckdb) and a reports folder with a live WAL-mode run history and clutter."""
    lake = tmp_path / "small" / "lake"
    for name, data in (("bronze/jobs/0123__jobs.csv", b"job_id\nJ1\n"), ("bronze/_manifest.parquet", b"PAR1 m"),
                       ("silver/jobs.parquet", b"PAR1 jobs"), ("silver/_rejects.parquet", b"PAR1 rejects")):
        (lake / name).parent.mkdir(parents=True, exist_ok=True)
        (lake / name).write_bytes(data)
    with duckdb.connect(str(lake / "gold.duckdb")) as con:
        con.execute("CREATE TABLE job_facts AS SELECT range AS job FROM range(1000)")
    reports = tmp_path / "small" / "reports"
    (reports / "weekly_operations" / "2024-12-31").mkdir(parents=True)
    (reports / "weekly_operations" / "2024-12-31" / "report.html").write_text("<html>report</html>")
    history = sqlite3.connect(reports / ".history.sqlite")
    history.execute("PRAGMA journal_mode=WAL")
    history.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    history.execute("INSERT INTO runs (name) VALUES ('weekly_operations')")
    history.commit()  # left open, as the scheduler keeps it
    (reports / ".locks").mkdir()
    (reports / ".locks" / "schedule.lock").write_text("pid")
    yield lake, reports
    history.close()


def _flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _lake_digests(root) -> dict[str, str]:
    files = root.files() if isinstance(root, ObjectPath) else [p for p in root.rglob("*") if p.is_file()]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_a_snapshot_on_object_storage_restores_byte_identical(small_workspace, s3_bucket, tmp_path):
    lake, reports = small_workspace
    now = datetime(2026, 12, 7, 2, 15, tzinfo=timezone.utc)
    snap = backup(lake, f"{s3_bucket}/backups/", reports, now=now)
    assert snap.path == ObjectPath(f"{s3_bucket}/backups/quant-snapshot-20261207T021500Z")
    stored = {p.relative_to(snap.path).as_posix(): p for p in snap.path.files()}
    assert set(stored) == {entry["path"] for entry in snap.files} | {MANIFEST}
    assert "reports/.history.sqlite" in stored and not any(".locks" in p or p.endswith("-wal") for p in stored)
    for entry in snap.files:  # what the manifest says is what the server holds
        assert hashlib.sha256(stored[entry["path"]].read_bytes()).hexdigest() == entry["sha256"], entry["path"]
    with pytest.raises(BackupError, match="a snapshot of this second exists already"):
        backup(lake, f"{s3_bucket}/backups", reports, now=now)
    assert verify(str(snap.path)).files == snap.files

    new_lake = tmp_path / "restored" / "lake"
    restore(str(snap.path), new_lake)
    assert _lake_digests(new_lake) == _lake_digests(lake)
    with sqlite3.connect(tmp_path / "restored" / "reports" / ".history.sqlite") as copy:
        assert copy.execute("SELECT name FROM runs").fetchall() == [("weekly_operations",)]
    with duckdb.connect(str(new_lake / "gold.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM job_facts").fetchone()[0] == 1000

    # Onto object storage, and a backup of that lake on object storage: still the same bytes.
    remote_lake = ObjectPath(f"{s3_bucket}/restored/lake")
    restore(snap.path, remote_lake, f"{s3_bucket}/restored/reports")
    assert _lake_digests(remote_lake) == _lake_digests(lake)
    with pytest.raises(BackupError, match="not empty"):
        restore(snap.path, remote_lake)
    again = backup(str(remote_lake), tmp_path / "backups")
    assert {e["path"]: e["sha256"] for e in again.files} == {f"lake/{k}": v for k, v in _lake_digests(lake).items()}


def test_a_damaged_snapshot_on_object_storage_is_refused_naming_the_object(small_workspace, s3_bucket, tmp_path):
    lake, reports = small_workspace
    snap = backup(lake, f"{s3_bucket}/backups", reports)
    victim = snap.path / "lake" / "bronze" / "_manifest.parquet"
    _flip_a_byte(victim)
    with pytest.raises(BackupError) as refused:
        verify(str(snap.path))
    assert str(refused.value).startswith(f"{victim}: checksum mismatch")
    with pytest.raises(BackupError, match="_manifest.parquet: checksum mismatch"):
        restore(str(snap.path), tmp_path / "new" / "lake")
    assert not (tmp_path / "new").exists()  # nothing copied from a damaged snapshot
    victim.unlink()
    with pytest.raises(BackupError, match="_manifest.parquet: missing from the snapshot"):
        verify(snap.path)
    (snap.path / MANIFEST).unlink()  # a snapshot cut short has no manifest (it is written last)
    with pytest.raises(BackupError, match="not a snapshot"):
        verify(snap.path)


def test_the_commands_on_object_storage(small_workspace, s3_bucket, tmp_path):
    from quantlib.cli import app

    lake, reports = small_workspace
    runner = CliRunner()
    made = runner.invoke(app, ["backup", "--lake", str(lake), "--reports", str(reports), "--to", f"{s3_bucket}/b"])
    assert made.exit_code == 0, made.output
    snapshot = made.stdout.strip().splitlines()[-1]
    assert snapshot.startswith(f"{s3_bucket}/b/quant-snapshot-")
    checked = runner.invoke(app, ["backup", "verify", snapshot])
    assert checked.exit_code == 0 and "every checksum matches" in checked.output
    done = runner.invoke(app, ["restore", snapshot, "--lake", str(tmp_path / "r" / "lake")])
    assert done.exit_code == 0, done.output
    assert _digest(tmp_path / "r" / "lake" / "gold.duckdb") == _digest(lake / "gold.duckdb")
    _flip_a_byte(ObjectPath(snapshot) / "reports" / ".history.sqlite")
    refused = runner.invoke(app, ["backup", "verify", snapshot])
    assert refused.exit_code == 1
    assert f"{snapshot}/reports/.history.sqlite: checksum mismatch" in refused.output
    nowhere = runner.invoke(app, ["backup", "--lake", str(lake), "--to", "s3://no-such-bucket-here/b"])
    assert nowhere.exit_code == 1 and "quant backup:" in nowhere.output and "Traceback" not in nowhere.output
    assert "quant-test-secret" not in nowhere.output
