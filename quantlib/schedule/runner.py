"""Run scheduled jobs: validate, execute, render, publish atomically, retry, alert.

One *run* is one job for one parameter file (one company)::

    validate parameters  (before any kernel starts; a bad file fails at once, no retry)
    take the job+company lock  (reports/.locks/, or a PostgreSQL advisory lock when QUANT_OPS_DSN is
                                set; a concurrent run is skipped)
    renew a lease in the run history from a heartbeat thread until the run ends
    for each attempt (at most ``timeout`` seconds: notebook, then a killable render process):
        execute the notebook into a temporary folder (reports/.tmp/…), render the outputs
        there, write run.json, make it readable (0755/0644), then rename the folder to
        reports/<job>/<company>/<run_id>/ (one atomic rename: readers see a whole run or
        none), apply the retention limit and refresh reports/index.html
        on failure: delete the temporary folder, record the error, release the lock, wait
        (capped, jittered backoff), take the lock again, retry
    with QUANT_REPORTS_STORAGE=s3://bucket/prefix set: upload the run folder (reports/ is then
    staging), rebuild the index from the runs the history records as uploaded and upload it
    last, under the index lock; a failed upload is a failed delivery in the history, retried
    by later ``due`` / ``serve`` calls on the machine that holds the run (see :func:`upload_run`)
    tell the recipients through the outbox: the report on success, the one-line error after
    the last retry; undelivered messages are retried by later ``due`` / ``serve`` calls

Before running anything, ``due`` and ``serve`` call :func:`recover` (runs whose process died
are marked failed, alerted and run again; their temporary folders are removed) and
:func:`flush_outbox`.

Every attempt is a row in the run history; every step a line in ``reports/.logs/schedule.log``.
Secrets (SMTP password, webhook URLs) are removed from the environment the notebook kernel
inherits and redacted from anything written.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

from quantlib.errors import QuantError, RunStatus
from quantlib.publish.distribute import Delivery, Notice, distribute, report_link
from quantlib.publish.secrets import environment_with_secrets, without_secrets
from quantlib.schedule.history import (
    HISTORY_FILE,
    OUTBOX_GAVE_UP,
    LostRun,
    OutboxItem,
    RunHistory,
    one_line,
    open_run_history,
    parameters_hash,
    pid_alive,
    redact,
    secret_values,
)
from quantlib.schedule.locks import LockTimeout, RunLock, open_lock
from quantlib.schedule.specs import JobSpec, SpecError, load_specs

_log_module = logging.getLogger(__name__)

__all__ = [
    "DueRun",
    "RunContext",
    "RunOutcome",
    "run_batch",
    "run_jobs",
    "RunTimeoutError",
    "ExecutedNotebookError",
    "Workspace",
    "absolute_lake",
    "due_runs",
    "flush_outbox",
    "lease_settings",
    "notify",
    "recover",
    "run_due",
    "run_job",
    "run_many",
    "serve",
    "STORAGE_CHANNEL",
    "STORAGE_ENV",
    "upload_run",
]

#: The environment variable naming the object storage prefix scheduled runs are published to.
STORAGE_ENV = "QUANT_REPORTS_STORAGE"
#: The outbox channel of uploads to it (one item per run; its target is the prefix).
STORAGE_CHANNEL = "storage"

OUTPUT_FILES = {"html": "report.html", "pdf": "report.pdf", "ipynb": "notebook.ipynb"}


class RunTimeoutError(QuantError, TimeoutError):
    """An attempt ran past its spec's whole-run ``timeout`` (notebook and rendering together)."""


class ExecutedNotebookError(QuantError, ValueError):
    """A notebook executed elsewhere (``--executed``) cannot be published: missing, failed or other parameters."""


# -- where things live -----------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """The folders a scheduler works in.

    Attributes
    ----------
    root : Path
        Project root; spec paths (notebooks, parameter files) are relative to it.
    reports : Path
        Published runs, ``index.html``, and the hidden ``.history.sqlite``, ``.locks/``,
        ``.tmp/`` and ``.logs/``.
    history_path : Path
        The run-history SQLite file: ``--history``, else ``reports/.history.sqlite``.
    specs : Path
        Folder of job specs.
    history_given : bool
        Whether ``history_path`` was chosen explicitly. If not, a PostgreSQL database named by
        ``QUANT_OPS_DSN`` (read when the history is opened, so each worker host uses its own
        environment) holds the history instead: see :func:`~quantlib.schedule.history.open_run_history`.
    storage : str or None
        The object storage prefix (``s3://bucket/prefix``) each published run is uploaded to,
        with the index; ``reports`` is then the local staging folder. Default
        ``$QUANT_REPORTS_STORAGE`` where the workspace is made (the scheduler), so Dask workers
        get it with their task; their credentials come from their own environment.
    """

    root: Path
    reports: Path
    history_path: Path
    specs: Path
    history_given: bool = False
    storage: str | None = None

    @classmethod
    def at(cls, root: str | Path | None = None, *, reports: str | Path | None = None,
           history: str | Path | None = None, specs: str | Path | None = None,
           storage: str | None = None) -> "Workspace":
        """A workspace rooted at ``root`` (default: the project root), with the usual layout.

        ``storage`` defaults to ``$QUANT_REPORTS_STORAGE`` (unset or empty: no upload).
        """
        if root is None:
            from quantlib.config import project_root

            root = project_root()
        root = Path(root).resolve()
        reports = Path(reports).resolve() if reports else root / "reports"
        return cls(
            root=root,
            reports=reports,
            history_path=Path(history).resolve() if history else reports / HISTORY_FILE,
            specs=Path(specs).resolve() if specs else root / "scheduled",
            history_given=bool(history),
            storage=(storage or os.environ.get(STORAGE_ENV, "")).strip() or None,
        )

    @property
    def locks(self) -> Path:
        return self.reports / ".locks"

    def lock(self, name: str, timeout: float = -1) -> RunLock:
        """The scheduler's lock ``name``: a file under :attr:`locks`, or an advisory lock in the
        PostgreSQL database of ``QUANT_OPS_DSN`` when set (see :mod:`quantlib.schedule.locks`)."""
        return open_lock(name, self.locks, timeout=timeout)

    @property
    def tmp(self) -> Path:
        # Inside reports/ so the final rename stays on one file system (and so is atomic).
        return self.reports / ".tmp"

    @property
    def log_file(self) -> Path:
        return self.reports / ".logs" / "schedule.log"

    def history(self, create: bool = True) -> RunHistory | None:
        """The run history (SQLite or PostgreSQL); with ``create=False`` None when nothing was recorded yet."""
        return open_run_history(self.history_path if self.history_given else None, reports=self.reports,
                                create=create)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.root / path

    def load_specs(self) -> dict[str, JobSpec]:
        return load_specs(self.specs)


def _log(ws: Workspace, job: str, company: str, message: str) -> None:
    """Append one redacted line to the schedule log (one ``write`` per line: safe to share)."""
    ws.log_file.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    line = redact(" ".join(f"{stamp} {job} {company} {message}".split())) + "\n"
    with open(ws.log_file, "a", encoding="utf-8") as fh:
        fh.write(line)


# -- keeping secrets away from kernels ---------------------------------------------------------
# One rule for every kernel Quant starts: quantlib.publish.secrets (execute_notebook applies it
# too; the wrapper here also hides the job's own Slack variable, whatever its name).

# -- leases: a run that stops heartbeating is dead ---------------------------------------------


def lease_settings(env: Mapping[str, str] | None = None) -> tuple[float, float]:
    """``(heartbeat, lease)`` in seconds.

    A running attempt renews its lease every ``heartbeat`` seconds; one not renewed for
    ``lease`` seconds is dead. Set by ``QUANT_SCHEDULE_HEARTBEAT`` (default 10) and
    ``QUANT_SCHEDULE_LEASE`` (default six heartbeats); the lease is at least two heartbeats.
    """
    env = os.environ if env is None else env
    heartbeat = float(env.get("QUANT_SCHEDULE_HEARTBEAT") or 10.0)
    lease = float(env.get("QUANT_SCHEDULE_LEASE") or 6 * heartbeat)
    return heartbeat, max(lease, 2 * heartbeat)


class _Heartbeat:
    """A daemon thread renewing a run's lease in the history until stopped."""

    def __init__(self, history: RunHistory, run_id: str, interval: float):
        self.history, self.run_id, self.interval = history, run_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.history.heartbeat(self.run_id)
            except Exception:  # noqa: BLE001 - a busy or full disk: the next beat tries again
                _log_module.debug("heartbeat of run %s not written", self.run_id, exc_info=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(self.interval + 5)


# -- one run -----------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """What happened to one run.

    Attributes
    ----------
    status : RunStatus
        ``SUCCESS``, ``FAILED``, ``SKIPPED`` or ``DRY_RUN``.
    run_id : str or None
    run_dir : Path or None
        The published folder (success only).
    attempts : int
    error : str or None
        One line, redacted.
    outputs : dict
        Output kind (``html``, ``pdf``, ``notebook``) → path relative to ``reports/``.
    deliveries : list of str
        One line per notification attempt.
    undelivered : list of str
        Channels still failing after the in-run retries (they stay in the outbox).
    notice : Notice or None
        What the recipients are (or were) told; sent by :func:`notify`.
    plan : list of str
        For a dry run: what would be done.
    """

    job: str
    company: str
    status: RunStatus
    run_id: str | None = None
    run_dir: Path | None = None
    attempts: int = 0
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    deliveries: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)
    notice: Notice | None = None
    plan: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Accept the plain string too ("success"), so the comparisons below can be by identity.
        self.status = RunStatus(self.status)

    def summary(self) -> str:
        """One line for people."""
        head = f"{self.job} / {self.company}: {self.status}"
        if self.status is RunStatus.SUCCESS:
            return f"{head} after {self.attempts} attempt(s) → {self.run_dir}"
        if self.status is RunStatus.FAILED:
            return f"{head} after {self.attempts} attempt(s): {self.error}"
        if self.status is RunStatus.SKIPPED:
            return f"{head}: {self.error}"
        return head


def company_of(ws: Workspace, parameter_file: Path) -> str:
    """The company a parameter file is for: its ``company`` key, else the file name."""
    from quantlib.parameters import ParameterError, load_parameter_file

    try:
        value = load_parameter_file(ws.resolve(parameter_file)).get("company")
    except (OSError, ParameterError, ValueError):
        value = None
    return str(value) if value else parameter_file.stem


def _make_public(folder: Path) -> None:
    """Folders 0755 and files 0644, so a web server can serve the published run."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _apply_retention(ctx: "RunContext") -> list[str]:
    """Delete published runs of this job and company beyond ``retention.keep_last`` (oldest first)."""
    base = ctx.workspace.reports / ctx.job / ctx.company
    runs = sorted((p for p in base.iterdir() if p.is_dir() and (p / "run.json").is_file()),
                  key=lambda p: p.name, reverse=True)  # run ids sort by time
    removed = []
    for old in runs[ctx.spec.retention.keep_last:]:
        # Renamed out of reports/ first: the run vanishes from readers' view at once.
        doomed = ctx.workspace.tmp / f"retired-{ctx.job}-{ctx.company}-{old.name}"
        ctx.workspace.tmp.mkdir(parents=True, exist_ok=True)
        os.rename(old, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        removed.append(old.name)
    return removed


def _period(values: Mapping, scheduled_for: datetime) -> str:
    for key in ("period", "as_of"):
        if values.get(key):
            return str(values[key])
    return scheduled_for.date().isoformat()


@dataclass(frozen=True)
class RunContext:
    """One run of one job for one company, as fixed before its first attempt.

    Built by :func:`run_job` once the parameters are valid; the attempts, the dry-run plan and
    the log lines all read from it.

    Attributes
    ----------
    spec : JobSpec
    workspace : Workspace
    history : RunHistory
    parameter_file : Path
        As given: relative to the workspace root unless absolute.
    notebook : Path
        Resolved against the workspace root.
    company : str
    values : dict
        The validated parameters the notebook runs with.
    parameters_hash : str
        :func:`~quantlib.schedule.history.parameters_hash` of ``values``.
    period : str
        What the report covers: the ``period`` or ``as_of`` parameter, else the scheduled date.
    scheduled_for : datetime
        The cron slot the run is for.
    run_id : str
        Shared by every attempt of the run; names its published folder.
    executed : Path or None
        A notebook another orchestrator already executed (Airflow's papermill task): each attempt
        renders and publishes it instead of starting a kernel.
    """

    spec: JobSpec
    workspace: Workspace
    history: RunHistory
    parameter_file: Path
    notebook: Path
    company: str
    values: dict
    parameters_hash: str
    period: str
    scheduled_for: datetime
    run_id: str
    executed: Path | None = None

    @property
    def job(self) -> str:
        return self.spec.name

    @property
    def published_dir(self) -> Path:
        """``reports/<job>/<company>/<run_id>/``, where a successful attempt is moved."""
        return self.workspace.reports / self.job / self.company / self.run_id

    @property
    def lock_name(self) -> str:
        """The name of the lock that keeps one run per job and company at a time."""
        return f"{self.job}__{self.company}"

    def log(self, message: str) -> None:
        """One line in the schedule log, tagged with the job and company."""
        _log(self.workspace, self.job, self.company, message)


def _produce(ctx: RunContext, folder: Path, meta) -> dict[str, str]:
    """Execute and render into ``folder``; returns output kind (html, pdf, notebook) → file name.

    The whole attempt has ``spec.timeout`` seconds: each cell gets what is left (at most
    ``spec.cell_timeout``), and the render step runs as a child process that is killed, with
    every Quarto, pandoc or Typst process it started, when the time is up.

    Raises
    ------
    RunTimeoutError
        The attempt ran out of time.
    """
    spec = ctx.spec
    deadline = time.monotonic() + spec.timeout
    executed = folder / OUTPUT_FILES["ipynb"]
    if ctx.executed is not None:
        _take_executed(ctx, executed)
    else:
        _execute(ctx, executed, deadline)
    # The executed notebook is always kept: it is the run's evidence.
    # Keys follow the run record's naming (quantlib.publish.index): html, pdf, notebook.
    files = {"notebook": executed.name}
    wanted = {k: OUTPUT_FILES[k] for k in ("html", "pdf") if k in spec.outputs}
    if wanted:
        files.update(_render(executed, folder, wanted, meta, deadline - time.monotonic(), spec.timeout))
    return files


def _execute(ctx: RunContext, executed: Path, deadline: float) -> None:
    from quantlib.publish.execute import NotebookTimeoutError, execute_notebook

    spec = ctx.spec
    try:
        # The kernel works in the project root: parameters such as ``lake`` are relative to it.
        execute_notebook(ctx.notebook, executed, ctx.values, execution_timeout=spec.cell_timeout or spec.timeout,
                         cwd=ctx.workspace.root, deadline=deadline)
    except NotebookTimeoutError as exc:
        if time.monotonic() >= deadline - 0.5:
            raise RunTimeoutError(f"the run timed out after {spec.timeout:g} s while executing the notebook "
                                  f"({exc})") from None
        raise


def absolute_lake(values: Mapping, root: Path) -> dict:
    """``values`` with a relative ``lake`` made absolute against ``root``, as the kernel would read it there.

    A kernel that ``quant schedule`` starts works in the project root; one started by another
    orchestrator may not, so exported parameters carry the lake as an absolute path.
    """
    values = dict(values)
    lake = values.get("lake")
    if isinstance(lake, str) and lake and not Path(lake).expanduser().is_absolute():
        values["lake"] = str(root / lake)
    return values


def _check_executed(ctx: RunContext) -> None:
    """Check that the notebook another orchestrator executed can be published as this run.

    Raises
    ------
    ExecutedNotebookError
        It cannot be read, papermill recorded a failed cell in it, or it ran with other parameters
        (the orchestrator's copy of the parameter file is older than the file: export again).
    """
    import nbformat

    source = ctx.executed
    try:
        nb = nbformat.read(source, as_version=4)
    except (OSError, ValueError) as exc:
        raise ExecutedNotebookError(f"executed notebook {source} cannot be read: {exc}") from None
    papermill = nb.metadata.get("papermill", {})
    if papermill.get("exception"):
        raise ExecutedNotebookError(f"executed notebook {source}: a cell failed (papermill recorded the error)")
    ran_with, expected = papermill.get("parameters") or {}, absolute_lake(ctx.values, ctx.workspace.root)
    if absolute_lake(ran_with, ctx.workspace.root) != expected:
        changed = sorted(k for k in set(expected) | set(ran_with) if ran_with.get(k, ...) != expected.get(k, ...))
        raise ExecutedNotebookError(f"executed notebook {source} ran with other parameters than "
                                    f"{ctx.parameter_file} gives now ({', '.join(changed)}); export the "
                                    "schedule again")


def _take_executed(ctx: RunContext, executed: Path) -> None:
    """Copy the notebook another orchestrator executed (checked by :func:`_check_executed`)."""
    shutil.copyfile(ctx.executed, executed)


def _render(executed: Path, folder: Path, outputs: dict[str, str], meta, remaining: float,
            timeout: float) -> dict[str, str]:
    """Run :mod:`quantlib.schedule.render_step` in its own session; kill the group on timeout."""
    if remaining <= 0:
        raise RunTimeoutError(f"the run timed out after {timeout:g} s before rendering")
    request = folder / ".render.json"
    request.write_text(json.dumps({"executed": str(executed), "folder": str(folder), "outputs": outputs,
                                   "meta": meta.as_dict()}), encoding="utf-8")
    # Our own interpreter and module with a path we created: no untrusted input in the command.
    proc = subprocess.Popen([sys.executable, "-m", "quantlib.schedule.render_step", str(request)],  # nosec B603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise RunTimeoutError(f"the run timed out after {timeout:g} s while rendering "
                              f"{' and '.join(outputs).upper()} (render processes killed)") from None
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        request.unlink(missing_ok=True)
    if proc.returncode != 0:
        from quantlib.publish.render import RenderError

        lines = [ln for ln in err.strip().splitlines() if ln.strip()] or [f"exit status {proc.returncode}"]
        raise RenderError(f"rendering failed: {lines[-1]}")
    return json.loads(out.strip().splitlines()[-1])


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.communicate()


def run_job(
    spec: JobSpec,
    parameter_file: str | Path,
    *,
    workspace: Workspace | None = None,
    scheduled_for: datetime | None = None,
    dry_run: bool = False,
    send: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    executed: str | Path | None = None,
) -> RunOutcome:
    """Run ``spec`` for one parameter file (see the module docstring for the steps).

    Parameters
    ----------
    spec : JobSpec
    parameter_file : path-like
        Relative to the workspace root unless absolute.
    workspace : Workspace, optional
        Default: :meth:`Workspace.at` the project root.
    scheduled_for : datetime, optional
        The cron slot this run is for (default: now). ``due`` compares it with the history.
    dry_run : bool
        Validate and describe what would run and be sent to whom; run and send nothing.
    send : bool
        Notify the recipients here. Executors pass ``False`` and the caller sends with
        :func:`notify`, so secrets never need to reach remote workers.
    sleep : callable
        Waits between attempts (tests pass a no-op).
    executed : path-like, optional
        A notebook another orchestrator already executed with these parameters (Airflow's
        papermill task): rendered and published as this run, no kernel started. Checked before
        the first attempt, like the parameters.

    Returns
    -------
    RunOutcome
        Never raises for a failed run; the failure is in the outcome, the history, and the
        alert.
    """
    from quantlib.parameters import ParameterError, load_parameter_file, validate_parameters

    ws = workspace or Workspace.at()
    scheduled_for = scheduled_for or datetime.now(spec.tz)
    parameter_file = Path(parameter_file)
    notebook = ws.resolve(spec.notebook)
    company = company_of(ws, parameter_file)
    history = ws.history()

    # 1. Parameters, before any kernel starts: a wrong value is not fixed by retrying.
    error = None
    try:
        raw = load_parameter_file(ws.resolve(parameter_file))
        if not notebook.is_file():
            raise FileNotFoundError(f"notebook {spec.notebook} not found")
        values = validate_parameters(notebook, raw)
        ctx = RunContext(spec=spec, workspace=ws, history=history, parameter_file=parameter_file, notebook=notebook,
                         company=company, values=values, parameters_hash=parameters_hash(values),
                         period=_period(values, scheduled_for), scheduled_for=scheduled_for, run_id=_new_run_id(),
                         executed=Path(executed) if executed is not None else None)
        if ctx.executed is not None:
            _check_executed(ctx)  # nor is a failed or outdated notebook from elsewhere
    except ExecutedNotebookError as exc:
        error = one_line(exc)
    except (ParameterError, OSError, ValueError) as exc:
        error = one_line(f"invalid parameters in {parameter_file}: {exc}")
    if error is not None:
        outcome = RunOutcome(spec.name, company, RunStatus.FAILED, attempts=0, error=error)
        outcome.notice = Notice(job=spec.name, title=spec.title, company=company,
                                period=scheduled_for.date().isoformat(), status=RunStatus.FAILED, error=error)
        if dry_run:
            outcome.status = RunStatus.DRY_RUN
            outcome.plan = [f"would NOT run: {error}"]
            return outcome
        row = history.start(run_id=_new_run_id(), job=spec.name, company=company, parameters_hash="-",
                            scheduled_for=scheduled_for, attempt=1)
        history.finish(row, RunStatus.FAILED, error=error)
        _log(ws, spec.name, company, f"failed before start: {error}")
        if send:
            notify(spec, [outcome], dry_run=False, workspace=ws)
        return outcome

    if dry_run:
        return _plan(ctx)

    # 2. One run per job and company at a time.
    lock = ws.lock(ctx.lock_name)
    try:
        lock.acquire(timeout=0)
    except LockTimeout:
        message = f"skipped: {spec.name} for {company} is already running ({lock.where} is held)"
        ctx.log(message)
        row = history.start(run_id=ctx.run_id, job=spec.name, company=company, parameters_hash=ctx.parameters_hash,
                            scheduled_for=scheduled_for, status=RunStatus.SKIPPED)
        history.finish(row, RunStatus.SKIPPED, error=message)
        return RunOutcome(spec.name, company, RunStatus.SKIPPED, error=message)

    try:
        with _Heartbeat(history, ctx.run_id, lease_settings()[0]):
            outcome = _attempts(ctx, sleep, lock)
    finally:
        lock.release()
    if send and outcome.notice is not None:
        notify(spec, [outcome], workspace=ws)
    return outcome


def _new_run_id() -> str:
    # Sortable by time to the microsecond (retention deletes the oldest by name, and two
    # runs often start in the same second); the suffix keeps concurrent runs apart.
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"


def _attempts(ctx: RunContext, sleep: Callable[[float], None], lock: RunLock | None = None) -> RunOutcome:
    """Execute, render and publish ``ctx``'s run, retrying as its spec says; never raises for a failure.

    ``lock`` (held on entry) is released while waiting between attempts and taken again
    before the next one; if another run took it meanwhile, this run gives up (failed).
    """
    from quantlib.publish.index import write_index, write_run_record
    from quantlib.publish.render import report_meta_for

    spec, ws, history, company, run_id = ctx.spec, ctx.workspace, ctx.history, ctx.company, ctx.run_id
    total = spec.retries.count + 1
    # The header names the company (not its slug) and the period covered (not the run date).
    meta = report_meta_for(ctx.notebook, ctx.values, run_date=ctx.scheduled_for.date(), title=spec.title)
    display_name = meta.company
    ws.tmp.mkdir(parents=True, exist_ok=True)
    error = None
    for attempt in range(1, total + 1):
        folder = ws.tmp / f"{spec.name}-{company}-{run_id}-a{attempt}"
        row = None
        try:
            # Recorded before the folder exists: any folder under .tmp/ whose run is not alive
            # is debris that recover() may delete.
            row = history.start(run_id=run_id, job=spec.name, company=company,
                                parameters_hash=ctx.parameters_hash, scheduled_for=ctx.scheduled_for,
                                attempt=attempt, tmp_dir=folder)
            ctx.log(f"run {run_id} attempt {attempt}/{total} started")
            started = datetime.now(timezone.utc)
            folder.mkdir(parents=True)
            with without_secrets([spec.recipients.slack_webhook_env or ""]):
                files = _produce(ctx, folder, meta)
            final = ctx.published_dir
            outputs = {kind: f"{spec.name}/{company}/{run_id}/{name}" for kind, name in files.items()}
            write_run_record(folder, {
                "job": spec.name,
                "title": spec.title,
                "company": company,
                "company_name": display_name,
                "period": ctx.period,
                "run_id": run_id,
                "status": RunStatus.SUCCESS,
                "attempt": attempt,
                "scheduled_for": ctx.scheduled_for.isoformat(),
                "started": started.isoformat(timespec="seconds"),
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "notebook": spec.notebook.as_posix(),
                "parameters": ctx.values,
                "parameters_hash": ctx.parameters_hash,
                "outputs": files,
            })
            final.parent.mkdir(parents=True, exist_ok=True)
            for parent in (ws.reports, final.parent.parent, final.parent):
                parent.chmod(0o755)  # a web server must be able to walk down to the run
            _make_public(folder)  # a restrictive umask (or mkdtemp's 0700) would hide the run
            # The publish step: one rename on one file system, so reports/ never holds half a run.
            os.rename(folder, final)
        except Exception as exc:  # noqa: BLE001 - any failure of a run is retried and reported
            shutil.rmtree(folder, ignore_errors=True)
            error = one_line(exc)
            last = attempt == total
            try:
                if row is None:
                    # The history could not even record the start: record the failure on its own.
                    row = history.start(run_id=run_id, job=spec.name, company=company,
                                        parameters_hash=ctx.parameters_hash, scheduled_for=ctx.scheduled_for,
                                        attempt=attempt)
                history.finish(row, RunStatus.FAILED if last else RunStatus.RETRYING, error=error)
                ctx.log(f"run {run_id} attempt {attempt}/{total} failed: {error}")
            except Exception as again:  # noqa: BLE001 - the lease marks the row failed later
                error = f"{error}; the run history could not record it: {one_line(again)}"
            if not last:
                delay = spec.retries.delay(attempt)
                ctx.log(f"run {run_id} retrying in {delay:.3g} s")
                if lock is not None:
                    lock.release()  # never sleep holding the lock: others may run meanwhile
                sleep(delay)
                if lock is not None:
                    try:
                        lock.acquire(timeout=0)
                    except LockTimeout:
                        error = one_line(f"retry abandoned: another run of {spec.name} for {company} holds the "
                                         f"{lock.where} (last error: {error})")
                        ctx.log(f"run {run_id} {error}")
                        _record_failure(ctx, attempt + 1, error)
                        total = attempt
                        break
            continue
        except BaseException:
            # Interrupted (Ctrl-C, worker shutdown): leave no temporary folder and no "running" row.
            shutil.rmtree(folder, ignore_errors=True)
            if row is not None:
                history.finish(row, RunStatus.FAILED, error="interrupted")
            raise

        history.finish(row, RunStatus.SUCCESS, outputs=outputs)
        ctx.log(f"run {run_id} published to {final}")
        try:
            removed = _apply_retention(ctx)
            if removed:
                ctx.log(f"retention keep_last={spec.retention.keep_last}: removed {', '.join(removed)}")
        except OSError as exc:
            ctx.log(f"retention not applied: {one_line(exc)}")
        try:
            # Serialised: several companies finish at once and all rewrite the same index.
            with ws.lock("index", timeout=120):
                write_index(ws.reports)
        except Exception as exc:  # noqa: BLE001 - the run is published; the next run rebuilds the index
            ctx.log(f"index not refreshed: {one_line(exc)}")
        uploads, not_uploaded = [], []
        if ws.storage:
            try:
                record = json.loads((final / "run.json").read_text(encoding="utf-8"))
                uploads, not_uploaded = upload_run(ws, history, record, final.relative_to(ws.reports).as_posix(),
                                                   sleep=sleep)
            except Exception as exc:  # noqa: BLE001 - the run is published and recorded; say why it is not uploaded
                not_uploaded = [f"{STORAGE_CHANNEL} → {ws.storage}: not queued: {one_line(exc)}"]
                ctx.log(not_uploaded[0])
        html = final / OUTPUT_FILES["html"]
        notice = Notice(
            job=spec.name, title=spec.title, company=company, period=ctx.period, status=RunStatus.SUCCESS,
            link=report_link(html, ws.reports, environment_with_secrets()) if "html" in files else None,
            pdf=final / OUTPUT_FILES["pdf"] if "pdf" in files else None,
            attachments=(final / OUTPUT_FILES["ipynb"],) if "ipynb" in spec.outputs else (),
        )
        return RunOutcome(spec.name, company, RunStatus.SUCCESS, run_id=run_id, run_dir=final, attempts=attempt,
                          outputs=outputs, notice=notice, deliveries=uploads, undelivered=not_uploaded)

    notice = Notice(job=spec.name, title=spec.title, company=company, period=ctx.period, status=RunStatus.FAILED,
                    error=error)
    return RunOutcome(spec.name, company, RunStatus.FAILED, run_id=run_id, attempts=total, error=error, notice=notice)


def _record_failure(ctx: RunContext, attempt: int, error: str) -> None:
    try:
        row = ctx.history.start(run_id=ctx.run_id, job=ctx.job, company=ctx.company,
                                parameters_hash=ctx.parameters_hash, scheduled_for=ctx.scheduled_for, attempt=attempt)
        ctx.history.finish(row, RunStatus.FAILED, error=error)
    except Exception:  # noqa: BLE001 - the lease marks a stuck row later
        _log_module.warning("could not mark run %s failed; its lease will", ctx.run_id, exc_info=True)


def _plan(ctx: RunContext) -> RunOutcome:
    """What a dry run reports: the run, its outputs and who would be told."""
    spec, ws, company = ctx.spec, ctx.workspace, ctx.company
    outcome = RunOutcome(spec.name, company, RunStatus.DRY_RUN)
    shown = ", ".join(f"{k}={v!r}" for k, v in ctx.values.items())
    outcome.plan = [
        f"would run {spec.notebook} for {company} ({ctx.parameter_file}) with {shown}",
        f"scheduled for {ctx.scheduled_for.isoformat()}, period {ctx.period}, timeout {spec.timeout:g} s per attempt, "
        f"{spec.retries.count} retr{'y' if spec.retries.count == 1 else 'ies'}",
        f"would publish {', '.join(OUTPUT_FILES[k] for k in spec.outputs)} to "
        f"{ws.reports / spec.name / company}/<run_id>/",
    ]
    if ws.storage:
        outcome.plan.append(f"would upload the run to {ws.storage}/{spec.name}/{company}/<run_id>/, then "
                            f"{ws.storage}/index.html")
    example = Notice(job=spec.name, title=spec.title, company=company, period=ctx.period, status=RunStatus.SUCCESS,
                     link=report_link(ws.reports / spec.name / company / "<run_id>" / "report.html", ws.reports,
                                      environment_with_secrets()) if "html" in spec.outputs else None,
                     pdf=None)
    for d in distribute(example, spec.recipients.emails, spec.recipients.slack_webhook_env,
                        env=environment_with_secrets(), dry_run=True):
        outcome.plan.append(f"on success: {d}")
    if not spec.recipients.emails and not spec.recipients.slack_webhook_env:
        outcome.plan.append("no recipients: nothing would be sent")
    else:
        outcome.plan.append("on failure after the last retry: the same recipients get the one-line error")
    outcome.plan = [redact(line) for line in outcome.plan]
    return outcome


def outbox_settings(env: Mapping[str, str] | None = None) -> tuple[int, float, int]:
    """``(retries_in_run, backoff, max_attempts)`` for deliveries.

    A failed delivery is retried ``QUANT_DELIVERY_RETRIES`` times (default 2) within the run,
    waiting ``QUANT_DELIVERY_BACKOFF`` seconds (default 5) doubled each time; it then stays in
    the outbox for later ``due`` / ``serve`` calls (waits doubling up to one hour) until
    ``QUANT_DELIVERY_MAX_ATTEMPTS`` attempts (default 50) have failed.
    """
    env = os.environ if env is None else env
    return (int(env.get("QUANT_DELIVERY_RETRIES") or 2), float(env.get("QUANT_DELIVERY_BACKOFF") or 5.0),
            int(env.get("QUANT_DELIVERY_MAX_ATTEMPTS") or 50))


_DELIVERY_MAX_WAIT = 3600.0


def _notice_dict(notice: Notice) -> dict:
    return {"job": notice.job, "title": notice.title, "company": notice.company, "period": notice.period,
            "status": str(notice.status), "link": notice.link, "pdf": None if notice.pdf is None else str(notice.pdf),
            "attachments": [str(p) for p in notice.attachments], "error": notice.error}


def _notice_from(data: Mapping) -> Notice:
    return Notice(job=data["job"], title=data["title"], company=data["company"], period=data["period"],
                  status=data["status"], link=data.get("link"), pdf=Path(data["pdf"]) if data.get("pdf") else None,
                  attachments=tuple(Path(p) for p in data.get("attachments") or ()), error=data.get("error"))


def _attempt(history: RunHistory, item: OutboxItem, ws: Workspace, max_attempts: int,
             backoff: float) -> Delivery:
    """One delivery attempt of an outbox item; records it and schedules the next one."""
    if item.channel == STORAGE_CHANNEL:
        return _storage_attempt(history, item, ws, max_attempts, backoff)
    env = environment_with_secrets()
    secrets = secret_values([item.slack_env or ""], env)
    try:
        [delivery] = distribute(_notice_from(item.notice), item.emails if item.channel == "email" else [],
                                item.slack_env if item.channel == "slack" else None, env=env)
    except Exception as exc:  # noqa: BLE001 - distribute reports failures itself; this is a bug guard
        delivery = Delivery(item.channel, item.target, "failed", one_line(exc, secrets=secrets))
    attempts = item.attempts + 1
    final = None
    when = None
    if delivery.status == "failed":
        if attempts >= max_attempts:
            final = OUTBOX_GAVE_UP
        else:
            wait = min(_DELIVERY_MAX_WAIT, backoff * 2 ** min(attempts - 1, 32))
            when = datetime.now(timezone.utc) + timedelta(seconds=wait)
    history.record_delivery(item.id, delivery.status, delivery.detail, next_attempt=when, final_status=final,
                            secrets=secrets)
    _log(ws, item.job, item.company, f"notify attempt {attempts} {redact(str(delivery), secrets)}")
    return delivery


def notify(spec: JobSpec, outcomes: Sequence[RunOutcome], *, dry_run: bool = False,
           workspace: Workspace | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
    """Tell the spec's recipients about each outcome that has a notice (in this process).

    Each channel's message goes through the outbox in the run history: attempted at once,
    retried with backoff within this call (see :func:`outbox_settings`), and left pending
    for :func:`flush_outbox` when still failing. Fills ``outcome.deliveries`` (every attempt)
    and ``outcome.undelivered`` (channels still failing) and logs one line per attempt.
    """
    ws = workspace or Workspace.at()
    sendable = [o for o in outcomes if o.notice is not None and o.status in {RunStatus.SUCCESS, RunStatus.FAILED}]
    if dry_run:
        for outcome in sendable:
            for d in distribute(outcome.notice, spec.recipients.emails, spec.recipients.slack_webhook_env,
                                env=environment_with_secrets(), dry_run=True):
                outcome.deliveries.append(redact(str(d)))
        return
    if not sendable:
        return
    history = ws.history()
    retries, backoff, max_attempts = outbox_settings()
    items: dict[int, RunOutcome] = {}
    for outcome in sendable:
        notice = _notice_dict(outcome.notice)
        if spec.recipients.emails:
            items[history.enqueue(run_id=outcome.run_id, job=spec.name, company=outcome.company, channel="email",
                                  target=", ".join(spec.recipients.emails), notice=notice,
                                  emails=spec.recipients.emails)] = outcome
        if spec.recipients.slack_webhook_env:
            env_name = spec.recipients.slack_webhook_env
            items[history.enqueue(run_id=outcome.run_id, job=spec.name, company=outcome.company, channel="slack",
                                  target=f"slack (${env_name})", notice=notice, slack_env=env_name)] = outcome
    waiting = list(items)
    for round_ in range(retries + 1):
        if round_:
            sleep(min(_DELIVERY_MAX_WAIT, backoff * 2 ** (round_ - 1)))
        still = []
        for item in history.outbox(waiting):
            delivery = _attempt(history, item, ws, max_attempts, backoff)
            items[item.id].deliveries.append(redact(str(delivery), secret_values([item.slack_env or ""],
                                                                                 environment_with_secrets())))
            if delivery.status == "failed" and item.attempts + 1 < max_attempts:
                still.append(item.id)
        waiting = still
        if not waiting:
            break
    for item in history.outbox(waiting):
        items[item.id].undelivered.append(f"{item.channel} → {item.target}: {item.last_error or 'failed'}")


def flush_outbox(*, workspace: Workspace | None = None,
                 now: datetime | None = None) -> list[tuple[OutboxItem, Delivery]]:
    """Attempt every pending delivery whose next attempt is due (one attempt each).

    Called by ``quant schedule due`` and by :func:`run_due` (so by ``serve``) before any run.

    Returns
    -------
    list of (OutboxItem, Delivery)
        What was attempted and how it went.
    """
    ws = workspace or Workspace.at()
    history = ws.history(create=False)
    if history is None:
        return []
    _, backoff, max_attempts = outbox_settings()
    # An upload needs the run folder, which is on the machine that published it: others leave it.
    here = socket.gethostname()
    return [(item, _attempt(history, item, ws, max_attempts, backoff))
            for item in history.pending(now or datetime.now(timezone.utc))
            if item.channel != STORAGE_CHANNEL or item.notice.get("host") == here]


# -- publishing to object storage ------------------------------------------------------------


def _next_attempt(attempts: int, max_attempts: int, backoff: float) -> tuple[datetime | None, str | None]:
    """``(next_attempt, final_status)`` after ``attempts`` failed attempts."""
    if attempts >= max_attempts:
        return None, OUTBOX_GAVE_UP
    wait = min(_DELIVERY_MAX_WAIT, backoff * 2 ** min(attempts - 1, 32))
    return datetime.now(timezone.utc) + timedelta(seconds=wait), None


def _storage_attempt(history: RunHistory, item: OutboxItem, ws: Workspace, max_attempts: int,
                     backoff: float) -> Delivery:
    """Upload one run folder to ``item.target``, then the index of every uploaded run, last; record it.

    The index is rebuilt from the run history (the runs it records as uploaded to that prefix,
    from every machine when the history is shared) and uploaded under the scheduler's index
    lock, and the upload is recorded as sent before the lock is released: a run finishing on
    another machine then rebuilds an index that lists this one.
    """
    from quantlib.publish.index import write_index
    from quantlib.publish.mirror import MirrorError, push_index, push_run

    notice, attempts = item.notice, item.attempts + 1
    run, target = notice["run"], item.target
    try:
        push_run(notice["reports"], run, target)
        with ws.lock("index", timeout=120):
            records = {other.notice["run"]: other.notice["record"]
                       for other in history.delivered(STORAGE_CHANNEL, target)}
            records[run] = notice["record"]
            index = write_index(ws.reports, runs=[{**record, "_dir": where} for where, record in records.items()])
            push_index(index, target)
            delivery = Delivery(STORAGE_CHANNEL, target, "sent", f"{run} and index.html uploaded")
            history.record_delivery(item.id, "sent", delivery.detail)
    except Exception as exc:  # noqa: BLE001 - any failure is a failed delivery, retried later
        delivery = Delivery(STORAGE_CHANNEL, target, "failed", one_line(exc))
        # A missing run folder or a destination that is not object storage is not fixed by retrying.
        when, final = (None, OUTBOX_GAVE_UP) if isinstance(exc, MirrorError) else \
            _next_attempt(attempts, max_attempts, backoff)
        history.record_delivery(item.id, "failed", delivery.detail, next_attempt=when, final_status=final)
    _log(ws, item.job, item.company, f"upload attempt {attempts} {redact(str(delivery))}")
    return delivery


def upload_run(ws: Workspace, history: RunHistory, record: Mapping, run: str, *,
               sleep: Callable[[float], None] = time.sleep) -> tuple[list[str], list[str]]:
    """Publish the run folder ``ws.reports/<run>`` to ``ws.storage``, then the index (see :func:`_storage_attempt`).

    The upload is an outbox item of the run history (channel ``storage``, its target the
    prefix, its notice the run's record and where its folder is): tried at once, retried
    within this call as deliveries are (:func:`outbox_settings`), then left pending for later
    ``due`` / ``serve`` calls on this machine, which holds the run folder. The report itself
    stays published locally whatever happens.

    Parameters
    ----------
    ws : Workspace
        With ``storage`` set.
    history : RunHistory
    record : mapping
        The run's ``run.json``.
    run : str
        The run folder relative to ``ws.reports`` (``job/company/run_id``).
    sleep : callable
        Waits between attempts.

    Returns
    -------
    (list of str, list of str)
        One line per attempt, and the line of an upload still failing (empty when uploaded).
    """
    retries, backoff, max_attempts = outbox_settings()
    item_id = history.enqueue(run_id=record.get("run_id"), job=str(record["job"]), company=str(record["company"]),
                              channel=STORAGE_CHANNEL, target=str(ws.storage),
                              notice={"run": run, "record": dict(record), "reports": str(ws.reports),
                                      "host": socket.gethostname()})
    lines = []
    for round_ in range(retries + 1):
        if round_:
            sleep(min(_DELIVERY_MAX_WAIT, backoff * 2 ** (round_ - 1)))
        [item] = history.outbox([item_id])
        delivery = _storage_attempt(history, item, ws, max_attempts, backoff)
        lines.append(redact(str(delivery)))
        if delivery.status == "sent":
            return lines, []
        [item] = history.outbox([item_id])
        if item.status != "pending":
            break
    return lines, [f"{STORAGE_CHANNEL} → {ws.storage}: {item.last_error or 'failed'}"]


# -- many runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    """A picklable unit of work for executors."""

    spec: JobSpec
    parameter_file: Path
    workspace: Workspace
    scheduled_for: datetime
    dry_run: bool


def _run_task(task: _Task) -> RunOutcome:
    # Module-level so process pools and Dask can pickle it by reference.
    return run_job(task.spec, task.parameter_file, workspace=task.workspace, scheduled_for=task.scheduled_for,
                   dry_run=task.dry_run, send=False)


def run_many(
    spec: JobSpec,
    parameter_files: Sequence[str | Path] | None = None,
    *,
    workspace: Workspace | None = None,
    scheduled_for: datetime | None = None,
    dry_run: bool = False,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> list[RunOutcome]:
    """Run ``spec`` for several parameter files (default: all of the spec's) at once.

    The runs happen on the executor (see :mod:`quantlib.schedule.executors`); notifications
    are sent from this process afterwards. A single run (and a dry run) is done in this
    process unless a cluster ``address`` is given.
    """
    ws = workspace or Workspace.at()
    files = [Path(p) for p in (parameter_files if parameter_files is not None else spec.parameters)]
    slot = scheduled_for or datetime.now(spec.tz)
    return run_batch([_Task(spec, f, ws, slot, dry_run) for f in files], executor=executor, workers=workers,
                     address=address)


def run_jobs(
    specs: Sequence[JobSpec],
    *,
    companies: Sequence[str] | None = None,
    workspace: Workspace | None = None,
    dry_run: bool = False,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> list[RunOutcome]:
    """Run several jobs now, all their companies (or ``companies``) together on one executor.

    Independent reports then run side by side: ``make demo`` publishes its reports this way.
    """
    ws = workspace or Workspace.at()
    tasks = []
    for spec in specs:
        slot = datetime.now(spec.tz)
        for pf in spec.parameters:
            if companies is None or company_of(ws, pf) in companies:
                tasks.append(_Task(spec, Path(pf), ws, slot, dry_run))
    return run_batch(tasks, executor=executor, workers=workers, address=address)


def run_batch(
    tasks: Sequence[_Task],
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> list[RunOutcome]:
    """Run ``tasks`` (of one job or several) on one executor, then notify each job's recipients.

    A run the executor loses is failed, recorded and alerted (:func:`_executor_failure`);
    a run that finished is recorded once, by itself: nothing after it (a notification that
    raises, another job's failure) records it again. Every job's recipients are told about the
    companies that published, whatever happened to the other runs.
    """
    from quantlib.schedule.executors import get_executor

    tasks = list(tasks)
    if not tasks:
        return []
    dry_run = all(t.dry_run for t in tasks)
    if dry_run or (len(tasks) <= 1 and address is None):
        # Starting a pool or a local cluster for one run costs more than it saves; a cluster
        # given by address is used anyway (it may be where the data is).
        executor, workers = "inline", None
    try:
        with get_executor(executor, workers=workers, address=address) as pool:
            if _takes_return_exceptions(pool.map):
                results = pool.map(_run_task, tasks, return_exceptions=True)
            else:  # an executor written before return_exceptions: a loss fails the whole batch
                results = pool.map(_run_task, tasks)
    except Exception as exc:  # noqa: BLE001 - the executor itself failed (no cluster, no pool)
        results = [exc] * len(tasks)
    outcomes = [r if isinstance(r, RunOutcome) else _executor_failure(t, r) for t, r in zip(tasks, results)]
    if dry_run:
        return outcomes
    by_job: dict[str, tuple[JobSpec, list[RunOutcome]]] = {}
    for task, outcome in zip(tasks, outcomes):
        by_job.setdefault(task.spec.name, (task.spec, []))[1].append(outcome)
    for spec, job_outcomes in by_job.values():
        ws = next(t.workspace for t in tasks if t.spec.name == spec.name)
        try:
            notify(spec, job_outcomes, workspace=ws)
        except Exception as exc:  # noqa: BLE001 - the runs are recorded; a notice that cannot be sent is logged
            message = f"notifications not sent: {one_line(exc)}"
            _log(ws, spec.name, "-", message)
            for outcome in job_outcomes:
                if outcome.notice is not None:
                    outcome.undelivered.append(message)
    return outcomes


def _takes_return_exceptions(method: Callable) -> bool:
    import inspect

    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "return_exceptions" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _executor_failure(task: _Task, exc: BaseException) -> RunOutcome:
    """The outcome of a run the executor lost (worker died, pool broken): failed, recorded, alerted.

    The row is marked ``lost`` so :func:`due_runs` runs the slot again.
    """
    spec, ws = task.spec, task.workspace
    company = company_of(ws, task.parameter_file)
    error = one_line(f"the executor lost the run: {one_line(exc)}")
    outcome = RunOutcome(spec.name, company, RunStatus.FAILED, error=error)
    if task.dry_run:
        outcome.status, outcome.plan = RunStatus.DRY_RUN, [f"would NOT run: {error}"]
        return outcome
    outcome.run_id = _new_run_id()
    try:
        history = ws.history()
        row = history.start(run_id=outcome.run_id, job=spec.name, company=company, parameters_hash="-",
                            scheduled_for=task.scheduled_for)
        history.finish(row, RunStatus.FAILED, error=error, lost=True)
    except Exception as again:  # noqa: BLE001 - still alerted below
        error = f"{error}; not recorded: {one_line(again)}"
    _log(ws, spec.name, company, error)
    outcome.notice = Notice(job=spec.name, title=spec.title, company=company,
                            period=task.scheduled_for.date().isoformat(), status=RunStatus.FAILED, error=error)
    return outcome


# -- what is due -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueRun:
    """A (job, parameter file) whose latest cron slot has no recorded run."""

    spec: JobSpec
    parameter_file: Path
    company: str
    slot: datetime
    last: datetime | None


def due_runs(specs: Mapping[str, JobSpec], now: datetime, *, workspace: Workspace | None = None) -> list[DueRun]:
    """Every job and company whose most recent scheduled time is after its last recorded run.

    A job never run before is due for its most recent slot. Failed runs count as recorded
    (they were retried and alerted; re-running them on every tick would spam the alert),
    except runs that were *lost* (their process died, see :func:`recover`): their slot is
    run again, up to the spec's retry count.
    """
    ws = workspace or Workspace.at()
    history = ws.history()
    due = []
    for spec in specs.values():
        slot = spec.previous_run(now)
        for pf in spec.parameters:
            company = company_of(ws, pf)
            last = history.last_scheduled_for(spec.name, company, lost_retries=max(1, spec.retries.count))
            if last is None or last < slot:
                due.append(DueRun(spec, pf, company, slot, last))
    return due


def recover(
    *,
    workspace: Workspace | None = None,
    specs: Mapping[str, JobSpec] | None = None,
    lease: float | None = None,
    send: bool = True,
) -> list[LostRun]:
    """Find runs whose process died, mark them failed, alert, and delete their debris.

    A run is dead when its lease expired or its process is gone from this host (see
    :meth:`RunHistory.reap`). Each is marked failed with the reason, logged and, when its
    job's spec is known, alerted to the spec's recipients; :func:`due_runs` then runs its
    slot again. Folders under ``reports/.tmp/`` that belong to no live run are removed.

    Returns
    -------
    list of LostRun
    """
    ws = workspace or Workspace.at()
    history = ws.history()
    lost = history.reap(lease_settings()[1] if lease is None else lease)
    if specs is None:
        try:
            specs = ws.load_specs()
        except SpecError:
            specs = {}
    for item in lost:
        rec = item.record
        _log(ws, rec.job, rec.company, f"run {rec.run_id} attempt {rec.attempt} lost: {item.reason}")
        spec = specs.get(rec.job)
        if spec is None or not send:
            continue
        when = datetime.fromisoformat(rec.scheduled_for)
        outcome = RunOutcome(rec.job, rec.company, RunStatus.FAILED, run_id=rec.run_id, attempts=rec.attempt,
                             error=item.reason)
        outcome.notice = Notice(job=rec.job, title=spec.title, company=rec.company, period=when.date().isoformat(),
                                status=RunStatus.FAILED, error=item.reason)
        notify(spec, [outcome], workspace=ws)
    _remove_orphans(ws, history)
    return lost


def _remove_orphans(ws: Workspace, history: RunHistory) -> None:
    if not ws.tmp.is_dir():
        return
    # Listed before the live runs are read: a run starting in between records its row first
    # (history.start precedes mkdir), so it is either not listed or known to be live.
    entries = list(ws.tmp.iterdir())
    here = socket.gethostname()
    keep = set()
    for rec in history.live():
        # A live run elsewhere (or whose process still exists here) keeps its folder.
        if rec.tmp_dir and (rec.host != here or rec.pid is None or pid_alive(rec.pid)):
            keep.add(Path(rec.tmp_dir).name)
    for entry in entries:
        if entry.name in keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        _log(ws, "-", "-", f"removed orphaned temporary {entry.name}")


def run_due(
    now: datetime | None = None,
    *,
    workspace: Workspace | None = None,
    specs: Mapping[str, JobSpec] | None = None,
    dry_run: bool = False,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> list[RunOutcome]:
    """Run everything :func:`due_runs` finds, every job and company together on the executor."""
    ws = workspace or Workspace.at()
    specs = ws.load_specs() if specs is None else specs
    now = now or datetime.now(timezone.utc)
    if not dry_run:
        recover(workspace=ws, specs=specs)
        flush_outbox(workspace=ws)
    # Every due (job, company) goes to one executor, so independent jobs run side by side.
    tasks = [_Task(d.spec, d.parameter_file, ws, d.slot, dry_run) for d in due_runs(specs, now, workspace=ws)]
    return run_batch(tasks, executor=executor, workers=workers, address=address)


#: Seconds ``serve`` waits after a failed cycle before it tries again.
_SERVE_ERROR_PAUSE = 60.0


def _alert_all(ws: Workspace, specs: Mapping[str, JobSpec], message: str, now: datetime) -> None:
    """Send a scheduler-level error to the recipients of every job (each address once)."""
    emails = sorted({e for s in specs.values() for e in s.recipients.emails})
    hooks = sorted({s.recipients.slack_webhook_env for s in specs.values() if s.recipients.slack_webhook_env})
    notice = Notice(job="scheduler", title="Quant scheduler", company="all companies",
                    period=now.date().isoformat(), status=RunStatus.FAILED, error=message)
    for i, hook in enumerate(hooks or [None]):
        try:
            for d in distribute(notice, emails if i == 0 else [], hook, env=environment_with_secrets()):
                _log(ws, "-", "-", f"notify {redact(str(d))}")
        except Exception as exc:  # noqa: BLE001 - nothing more can be done than log it
            _log(ws, "-", "-", f"alert not sent: {one_line(exc)}")


def serve(
    *,
    workspace: Workspace | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    wait: Callable[[float], bool] | None = None,
    stop: threading.Event | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> None:
    """Run due jobs, sleep until the next scheduled time, repeat until stopped.

    Specs are re-read every cycle, so an edited spec takes effect without a restart (an
    invalid edit is reported and the last good specs are kept).

    Parameters
    ----------
    clock : callable
        Returns the current (aware) time; tests pass a fake clock.
    wait : callable, optional
        ``wait(seconds) -> bool``: sleeps, returns ``True`` to stop. Default: ``stop.wait``.
    stop : threading.Event, optional
        Set it (from a signal handler or another thread) to stop.
    """
    ws = workspace or Workspace.at()
    stop = stop or threading.Event()
    wait = wait or stop.wait
    specs: dict[str, JobSpec] = {}
    alerted: str | None = None
    while not stop.is_set():
        try:
            specs = ws.load_specs()
        except SpecError as exc:
            if on_error:
                on_error(f"job specs not reloaded, keeping the last good ones: {exc}")
        now = clock()
        try:
            for outcome in run_due(now, workspace=ws, specs=specs, executor=executor, workers=workers,
                                   address=address):
                if on_outcome:
                    on_outcome(outcome)
        except Exception as exc:  # noqa: BLE001 - a scheduler that exits silently is the worst outcome
            message = one_line(f"scheduler cycle failed: {one_line(exc)}")
            _log(ws, "-", "-", message)
            if on_error:
                on_error(message)
            if message != alerted:  # the same error every cycle is alerted once
                _alert_all(ws, specs, message, now)
                alerted = message
            if wait(_SERVE_ERROR_PAUSE):
                break
            continue
        alerted = None
        if not specs:
            if wait(60):
                break
            continue
        # Computed from the time the cycle started: if runs took past the next slot, the
        # delay is negative and the loop fires at once (the slot is then due).
        upcoming = min(spec.next_run(now) for spec in specs.values())
        delay = max(0.0, (upcoming - clock()).total_seconds())
        if wait(delay):
            break
