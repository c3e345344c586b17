"""``quant schedule``: list, run, run what is due, or serve the job specs in ``scheduled/``.

Examples::

    quant schedule list
    quant schedule run weekly_operations --company mixed_trades --dry-run
    quant schedule run monthly_business_review --executor dask --workers 2
    quant schedule due                     # from system cron or a Kubernetes CronJob
    quant schedule due --now 2026-12-07T07:00
    quant schedule serve                   # a long-running scheduler
    quant schedule history weekly_operations
    quant schedule export --airflow dags/ --project-dir /srv/quant
    quant schedule export --kubernetes k8s/ --image registry.example.com/quant:1.0

Exit status: 0 when every run succeeded (or was skipped because it is already running, or
nothing was due), 1 when a run failed, 2 for a usage error (unknown job, invalid spec), 3
when the runs succeeded but a notification could not be delivered (it stays in the outbox
and the next ``due`` or ``serve`` retries it).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app
from quantlib.errors import RunStatus

console = Console()
schedule_app = typer.Typer(
    name="schedule",
    help="Scheduled notebook runs: list, run, due, serve, history.",
    no_args_is_help=True,
)
app.add_typer(schedule_app, name="schedule")

_ROOT = typer.Option(None, "--root", help="Project root (default: $QUANT_HOME or the repository).")
_REPORTS = typer.Option(None, "--reports", help="Reports folder (default: ROOT/reports).")
_HISTORY = typer.Option(None, "--history", help="Run-history SQLite file (default: the PostgreSQL database of "
                        "$QUANT_OPS_DSN when set, else REPORTS/.history.sqlite).")
_SPECS = typer.Option(None, "--specs", help="Job-spec folder (default: ROOT/scheduled).")
_EXECUTOR = typer.Option("local", "--executor", help="Where a job's companies run: inline, local or dask.")
_ADDRESS = typer.Option(None, "--address", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
_WORKERS = typer.Option(None, "--workers", help="Worker processes (local pool or local Dask cluster).")


def _workspace(root, reports, history, specs):
    from quantlib.schedule.runner import Workspace

    return Workspace.at(root, reports=reports, history=history, specs=specs)


def _specs(ws):
    from quantlib.schedule.specs import SpecError

    try:
        return ws.load_specs()
    except SpecError as exc:
        console.print(f"[red]invalid job spec:[/red] {exc}")
        raise typer.Exit(2) from None


def _check_executor(name: str) -> None:
    from quantlib.schedule.executors import EXECUTORS

    if name not in EXECUTORS:
        console.print(f"[red]error:[/red] unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
        raise typer.Exit(2)


def _report(outcomes) -> int:
    """Print one line per run (and the plan of a dry run); return the exit status."""
    colour = {RunStatus.SUCCESS: "green", RunStatus.FAILED: "red", RunStatus.SKIPPED: "yellow",
              RunStatus.DRY_RUN: "cyan"}
    for o in outcomes:
        console.print(f"[{colour.get(o.status, 'white')}]{o.status.value:>8}[/] {o.summary()}", highlight=False)
        for line in o.plan:
            console.print(f"         {line}", highlight=False)
        for line in o.deliveries:
            console.print(f"         notify {line}", highlight=False)
        for line in o.undelivered:
            console.print(f"         [red]undelivered[/] {line} (kept in the outbox)", highlight=False)
    if any(o.status is RunStatus.FAILED for o in outcomes):
        return 1
    return 3 if any(o.undelivered for o in outcomes) else 0


def _parse_now(now: str | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    try:
        when = datetime.fromisoformat(now)
    except ValueError:
        console.print(f"[red]error:[/red] --now {now!r} is not an ISO date-time (e.g. 2026-12-07T07:00)")
        raise typer.Exit(2) from None
    # A naive --now is UTC, like the default clock.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@schedule_app.command("list")
def list_command(
    root: Optional[Path] = _ROOT, reports: Optional[Path] = _REPORTS, history: Optional[Path] = _HISTORY,
    specs: Optional[Path] = _SPECS,
    now: Optional[str] = typer.Option(None, "--now", help="Compute next runs from this ISO time."),
) -> None:
    """Show every job: cron, companies, next run, last run."""
    from quantlib.schedule.runner import company_of

    ws = _workspace(root, reports, history, specs)
    jobs = _specs(ws)
    when = _parse_now(now)
    hist = ws.history(create=False)
    table = Table(title=f"Scheduled jobs ({ws.specs})")
    for col in ("job", "cron", "tz", "companies", "outputs", "next run", "last run"):
        table.add_column(col)
    for name, spec in sorted(jobs.items()):
        companies = [company_of(ws, p) for p in spec.parameters]
        last = "never"
        if hist is not None:
            rows = hist.runs(name, limit=1)
            if rows:
                last = f"{rows[0].scheduled_for} {rows[0].status.value}"
        table.add_row(name, spec.cron + (f" (day_match {spec.day_match})" if spec.day_match else ""),
                      spec.timezone, ", ".join(companies), ", ".join(spec.outputs),
                      spec.next_run(when).strftime("%a %Y-%m-%d %H:%M %Z"), last)
    console.print(table)


@schedule_app.command("run")
def run_command(
    names: list[str] = typer.Argument(..., help="Job names (see `quant schedule list`); several run side by side."),
    company: Optional[list[str]] = typer.Option(None, "--company", help="Only this company (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run and be sent to whom; do nothing."),
    executor: str = _EXECUTOR, address: Optional[str] = _ADDRESS, workers: Optional[int] = _WORKERS,
    root: Optional[Path] = _ROOT, reports: Optional[Path] = _REPORTS, history: Optional[Path] = _HISTORY,
    specs: Optional[Path] = _SPECS,
    executed: Optional[Path] = typer.Option(None, "--executed", dir_okay=False, help="Publish this notebook, "
                                            "already executed by another orchestrator (Airflow's papermill task), "
                                            "as the run of ONE job for ONE --company: no kernel is started."),
) -> None:
    """Run jobs now, for all their companies or the ones given, together on the executor."""
    from quantlib.schedule.runner import company_of, run_job, run_jobs

    _check_executor(executor)
    ws = _workspace(root, reports, history, specs)
    jobs = _specs(ws)
    unknown_jobs = [n for n in names if n not in jobs]
    if unknown_jobs:
        console.print(f"[red]error:[/red] no job {', '.join(map(repr, unknown_jobs))}; "
                      f"known: {', '.join(sorted(jobs)) or 'none'}")
        raise typer.Exit(2)
    chosen = [jobs[n] for n in dict.fromkeys(names)]
    if executed is not None and (len(chosen) != 1 or len(company or []) != 1):
        console.print("[red]error:[/red] --executed publishes one notebook: give one job and one --company")
        raise typer.Exit(2)
    if company:
        for spec in chosen:
            known = [company_of(ws, p) for p in spec.parameters]
            unknown = [c for c in company if c not in known]
            if unknown:
                console.print(f"[red]error:[/red] {spec.name} has no company {', '.join(unknown)}; "
                              f"it runs for {', '.join(known)}")
                raise typer.Exit(2)
    if executed is not None:
        [spec], [only] = chosen, company
        parameter_file = next(p for p in spec.parameters if company_of(ws, p) == only)
        raise typer.Exit(_report([run_job(spec, parameter_file, workspace=ws, dry_run=dry_run, executed=executed)]))
    runs = sum(1 for spec in chosen for p in spec.parameters if not company or company_of(ws, p) in company)
    with console.status(f"running {runs} report(s): {', '.join(spec.name for spec in chosen)}…"):
        outcomes = run_jobs(chosen, companies=company or None, workspace=ws, dry_run=dry_run, executor=executor,
                            workers=workers, address=address)
    raise typer.Exit(_report(outcomes))


@schedule_app.command("due")
def due_command(
    now: Optional[str] = typer.Option(None, "--now", help="Pretend it is this ISO time (naive = UTC)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what is due; run nothing."),
    executor: str = _EXECUTOR, address: Optional[str] = _ADDRESS, workers: Optional[int] = _WORKERS,
    root: Optional[Path] = _ROOT, reports: Optional[Path] = _REPORTS, history: Optional[Path] = _HISTORY,
    specs: Optional[Path] = _SPECS,
) -> None:
    """Run every job whose latest scheduled time is after its last recorded run (for cron)."""
    from quantlib.schedule.runner import due_runs, flush_outbox, recover, run_due

    _check_executor(executor)
    ws = _workspace(root, reports, history, specs)
    jobs = _specs(ws)
    when = _parse_now(now)
    if not dry_run:
        # Runs whose process died are marked failed and alerted first, so their slot is due again.
        for lost in recover(workspace=ws, specs=jobs):
            console.print(f"[red]  lost[/] {lost.record.job} / {lost.record.company}: {lost.reason}",
                          highlight=False)
    # Notifications that failed earlier (server down) are retried before anything runs.
    undelivered = 0
    for item, delivery in ([] if dry_run else flush_outbox(workspace=ws)):
        undelivered += delivery.status == "failed"
        console.print(f"  outbox {item.job} / {item.company} ({item.notice.get('status')}): {delivery}",
                      highlight=False)
    due = due_runs(jobs, when, workspace=ws)
    if not due:
        console.print(f"nothing due at {when.isoformat(timespec='minutes')}")
        raise typer.Exit(3 if undelivered else 0)
    for d in due:
        last = d.last.isoformat(timespec="minutes") if d.last else "never"
        console.print(f"due: {d.spec.name} / {d.company} for {d.slot.isoformat(timespec='minutes')} "
                      f"(last run {last})", highlight=False)
    outcomes = run_due(when, workspace=ws, specs=jobs, dry_run=dry_run, executor=executor, workers=workers,
                       address=address)
    code = _report(outcomes)
    raise typer.Exit(code or (3 if undelivered else 0))


def _stop_on_signal(stop: threading.Event):
    """A SIGINT/SIGTERM handler that asks `serve` to stop after the current cycle."""

    def _stop(signum, frame):  # noqa: ARG001 - signal handler signature
        # Set the event first and write with os.write: the handler interrupts the main thread
        # anywhere, even half-way through an import rich itself needs, so printing through
        # rich here can raise and the stop would be lost.
        stop.set()
        try:
            os.write(sys.__stdout__.fileno(), "stopping after the current cycle…\n".encode())
        except (AttributeError, OSError, ValueError):  # no usable stdout: stopping matters, the line does not
            pass

    return _stop


@schedule_app.command("serve")
def serve_command(
    executor: str = _EXECUTOR, address: Optional[str] = _ADDRESS, workers: Optional[int] = _WORKERS,
    root: Optional[Path] = _ROOT, reports: Optional[Path] = _REPORTS, history: Optional[Path] = _HISTORY,
    specs: Optional[Path] = _SPECS,
) -> None:
    """Run due jobs, sleep until the next scheduled time, repeat (Ctrl-C or SIGTERM stops)."""
    from quantlib.schedule.runner import serve

    _check_executor(executor)
    ws = _workspace(root, reports, history, specs)
    _specs(ws)  # fail fast on an invalid spec at start-up
    stop = threading.Event()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop_on_signal(stop))
    console.print(f"serving {ws.specs} (reports in {ws.reports}); Ctrl-C stops")
    serve(workspace=ws, stop=stop, executor=executor, workers=workers, address=address,
          on_outcome=lambda o: _report([o]),
          on_error=lambda msg: console.print(f"[red]{msg}[/red]"))


@schedule_app.command("history")
def history_command(
    name: Optional[str] = typer.Argument(None, help="Only this job."),
    company: Optional[str] = typer.Option(None, "--company"),
    limit: int = typer.Option(20, "--limit"),
    root: Optional[Path] = _ROOT, reports: Optional[Path] = _REPORTS, history: Optional[Path] = _HISTORY,
) -> None:
    """Show recent attempts from the run history, then every delivery attempt (the outbox)."""
    ws = _workspace(root, reports, history, None)
    hist = ws.history(create=False)
    if hist is None:
        console.print("no runs recorded yet")
        raise typer.Exit(0)
    table = Table(title=f"Run history ({hist.location})")
    for col in ("job", "company", "scheduled for", "started", "status", "attempt", "error"):
        table.add_column(col)
    for r in hist.runs(name, company, limit):
        table.add_row(r.job, r.company, r.scheduled_for, r.started, r.status.value + (" (lost)" if r.lost else ""),
                      str(r.attempt), r.error or "")
    console.print(table)
    attempts = hist.delivery_attempts(name, company, limit)
    if attempts:
        deliveries = Table(title="Deliveries (outbox attempts)")
        for col in ("job", "company", "run", "channel", "target", "attempt", "at", "status", "detail"):
            deliveries.add_column(col)
        for a in attempts:
            deliveries.add_row(a.job, a.company, a.run_id or "", a.channel, a.target, str(a.attempt), a.at, a.status,
                               a.detail or "")
        console.print(deliveries)


@schedule_app.command("export")
def export_command(
    kubernetes: Optional[Path] = typer.Option(None, "--kubernetes", file_okay=False,
                                              help="Folder for one CronJob manifest per job and company."),
    airflow: Optional[Path] = typer.Option(None, "--airflow", file_okay=False,
                                           help="Folder (Airflow's DAG folder) for one DAG file per job."),
    image: str = typer.Option("quant-workspace:latest", "--image", help="Container image with the project."),
    claim: str = typer.Option("quant-workspace", "--claim", help="PersistentVolumeClaim holding the workspace "
                              "(project, lake, reports), mounted at --mount."),
    mount: str = typer.Option("/srv/quant", "--mount", help="Where the workspace is mounted (the working dir)."),
    secret: str = typer.Option("quant-secrets", "--secret", help="Secret whose keys become the environment "
                               "(mail, Slack, Twilio settings): referenced, never copied."),
    namespace: Optional[str] = typer.Option(None, "--namespace"),
    project_dir: Optional[str] = typer.Option(None, "--project-dir", help="Airflow: the project folder on the "
                                              "workers (default: ROOT as seen here)."),
    quant: Optional[str] = typer.Option(None, "--quant", help="Airflow: the quant command on the workers "
                                        "(default: PROJECT-DIR/.venv/bin/quant)."),
    kernel: str = typer.Option("quant", "--kernel", help="Airflow: the Jupyter kernel of the project's "
                               "environment on the workers."),
    env_file: Optional[str] = typer.Option(None, "--env-file", help="Airflow: a file on the workers the publish "
                                           "task sources for the mail, Slack and Twilio settings (path only)."),
    root: Optional[Path] = _ROOT, specs: Optional[Path] = _SPECS,
) -> None:
    """Write scheduled/*.yaml as Airflow DAGs (papermill, then quant publishes) and/or Kubernetes CronJobs."""
    from quantlib.schedule.airflow import AirflowExportError, AirflowSettings, export_dags
    from quantlib.schedule.kubernetes import KubernetesExportError, KubernetesSettings, export_cronjobs

    if kubernetes is None and airflow is None:
        console.print("[red]error:[/red] give --airflow DIR and/or --kubernetes DIR")
        raise typer.Exit(2)
    ws = _workspace(root, None, None, specs)
    jobs = _specs(ws)
    try:
        if airflow is not None:
            settings = AirflowSettings(project=project_dir or str(ws.root), quant=quant, kernel=kernel,
                                       env_file=env_file)
            written = export_dags(jobs, airflow, settings, workspace=ws)
            console.print(f"{len(written)} DAG files in {airflow} (copy them into Airflow's DAG folder)",
                          highlight=False)
        if kubernetes is not None:
            settings = KubernetesSettings(image=image, workspace_claim=claim, mount_path=mount, secret=secret,
                                          namespace=namespace)
            written = export_cronjobs(jobs, kubernetes, settings)
            console.print(f"{len(written)} CronJobs in {kubernetes} (kubectl apply -f {kubernetes})",
                          highlight=False)
    except (AirflowExportError, KubernetesExportError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
