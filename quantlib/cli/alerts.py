"""``quant alerts``: check the rules, list alerts, acknowledge, snooze and resolve them.

Examples::

    quant alerts check                         # every few minutes from cron or `quant schedule`
    quant alerts check --as-of 2026-06-30 --dry-run
    quant alerts list --open
    quant alerts ack 12
    quant alerts snooze 12 --for 2h
    quant alerts resolve 12

Exit status of ``check``: 0 when it ran, whether or not alerts fired (a channel skipped for
missing credentials or failing is reported, kept in the history and retried, not an error);
1 when a rule failed to evaluate; 2 for a usage error (no warehouse, invalid rules, bad date).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from quantlib.cli.app import app, company_option, lake_option, store_option

console = Console(width=160)
alerts_app = typer.Typer(name="alerts", help="Alerts: check rules, list, acknowledge, snooze, resolve.",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

_STORE = store_option()
_RULES = typer.Option(None, "--rules", help="Alert-rule folder (default parameters/alerts).")
_JSON = typer.Option(False, "--json", help="Print JSON instead of lines.")
_COLOUR = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


def _store(path: Optional[Path]):
    from quantlib.data.opstore import OpsStoreError, open_ops_store

    try:
        return open_ops_store(path)
    except OpsStoreError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _engine(store_path: Optional[Path], rules: Optional[Path], only=None, skip=None):
    from quantlib.alerts import AlertEngine, AlertRuleError, default_rules_folder, load_alerts

    try:
        loaded, policy = load_alerts(rules or default_rules_folder())
    except AlertRuleError as exc:
        console.print(f"[red]invalid alert rules:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    unknown = sorted(set(only or ()).union(skip or ()) - {r.name for r in loaded})
    if unknown:
        console.print(f"[red]error:[/red] no rule {', '.join(unknown)}; known: "
                      f"{', '.join(r.name for r in loaded)}", highlight=False)
        raise typer.Exit(2)
    selected = [r.name for r in loaded if (not only or r.name in only) and r.name not in (skip or ())]
    return AlertEngine(_store(store_path), loaded, policy), selected


def _value(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def _alert_line(a: dict) -> str:
    level = a["level"]
    return (f"[{_COLOUR.get(level, '')}]{level:>8}[/] #{a['id']:<5} {a['rule']:<28} {a['subject']:<26} "
            f"value={_value(a['value'])} state={a['state']} seen={a['count']}")


def _emit(data) -> None:
    from quantlib.alerts.engine import dumps

    typer.echo(dumps(data))


@alerts_app.command("check")
def check_command(
    lake: Optional[Path] = lake_option("reads LAKE/gold.duckdb"),
    company: Optional[str] = company_option(),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Date (YYYY-MM-DD); default: gold's as-of date."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be sent to whom; change no state."),
    as_json: bool = _JSON, store: Optional[Path] = _STORE, rules: Optional[Path] = _RULES,
    only: Optional[list[str]] = typer.Option(None, "--only", help="Check only this rule (repeatable)."),
    skip: Optional[list[str]] = typer.Option(None, "--skip", help="Leave this rule out (repeatable); its "
                                             "alerts stay as they are."),
) -> None:
    """Evaluate every rule, update the alerts and send what is due (one line per alert)."""
    from quantlib.alerts import MetricContext
    from quantlib.config import resolve_lake
    from quantlib.data.gold import open_gold, to_date
    from quantlib.errors import WarehouseNotFoundError

    engine, selected = _engine(store, rules, only, skip)
    try:
        day = None if as_of is None else to_date(as_of)
    except (ValueError, TypeError):
        console.print(f"[red]error:[/red] --as-of {as_of!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None
    try:
        with open_gold(resolve_lake(lake, company)) as con:
            outcome = engine.check(MetricContext(con, day), dry_run=dry_run, names=selected)
    except WarehouseNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        _emit(outcome.as_dict())
    else:
        for a in outcome.alerts:
            console.print(_alert_line(a), highlight=False)
        for a in outcome.resolved:
            console.print(f"[green]resolved[/] #{a['id']:<5} {a['rule']:<28} {a['subject']}", highlight=False)
        for r in outcome.results:
            if r.unavailable:
                console.print(f"[dim]  no data[/] {r.rule}: {r.unavailable}", highlight=False)
            if r.error:
                console.print(f"[red]   error[/] {r.rule}: {r.error}", highlight=False)
        for d in outcome.deliveries:
            if d.message.channel != "dashboard":
                line = f"would send {d.message.describe()}" if dry_run else f"notify {d.line()}"
                console.print(f"  {line}", highlight=False)
        fired = len(outcome.alerts)
        console.print(f"{len(outcome.results)} rule(s) checked, {fired} alert(s) breaching, "
                      f"{len(outcome.resolved)} resolved" + (" (dry run: nothing stored or sent)" if dry_run else ""),
                      highlight=False)
    raise typer.Exit(1 if outcome.errors else 0)


@alerts_app.command("list")
def list_command(
    open_only: bool = typer.Option(False, "--open", help="Only alerts not resolved."),
    as_json: bool = _JSON, store: Optional[Path] = _STORE,
    limit: int = typer.Option(200, "--limit", help="At most this many, newest first."),
) -> None:
    """The stored alerts, newest first."""
    from quantlib.alerts import AlertEngine

    engine = AlertEngine(_store(store), [])
    rows = engine.alerts(open_only=open_only, limit=limit)
    if as_json:
        _emit(rows)
        return
    if not rows:
        console.print("no alerts" + (" open" if open_only else ""))
    for a in rows:
        console.print(_alert_line(a) + f" last={a['last_seen'][:19]}", highlight=False)


def _act(store: Optional[Path], action) -> dict:
    from quantlib.alerts import AlertEngine, AlertError

    engine = AlertEngine(_store(store), [])
    try:
        return action(engine)
    except AlertError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@alerts_app.command("ack")
def ack_command(alert_id: int = typer.Argument(..., help="Alert id (see `quant alerts list`)."),
                store: Optional[Path] = _STORE) -> None:
    """Acknowledge an alert: no escalation, no repeat unless its level rises."""
    row = _act(store, lambda e: e.acknowledge(alert_id))
    console.print(f"acknowledged #{row['id']} {row['rule']} {row['subject']}", highlight=False)


@alerts_app.command("snooze")
def snooze_command(alert_id: int = typer.Argument(..., help="Alert id."),
                   duration: str = typer.Option(..., "--for", help="How long: 30m, 2h, 1d."),
                   store: Optional[Path] = _STORE) -> None:
    """Silence an alert for a while (no message, no escalation)."""
    row = _act(store, lambda e: e.snooze(alert_id, duration))
    console.print(f"snoozed #{row['id']} {row['rule']} {row['subject']} until {row['snoozed_until'][:19]} UTC",
                  highlight=False)


@alerts_app.command("resolve")
def resolve_command(alert_id: int = typer.Argument(..., help="Alert id."),
                    store: Optional[Path] = _STORE, rules: Optional[Path] = _RULES) -> None:
    """Resolve an alert now; those who were told get a resolution message."""
    from quantlib.alerts import AlertError

    engine, _ = _engine(store, rules)
    try:
        row, deliveries = engine.resolve(alert_id)
    except AlertError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"resolved #{row['id']} {row['rule']} {row['subject']}", highlight=False)
    for d in deliveries:
        console.print(f"  notify {d.line()}", highlight=False)
