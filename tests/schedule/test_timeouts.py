"""Whole-run timeouts (notebook and render step), capped backoff with jitter, no sleeping on the lock."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from quantlib.errors import QuantError, RunStatus
from quantlib.schedule.history import pid_alive
from quantlib.schedule.runner import RunTimeoutError, run_job
from quantlib.schedule.specs import Retries
from tests.schedule.conftest import write_params, write_spec

SLOT = datetime(2026, 11, 27, 6, tzinfo=timezone.utc)


def test_backoff_is_capped_and_jittered():
    r = Retries(count=10, backoff=10, exponential=True, max_backoff=25, jitter=0.1)
    rng = random.Random(1)
    waits = [r.delay(n, rng) for n in range(1, 8)]
    assert 9 <= waits[0] <= 11 and 18 <= waits[1] <= 22
    assert all(22.5 <= w <= 25 for w in waits[2:])
    assert len({round(w, 6) for w in waits[2:]}) > 1  # jittered, not lock-step
    assert Retries(backoff=60).max_backoff == 3600 and Retries(backoff=60).delay(30) <= 3600
    assert Retries(backoff=2, jitter=0).delay(3) == 8
    assert issubclass(RunTimeoutError, QuantError) and issubclass(RunTimeoutError, TimeoutError)


def test_whole_run_timeout_while_executing(project):
    params = write_params(project, "alpha_slow", company="alpha", sleep_seconds=60)
    # Each cell may take 100 s, but the whole attempt only 4 s.
    spec = write_spec(project, parameters=[str(params)], outputs=["html"], timeout=4, cell_timeout=100)
    t0 = time.monotonic()
    outcome = run_job(spec, params, workspace=project, scheduled_for=SLOT, send=False)
    assert time.monotonic() - t0 < 30
    assert outcome.status is RunStatus.FAILED
    assert "RunTimeoutError" in outcome.error and "timed out after 4 s while executing" in outcome.error
    assert list(project.tmp.iterdir()) == []


@pytest.mark.slow  # a real kernel run, then a render that must be killed: 25 s
def test_render_step_is_killed_on_timeout(project, tmp_path, monkeypatch):
    # A quarto that hangs: preferred by the PDF step when on PATH; its pid shows it was killed.
    bin_dir, pid_file = tmp_path / "bin", tmp_path / "quarto.pid"
    bin_dir.mkdir()
    (bin_dir / "quarto").write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 120\n")
    (bin_dir / "quarto").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    spec = write_spec(project, outputs=["pdf"], timeout=25)
    t0 = time.monotonic()
    outcome = run_job(spec, "parameters/reports/alpha.yaml", workspace=project, scheduled_for=SLOT, send=False)
    assert time.monotonic() - t0 < 60
    assert outcome.status is RunStatus.FAILED and "while rendering PDF" in outcome.error, outcome.error
    pid = int(pid_file.read_text())
    time.sleep(0.2)
    assert not pid_alive(pid)  # killed (at most a zombie waiting for init)


def test_lock_is_released_while_waiting_to_retry(project, tmp_path):
    marker = tmp_path / "marker"
    params = write_params(project, "alpha_flaky", company="alpha", marker=str(marker))
    spec = write_spec(project, parameters=[str(params)], outputs=["html"],
                      retries={"count": 1, "backoff": 5, "jitter": 0})
    lock_path = project.locks / "test_report__alpha.lock"
    seen = []

    def sleep(seconds):
        # Another process can take the lock while this run waits.
        probe = subprocess.run([sys.executable, "-c", "import sys; from filelock import FileLock; "
                                "FileLock(sys.argv[1]).acquire(timeout=0)", str(lock_path)])
        seen.append((seconds, probe.returncode))

    outcome = run_job(spec, params, workspace=project, scheduled_for=SLOT, sleep=sleep, send=False)
    assert outcome.status is RunStatus.SUCCESS and outcome.attempts == 2
    assert seen == [(5, 0)]


def test_retry_abandoned_when_another_run_took_the_lock(project, tmp_path):
    marker = tmp_path / "marker"
    params = write_params(project, "alpha_flaky", company="alpha", marker=str(marker))
    spec = write_spec(project, parameters=[str(params)], outputs=["html"],
                      retries={"count": 1, "backoff": 0, "jitter": 0})
    lock_path = project.locks / "test_report__alpha.lock"
    holders = []

    def sleep(seconds):
        holders.append(subprocess.Popen([sys.executable, "-c", "import sys, time; from filelock import FileLock; "
                                         "lk = FileLock(sys.argv[1]); lk.acquire(timeout=0); "
                                         "print('held', flush=True); "
                                         "time.sleep(30)", str(lock_path)], stdout=subprocess.PIPE, text=True))
        assert holders[0].stdout.readline().strip() == "held"

    try:
        outcome = run_job(spec, params, workspace=project, scheduled_for=SLOT, sleep=sleep, send=False)
    finally:
        for p in holders:
            p.kill()
            p.wait()
    assert outcome.status is RunStatus.FAILED and "retry abandoned" in outcome.error
    assert [r.status for r in project.history().runs("test_report")] == ["failed", "retrying"]
