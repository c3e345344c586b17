"""``quant price``: one quote's cost build-up, rule price, recommended price and win probability.

Examples::

    quant price --customer C000123 --service-line hvac --job-type repair --urgency urgent
    quant price --customer C000123 --service-line hvac --job-type install --json

The engine (:mod:`quantlib.pricing.quote`) is imported inside the command, so ``quant --help``
stays fast. Exit 0 with the advice, 2 on unknown inputs (naming what is allowed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app, company_option, lake_option
from quantlib.config import resolve_lake


@app.command("price")
def price(
    customer: str = typer.Option(..., "--customer", help="Customer id."),
    service_line: str = typer.Option(..., "--service-line", help="Service line, e.g. hvac."),
    job_type: str = typer.Option(..., "--job-type", help="Job type, e.g. repair or install."),
    urgency: str = typer.Option("routine", "--urgency", help="routine, urgent (rush) or emergency."),
    as_of: str = typer.Option(None, "--as-of", help="Price as of this date (YYYY-MM-DD); default gold's."),
    lake: Optional[Path] = lake_option("reads LAKE/gold.duckdb"),
    company: Optional[str] = company_option(),
    as_json: bool = typer.Option(False, "--json", help="One JSON object (cost, rule_price, recommended_price, "
                                                        "win_probability, expected_margin, cross_sell_margin, "
                                                        "...)."),
) -> None:
    """Price one quote: cost, rule price, recommended price, win probability, expected margin, risks, cross-sell."""
    from quantlib.data.lake import Lake
    from quantlib.pricing import PricingError
    from quantlib.pricing.quote import QuotePricer

    gold = Lake(resolve_lake(lake, company)).gold
    if not gold.exists():
        raise typer.BadParameter(f"{gold} does not exist; run 'quant warehouse build' first", param_hint="--lake")
    try:
        advice = QuotePricer().fit(gold, as_of).quote(customer, service_line, job_type, urgency)
    except (PricingError, ValueError) as problem:
        typer.echo(f"quant price: {problem}", err=True)
        raise typer.Exit(2) from None
    data = advice.as_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    out = Table(title=f"Quote for {customer} ({data['segment']}): {service_line} {job_type}, {urgency}")
    out.add_column("", justify="left")
    out.add_column("value", justify="right")
    out.add_column("basis", justify="left")
    for line in advice.cost.lines().itertuples(index=False):
        out.add_row(f"cost: {line.component}", f"${line.amount:,.2f}", line.basis)
    for step in advice.rule.factors().itertuples(index=False):
        if step.step != "cost":
            out.add_row(f"rule: {step.step}", f"${step.price:,.2f}", f"x {step.factor:.3g}")
    risk = data["risk"]
    out.add_row("risk: payment loss", f"{risk['payment_loss']:.1%}",
                f"the segment's written-off share (this customer's own: {risk['customer_payment_loss']:.1%})")
    out.add_row("risk: overrun", f"${risk['completion_risk']:,.2f}", "expected cost above the median hours")
    out.add_row("risk: weather", f"${risk['weather_risk']:,.2f}", "storm days in the month x a revisit")
    items = ", ".join(f"{i['item']} {i['probability']:.0%} x ${i['margin']:,.0f}" for i in data["cross_sell_items"])
    out.add_row("cross-sell margin", f"${data['cross_sell_margin']:,.2f}",
                f"if won, the segment's mean P(buy) x margin (this customer's own "
                f"${data['customer_cross_sell_margin']:,.2f}: {items or 'nothing recommended'})")
    out.add_row("rule price", f"${data['rule_price']:,.2f}",
                f"P(win) {data['rule_win_probability']:.0%}, expected margin ${data['rule_expected_margin']:,.2f}")
    out.add_row("[bold]recommended price[/]", f"[bold]${data['recommended_price']:,.2f}[/]",
                f"P(win) {data['win_probability']:.0%}, expected margin ${data['expected_margin']:,.2f}"
                + (f"; guard rail: {data['guard_rails']['binding']}" if data["guard_rails"]["binding"] != "none"
                   else ""))
    Console(width=140).print(out)
