"""``quant email KIND ID --to ADDRESS``: a transactional e-mail through a SendGrid dynamic template.

    quant email invoice I00000123 --to customer@example.com
    quant email appointment J00022677 --to customer@example.com --dry-run   # the data, nothing sent

Settings and template ids come from the environment (:mod:`quantlib.notify.sendgrid`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import app, company_option, lake_option


@app.command("email")
def email_command(
    kind: str = typer.Argument(..., help="invoice, appointment or follow_up."),
    record_id: str = typer.Argument(..., help="The invoice id (invoice) or the job id (appointment, follow_up)."),
    to: str = typer.Option(..., "--to", help="The customer's address (the warehouse holds none)."),
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the template data; send nothing."),
) -> None:
    """Send the invoice, appointment confirmation or follow-up e-mail of one record (SendGrid template)."""
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.data.gold import open_gold
    from quantlib.notify import DeliveryError
    from quantlib.notify.sendgrid import KINDS, missing, send_template, template_data

    if kind not in KINDS:
        typer.echo(f"quant email: unknown template {kind!r}; known: {', '.join(KINDS)}", err=True)
        raise typer.Exit(2)
    try:
        with open_gold(resolve_lake(lake, resolve_company(company))) as con:
            data = template_data(con, kind, record_id)
    except (KeyError, ValueError) as problem:
        typer.echo(f"quant email: {problem.args[0]}", err=True)
        raise typer.Exit(1)
    if dry_run:
        typer.echo(json.dumps(data, indent=1))
        return
    problem = missing(kind)
    if problem:
        typer.echo(problem)  # a clear line, not a failure: the channel is not set up here
        return
    try:
        typer.echo(send_template(kind, to, data))
    except DeliveryError as problem:
        typer.echo(f"quant email: {problem}", err=True)
        raise typer.Exit(1)
