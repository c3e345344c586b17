"""``quant warehouse build``: rebuild the gold DuckDB file from silver."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
import yaml
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app, company_option, lake_option
from quantlib.config import resolve_lake

warehouse_app = typer.Typer(help="Gold warehouse (DuckDB marts) built from silver.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")


def read_profile(path: Path | None) -> tuple[str | None, dict]:
    """The company ``name`` and ``targets`` mapping of a profile YAML (other keys ignored)."""
    if path is None:
        return None, {}
    data = yaml.safe_load(Path(path).read_text()) or {}
    targets = data.get("targets") or {}
    if not isinstance(targets, dict):
        raise typer.BadParameter(f"'targets' in {path} must be a mapping, got {type(targets).__name__}")
    return data.get("name"), dict(targets)


def default_profile(company: str | None, lake: Path | None = None) -> Path | None:
    """``parameters/companies/<company>.yaml`` under the project root, if the company has one.

    So ``quant warehouse build --company acme`` names the company and loads its targets the way
    the scheduler does, without repeating the profile's path. A lake given by path with no
    company chosen (option or ``$QUANT_COMPANY``) belongs to no known company: no profile.
    """
    import os

    from quantlib.config import COMPANY_ENV, LAKE_ENV, project_root, resolve_company

    chosen_lake = lake is not None or os.environ.get(LAKE_ENV)
    if chosen_lake and not company and not os.environ.get(COMPANY_ENV):
        return None
    path = project_root() / "parameters" / "companies" / f"{resolve_company(company)}.yaml"
    return path if path.is_file() else None


@warehouse_app.command("build")
def build(
    lake: Optional[str] = lake_option("silver/ in, gold.duckdb out"),  # text: s3:// URLs stay intact
    company: Optional[str] = company_option(),
    profile: Path = typer.Option(None, "--profile", exists=True, dir_okay=False,
                                 help="Company profile YAML; its 'name' and 'targets:' go into the warehouse "
                                      "(default parameters/companies/<company>.yaml when it exists)."),
) -> None:
    """Build LAKE/gold.duckdb from the silver tables (atomically) and print row counts."""
    from quantlib.data.lake import Lake
    from quantlib.data.warehouse import MARTS, build_warehouse, gold_tables

    console = Console()
    name, targets = read_profile(profile if profile is not None else default_profile(company, lake))
    the_lake = Lake(resolve_lake(lake, company))
    if not the_lake.silver_tables():
        console.print(f"[yellow]no silver tables under {the_lake.silver}; marts will be empty[/]")
    with console.status(f"building {the_lake.gold} (silver tables, then marts)…"):
        gold = build_warehouse(the_lake, targets=targets, company=name)
    counts = gold_tables(gold)
    console.print(f"built {gold}" + (f" for {name}" if name else ""), soft_wrap=True)
    table = Table(title="gold marts")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    for mart in MARTS:
        table.add_row(mart, f"{counts.get(mart, 0):,}")
    console.print(table)
    if targets:
        console.print("targets: " + ", ".join(f"{k}={v}" for k, v in targets.items()))
