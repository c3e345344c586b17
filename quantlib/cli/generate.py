"""``quant generate``: write a sample company's tables as Parquet."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app

console = Console()


@app.command("generate")
def generate_command(
    profile: Path = typer.Option(..., "--profile", help="Company profile YAML (parameters/companies/…)."),
    out: Path = typer.Option(..., "--out", help="Directory to write <table>.parquet files into."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default: the profile's)."),
    scale: float = typer.Option(1.0, "--scale", help="Multiply technicians, customers and jobs by this."),
) -> None:
    """Generate a realistic sample company (every core table) from a profile."""
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.profile import load_profile

    try:
        company_profile = load_profile(profile)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    started = time.perf_counter()
    with console.status(f"Generating {company_profile.name} (scale {scale:g})…"):
        company = generate_company(company_profile, seed=seed, scale=scale)
        write_company(company, out)
    summary = Table(title=f"{company_profile.name}: seed {company.seed}, scale {scale:g}")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for name, df in company.tables.items():
        summary.add_row(name, f"{len(df):,}")
    console.print(summary)
    console.print(f"Wrote {out}/ (ground truth in {out}/_truth/) in {time.perf_counter() - started:.1f} s")
