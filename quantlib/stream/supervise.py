"""Run several processors side by side, one process each (they share no state but the store).

One processor runs in this process (so a signal to it reaches quixstreams directly); several
run in child processes started with ``spawn``, stopped together on SIGINT / SIGTERM, and the
first one to fail stops the rest and is reported.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from pathlib import Path

from quantlib.errors import QuantError


class ProcessorError(QuantError, RuntimeError):
    """A processor exited with an error (the message names it and its exit status)."""


def _child(name: str, bootstrap: str, store: str | None, lake: str | None, commit_interval: float,
           with_alerts: bool) -> None:
    from quantlib.data.opstore import open_ops_store
    from quantlib.stream.runtime import run_processor

    run_processor(name, bootstrap, store=open_ops_store(store), lake=lake, commit_interval=commit_interval,
                  with_alerts=with_alerts)


def run_processes(names: list[str], bootstrap: str, *, store: str | Path | None = None,
                  lake: str | Path | None = None, commit_interval: float = 0.5, with_alerts: bool = True) -> None:
    """Run ``names`` until stopped; raise :class:`ProcessorError` when one fails."""
    args = (bootstrap, str(store) if store else None, str(lake) if lake else None, commit_interval, with_alerts)
    if len(names) == 1:
        _child(names[0], *args)
        return
    context = multiprocessing.get_context("spawn")
    children = {name: context.Process(target=_child, args=(name, *args), name=f"quant-{name}", daemon=False)
                for name in names}
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.is_alive():
                child.terminate()  # SIGTERM: quixstreams commits and exits

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children.values():
            child.start()
        while any(child.is_alive() for child in children.values()):
            failed = [(n, c.exitcode) for n, c in children.items() if c.exitcode not in (None, 0) and not stopping]
            if failed:
                stop(None, None)
                for child in children.values():
                    child.join(10)
                name, code = failed[0]
                raise ProcessorError(f"processor {name} exited with status {code}")
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children.values():
            if child.is_alive():
                child.kill()


# ---- `quant stream up` / `down`: the processors in the background -------------------------------

def processors_state_path() -> Path:
    from quantlib.stream.broker import state_path

    return state_path().with_name("processors.json")


def start_detached_processors(bootstrap: str, names: list[str] | None = None, *, store: str | Path | None = None,
                              lake: str | Path | None = None, path: Path | None = None) -> dict:
    """Start ``quant stream run`` in the background (its own session); remember its pid."""
    import subprocess  # nosec B404: the project's own command, an argument list
    import sys

    from quantlib.stream import detached

    path = path or processors_state_path()
    current = detached.running(path)
    if current is not None:
        return current
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "quantlib.cli", "stream", "run", "--brokers", bootstrap]
    if names:
        args += ["--processors", ",".join(names)]
    if store:
        args += ["--store", str(store)]
    if lake:
        args += ["--lake", str(lake)]
    log = path.with_suffix(".log")
    with open(log, "ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # nosec B603
    return detached.remember(path, process.pid, bootstrap=bootstrap, processors=names or "all", log=str(log))


def stop_detached_processors(path: Path | None = None, timeout: float = 30.0) -> dict | None:
    """Stop the background processors (SIGTERM: they commit and exit); None when none run."""
    from quantlib.stream import detached

    return detached.stop(path or processors_state_path(), timeout)
