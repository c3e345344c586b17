"""``quant external refresh``: weather and economic indicators from public providers into the lake.

    quant external refresh                                  # Open-Meteo weather and FRED, last 30 days
    quant external refresh --providers open-meteo --from 2024-01-01 --to 2024-12-31

Keys come from the environment (``FRED_API_KEY``, ``OPENWEATHERMAP_API_KEY``); a provider without
its key is skipped with a line saying so. See :mod:`quantlib.connectors.external`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import app, company_option, lake_option

external_app = typer.Typer(help="External data (weather, economic indicators) into the lake.", no_args_is_help=True)
app.add_typer(external_app, name="external")


@external_app.command("refresh")
def refresh_command(
    providers: str = typer.Option("open-meteo,fred", "--providers",
                                  help="Comma-separated: open-meteo, openweathermap, fred."),
    start: Optional[str] = typer.Option(None, "--from", help="First day (default: --days before --to)."),
    end: Optional[str] = typer.Option(None, "--to", help="Last day (default: yesterday)."),
    days: int = typer.Option(30, "--days", min=1, max=3660, help="Days fetched when --from is not given."),
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
) -> None:
    """Fetch each provider's rows and ingest them (bronze keeps the file, bad rows go to the rejects)."""
    from quantlib.cli.ingest import print_report
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.connectors.external import ExternalDataError, refresh

    try:
        last = dt.date.fromisoformat(end) if end else dt.date.today() - dt.timedelta(days=1)
        first = dt.date.fromisoformat(start) if start else last - dt.timedelta(days=days - 1)
    except ValueError as problem:
        typer.echo(f"quant external refresh: {problem} (dates as YYYY-MM-DD)", err=True)
        raise typer.Exit(2)
    if first > last:
        typer.echo(f"quant external refresh: --from {first} is after --to {last}", err=True)
        raise typer.Exit(2)
    names = [p.strip() for p in providers.split(",") if p.strip()]
    try:
        results = refresh(resolve_lake(lake, resolve_company(company)), names, first, last)
    except KeyError as problem:
        typer.echo(f"quant external refresh: {problem.args[0]}", err=True)
        raise typer.Exit(2)
    except ExternalDataError as problem:
        typer.echo(f"quant external refresh: {problem}", err=True)
        raise typer.Exit(1)
    failed = False
    for name, result in results.items():
        if isinstance(result, str):
            typer.echo(result)
            continue
        typer.echo(f"{name}: {first} .. {last}")
        print_report(result)
        failed |= not result.ok
    typer.echo("Run 'quant warehouse build' to bring the new rows into gold.")
    if failed:
        raise typer.Exit(1)
