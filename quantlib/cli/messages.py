"""``quant messages`` and ``quant webhooks``: appointment confirmations and surveys by SMS, their replies.

    quant messages send confirmation J00022677 --to +15555550123
    quant messages send survey J00000001 --to +15555550123
    quant webhooks serve --port 8871          # Twilio's incoming-message webhook: POST /twilio/sms; the
                                              # accounting webhooks: POST /quickbooks/webhook, /xero/webhook;
                                              # Salesforce outbound messages: POST /salesforce/outbound
    quant messages land                       # the replies into the lake as interactions

See :mod:`quantlib.notify.conversations` and :mod:`quantlib.api.webhooks`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import app, company_option, lake_option, store_option

messages_app = typer.Typer(help="SMS confirmations and surveys, and their replies as interactions.",
                           no_args_is_help=True)
app.add_typer(messages_app, name="messages")
webhooks_app = typer.Typer(help="The webhook receiver vendors call (Twilio replies, QuickBooks and Xero "
                                 "changes, Salesforce outbound messages).", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


@messages_app.command("send")
def send_command(
    kind: str = typer.Argument(..., help="confirmation (a booked job) or survey (a completed job)."),
    job_id: str = typer.Argument(..., help="The job."),
    to: str = typer.Option(..., "--to", help="The customer's mobile number, E.164 (the warehouse holds none)."),
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
    store: Optional[Path] = store_option(),
) -> None:
    """Text a customer a confirmation or a survey about one job (Twilio) and remember it for the reply."""
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.data.gold import open_gold
    from quantlib.data.opstore import open_ops_store
    from quantlib.notify import DeliveryError
    from quantlib.notify.conversations import send

    try:
        with open_gold(resolve_lake(lake, resolve_company(company))) as con:
            typer.echo(send(open_ops_store(store), con, kind, job_id, to, os.environ))
    except (KeyError, ValueError, DeliveryError) as problem:
        typer.echo(f"quant messages send: {problem.args[0]}", err=True)
        raise typer.Exit(1)


@messages_app.command("land")
def land_command(
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
    store: Optional[Path] = store_option(),
) -> None:
    """Ingest the replies not yet in the lake as inbound interactions (then 'quant warehouse build')."""
    from quantlib.cli.ingest import print_report
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.data.opstore import open_ops_store
    from quantlib.notify.conversations import land_replies

    report = land_replies(open_ops_store(store), resolve_lake(lake, resolve_company(company)))
    if report is None:
        typer.echo("no new replies")
        return
    print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@webhooks_app.command("serve")
def serve_command(
    port: int = typer.Option(8871, "--port"),
    ip: str = typer.Option("127.0.0.1", "--ip", help="Address to bind (a reverse proxy in front for TLS)."),
    store: Optional[Path] = store_option(),
    lake: Optional[Path] = lake_option(),
    company: Optional[str] = company_option(),
) -> None:
    """Serve POST /twilio/sms, /quickbooks/webhook, /xero/webhook (signatures checked) and
    /salesforce/outbound (organisation and key checked) until stopped.

    Accounting notifications and Salesforce outbound messages are recorded in the lake and the
    changed records synced into it.
    """
    import uvicorn

    from quantlib.api.webhooks import create_webhook_app
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.data.opstore import open_ops_store

    receiver = create_webhook_app(open_ops_store(store), lake=resolve_lake(lake, resolve_company(company)))
    uvicorn.run(receiver, host=ip, port=port, log_level="warning")
