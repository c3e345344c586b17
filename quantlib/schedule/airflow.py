"""``scheduled/*.yaml`` as Apache Airflow DAGs, for a company whose orchestrator is Airflow.

One DAG file per job (``quant_<job>.py``, DAG id ``quant_<job>``), with two tasks per company:

``execute_<company>``
    ``PapermillOperator`` (``apache-airflow-providers-papermill``) runs the job's notebook with the
    parameters quant validated at export time, in the project's Jupyter kernel (``quant`` by
    default: ``.venv/bin/python -m ipykernel install --user --name quant`` on every worker), and
    writes the executed notebook to ``reports/.airflow/<job>/<company>/``. Airflow retries it as the
    spec says (count, first wait, doubling, longest wait) and stops an attempt after ``timeout``.
``publish_<company>``
    ``BashOperator`` running ``quant schedule run <job> --company <company> --executed <notebook>`` in
    the project: quant checks the notebook (no failed cell, the parameters the file gives now),
    renders the outputs, publishes them atomically under ``reports/``, records the run history,
    applies retention, refreshes ``reports/index.html`` and tells the recipients, as a run of
    ``quant schedule`` does; rendering has the spec's own retries and timeout.

The generated files are plain Python for Airflow 3 (and 2.x): they import Airflow and the papermill
and standard providers only, never ``quantlib``, so Airflow's scheduler and DAG processor parse them
in Airflow's own environment; only the tasks need the project (its kernel and its ``quant``
command) on the workers. Nothing secret is written: the publish task may source an environment
file on the worker (``env_file``) holding the mail, Slack and Twilio settings.

What Airflow does not do as ``quant schedule`` does is said in each file's header; ``day_match: and``
with both day fields (croniter's ``day_or=False``), which Airflow's cron timetable cannot express,
is refused with the job's name.
"""

from __future__ import annotations

import pprint
import shlex
from dataclasses import dataclass
from pathlib import Path

from quantlib.errors import QuantError
from quantlib.schedule.runner import Workspace, absolute_lake, company_of
from quantlib.schedule.specs import JobSpec

__all__ = ["AirflowExportError", "AirflowSettings", "dag_file", "dag_id", "export_dags", "publish_timeout"]

_JINJA_MARKS = ("{{", "{%", "{#")


class AirflowExportError(QuantError, ValueError):
    """A job spec cannot be exported as an Airflow DAG; the message names the job and why."""


@dataclass(frozen=True)
class AirflowSettings:
    """Where the tasks run on the Airflow workers.

    Attributes
    ----------
    project : str
        The project (workspace) folder on the workers: notebooks, parameters, lake, reports.
    quant : str or None
        The ``quant`` command on the workers (default ``<project>/.venv/bin/quant``).
    kernel : str
        The Jupyter kernel papermill starts: the project's environment, registered on the workers.
    env_file : str or None
        A file on the workers that the publish task sources (``set -a; . FILE``) for the channels'
        settings and secrets; its path only is written, never its content.
    """

    project: str = "/srv/quant"
    quant: str | None = None
    kernel: str = "quant"
    env_file: str | None = None

    @property
    def quant_command(self) -> str:
        return self.quant or f"{self.project.rstrip('/')}/.venv/bin/quant"


def dag_id(job: JobSpec) -> str:
    """The DAG id (and file stem) of ``job``."""
    return f"quant_{job.name}"


def publish_timeout(job: JobSpec) -> int:
    """Seconds Airflow allows the publish task: quant's own attempts, their waits, and a margin."""
    attempts = job.retries.count + 1
    return int(job.timeout * attempts + job.retries.max_backoff * job.retries.count + 600)


def _check_schedule(job: JobSpec) -> None:
    fields = job.cron.split()
    if job.day_match == "and" and fields[2] not in {"*", "?"} and fields[4] not in {"*", "?"}:
        raise AirflowExportError(f"{job.name}: day_match 'and' with both day fields cannot be expressed (Airflow's "
                                 "cron timetable runs on either); write an n-th weekday such as '0 7 * * 1#1'")


def _check_plain(job: JobSpec, where: str, value) -> None:
    """Parameters are Jinja-templated by the operator: refuse a value Airflow would rewrite."""
    if isinstance(value, str) and any(mark in value for mark in _JINJA_MARKS):
        raise AirflowExportError(f"{job.name}: {where} {value!r} holds Jinja markup, which Airflow would render")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(job, f"{where}.{key}", item)
    elif isinstance(value, list):
        for item in value:
            _check_plain(job, where, item)


def _runs(job: JobSpec, ws: Workspace, settings: AirflowSettings) -> dict[str, dict]:
    """Company → the parameters papermill injects (validated now, the lake absolute on the workers)."""
    from quantlib.parameters import ParameterError, load_parameter_file, validate_parameters

    runs = {}
    for parameter_file in job.parameters:
        company = company_of(ws, parameter_file)
        try:
            values = validate_parameters(ws.resolve(job.notebook), load_parameter_file(ws.resolve(parameter_file)))
        except (ParameterError, OSError, ValueError) as exc:
            raise AirflowExportError(f"{job.name}: invalid parameters in {parameter_file}: {exc}") from None
        values = absolute_lake(values, Path(settings.project))
        _check_plain(job, f"{parameter_file}:", values)
        runs[company] = values
    return runs


def _header(job: JobSpec, settings: AirflowSettings, companies: list[str]) -> str:
    r = job.retries
    waits = (f"first after {r.backoff:g} s, then doubling, at most {r.max_backoff:g} s" if r.exponential
             else f"{r.backoff:g} s apart")
    publish = f"cd {settings.project} && "
    if settings.env_file:
        publish += f"set -a && . {settings.env_file} && set +a && "
    publish += f"quant schedule run {job.name} --company <company> --root {settings.project} --executed <notebook>"
    retries = f"{r.count} retr{'y' if r.count == 1 else 'ies'}"
    rendered = ", ".join(k for k in job.outputs if k != "ipynb") or "nothing but the notebook"
    cell = (f"- the per-cell timeout (cell_timeout: {job.cell_timeout:g} s): papermill's operator takes none, so\n"
            f"  only the attempt's timeout ({job.timeout:g} s) stops a cell that hangs;\n") if job.cell_timeout else ""
    return f'''"""Quant's scheduled job {job.name!r} ({job.title}) as an Airflow DAG.

Generated by `quant schedule export --airflow` from scheduled/{job.name}.yaml: change the spec (or
its parameter files) and export again rather than editing this file.

Schedule: cron "{job.cron}" in {job.timezone} (CronTriggerTimetable), no catch-up, one run at a time.
Companies: {", ".join(companies)}. For each one:
- execute_<company>: papermill runs {job.notebook} in the Jupyter kernel "{settings.kernel}" (the
  project's environment, registered on every worker) with the parameters below, writing the
  executed notebook to {settings.project}/reports/.airflow/{job.name}/<company>/;
  {retries} ({waits}); {job.timeout:g} s per attempt.
- publish_<company>: `{publish}`:
  quant checks the notebook, renders {rendered}, publishes under reports/, records the run
  history, keeps the newest {job.retention.keep_last} runs, refreshes reports/index.html and tells the
  recipients, with the spec's own retries and timeout for rendering.

What Airflow does differently from `quant schedule`:
{cell}- the wait between retries follows Airflow's formula (its own spread, not the spec's jitter of
  {r.jitter:g});
- the kernel inherits the worker's environment, where quant starts kernels without secrets: keep
  the channels' secrets out of the workers' environment (the publish task reads them from its
  environment file);
- a notebook that fails after its last retry is not reported to the recipients by quant (the
  publish task does not run): use Airflow's own failure callbacks or e-mail;
- the run history shows the run when it is published, not each notebook attempt (Airflow's task
  log has those); `quant schedule due` must not also run this job, or it runs twice.
"""'''


_BODY = '''
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.providers.papermill.operators.papermill import PapermillOperator

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, CronTriggerTimetable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator
    from airflow.timetables.trigger import CronTriggerTimetable

PROJECT = {project!r}
QUANT = {quant!r}
ENV_FILE = {env_file!r}
KERNEL = {kernel!r}
JOB = {job!r}
NOTEBOOK = PROJECT + "/" + {notebook!r}
# Company -> the parameters papermill injects, as quant validated them at export time.
RUNS = {runs}
RUN = '{{{{ run_id | replace(":", "") | replace("+", "") }}}}'


def _make_folder(folder):
    return lambda context: Path(folder).mkdir(parents=True, exist_ok=True)


with DAG(
    dag_id={dag_id!r},
    description={title!r},
    doc_md=__doc__,
    schedule=CronTriggerTimetable({cron!r}, timezone={timezone!r}),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["quant", "scheduled-report"],
) as dag:
    for company, parameters in RUNS.items():
        folder = f"{{PROJECT}}/reports/.airflow/{{JOB}}/{{company}}"
        executed = f"{{folder}}/{{RUN}}.ipynb"
        execute = PapermillOperator(
            task_id=f"execute_{{company}}",
            input_nb=NOTEBOOK,
            output_nb=executed,
            parameters=parameters,
            kernel_name=KERNEL,
            pre_execute=_make_folder(folder),
            retries={retries},
            retry_delay=timedelta(seconds={backoff!r}),
            retry_exponential_backoff={multiplier!r},
            max_retry_delay=timedelta(seconds={max_backoff!r}),
            execution_timeout=timedelta(seconds={timeout!r}),
        )
        command = f"cd {{PROJECT}} && "
        if ENV_FILE:
            command += f"set -a && . {{ENV_FILE}} && set +a && "
        command += f"{{QUANT}} schedule run {{JOB}} --company {{company}} --root {{PROJECT}} --executed '{{executed}}'"
        command += f" && rm -f '{{executed}}'"
        publish = BashOperator(
            task_id=f"publish_{{company}}",
            bash_command=command,
            retries=0,
            execution_timeout=timedelta(seconds={publish_timeout}),
        )
        execute >> publish
'''


def _literal(runs: dict[str, dict]) -> str:
    """``runs`` as a Python literal, a company a line (values as repr: JSON-able, so plain literals)."""
    lines = [f"    {company!r}: {pprint.pformat(values, width=10_000, sort_dicts=False)},"
             for company, values in runs.items()]
    return "{\n" + "\n".join(lines) + "\n}"


def dag_file(job: JobSpec, runs: dict[str, dict], settings: AirflowSettings = AirflowSettings()) -> str:
    """The source of the DAG file running ``job`` for ``runs`` (company → parameters).

    Raises
    ------
    AirflowExportError
        The schedule cannot be expressed in Airflow.
    """
    _check_schedule(job)
    for where, value in (("project", settings.project), ("quant", settings.quant_command),
                         ("env_file", settings.env_file), ("kernel", settings.kernel)):
        _check_plain(job, where, value)
        if value and shlex.quote(value) != value:
            raise AirflowExportError(f"{job.name}: {where} {value!r} needs shell quoting; use a plain path")
    r = job.retries
    body = _BODY.format(
        project=settings.project.rstrip("/"), quant=settings.quant_command, env_file=settings.env_file,
        kernel=settings.kernel, job=job.name, notebook=job.notebook.as_posix(), dag_id=dag_id(job),
        title=job.title, cron=job.cron, timezone=job.timezone, runs=_literal(runs),
        retries=r.count, backoff=r.backoff, multiplier=2.0 if r.exponential else 0.0, max_backoff=r.max_backoff,
        timeout=job.timeout, publish_timeout=publish_timeout(job),
    )
    return _header(job, settings, list(runs)) + "\n" + body


def export_dags(jobs: dict[str, JobSpec], folder: str | Path, settings: AirflowSettings = AirflowSettings(),
                workspace: Workspace | None = None) -> list[Path]:
    """Write one ``quant_<job>.py`` DAG file per job into ``folder``; return the files.

    Parameters
    ----------
    jobs : dict of str to JobSpec
    folder : path-like
        Airflow's DAG folder (or a folder to copy into it).
    settings : AirflowSettings
    workspace : Workspace, optional
        Where the parameter files are read and validated (default: the project root).

    Raises
    ------
    AirflowExportError
        A job cannot be expressed or its parameters are invalid (nothing is written then).
    """
    ws = workspace or Workspace.at()
    sources = {dag_id(job): dag_file(job, _runs(job, ws, settings), settings) for job in jobs.values()}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, source in sorted(sources.items()):
        path = folder / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        written.append(path)
    return written
