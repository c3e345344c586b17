"""``quant sync``: a CRM or accounting system's records into the lake through its API, and back.

    quant sync salesforce                      # objects modified since the stored cursors
    quant sync hubspot --since 2024-01-01      # a re-read from a day (cursors then move on)
    quant sync salesforce --object Account
    quant sync salesforce --push               # Quant's owned fields (churn risk, lifetime value) back
    quant sync due                             # the sources parameters/sync.yaml says are due (for cron)
    quant sync status                          # per source: schedule, last run, next due, cursors

``quant sync SOURCE`` is short for ``quant sync run SOURCE``; ``due`` and ``status`` are in
:mod:`quantlib.cli.sync_schedule` (see :mod:`quantlib.schedule.syncs`). Every run is recorded in
``<lake>/sync/runs.jsonl``.

Credentials come from the environment (see docs/integrations.md); a missing one is named and
nothing is called. Pages land through the ordinary ingest with the source's shipped mapping
(bronze keeps each page, bad records go to the rejects); see :mod:`quantlib.connectors.base`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from quantlib.cli.app import app, company_option, lake_option

# Problem lines printed per sync; the rejects table has all of them.
MAX_SHOWN = 20


def _load_connectors() -> dict:
    """The registered connectors (importing quantlib.connectors registers them)."""
    import quantlib.connectors  # noqa: F401
    from quantlib.connectors.base import CONNECTORS

    return CONNECTORS


class _SourceOrCommand(TyperGroup):
    """``quant sync SOURCE ...`` runs ``quant sync run SOURCE ...``; ``due`` and ``status`` are sub-commands."""

    def parse_args(self, ctx, args):
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


sync_app = typer.Typer(name="sync", cls=_SourceOrCommand, no_args_is_help=True,
                       help="CRM and accounting syncs: quant sync SOURCE (run now), due (what the schedule says is "
                            "due), status.")
app.add_typer(sync_app, name="sync")


@sync_app.command("run")
def sync_command(
    source: str = typer.Argument(..., help="The system: salesforce, hubspot, ..."),
    since: Optional[str] = typer.Option(None, "--since", help="Read records modified from this day or time "
                                        "(ISO 8601) instead of the stored cursors."),
    objects: Optional[list[str]] = typer.Option(None, "--object", help="Only this vendor object (repeatable), "
                                                "e.g. Account."),
    push_back: bool = typer.Option(False, "--push", help="Write Quant's owned fields (from gold) back to the "
                                   "system instead of reading; every field written is audited."),
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
) -> None:
    """Read a system's records modified since the last sync into the lake (or, with --push, write back)."""
    import datetime as dt
    import os

    from quantlib.config import resolve_company, resolve_lake
    from quantlib.connectors.base import SyncError, sync
    from quantlib.data.writelock import LakeLocked, LakeLockError
    from quantlib.schedule.syncs import connector_secrets, record_run, run_record

    connectors = _load_connectors()
    if source not in connectors:
        typer.echo(f"quant sync: unknown source {source!r}; known: {', '.join(sorted(connectors))}", err=True)
        raise typer.Exit(2)
    connector = connectors[source]()
    missing = connector.missing(os.environ)
    if missing:
        typer.echo(f"quant sync: {missing}", err=True)
        raise typer.Exit(2)
    unknown = [o for o in objects or [] if o not in connector.objects]
    if unknown:
        typer.echo(f"quant sync: {source} has no object {', '.join(unknown)}; it syncs "
                   f"{', '.join(connector.objects)}", err=True)
        raise typer.Exit(2)
    root = resolve_lake(lake, resolve_company(company))
    if push_back:
        _push(root, source, connector)
        return
    started = dt.datetime.now(dt.timezone.utc)
    try:
        report = sync(root, source, since=since, objects=objects or None, connector=connector)
    except (SyncError, LakeLocked, LakeLockError) as problem:
        record_run(root, run_record(source, trigger="manual", started=started, error=problem,
                                    finished=dt.datetime.now(dt.timezone.utc),
                                    secrets=connector_secrets(connector, os.environ)))
        typer.echo(f"quant sync: {problem}", err=True)
        typer.echo("Pages landed before the failure are kept, with their cursors: the next sync resumes there.",
                   err=True)
        raise typer.Exit(1) from None
    record_run(root, run_record(source, trigger="manual", started=started, report=report,
                                finished=dt.datetime.now(dt.timezone.utc)))
    for obj, pages in report.pages.items():
        cursor = report.cursors.get(obj)
        removed = report.deleted.get(obj, 0)
        typer.echo(f"{source} {obj}: {pages} page{'s' if pages != 1 else ''}, {report.rows[obj]} records"
                   + (f", cursor {cursor}" if cursor else ", nothing new")
                   + (f"; {removed} row{'s' if removed != 1 else ''} deleted in {source} taken out of silver "
                      "(see <lake>/sync/deletions.parquet)" if removed else ""))
    problems = [p for r in report.ingests for f in r.files for p in f.problems]
    for problem in problems[:MAX_SHOWN]:
        typer.echo(str(problem))
    if len(problems) > MAX_SHOWN:
        typer.echo(f"... and {len(problems) - MAX_SHOWN} more (all rejected records are in the lake's rejects)")
    typer.echo(f"{report.rows_accepted} accepted, {report.rows_rejected} rejected. "
               "Run 'quant warehouse build' to bring them into gold.")


def _push(root: Path, source: str, connector) -> None:
    from quantlib.connectors.base import SyncError, WriteBackRefused
    from quantlib.connectors.crm import push
    from quantlib.errors import WarehouseNotFoundError

    try:
        report = push(root, source, connector=connector)
    except WriteBackRefused as problem:
        typer.echo(f"quant sync --push: {problem}", err=True)
        raise typer.Exit(2) from None
    except (SyncError, WarehouseNotFoundError) as problem:
        typer.echo(f"quant sync --push: {problem}", err=True)
        raise typer.Exit(1) from None
    records = report.written["record_id"].nunique() if len(report.written) else 0
    typer.echo(f"{source}: wrote {len(report.written)} fields on {records} records (audited in "
               f"{root / 'sync' / 'audit.parquet'}); {report.unchanged} already equal; "
               f"{report.not_from_source} customers from other sources left out")
    for failure in report.failures:
        typer.echo(failure)
    if report.failures:
        raise typer.Exit(1)
