"""``quant`` command line. Each sub-command module registers itself on :data:`app`."""

# Importing registers the commands (one module per job).
from quantlib.cli import alerts, apps, generate, ingest, kpi, run, schedule, scorecard, warehouse  # noqa: F401,E402
from quantlib.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
