"""``quant`` command line. Each sub-command module registers itself on :data:`app`."""

# Importing registers the commands (one module per job).
from quantlib.cli import (  # noqa: F401,E402
    alerts,
    api,
    apps,
    backup,
    email,
    external,
    generate,
    ingest,
    kpi,
    maintenance,
    messages,
    monitor,
    price,
    reports,
    run,
    schedule,
    scorecard,
    stream,
    sync,
    sync_schedule,
    warehouse,
)
from quantlib.cli.app import app


def main() -> None:
    from quantlib.data.storage import StorageError

    try:
        app()
    except StorageError as problem:  # object storage unusable as configured (no credentials, no s3fs): one line
        import sys

        print(f"quant: {problem}", file=sys.stderr)
        raise SystemExit(1) from None


__all__ = ["app", "main"]
