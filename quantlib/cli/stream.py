"""``quant stream``: real-time analytics on Kafka (broker, topics, processors, replay).

Examples::

    quant stream up                          # local broker (Tansu) on 127.0.0.1, the topics, the processors
    quant stream up --brokers kafka-1:9092   # an existing cluster: create the missing topics only
    quant stream replay --company mixed_trades --speed 600 --from 2024-03-01 --days 1
    quant stream topics                      # partitions and retention as the cluster reports them
    quant stream run --processors operations # processors in the foreground, against any cluster
    quant stream down                        # stop the processors and the local broker

The brokers a command talks to: ``--brokers``, else ``$QUANT_KAFKA_BROKERS``, else the
profile's in ``parameters/streams.yaml``, else the local broker ``quant stream up`` started.
Exit status: 0 done; 2 a usage or configuration error; 1 the broker failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from quantlib.cli.app import app, company_option, store_option

console = Console(width=160)
stream_app = typer.Typer(name="stream", help="Real-time analytics on Kafka: broker, topics, replay.",
                         no_args_is_help=True)
app.add_typer(stream_app, name="stream")

_BROKERS = typer.Option(None, "--brokers", help="Kafka bootstrap servers host:port[,host:port] (default: "
                        "$QUANT_KAFKA_BROKERS, else the profile's, else the local broker).")
_PROFILE = typer.Option(None, "--profile", help="Profile of parameters/streams.yaml (default: its `profile`).")
_CONFIG = typer.Option(None, "--config", help="Stream settings file (default parameters/streams.yaml).")


def settings_or_exit(config: Optional[Path] = None):
    """The stream settings, or exit 2 naming the problem (the stream commands and ``ingest --publish``)."""
    from quantlib.stream.config import StreamConfigError, load_stream_settings

    try:
        return load_stream_settings(config)
    except StreamConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def bootstrap_or_exit(settings, brokers: Optional[str] = None, profile: Optional[str] = None) -> str:
    """The brokers to talk to (see the module doc), or exit 2 saying how to start some."""
    from quantlib.stream.broker import running_broker
    from quantlib.stream.config import StreamConfigError

    try:
        named = settings.brokers(brokers, profile)
    except StreamConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if named:
        return named
    local = running_broker()
    if local is None:
        console.print("[red]error:[/red] no brokers named and no local broker running: "
                      "run `quant stream up` or pass --brokers", highlight=False)
        raise typer.Exit(2)
    return local["bootstrap"]


_STORE = store_option()
_LAKE = typer.Option(None, "--lake", help="Lake whose gold holds the reference tables (default $QUANT_LAKE, "
                     "else the demo's).")


@stream_app.command("up")
def up(brokers: Optional[str] = _BROKERS, profile: Optional[str] = _PROFILE, config: Optional[Path] = _CONFIG,
       port: Optional[int] = typer.Option(None, "--port", help="Port of the local broker (default: a free one)."),
       processors: Optional[str] = typer.Option(None, "--processors", help="Comma-separated processors to start "
                                                 "(default all)."),
       no_processors: bool = typer.Option(False, "--no-processors", help="Start the broker and topics only."),
       store: Optional[Path] = _STORE, lake: Optional[Path] = _LAKE):
    """Start the local broker unless a cluster is named, create the topics, start the processors."""
    from quantlib.stream.broker import BrokerError, ensure_topics, start_detached, state_path
    from quantlib.stream.config import StreamConfigError

    settings = settings_or_exit(config)
    try:
        chosen = settings.active(profile)
        named = settings.brokers(brokers, profile)
    except StreamConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        if named:
            bootstrap = named
            console.print(f"cluster: {bootstrap}")
        else:
            state = start_detached(chosen.storage, port=port)
            bootstrap = state["bootstrap"]
            console.print(f"local broker: {bootstrap} (pid {state['pid']}, storage {state['storage']}, "
                          f"log {state_path().with_suffix('.log')})", highlight=False)
        status = ensure_topics(bootstrap, settings, replication=chosen.replication)
    except BrokerError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for topic, what in status.items():
        console.print(f"  {topic:<24} {what}", highlight=False)
    if not no_processors:
        from quantlib.stream.supervise import start_detached_processors

        names = [n.strip() for n in processors.split(",")] if processors else None
        running = start_detached_processors(bootstrap, names, store=store, lake=lake)
        console.print(f"processors: {running['processors']} (pid {running['pid']}, log {running['log']})",
                      highlight=False)


@stream_app.command("down")
def down():
    """Stop the processors and the local broker ``quant stream up`` started (in-memory topics go with it)."""
    from quantlib.stream.broker import stop_detached
    from quantlib.stream.supervise import stop_detached_processors

    running = stop_detached_processors()
    if running is not None:
        console.print(f"stopped the processors (pid {running['pid']})")
    state = stop_detached()
    console.print("no local broker running" if state is None else f"stopped the local broker at {state['bootstrap']}")


@stream_app.command("topics")
def topics(brokers: Optional[str] = _BROKERS, profile: Optional[str] = _PROFILE, config: Optional[Path] = _CONFIG):
    """Partitions, retention and cleanup policy of each configured topic, as the cluster reports them."""
    from quantlib.stream.broker import BrokerError, describe_topics

    settings = settings_or_exit(config)
    bootstrap = bootstrap_or_exit(settings, brokers, profile)
    try:
        found = describe_topics(bootstrap, list(settings.topics))
    except BrokerError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for name, spec in settings.topics.items():
        got = found.get(name)
        if got is None:
            console.print(f"  {name:<24} [red]missing[/red] (quant stream up creates it)")
            continue
        days = int(got.get("retention.ms", 0)) / 86_400_000
        console.print(f"  {name:<24} partitions {got['partitions']:>3} (configured {spec.partitions})  "
                      f"retention {days:g} d (configured {spec.retention_days:g})  {got.get('cleanup.policy', '')}",
                      highlight=False)


@stream_app.command("replay")
def replay_command(company: Optional[str] = company_option(),
                   raw: Optional[Path] = typer.Option(None, "--raw", help="Raw exports folder "
                                                      "(default data/demo/<company>/raw)."),
                   speed: float = typer.Option(600.0, "--speed", help="Times faster than the company's clock "
                                               "(600: a day in 144 s; 0: as fast as possible)."),
                   start: Optional[str] = typer.Option(None, "--from", help="First event time (a date)."),
                   days: Optional[float] = typer.Option(None, "--days", help="Replay this many days from --from."),
                   limit: Optional[int] = typer.Option(None, "--limit", help="At most this many events."),
                   brokers: Optional[str] = _BROKERS, profile: Optional[str] = _PROFILE,
                   config: Optional[Path] = _CONFIG):
    """Send the company's jobs, interactions, telemetry, invoices and payments as events, in time order."""
    import pandas as pd
    from rich.progress import Progress

    from quantlib.config import project_root, resolve_company
    from quantlib.stream.replay import ReplayError, load_events, replay

    settings = settings_or_exit(config)
    bootstrap = bootstrap_or_exit(settings, brokers, profile)
    folder = raw or project_root() / "data" / "demo" / resolve_company(company) / "raw"
    try:
        begin = pd.Timestamp(start) if start else None
    except ValueError:
        console.print(f"[red]error:[/red] --from {start!r} is not a date", highlight=False)
        raise typer.Exit(2) from None
    if days is not None and begin is None:
        console.print("[red]error:[/red] --days needs --from", highlight=False)
        raise typer.Exit(2)
    end = begin + pd.Timedelta(days=days) if days is not None else None
    try:
        events = load_events(folder, settings, start=begin, end=end, limit=limit)
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"replaying {len(events):,} events into {bootstrap}", total=len(events))
            summary = replay(events, bootstrap, speed=speed, progress=lambda n: bar.update(task, completed=n))
    except ReplayError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1 if "acknowledge" in str(exc) else 2) from None
    console.print(f"sent {summary.total:,} events ({summary.first_event} to {summary.last_event}) "
                  f"in {summary.seconds:.1f} s", highlight=False)
    for topic, count in summary.sent.items():
        console.print(f"  {topic:<24} {count:,}", highlight=False)


@stream_app.command("run")
def run_command(processors: Optional[str] = typer.Option(None, "--processors", help="Comma-separated processors "
                                                          "(default all: operations, ...)."),
                brokers: Optional[str] = _BROKERS, profile: Optional[str] = _PROFILE,
                config: Optional[Path] = _CONFIG, store: Optional[Path] = _STORE,
                lake: Optional[Path] = _LAKE,
                no_alerts: bool = typer.Option(False, "--no-alerts", help="Keep the live tables, raise no alerts.")):
    """Run stream processors against any cluster until stopped (Ctrl-C or SIGTERM: they commit and exit)."""
    from quantlib.stream.processors import processor_names
    from quantlib.stream.supervise import ProcessorError, run_processes

    settings = settings_or_exit(config)
    bootstrap = bootstrap_or_exit(settings, brokers, profile)
    names = [n.strip() for n in processors.split(",")] if processors else processor_names()
    unknown = [n for n in names if n not in processor_names()]
    if unknown:
        console.print(f"[red]error:[/red] no processor {', '.join(unknown)}; known: {', '.join(processor_names())}",
                      highlight=False)
        raise typer.Exit(2)
    console.print(f"processors {', '.join(names)} on {bootstrap}", highlight=False)
    try:
        run_processes(names, bootstrap, store=store, lake=lake, commit_interval=settings.commit_interval,
                      with_alerts=not no_alerts)
    except ProcessorError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
