"""``quant backup`` and ``quant restore``: snapshots of a workspace (:mod:`quantlib.data.backup`).

    quant backup --to /mnt/backups                 # the default lake and reports/
    quant backup --lake data/acme/lake --reports reports --to /mnt/backups
    quant backup verify /mnt/backups/quant-snapshot-20261207T021500Z
    quant restore /mnt/backups/quant-snapshot-20261207T021500Z --lake /srv/quant/lake
    quant backup --to s3://backups/quant                 # object storage ($QUANT_S3_ENDPOINT_URL, AWS_*)

Locations are kept as text (not ``Path``), so an ``s3://`` URL reaches the library intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import app, company_option, lake_option

backup_app = typer.Typer(help="Snapshot the lake, gold, run and alert history, comments and reports; verify one.",
                         no_args_is_help=False, invoke_without_command=True)
app.add_typer(backup_app, name="backup")


@backup_app.callback()
def backup_command(
    ctx: typer.Context,
    to: Optional[str] = typer.Option(None, "--to", help="Folder or s3://bucket/prefix the snapshot is written "
                                     "under (a new folder)."),
    lake: Optional[str] = lake_option(),
    company: Optional[str] = company_option(),
    reports: Optional[Path] = typer.Option(None, "--reports", help="Reports folder with the run history, the "
                                           "operational store and comments (default reports/)."),
) -> None:
    """Write one snapshot under --to and print its path."""
    if ctx.invoked_subcommand is not None:
        return
    from quantlib.config import project_root, resolve_company, resolve_lake
    from quantlib.data.backup import BackupError, backup

    if to is None:
        typer.echo("quant backup: --to DEST is required (or: quant backup verify SNAPSHOT)", err=True)
        raise typer.Exit(2)
    company = resolve_company(company)
    try:
        snap = backup(resolve_lake(lake, company), to, reports or project_root() / "reports")
    except (BackupError, OSError) as problem:  # OSError: storage refused (no bucket, no access)
        typer.echo(f"quant backup: {problem}", err=True)
        raise typer.Exit(1)
    size = sum(entry["size"] for entry in snap.files)
    typer.echo(f"{len(snap.files)} files, {size / 1e6:,.1f} MB, checksummed", err=True)
    typer.echo(str(snap.path))


@backup_app.command("verify")
def verify_command(snapshot: str = typer.Argument(..., help="A snapshot folder or s3:// prefix "
                                                  "(quant-snapshot-...).")) -> None:
    """Re-read every file of a snapshot against its checksum; exit 1 naming the first that differs."""
    from quantlib.data.backup import BackupError, verify

    try:
        snap = verify(snapshot)
    except (BackupError, OSError) as problem:  # OSError: storage refused (no bucket, no access)
        typer.echo(f"quant backup verify: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{snap.path}: {len(snap.files)} files, every checksum matches")


@app.command("restore")
def restore_command(
    snapshot: str = typer.Argument(..., help="A snapshot folder or s3:// prefix written by 'quant backup'."),
    lake: str = typer.Option(..., "--lake", help="New, empty lake folder (or s3:// prefix)."),
    reports: Optional[str] = typer.Option(None, "--reports", help="New, empty reports folder (default: a "
                                                                  "'reports' folder beside --lake)."),
) -> None:
    """Copy a snapshot back into an empty workspace (checked before and after; nothing is rebuilt)."""
    from quantlib.data.backup import BackupError, restore

    try:
        snap = restore(snapshot, lake, reports)
    except (BackupError, OSError) as problem:  # OSError: storage refused (no bucket, no access)
        typer.echo(f"quant restore: {problem}", err=True)
        raise typer.Exit(1)
    from quantlib.data.storage import as_location

    where = reports or as_location(lake).parent / "reports"
    typer.echo(f"restored {len(snap.files)} files: lake {lake}, reports {where}")
