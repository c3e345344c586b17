"""``quant kpi``: the KPI table of a gold database as of a date.

The KPI engine is imported inside the command, so ``quant --help`` stays fast.
"""

from __future__ import annotations

import math
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app, company_option, lake_option
from quantlib.config import resolve_lake

_STATUS_STYLE = {"above target": "green", "on target": "green", "below target": "green", "no data": "dim",
                 "no target": ""}




@app.command("kpi")
def kpi(
    as_of: str = typer.Option(None, "--as-of", help="Date (YYYY-MM-DD); default: latest date in gold."),
    lake: Optional[str] = lake_option("reads LAKE/gold.duckdb"),  # text: s3:// URLs stay intact
    company: Optional[str] = company_option(),
    service_line: str = typer.Option(None, "--service-line", help="Restrict to one service line."),
    region: str = typer.Option(None, "--region", help="Restrict to one region."),
) -> None:
    """Print every KPI as of a date: value, unit, target, status (above / on / below target, alert)."""
    from quantlib.data.lake import Lake
    from quantlib.kpi import Filters, kpi_summary
    from quantlib.views.formatting import format_kpi_value

    gold = Lake(resolve_lake(lake, company)).gold
    if not gold.exists():
        raise typer.BadParameter(f"{gold} does not exist; run 'quant warehouse build' first", param_hint="--lake")
    summary = kpi_summary(gold, as_of, filters=Filters(service_line=service_line, region=region))
    table = Table(title=f"KPIs as of {summary['as_of'].iloc[0]}")
    for column, justify in [("kpi", "left"), ("value", "right"), ("unit", "left"), ("target", "right"),
                            ("status", "left"), ("note", "left")]:
        table.add_column(column, justify=justify)
    for row in summary.itertuples(index=False):
        missing = row.target is None or (isinstance(row.target, float) and math.isnan(row.target))
        target = None if missing else row.target
        # Off target on the worse side is an alert (red); the better side is good news (green).
        style = "bold red" if row.alert else _STATUS_STYLE.get(row.status, "")
        status = f"{row.status}, alert" if row.alert else row.status
        table.add_row(row.kpi, format_kpi_value(row.value, row.unit), row.unit,
                      "-" if target is None else format_kpi_value(target, row.unit),
                      f"[{style}]{status}[/]" if style else status, row.note)
    Console(width=140).print(table)
