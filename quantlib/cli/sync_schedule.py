"""``quant sync due`` and ``quant sync status``: scheduled syncs from ``parameters/sync.yaml``.

    quant sync due                          # from cron, a systemd timer or a Kubernetes CronJob, every few minutes
    quant sync due --now 2026-12-07T03:00 --dry-run
    quant sync status

``due`` runs every enabled source whose cron is due since its last scheduled run (see
:mod:`quantlib.schedule.syncs`), one line per source. Exit status: 0 when every due source
synced, was skipped for want of credentials, or was still running from a previous call (or
nothing was due); 1 when a source failed (the others still ran); 2 for an invalid schedule file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import company_option, lake_option
from quantlib.cli.sync import sync_app

_CONFIG = typer.Option(None, "--config", dir_okay=False, help="The sync schedule (default: parameters/sync.yaml; "
                       "absent, every source runs on its connector's default frequency).")


def _now(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        typer.echo(f"quant sync: --now {text!r} is not an ISO date-time (e.g. 2026-12-07T07:00)", err=True)
        raise typer.Exit(2) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _schedules(config: Path | None):
    from quantlib.schedule.syncs import SyncScheduleError, load_sync_schedule

    try:
        return load_sync_schedule(config)
    except SyncScheduleError as problem:
        typer.echo(f"quant sync: {problem}", err=True)
        raise typer.Exit(2) from None


@sync_app.command("due")
def due_command(
    now: Optional[str] = typer.Option(None, "--now", help="Pretend it is this ISO time (naive = UTC)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what is due; sync nothing."),
    sources: Optional[list[str]] = typer.Option(None, "--source", help="Only this source (repeatable)."),
    config: Optional[Path] = _CONFIG,
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
) -> None:
    """Sync every enabled source whose schedule is due since its last run (for cron; one line per source)."""
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.schedule.syncs import FAILED, run_due

    schedules = _schedules(config)
    unknown = [s for s in sources or [] if s not in schedules]
    if unknown:
        typer.echo(f"quant sync due: no source {', '.join(unknown)}; known: {', '.join(schedules)}", err=True)
        raise typer.Exit(2)
    when = _now(now)
    root = resolve_lake(lake, resolve_company(company))
    outcomes = run_due(root, when, schedules=schedules, sources=sources or None, dry_run=dry_run,
                       on_outcome=lambda o: typer.echo(f"{o.status:>8} {o.line}"))
    if not outcomes:
        typer.echo(f"nothing due at {when.isoformat(timespec='minutes')}")
    raise typer.Exit(1 if any(o.status == FAILED for o in outcomes) else 0)


def _when(text: str | None) -> str:
    return text.replace("+00:00", "Z") if text else "-"


@sync_app.command("status")
def status_command(
    now: Optional[str] = typer.Option(None, "--now", help="Compute what is due at this ISO time (naive = UTC)."),
    config: Optional[Path] = _CONFIG,
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
) -> None:
    """Per source: enabled, frequency, credentials, last run and outcome, next due, cursors, rejects, write-back."""
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.schedule.syncs import sync_status

    schedules = _schedules(config)
    root = resolve_lake(lake, resolve_company(company))
    typer.echo(f"syncs into {root}")
    for row in sync_status(root, _now(now), schedules=schedules):
        typer.echo("")
        typer.echo(f"{row['source']}: {'enabled' if row['enabled'] else 'disabled'}, {row['frequency']} "
                   f"({row['cron']} {row['timezone']}), {row['direction']}")
        typer.echo(f"  credentials  {row['credentials']}")
        last = row["last_run"]
        if last is None:
            typer.echo("  last run     never")
        else:
            rows = f"{last['accepted']} accepted, {last['rejected']} rejected"
            typer.echo(f"  last run     {_when(last['finished'])} {last['outcome']} ({last['trigger']}; {rows})"
                       + (f": {last['error']}" if last["error"] else ""))
        typer.echo(f"  next due     {_when(row['next_due'])}")
        cursors = row["cursors"]
        typer.echo(f"  cursors      {', '.join(f'{o} {c}' for o, c in sorted(cursors.items())) or 'none yet'}")
        if row["rejected_last_run"]:
            typer.echo(f"  rejected     {row['rejected_last_run']} rows in the last run (see the lake's rejects)")
        wb = row["last_write_back"]
        if row["direction"] == "bidirectional" or wb:
            typer.echo("  write-back   " + (f"{wb['at']}: {wb['fields']} fields on {wb['records']} records (audited)"
                                          if wb else "never"))
        hook = row["last_webhook_sync"]
        if hook:
            typer.echo(f"  webhook sync {_when(hook['at'])} {hook['status']} ({hook['objects']})"
                       + (f": {hook['error']}" if hook.get("error") else ""))
