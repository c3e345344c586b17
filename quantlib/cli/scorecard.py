"""``quant scorecard``: the specification's success metrics against a baseline year.

The engine (:mod:`quantlib.risk.scorecard`) is imported inside the command, so ``quant --help``
stays fast.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app, company_option, lake_option
from quantlib.config import resolve_lake


def _number(value, unit: str, kind: str | None = None, change: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if change and kind == "relative":
        return f"{value:+.1%}"
    if change and kind == "points" and unit == "ratio":
        return f"{value * 100:+.1f} pts"
    if unit == "ratio":
        return f"{value:+.1%}" if change else f"{value:.1%}"
    if unit == "currency":
        return f"{value:+,.0f}" if change else f"${value:,.0f}"
    return f"{value:+,.2f}" if change else f"{value:,.2f}"


def _json_value(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@app.command("scorecard")
def scorecard(
    baseline_year: int = typer.Option(..., "--baseline-year", help="Calendar year to compare with."),
    as_of: str = typer.Option(None, "--as-of",
                              help="End of the current year (YYYY-MM-DD); default: latest date in gold."),
    lake: Optional[Path] = lake_option("reads LAKE/gold.duckdb"),
    company: Optional[str] = company_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON instead of a table."),
) -> None:
    """Print the success scorecard: per metric baseline, current, change, target and whether it is met."""
    from quantlib.data.lake import Lake
    from quantlib.risk.scorecard import ScorecardError, success_scorecard

    gold = Lake(resolve_lake(lake, company)).gold
    if not gold.exists():
        raise typer.BadParameter(f"{gold} does not exist; run 'quant warehouse build' first", param_hint="--lake")
    try:
        table = success_scorecard(gold, baseline_year, as_of)
    except ScorecardError as problem:
        raise typer.BadParameter(str(problem), param_hint="--baseline-year") from None
    (base_start, base_end), (start, end) = table.attrs["baseline"], table.attrs["current"]
    if as_json:
        rows = [{key: _json_value(value) for key, value in row.items()} for row in table.to_dict(orient="records")]
        typer.echo(json.dumps({"baseline": [str(base_start), str(base_end)], "current": [str(start), str(end)],
                               "metrics": rows}, indent=2))
        return
    out = Table(title=f"Success scorecard: {baseline_year} against {start} to {end}")
    for column, justify in [("metric", "left"), ("baseline", "right"), ("current", "right"), ("change", "right"),
                            ("target", "right"), ("met", "left"), ("note", "left")]:
        out.add_column(column, justify=justify)
    for row in table.itertuples(index=False):
        met = "-" if row.met is None else ("[green]yes[/]" if row.met else "[red]no[/]")
        target = (_number(row.target, row.unit) if row.kind == "level"
                  else _number(row.target, "ratio", row.kind, change=True))
        out.add_row(row.label, _number(row.baseline, row.unit), _number(row.current, row.unit),
                    _number(row.change, row.unit, row.kind, change=True), target, met, row.note)
    Console(width=160).print(out)
