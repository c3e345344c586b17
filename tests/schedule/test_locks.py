"""Job locks across real processes: a concurrent run is skipped; a crashed holder's lock is freed by the OS."""

from __future__ import annotations

import os
import subprocess

from quantlib.errors import RunStatus
from tests.schedule.conftest import write_params, write_spec
from tests.schedule.test_lease import CLI, wait_for


def start_run(ws) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "schedule", "run", "daily", "--root", str(ws.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())


def running(ws) -> bool:
    return ws.history_path.exists() and any(r.status == "running" for r in ws.history().runs("daily"))


def test_two_processes_one_runs_the_other_is_skipped(project):
    # Long enough for the second process to start (imports take seconds on a busy machine).
    write_params(project, "alpha", company="alpha", sleep_seconds=30)
    write_spec(project, "daily", outputs=["ipynb"])
    first = start_run(project)
    try:
        wait_for(lambda: running(project), what="the first run to hold the lock")
        second = start_run(project)
        out2, _ = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second one tried"
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
