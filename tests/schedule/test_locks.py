"""Job locks across real processes: a concurrent run is skipped; a crashed holder's lock is freed by the OS.

The lock interface (``quantlib.schedule.locks``) is tested on both backends: lock files and
PostgreSQL advisory locks (a real server started for the session).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from quantlib.errors import RunStatus
from quantlib.schedule.locks import AdvisoryLock, LockError, LockTimeout, open_lock
from tests.schedule.conftest import write_params, write_spec
from tests.schedule.test_lease import CLI, wait_for


def start_run(ws) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "schedule", "run", "daily", "--root", str(ws.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())


def running(ws) -> bool:
    return ws.history_path.exists() and any(r.status == "running" for r in ws.history().runs("daily"))


def test_two_processes_one_runs_the_other_is_skipped(project):
    # The first run holds the lock until the test releases it, after the second one has tried
    # (at most 90 s: a second process's imports take seconds on a busy machine).
    release = project.root / "release"
    write_params(project, "alpha", company="alpha", sleep_seconds=90, release_file=str(release))
    write_spec(project, "daily", outputs=["ipynb"])
    first = start_run(project)
    try:
        wait_for(lambda: running(project), what="the first run to hold the lock")
        second = start_run(project)
        out2, _ = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second one tried"
        release.write_text("done")
        out1, _ = first.communicate(timeout=120)
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 0 and "skipped" in out2 and "already running" in out2, out2
    assert first.returncode == 0 and "success" in out1, out1
    statuses = sorted(r.status for r in project.history().runs("daily"))
    assert statuses == [RunStatus.SKIPPED, RunStatus.SUCCESS]


def test_lock_of_a_killed_holder_is_released(project):
    write_params(project, "alpha", company="alpha", sleep_seconds=120)
    write_spec(project, "daily", outputs=["ipynb"])
    holder = start_run(project)
    try:
        wait_for(lambda: running(project), what="the holder to take the lock")
    finally:
        holder.kill()  # SIGKILL while holding the lock: no release code runs
        holder.wait()
    lock = project.locks / "daily__alpha.lock"
    assert lock.exists()  # the file stays; the OS dropped the flock with the process
    write_params(project, "alpha", company="alpha")
    nxt = start_run(project)
    out, _ = nxt.communicate(timeout=120)
    assert nxt.returncode == 0 and "success" in out and "skipped" not in out, out


# -- the lock interface on both backends ---------------------------------------------------------

_HOLDER = """
import sys, time
from quantlib.schedule.locks import AdvisoryLock
lock = AdvisoryLock(sys.argv[1], "daily__alpha")
lock.acquire(timeout=0)
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture(params=["file", "postgresql"])
def new_lock(request, tmp_path):
    """Makes a lock by name on one backend, as the runner gets it (``open_lock``): ``new_lock(name)``."""
    env = {}
    if request.param == "postgresql":
        env["QUANT_OPS_DSN"] = request.getfixturevalue("postgres_dsn")
    made = []

    def make(name="daily__alpha", timeout=-1):
        made.append(open_lock(name, tmp_path / ".locks", timeout=timeout, env=env))
        return made[-1]

    yield make
    for lock in made:
        lock.release()


def test_two_holders_exclude_each_other_until_released(new_lock):
    first, second, other = new_lock(), new_lock(), new_lock("daily__beta")
    first.acquire(timeout=0)
    assert first.is_locked and not second.is_locked
    with pytest.raises(LockTimeout, match="is held"):
        second.acquire(timeout=0)
    started = time.monotonic()
    with pytest.raises(LockTimeout):
        second.acquire(timeout=0.4)  # polls until the timeout, like FileLock
    assert time.monotonic() - started >= 0.35
    other.acquire(timeout=0)  # another name is another lock
    first.release()
    assert not first.is_locked
    # A waiter gets the lock once the holder lets go (file locks are per thread: one thread holds it).
    held = threading.Event()

    def hold():
        with new_lock(timeout=0):
            held.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    started = time.monotonic()
    second.acquire(timeout=10)
    holder.join()
    assert second.is_locked and 0.1 < time.monotonic() - started < 5
    second.release()
    with new_lock(timeout=0):
        with pytest.raises(LockTimeout):
            new_lock().acquire(timeout=0)
    new_lock().acquire(timeout=0)  # released on leaving the with block


def test_an_advisory_lock_dies_with_its_holder(postgres_dsn):
    # Another process takes the lock and is killed (SIGKILL: no release code runs); the server ends its
    # session and the lock is free at once, with nothing left behind to clean up (a lock file on a shared
    # disk would need its host's kernel to drop it).
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, postgres_dsn], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        waiting = AdvisoryLock(postgres_dsn, "daily__alpha")
        with pytest.raises(LockTimeout, match="advisory lock 'daily__alpha' in postgresql://postgres@/ops_"):
            waiting.acquire(timeout=0)
    finally:
        holder.kill()
        holder.wait()
    waiting.acquire(timeout=10)
    assert waiting.is_locked
    # A holder whose connection is cut (its host gone, the server ends the session): free again too.
    other = AdvisoryLock(postgres_dsn, "daily__alpha")
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        [(pid,)] = admin.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchall()
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    other.acquire(timeout=10)
    waiting.release()  # its session is gone: logged, nothing raised
    assert not waiting.is_locked and other.is_locked
    other.release()


def test_a_lock_database_that_cannot_be_reached_is_named_without_its_password():
    lock = AdvisoryLock("postgresql://quant:s3cret-pw@127.0.0.1:9/ops?connect_timeout=2", "daily__alpha")
    with pytest.raises(LockError) as caught:
        lock.acquire(timeout=0)
    assert "postgresql://quant@127.0.0.1:9/ops" in str(caught.value) and "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in repr(lock) and not lock.is_locked


def test_with_postgresql_runs_lock_and_record_in_the_database(project, postgres_dsn, monkeypatch):
    # Workers on several machines: the job lock is an advisory lock and the history a table in the shared
    # database; nothing lock- or history-like is written to the reports folder.
    from tests.schedule.test_cli_due_serve import quant

    dsn = postgres_dsn.replace("postgres:@", "postgres:s3cret-pw@")  # the test server trusts local users
    monkeypatch.setenv("QUANT_OPS_DSN", dsn)
    write_spec(project, "daily", outputs=["ipynb"])
    with AdvisoryLock(dsn, "daily__alpha", timeout=0):  # a run of daily for alpha on another host
        code, out = quant(project, "run", "daily")
    assert code == 0 and "skipped" in out and "already running" in out, out
    code, out = quant(project, "run", "daily")
    assert code == 0 and "success" in out, out
    code, out = quant(project, "history", "daily")
    assert code == 0 and "Run history (postgresql://postgres@/ops_" in out and "s3cret-pw" not in out, out
    runs = project.history().runs("daily")
    assert sorted(r.status for r in runs) == [RunStatus.SKIPPED, RunStatus.SUCCESS]
    assert "advisory lock 'daily__alpha' in postgresql://postgres@/ops_" in next(r.error for r in runs if r.error)
    assert not project.history_path.exists() and not project.locks.exists()
    assert (project.reports / "index.html").is_file()  # written under the advisory index lock
