"""Two writers of one lake take turns: the ingest's read-merge-commit runs under the lake's write lock.

Two processes ingest different customers into one lake at the same moment. Before writing, each
waits (up to a second) for the other to have read and merged too, so without a lock both would
write the empty silver they read plus their own rows and the later rename would drop the earlier
writer's rows. The same race with the lock switched off shows exactly that, so the check with the
lock can fail.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from quantlib.data.ingest import ingest
from quantlib.data.lake import Lake
from quantlib.data.opstore_pg import advisory_key
from quantlib.data.writelock import KEY_PREFIX, LOCK_NAME, LakeLocked, lock_path, write_lock
from tests.data.conftest import sample_tables


def _child(src: str, lake: str, me: str, other: str, locked: bool) -> None:
    """One writer (a forked process): wait until the other is ready too, then ingest, waiting before its writes."""
    import quantlib.data.ingest as ingest_module
    import quantlib.data.ingest.commit as commit

    if not locked:
        ingest_module.write_lock = lambda lake: contextlib.nullcontext()
    slow = commit._write_parquet

    def _slow_write(df, path):
        # Silver is read and merged: say so, and give the other writer up to 1 s to get this far too
        # (without a lock it does, having read the same silver; with the lock it is still waiting).
        Path(me + ".merged").touch()
        until = time.monotonic() + 1.0
        while not Path(other + ".merged").exists() and time.monotonic() < until:
            time.sleep(0.005)
        slow(df, path)

    commit._write_parquet = _slow_write
    Path(me).touch()
    deadline = time.monotonic() + 60
    while not Path(other).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    ingest_module.ingest(src, lake)


def _exports(folder: Path, rows: pd.DataFrame) -> Path:
    folder.mkdir(parents=True)
    rows.to_csv(folder / "customers.csv", index=False)
    return folder


def _two_writers(tmp_path: Path, locked: bool) -> tuple[Path, list]:
    """Start two processes ingesting different customers into one new lake; returns the lake and them."""
    customers = sample_tables()["customers"]
    first = _exports(tmp_path / "a", customers.iloc[:2])
    second = _exports(tmp_path / "b", customers.iloc[2:])
    lake = tmp_path / "lake"
    ready = [str(tmp_path / "ready-a"), str(tmp_path / "ready-b")]
    # Forked, so the children start at once with everything imported; each is a process of its own.
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_child, args=(str(src), str(lake), me, other, locked))
                for src, me, other in ((first, ready[0], ready[1]), (second, ready[1], ready[0]))]
    for child in children:
        child.start()
    return lake, children


def _silver(lake: Path, children: list) -> pd.DataFrame:
    for child in children:
        child.join(timeout=60)
        if child.is_alive():  # never leave a stuck writer behind
            child.kill()
            child.join()
        assert child.exitcode == 0
    return pd.read_parquet(Lake(lake).silver_table("customers"))


def test_two_processes_ingesting_at_once_both_land_and_without_the_lock_one_is_lost(tmp_path):
    # Both races run side by side (four processes) to keep the test short; one ingest first, so the
    # forked children inherit its lazy imports and the race is decided by the slow writes alone.
    ingest(_exports(tmp_path / "warm", sample_tables()["customers"]), tmp_path / "warm-lake")
    locked_lake, locked = _two_writers(tmp_path / "locked", True)
    unlocked_lake, unlocked = _two_writers(tmp_path / "unlocked", False)
    assert sorted(_silver(locked_lake, locked)["customer_id"]) == ["C1", "C2", "C3"]
    manifest = pd.read_parquet(Lake(locked_lake).manifest)
    assert list(manifest["file"]) == ["customers.csv", "customers.csv"] and len(set(manifest["sha256"])) == 2
    # The same race with the lock switched off: one writer's rows are gone, so the check above can fail.
    assert sorted(_silver(unlocked_lake, unlocked)["customer_id"]) in (["C1", "C2"], ["C3"])


def test_a_held_lock_stops_ingest_with_a_line_naming_the_lake(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    src = _exports(tmp_path / "src", sample_tables()["customers"])
    assert lock_path(lake) == lake.root / LOCK_NAME
    holder = FileLock(str(lock_path(lake)))  # another writer: a separate lock object, as another process has
    lake.root.mkdir(parents=True)
    with holder:
        monkeypatch.setenv("QUANT_LAKE_LOCK_TIMEOUT", "0.2")
        started = time.monotonic()
        with pytest.raises(LakeLocked, match=f"lake {lake.root} is being written by another process"):
            ingest(src, lake)
        assert time.monotonic() - started < 5
        from typer.testing import CliRunner

        from quantlib.cli import app

        cli = CliRunner().invoke(app, ["ingest", str(src), "--lake", str(lake.root)])
        assert cli.exit_code == 1 and f"error: lake {lake.root} is being written by another process" in cli.output
    assert not lake.silver_table("customers").exists()  # nothing read, nothing written
    assert len(pd.read_parquet(ingest(src, lake).lake / "silver" / "customers.parquet")) == 3  # free again


def test_the_lock_nests_in_one_thread_and_s3_lakes_lock_locally(tmp_path):
    with write_lock(tmp_path / "lake", timeout=0) as held, write_lock(tmp_path / "lake", timeout=0) as again:
        assert held == again == f"lock {tmp_path / 'lake' / LOCK_NAME}"
    remote = lock_path("s3://bucket/acme/lake")
    assert remote.name.endswith(".lock") and "bucket" not in str(remote)  # a local file, named by a hash
    assert remote != lock_path("s3://bucket/other/lake")
    with write_lock("s3://bucket/acme/lake", timeout=0, env={}) as held:
        assert held == f"lock {remote}"


def test_an_s3_lake_is_locked_in_postgresql_when_configured(postgres_dsn):
    # Writers on several machines share the database of QUANT_OPS_DSN: a session of its own stands for another host.
    import psycopg

    url, env = "s3://bucket/acme/lake", {"QUANT_OPS_DSN": postgres_dsn}
    key = advisory_key(KEY_PREFIX + url)
    outcome = []

    def other_thread():
        try:
            with write_lock(url, timeout=0.2, env=env):
                outcome.append("taken")
        except LakeLocked as exc:
            outcome.append(str(exc))

    with psycopg.connect(postgres_dsn, autocommit=True) as other_host:
        with write_lock(url, timeout=0, env=env) as held:
            assert held.startswith(f"advisory lock 'quant.lake.write:{url}' in postgresql://")
            with write_lock(url, timeout=0, env=env):  # the same thread nests
                pass
            assert other_host.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0] is False
            worker = threading.Thread(target=other_thread)
            worker.start()
            worker.join()
            assert outcome == [f"lake {url} is being written by another process ({held} still held after 0.2 s); "
                               "try again when it has finished, or raise QUANT_LAKE_LOCK_TIMEOUT"]
        assert other_host.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0] is True  # released
        with pytest.raises(LakeLocked):
            with write_lock(url, timeout=0, env=env):
                pass
