"""``quant ingest``: load a company's CSV / Parquet exports into the lake.

The ingest engine (pandas, pandera) is imported inside the command, so ``quant --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app, company_option, lake_option
from quantlib.config import resolve_lake

if TYPE_CHECKING:
    from quantlib.data.ingest import IngestReport

# Problem lines printed per file; the rejects table has all of them.
MAX_SHOWN = 20


@app.command("ingest")
def ingest_command(
    src_dir: Path = typer.Argument(..., exists=True, file_okay=False, dir_okay=True,
                                   help="Directory of the company's CSV / Parquet exports."),
    lake: Optional[str] = lake_option(""),  # text: an s3:// URL must reach resolve_lake intact
    company: Optional[str] = company_option(),
    mapping: Path | None = typer.Option(
        None, "--mapping", dir_okay=False,
        help="Mapping YAML (file globs -> tables, source -> contract columns); "
             "default: parameters/mappings/default.yaml."),
    source: Optional[str] = typer.Option(None, "--source", help="A vendor's export: the shipped mapping "
                                         "parameters/mappings/<SOURCE>.yaml (e.g. salesforce)."),
    publish: bool = typer.Option(False, "--publish", help="Also send the accepted rows of the streamed tables "
                                 "(jobs, interactions, telemetry, invoices, payments) as events to their topics."),
    brokers: Optional[str] = typer.Option(None, "--brokers", help="With --publish: Kafka bootstrap servers "
                                          "(default $QUANT_KAFKA_BROKERS, the stream profile's, else the local "
                                          "broker of `quant stream up`)."),
) -> None:
    """Load exports into the lake: raw files to bronze, valid rows to silver, bad rows to rejects.

    Prints one line per file and one line per problem (file, line, field, reason).
    Exits 1 when a file could not be used at all; rejected rows alone do not fail.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from quantlib.data.ingest import MappingError, ingest
    from quantlib.data.writelock import LakeLocked, LakeLockError

    if source is not None:
        from quantlib.config import project_root

        if mapping is not None:
            typer.echo("error: give --source or --mapping, not both", err=True)
            raise typer.Exit(2)
        shipped = sorted(p.stem for p in (project_root() / "parameters" / "mappings").glob("*.yaml")
                         if p.stem != "default")
        if source not in shipped:
            typer.echo(f"error: no shipped mapping for --source {source!r}; shipped: {', '.join(shipped)}", err=True)
            raise typer.Exit(2)
        mapping = project_root() / "parameters" / "mappings" / f"{source}.yaml"

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        transient=True)
    task = progress.add_task("landing files", total=None)

    def on_file(file: str, table: str, done: int, total: int) -> None:
        progress.update(task, description=f"checking {file} ({table})", completed=done, total=total)

    bootstrap, settings, to_publish = None, None, []
    if publish:
        from quantlib.cli.stream import bootstrap_or_exit, settings_or_exit

        settings = settings_or_exit()
        bootstrap = bootstrap_or_exit(settings, brokers)  # exits 2 with what to do when there is none

        def on_accepted(table, rows) -> None:
            from quantlib.stream.replay import table_events

            events = table_events(table, rows, settings)
            if len(events):
                to_publish.append(events)
    else:
        on_accepted = None
    try:
        with progress:
            report = ingest(src_dir, resolve_lake(lake, company), mapping, on_file=on_file, on_accepted=on_accepted)
    except MappingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (LakeLocked, LakeLockError) as exc:  # LakeLocked is an OSError: caught first; nothing was written
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: writing the lake failed, nothing was changed in silver: {exc}", err=True)
        raise typer.Exit(1) from None
    print_report(report)
    if publish and to_publish:
        import pandas as pd

        from quantlib.stream.replay import ReplayError, replay

        events = pd.concat(to_publish, ignore_index=True).sort_values("event_time", kind="stable",
                                                                        ignore_index=True)
        try:
            summary = replay(events, bootstrap, speed=0)
        except ReplayError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"published {summary.total:,} accepted rows as events to {bootstrap}: "
                   + ", ".join(f"{topic} {n:,}" for topic, n in summary.sent.items()))
    if not report.ok:
        raise typer.Exit(1)


def print_report(report: IngestReport, console: Console | None = None) -> None:
    """Print ``report``: a table of files, then one line per problem and note."""
    from quantlib.data.ingest import ALREADY, LOADED, SKIPPED, UNUSABLE
    from quantlib.data.lake import Lake

    styles = {LOADED: "green", ALREADY: "dim", UNUSABLE: "bold red", SKIPPED: "yellow"}
    console = console or Console()
    table = Table(title=f"ingest {report.src_dir} -> {report.lake}", title_justify="left")
    for name, justify in (("file", "left"), ("table", "left"), ("status", "left"),
                          ("read", "right"), ("accepted", "right"), ("rejected", "right")):
        table.add_column(name, justify=justify)
    for f in report.files:
        style = styles.get(f.status, "")
        table.add_row(f.file, f.table or "-", f"[{style}]{f.status}[/]",
                      str(f.rows_read), str(f.rows_accepted), str(f.rows_rejected))
    console.print(table)
    # Plain echo: one problem per line, never wrapped, easy to grep.
    for f in report.files:
        for p in f.problems[:MAX_SHOWN]:
            typer.echo(str(p))
        if f.problems_total > MAX_SHOWN:
            typer.echo(f"{f.file}: ... and {f.problems_total - MAX_SHOWN} more problems "
                       f"(all rejected rows are in {Lake(report.lake).rejects})")
        for note in f.notes:
            typer.echo(f"{f.file}: {note}")
    typer.echo(f"{len(report.files)} files: {report.rows_read} rows read, {report.rows_accepted} accepted, "
               f"{report.rows_rejected} rejected, {len(report.unusable)} files unusable")
