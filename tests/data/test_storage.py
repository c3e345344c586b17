"""Object storage paths and settings (quantlib.data.storage), against the session's local S3 server."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from quantlib.config import resolve_lake
from quantlib.data.storage import (
    ENDPOINT_ENV,
    ObjectPath,
    StorageError,
    as_location,
    is_remote,
    local_copy,
    storage_options,
)


def test_urls_become_object_paths_and_local_paths_stay_paths(tmp_path):
    lake = as_location("s3://bucket/companies//acme/lake/")
    assert isinstance(lake, ObjectPath) and str(lake) == "s3://bucket/companies/acme/lake"
    gold = lake / "gold.duckdb"
    assert (gold.name, gold.stem, gold.suffix) == ("gold.duckdb", "gold", ".duckdb")
    assert gold.parent == lake and gold.relative_to(lake) == PurePosixPath("gold.duckdb")
    assert str(ObjectPath("s3://bucket/a/../../b")) == "s3://bucket/b"  # never above the bucket
    assert as_location(tmp_path) == tmp_path and as_location(str(tmp_path)) == tmp_path
    assert as_location(f"file://{tmp_path}") == tmp_path
    assert is_remote("s3://b/x") and not is_remote(str(tmp_path)) and not is_remote(tmp_path)
    # resolve_lake keeps a URL as text, and unfolds one that a Path-typed option folded.
    assert resolve_lake("s3://b/x") == resolve_lake(Path("s3://b/x")) == "s3://b/x"
    assert resolve_lake(tmp_path) == tmp_path and resolve_lake(Path("s3:x")) == Path("s3:x")
    for bad in ("gs://bucket/x", "s3://", "bucket/x"):
        with pytest.raises(StorageError):
            ObjectPath(bad)


def test_settings_come_from_the_environment_only():
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "very-secret", "AWS_ENDPOINT_URL": "http://b",
           ENDPOINT_ENV: "http://a"}
    options = storage_options(environ=env)
    assert options["endpoint_url"] == "http://a" and options["key"] == "AKIDEXAMPLE"
    assert options["use_listings_cache"] is False
    del env[ENDPOINT_ENV]
    assert storage_options(environ=env)["endpoint_url"] == "http://b"
    with pytest.raises(StorageError, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") as missing:
        storage_options(environ={"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"})
    assert "AKIDEXAMPLE" not in str(missing.value)


def test_object_paths_read_and_write_on_the_server(s3_bucket):
    root = ObjectPath(s3_bucket) / "lake"
    assert not root.exists() and not root.is_dir() and root.files() == [] and root.iterdir() == []
    root.mkdir(parents=True, exist_ok=True)  # nothing to make on object storage
    (root / "silver" / "jobs.parquet").write_bytes(b"jobs")
    (root / "silver" / "_rejects.parquet").write_bytes(b"rejects")
    (root / "bronze" / "jobs" / "abc__jobs.csv").write_text("a,b\n")
    assert root.is_dir() and (root / "silver").is_dir() and (root / "silver" / "jobs.parquet").is_file()
    assert [p.name for p in (root / "silver").glob("*.parquet")] == ["_rejects.parquet", "jobs.parquet"]
    assert [p.relative_to(root).as_posix() for p in root.files()] == [
        "bronze/jobs/abc__jobs.csv", "silver/_rejects.parquet", "silver/jobs.parquet"]
    assert [p.name for p in root.iterdir()] == ["bronze", "silver"]
    stat = (root / "silver" / "jobs.parquet").stat()
    assert stat.st_size == 4 and len(stat.etag) == 32
    with (root / "silver" / "jobs.parquet").open("rb") as handle:
        assert handle.read() == b"jobs"
    (root / "silver" / "jobs.parquet").unlink()
    assert not (root / "silver" / "jobs.parquet").exists()
    with pytest.raises(FileNotFoundError):
        (root / "silver" / "jobs.parquet").unlink()
    root.rmtree()
    assert not root.exists()


def test_local_copies_are_cached_by_etag(s3_bucket, tmp_path):
    gold = ObjectPath(s3_bucket) / "lake" / "gold.duckdb"
    gold.write_bytes(b"first build")
    first = local_copy(gold)
    assert first.read_bytes() == b"first build" and first.suffix == ".duckdb"
    stamp = first.stat().st_mtime_ns
    assert local_copy(gold) == first and first.stat().st_mtime_ns == stamp  # not downloaded again
    gold.write_bytes(b"second build")
    second = local_copy(gold)
    assert second != first and second.read_bytes() == b"second build"
    assert first.exists()  # kept: a reader may just have been handed its path
    gold.write_bytes(b"third build")
    third = local_copy(gold)
    assert third.read_bytes() == b"third build" and second.exists() and not first.exists()
    with pytest.raises(FileNotFoundError):
        local_copy(ObjectPath(s3_bucket) / "nothing" / "gold.duckdb")
    assert isinstance(third, Path)
