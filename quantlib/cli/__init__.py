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
    import sys

    try:
        app()
    except Exception as problem:
        # Object storage unusable as configured (no credentials, no s3fs): one line, not a trace. The
        # module is looked up, not imported: a StorageError exists only once it was, and `quant --help`
        # must not pay for the data layer.
        storage = sys.modules.get("quantlib.data.storage")
        if storage is None or not isinstance(problem, storage.StorageError):
            raise
        print(f"quant: {problem}", file=sys.stderr)
        raise SystemExit(1) from None


__all__ = ["app", "main"]
