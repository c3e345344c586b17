"""``quant monitor``: score the recorded predictions whose period has ended, and flag decayed models.

Examples::

    quant monitor                              # gold's as-of date, a table
    quant monitor --as-of 2026-06-30 --json

Each row is one run of a model (its as-of date) at one horizon: how many predictions were
scored, the metrics (accuracy and WAPE for revenue and value, AUC, calibration error and
classification accuracy for churn), the spec's target where there is one, and whether it is
met. The latest run of each model, quantity and horizon is judged for decay (below target or
below the model's own rolling baseline).

Exit status: 0 when it ran (also with nothing to score yet); 2 for a usage error (no
warehouse, bad date, unusable store).
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

console = Console(width=160)

#: The metrics shown per quantity, in order.
METRICS = {"revenue": ("accuracy", "wape", "coverage_80"),
           "value_90d": ("wape", "accuracy", "coverage_80"),
           "churn": ("auc", "classification_accuracy", "calibration_error", "brier")}


def _number(value) -> Optional[float]:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _text(value) -> str:
    value = _number(value)
    return "-" if value is None else f"{value:.3f}"


def _rows(result) -> list[dict]:
    """One dict per scored run and horizon, with ``decayed`` (the reason) on judged latest runs."""
    decayed = {(d.model, d.quantity, d.horizon_days, d.as_of): d.reason for d in result.decayed.itertuples()}
    out = []
    for s in result.scores.to_dict(orient="records"):
        key = (s["model"], s["quantity"], s["horizon_days"], s["as_of"])
        out.append({
            "model": s["model"], "quantity": s["quantity"], "as_of": str(s["as_of"]),
            "horizon_days": int(s["horizon_days"]), "n": int(s["n"]), "metric": s["metric"],
            "value": _number(s["value"]), "target": _number(s["target"]),
            "met": None if s["met"] is None or (isinstance(s["met"], float) and math.isnan(s["met"]))
            else bool(s["met"]),
            "metrics": {m: _number(s.get(m)) for m in METRICS.get(s["quantity"], ())},
            "decayed": decayed.get(key),
        })
    return out


@app.command("monitor")
def monitor_command(
    lake: Optional[Path] = lake_option("reads LAKE/gold.duckdb"),
    company: Optional[str] = company_option(),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Score predictions whose period ended by this date "
                                        "(YYYY-MM-DD); default: gold's as-of date."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    store: Optional[Path] = typer.Option(None, "--store", help="Operational store (default $QUANT_OPS_DB, "
                                         "else reports/.ops.sqlite)."),
) -> None:
    """Score recorded predictions against what happened; flag models below target or their own baseline."""
    import datetime as dt

    from quantlib.config import resolve_lake
    from quantlib.data.opstore import OpsStoreError, open_ops_store
    from quantlib.errors import WarehouseNotFoundError
    from quantlib.monitor import monitor_predictions

    try:
        day = None if as_of is None else dt.date.fromisoformat(as_of)
    except (ValueError, TypeError):
        console.print(f"[red]error:[/red] --as-of {as_of!r} is not a date (YYYY-MM-DD)", highlight=False)
        raise typer.Exit(2) from None
    try:
        result = monitor_predictions(resolve_lake(lake, company), open_ops_store(store), day)
    except (WarehouseNotFoundError, OpsStoreError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    rows = _rows(result)
    if as_json:
        data = {"as_of": str(result.as_of), "predictions": len(result.predictions), "due": result.due,
                "scored": result.scored, "runs": rows, "decayed": [r for r in rows if r["decayed"]]}
        typer.echo(json.dumps(data, indent=2))
        raise typer.Exit(0)
    if not rows:
        console.print(f"nothing to score as of {result.as_of}: {len(result.predictions)} prediction(s) recorded, "
                      f"{result.due} with their period ended, {result.scored} with an actual", highlight=False)
        raise typer.Exit(0)
    table = Table(title=f"Model monitoring as of {result.as_of}")
    for column, justify in [("model", "left"), ("quantity", "left"), ("run as of", "left"), ("horizon", "right"),
                            ("n", "right"), ("metrics", "left"), ("target", "right"), ("met", "left"),
                            ("decayed", "left")]:
        table.add_column(column, justify=justify)
    for r in rows:
        metrics = "  ".join(f"{name}={_text(value)}" for name, value in r["metrics"].items())
        met = "-" if r["met"] is None else ("[green]yes[/]" if r["met"] else "[red]no[/]")
        table.add_row(r["model"], r["quantity"], r["as_of"], f"{r['horizon_days']} d", str(r["n"]), metrics,
                      _text(r["target"]), met, f"[red]{r['decayed']}[/]" if r["decayed"] else "")
    console.print(table)
    flagged = [r for r in rows if r["decayed"]]
    console.print(f"{len(rows)} run(s) scored from {result.scored} prediction(s); {len(flagged)} decayed",
                  highlight=False)
