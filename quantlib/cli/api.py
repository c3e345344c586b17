"""``quant api``: the read API (:mod:`quantlib.api`) over a lake's gold, on uvicorn.

    quant api                                        # http://127.0.0.1:8870/, this machine only
    quant api --port 9000 --company seasonal_outdoor
    QUANT_API_TOKEN=s3cret quant api --ip 0.0.0.0    # reachable from the network: token required

As ``quant apps``: bound to loopback by default, and anywhere else only with a token
(``--token`` or ``QUANT_API_TOKEN``) or members with tokens in ``parameters/teams.yaml``, which
every request then carries as ``Authorization: Bearer TOKEN``. Tokens are never printed or
logged (``quant token NAME`` prints a new one once, for its member to keep).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import app, company_option, lake_option, store_option

__all__ = ["DEFAULT_PORT", "TOKEN_ENV"]

DEFAULT_PORT = 8870
# The variable's name, not a password.
TOKEN_ENV = "QUANT_API_TOKEN"  # nosec B105


@app.command("api")
def api(
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
    ip: str = typer.Option("127.0.0.1", "--ip", help="Address to bind; anything but loopback needs a token."),
    token: Optional[str] = typer.Option(None, "--token", help=f"Bearer token (or ${TOKEN_ENV})."),
    company: Optional[str] = company_option(),
    lake: Optional[Path] = lake_option("reads LAKE/gold.duckdb"),
    reports: Optional[Path] = typer.Option(None, "--reports", help="Reports folder with the run history "
                                                                    "(default reports/)."),
    store: Optional[Path] = store_option(),
    warm_days: int = typer.Option(365, "--warm-days", min=0, help="Days back whose KPI summaries are computed "
                                                                    "ahead of requests after each build."),
) -> None:
    """Serve KPIs, marts, forecasts, report runs and alerts over HTTP (JSON; /openapi.json describes it)."""
    import uvicorn

    from quantlib.api import ApiSettings, create_app
    from quantlib.cli.apps import is_loopback
    from quantlib.config import project_root, resolve_lake
    from quantlib.data.lake import Lake
    from quantlib.data.storage import is_remote as lake_is_remote
    from quantlib.identity import load_directory

    token = token or os.environ.get(TOKEN_ENV) or None
    try:
        directory = load_directory()
    except ValueError as problem:
        typer.echo(f"quant api: {problem}", err=True)
        raise typer.Exit(2) from None
    if token is None and not directory.token_hashes and not is_loopback(ip):
        typer.echo(f"quant api: refusing to serve on {ip} without a token: the API shows company data to anyone "
                   f"who can reach the port; pass --token or set {TOKEN_ENV}, or bind to 127.0.0.1", err=True)
        raise typer.Exit(2)
    gold = Lake(resolve_lake(lake, company)).gold
    if not gold.exists():
        typer.echo(f"quant api: {gold} does not exist; run 'quant warehouse build' first", err=True)
        raise typer.Exit(2)
    # Gold on object storage stays a URL: the server fetches its copy (and later builds) itself.
    settings = ApiSettings(gold=str(gold) if lake_is_remote(gold) else gold.resolve(),
                           reports=(reports or project_root() / "reports").resolve(),
                           ops_store=store, token=token, warm_days=warm_days, directory=directory)
    typer.echo(f"Serving {gold} at http://{ip}:{port}/  (/openapi.json; Ctrl-C to stop)")
    uvicorn.run(create_app(settings), host=ip, port=port, log_level="warning")


@app.command("token")
def token_command(member: str = typer.Argument(..., help="The member the token is for.")) -> None:
    """Make a token for MEMBER: prints the token once (give it to them) and the line for parameters/teams.yaml."""
    from quantlib.identity import hash_token, new_token

    made = new_token()
    typer.echo(f"token for {member} (shown once; only its hash is stored): {made}")
    typer.echo("add under 'members:' in parameters/teams.yaml:")
    typer.echo(f"  {member}: {{token_sha256: {hash_token(made)}}}")
