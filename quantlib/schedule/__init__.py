"""Scheduled, parameterised notebook runs: specs, run history, runner, executors.

Typical use::

    from quantlib.schedule import Workspace, load_specs, run_many, run_due

    ws = Workspace.at()                                   # the project root
    spec = ws.load_specs()["weekly_operations"]
    outcomes = run_many(spec, executor="dask", workers=2)  # every company of the job
    run_due()                                             # what cron would have fired by now

``quant schedule list | run | due | serve`` is the command-line face of the same functions.
"""

from quantlib.schedule.executors import EXECUTORS, get_executor
from quantlib.schedule.history import RunHistory, RunRecord, parameters_hash, redact
from quantlib.schedule.runner import (
    DueRun,
    RunOutcome,
    Workspace,
    due_runs,
    notify,
    run_due,
    run_job,
    run_many,
    serve,
)
from quantlib.schedule.specs import JobSpec, Recipients, Retries, SpecError, load_spec, load_specs

__all__ = [
    "EXECUTORS",
    "DueRun",
    "JobSpec",
    "Recipients",
    "Retries",
    "RunHistory",
    "RunOutcome",
    "RunRecord",
    "SpecError",
    "Workspace",
    "due_runs",
    "get_executor",
    "load_spec",
    "load_specs",
    "notify",
    "parameters_hash",
    "redact",
    "run_due",
    "run_job",
    "run_many",
    "serve",
]
