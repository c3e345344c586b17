"""``quant schedule`` commands, the due rule, and the serve loop (with a fake clock)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from typer.testing import CliRunner

import quantlib.cli.schedule  # noqa: F401 - registers the commands
from quantlib.cli.app import app
from quantlib.schedule.runner import due_runs, serve
from tests.schedule.conftest import write_spec

runner = CliRunner()


def quant(ws, *args):
    # Wide enough that rich does not fold table cells.
    quantlib.cli.schedule.console = Console(width=250)
    result = runner.invoke(app, ["schedule", *args, "--root", str(ws.root)])
    return result.exit_code, result.output


def test_list(project):
    write_spec(project, "daily", cron="0 6 * * *")
    write_spec(project, "monthly", cron="0 7 * * 1#1", parameters=["parameters/reports/alpha.yaml",
                                                                   "parameters/reports/beta.yaml"])
    code, out = quant(project, "list", "--now", "2026-11-27T12:00")
    assert code == 0, out
    assert "daily" in out and "Sat 2026-11-28 06:00" in out
    assert "monthly" in out and "Mon 2026-12-07 07:00" in out and "alpha, beta" in out


def test_unknown_job_company_executor_and_bad_spec(project):
    write_spec(project, "daily")
    assert quant(project, "run", "nope")[0] == 2
    code, out = quant(project, "run", "daily", "--company", "zeta")
    assert code == 2 and "no company zeta" in out
    assert quant(project, "run", "daily", "--executor", "spark")[0] == 2
    (project.specs / "broken.yaml").write_text("name: broken\ncron: every day\n")
    code, out = quant(project, "list")
    assert code == 2 and "broken.yaml" in out


def test_run_dry_run(project):
    write_spec(project, "daily", parameters=["parameters/reports/alpha.yaml", "parameters/reports/beta.yaml"],
               recipients={"emails": ["ops@example.com"]})
    code, out = quant(project, "run", "daily", "--company", "beta", "--dry-run")
    assert code == 0, out
    assert "would run notebooks/report.ipynb for beta" in out and "alpha" not in out
    assert "email → ops@example.com: skipped (QUANT_SMTP_HOST not set)" in out
    assert not project.history_path.exists() or project.history().runs() == []


def test_run_several_jobs_at_once(project):
    """`quant schedule run a b --company beta` runs both jobs for beta (what `make demo` does)."""
    write_spec(project, "daily", parameters=["parameters/reports/alpha.yaml", "parameters/reports/beta.yaml"],
               outputs=["html"])
    write_spec(project, "weekly", parameters=["parameters/reports/beta.yaml"], outputs=["html"])
    code, out = quant(project, "run", "daily", "weekly", "--company", "beta", "--workers", "2")
    assert code == 0, out
    assert sorted((r.job, r.company, r.status.value) for r in project.history().runs()) == [
        ("daily", "beta", "success"), ("weekly", "beta", "success")]
    assert quant(project, "run", "daily", "nope")[0] == 2


def test_due_runs_each_slot_once(project):
    write_spec(project, "daily", cron="0 6 * * *", outputs=["html"])
    code, out = quant(project, "due", "--now", "2026-11-27T07:30")
    assert code == 0, out
    assert "due: daily / alpha for 2026-11-27T06:00" in out and "success" in out
    # Same slot: nothing to do.
    code, out = quant(project, "due", "--now", "2026-11-28T05:59")
    assert code == 0 and "nothing due" in out
    # Next slot.
    code, out = quant(project, "due", "--now", "2026-11-28T06:00", "--dry-run")
    assert code == 0 and "due: daily / alpha for 2026-11-28T06:00" in out and "dry-run" in out
    [row] = project.history().runs("daily")
    assert datetime.fromisoformat(row.scheduled_for) == datetime(2026, 11, 27, 6, tzinfo=timezone.utc)
    code, out = quant(project, "history", "daily")
    assert code == 0 and "success" in out


def test_due_failed_run_counts_and_exit_status(project):
    from tests.schedule.conftest import write_params

    params = write_params(project, "alpha_broken", company="alpha", fail=True)
    write_spec(project, "daily", parameters=[str(params)], outputs=["html"])
    code, out = quant(project, "due", "--now", "2026-11-27T07:30")
    assert code == 1 and "failed" in out and "failed on purpose" in out
    assert due_runs(project.load_specs(), datetime(2026, 11, 27, 8, tzinfo=timezone.utc), workspace=project) == []


def test_serve_fires_on_time(project):
    write_spec(project, "minutely", cron="* * * * *", outputs=["html"])
    clock = [datetime(2026, 11, 27, 10, 0, 30, tzinfo=timezone.utc)]
    waits: list[float] = []
    fired = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock[0] += timedelta(seconds=seconds)
        return len(waits) >= 2  # stop after the second sleep

    serve(workspace=project, clock=lambda: clock[0], wait=wait, executor="inline", on_outcome=fired.append)
    # Started at 10:00:30: the 10:00 slot is due at once, then it sleeps exactly to 10:01:00.
    assert waits[0] == pytest.approx(30.0)
    assert waits[1] == pytest.approx(60.0)
    assert [o.status for o in fired] == ["success", "success"]
    slots = sorted(datetime.fromisoformat(r.scheduled_for) for r in project.history().runs("minutely"))
    assert slots == [datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc),
                     datetime(2026, 11, 27, 10, 1, tzinfo=timezone.utc)]


def test_serve_process_stops_on_sigterm(project):
    """`quant schedule serve` as a real process: catches up the current slot, stops on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    write_spec(project, "minutely", cron="* * * * *", outputs=["html"])
    proc = subprocess.Popen(
        [sys.executable, "-c", "import quantlib.cli.schedule; from quantlib.cli.app import app; app()",
         "schedule", "serve", "--root", str(project.root), "--executor", "inline"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if project.history_path.exists() and any(r.status == "success" for r in project.history().runs()):
                break
            time.sleep(0.2)
        else:
            pytest.fail("serve did not run the due job")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "serving" in out and "success" in out and "stopping" in out


def test_the_stop_signal_is_kept_when_printing_fails(monkeypatch):
    """The handler interrupts the main thread anywhere (CI once caught it mid-way through an
    import rich needed); a failing console must not lose the stop."""
    import threading

    from quantlib.cli import schedule as schedule_cli

    def broken_print(*args, **kwargs):
        raise AttributeError("partially initialised module")

    monkeypatch.setattr(schedule_cli.console, "print", broken_print)
    stop = threading.Event()
    schedule_cli._stop_on_signal(stop)(15, None)
    assert stop.is_set()
