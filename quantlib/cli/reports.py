"""``quant reports push``: published reports to object storage (:mod:`quantlib.publish.mirror`).

    quant reports push --to s3://quant-reports/acme          # reports/ by default
    quant reports push --reports /srv/quant/reports --to s3://quant-reports/acme
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import app

reports_app = typer.Typer(help="Published reports: copy them to object storage.", no_args_is_help=True)
app.add_typer(reports_app, name="reports")


@reports_app.command("push")
def push_command(
    to: str = typer.Option(..., "--to", help="Object storage prefix, s3://bucket/prefix."),
    reports: Optional[Path] = typer.Option(None, "--reports", help="Reports folder (default reports/)."),
) -> None:
    """Copy index.html and the run folders (changed files only, the index last); print the index's URL."""
    from quantlib.config import project_root
    from quantlib.publish.mirror import MirrorError, push_reports

    try:
        result = push_reports(reports or project_root() / "reports", to)
    except (MirrorError, OSError) as problem:  # OSError: storage refused (no bucket, no access)
        typer.echo(f"quant reports push: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(result.sent)} files sent, {len(result.unchanged)} unchanged", err=True)
    typer.echo(str(result.index))
