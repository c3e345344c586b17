"""The scheduled jobs as Airflow DAGs: the generated files import in a real Airflow (its own
virtual environment, made by ``make test``) with the spec's schedule, time zone, retries, timeouts
and parameters; the publish task's ``quant schedule run --executed`` publishes what papermill ran."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import papermill
import pytest
from typer.testing import CliRunner

from quantlib.errors import RunStatus
from quantlib.parameters import load_parameter_file, validate_parameters
from quantlib.schedule.airflow import AirflowExportError, AirflowSettings, dag_file, export_dags
from quantlib.schedule.runner import Workspace, absolute_lake, company_of, run_job
from quantlib.schedule.specs import JobSpec, load_specs
from tests.conftest import ROOT
from tests.schedule.conftest import write_spec

HERE = Path(__file__).resolve().parent
#: Made by `make test` (the Makefile's airflow-venv target), apart from .venv: Airflow's pins conflict with ours.
AIRFLOW_VENV = ROOT / ".cache" / "airflow-venv"
SLOT = datetime(2026, 12, 7, 8, tzinfo=timezone.utc)
AFTER = datetime(2026, 12, 7, 8, 0, 30, tzinfo=timezone.utc)  # on no job's slot: strict and inclusive agree
RUN_ID = "scheduled__2026-12-07T08:00:00+00:00"
SETTINGS = AirflowSettings(project="/srv/quant", env_file="/srv/quant/.quant.env")


def _job(**values) -> JobSpec:
    base = {"name": "weekly_chicago", "title": "Weekly operations (Chicago)",
            "notebook": "notebooks/weekly_operations.ipynb", "parameters": ["parameters/reports/mixed_trades.yaml"],
            "cron": "30 6 * * 1-5", "timezone": "America/Chicago", "cell_timeout": 300,
            "retries": {"count": 1, "backoff": 30, "exponential": False}}
    return JobSpec.model_validate({**base, **values})


# -- the generator, in the project's environment --------------------------------------------------


def test_the_dag_file_is_plain_python_without_quantlib_or_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("QUANT_SMTP_PASSWORD", "s3cret-smtp-password")
    monkeypatch.setenv("QUANT_SLACK_WEBHOOK_OPS", "https://hooks.example.com/T000/s3cret")
    [path] = export_dags({"weekly_operations": load_specs(ROOT / "scheduled")["weekly_operations"]},
                         tmp_path, SETTINGS, workspace=Workspace.at(ROOT))
    source = path.read_text()
    compile(source, str(path), "exec")
    assert path.name == "quant_weekly_operations.py"
    assert not re.search(r"^\s*(import|from)\s+quantlib", source, re.M)
    assert "s3cret" not in source and "/srv/quant/.quant.env" in source
    assert 'CronTriggerTimetable(\'0 8 * * 1\', timezone=\'UTC\')' in source
    # The header says what Airflow does differently; the cell timeout only when the spec has one.
    chicago = dag_file(_job(), {"mixed_trades": {"company": "mixed_trades"}}, SETTINGS)
    assert "cell_timeout: 300 s" in chicago and "cell_timeout" not in source
    assert "1 retry (30 s apart)" in chicago and "jitter" in chicago


def test_what_airflow_cannot_express_is_refused_by_name():
    with pytest.raises(AirflowExportError, match="weekly_chicago: day_match 'and'"):
        dag_file(_job(cron="0 9 1-7 * 1", day_match="and"), {}, SETTINGS)
    with pytest.raises(AirflowExportError, match="Jinja"):
        dag_file(_job(), {}, AirflowSettings(project="/srv/{{ var.value.x }}"))
    with pytest.raises(AirflowExportError, match="shell quoting"):
        dag_file(_job(), {}, AirflowSettings(project="/srv/quant; rm -rf /"))


def test_the_command(tmp_path):
    from quantlib.cli import app

    done = CliRunner().invoke(app, ["schedule", "export", "--airflow", str(tmp_path / "dags"),
                                    "--project-dir", "/opt/quant", "--kernel", "quant-prod"])
    assert done.exit_code == 0, done.output
    files = sorted((tmp_path / "dags").glob("quant_*.py"))
    assert len(files) == len(load_specs(ROOT / "scheduled")) and "DAG files in" in done.output
    assert "KERNEL = 'quant-prod'" in files[0].read_text() and "PROJECT = '/opt/quant'" in files[0].read_text()
    done = CliRunner().invoke(app, ["schedule", "export"])
    assert done.exit_code == 2 and "--airflow DIR and/or --kubernetes DIR" in done.output


# -- the generated DAGs in a real Airflow ---------------------------------------------------------


@pytest.mark.skipif(not (AIRFLOW_VENV / ".installed").is_file(),
                    reason="no Airflow environment: `make test` (or `make airflow-venv`) makes .cache/airflow-venv")
def test_the_exported_dags_import_and_run_in_airflow(project, tmp_path):
    from quantlib.cli.run import register_kernel

    ws = Workspace.at(ROOT)
    jobs = {**load_specs(ROOT / "scheduled"), "weekly_chicago": _job()}
    dags = tmp_path / "dags"
    with pytest.MonkeyPatch.context() as patch:  # the repository's companies, not the throw-away project's
        patch.setenv("QUANT_HOME", str(ROOT))
        written = export_dags(jobs, dags, SETTINGS, workspace=ws)
        expected = {(name, company_of(ws, p)): absolute_lake(validate_parameters(
                        ROOT / job.notebook, load_parameter_file(ROOT / p)), Path("/srv/quant"))
                    for name, job in jobs.items() for p in job.parameters}
        companies = {name: [company_of(ws, p) for p in job.parameters] for name, job in jobs.items()}
    assert len(written) == len(jobs)
    # One job of a throw-away project runs for real: papermill's task in Airflow, then the publish command.
    spec = write_spec(project, name="airflow_report", outputs=["ipynb"])
    here = AirflowSettings(project=str(project.root), quant=str(ROOT / ".venv" / "bin" / "quant"))
    export_dags({spec.name: spec}, dags, here, workspace=project)
    # The check can fail: a file Airflow cannot import is reported, not skipped.
    (dags / "quant_broken.py").write_text("from airflow.sdk import DAG\nraise RuntimeError('broken on purpose')\n")
    # The project's kernel, registered where the worker's Jupyter looks (as `ipykernel install` would).
    jupyter = register_kernel(prefix=tmp_path / "jupyter").parents[1]  # PREFIX/share/jupyter/kernels/quant
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "JUPYTER_PATH": str(jupyter)}
    out = tmp_path / "dagbag.json"
    # The Airflow environment's interpreter on our own script and a folder we wrote: no untrusted input.
    done = subprocess.run([str(AIRFLOW_VENV / "bin" / "python"), str(HERE / "airflow_dagbag.py"), str(dags),  # nosec
                           AFTER.isoformat(), RUN_ID, str(out), "quant_airflow_report", "execute_alpha"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    bag = json.loads(out.read_text())
    assert list(bag["import_errors"]) == [str(dags / "quant_broken.py")]
    assert "broken on purpose" in bag["import_errors"][str(dags / "quant_broken.py")]
    assert set(bag["dags"]) == {f"quant_{name}" for name in [*jobs, spec.name]}

    # The notebook ran in Airflow's papermill task; the publish task's command publishes it.
    task = bag["dags"]["quant_airflow_report"]["tasks"]
    executed = Path(task["execute_alpha"]["output_nb"])
    assert executed.parent == project.root / "reports" / ".airflow" / "airflow_report" / "alpha"
    ran = nbformat.read(executed, as_version=4)
    assert "Jobs completed: 210" in executed.read_text()
    # bash, as BashOperator runs it; our own command line from a DAG we generated.
    published = subprocess.run(["bash", "-c", task["publish_alpha"]["bash_command"]],  # nosec
                               capture_output=True, text=True, timeout=120)
    assert published.returncode == 0, published.stdout + published.stderr
    [run] = project.reports.glob("airflow_report/alpha/*/notebook.ipynb")
    assert nbformat.read(run, as_version=4) == ran
    assert not executed.exists()  # the staging copy goes once published
    assert json.loads((run.parent / "run.json").read_text())["parameters"]["company"] == "alpha"

    for name, job in jobs.items():  # the shipped jobs (and a Chicago one): Airflow has what the spec says
        dag = bag["dags"][f"quant_{name}"]
        assert (dag["cron"], dag["catchup"], dag["max_active_runs"], dag["description"]) == (job.cron, False, 1,
                                                                                             job.title)
        # Airflow's own timetable (as the scheduler gets it) fires when quant's schedule would, in the job's zone.
        assert [datetime.fromisoformat(t) for t in dag["next_runs"]] == job.next_runs(AFTER, 3), name
        assert set(dag["tasks"]) == {f"{step}_{c}" for c in companies[name] for step in ("execute", "publish")}
        for company in companies[name]:
            execute, publish = dag["tasks"][f"execute_{company}"], dag["tasks"][f"publish_{company}"]
            assert execute["operator"] == "PapermillOperator" and execute["upstream"] == []
            assert execute["input_nb"] == f"/srv/quant/{job.notebook.as_posix()}"
            assert execute["kernel_name"] == "quant"
            assert execute["parameters"] == expected[name, company]
            assert execute["parameters"]["company"] == company
            r = job.retries
            assert (execute["retries"], execute["retry_delay"], execute["max_retry_delay"]) == (
                r.count, r.backoff, r.max_backoff)
            assert execute["retry_exponential_backoff"] == (2.0 if r.exponential else 0.0)
            assert execute["execution_timeout"] == job.timeout
            notebook = f"/srv/quant/reports/.airflow/{name}/{company}/scheduled__2026-12-07T0800000000.ipynb"
            assert execute["output_nb"] == notebook
            assert publish["operator"] == "BashOperator" and publish["upstream"] == [f"execute_{company}"]
            assert publish["retries"] == 0 and publish["execution_timeout"] > job.timeout * (r.count + 1)
            assert publish["bash_command"] == (
                "cd /srv/quant && set -a && . /srv/quant/.quant.env && set +a && /srv/quant/.venv/bin/quant schedule "
                f"run {name} --company {company} --root /srv/quant --executed '{notebook}' && rm -f '{notebook}'")


# -- the publish task: quant schedule run --executed -------------------------------------------------


def _papermill(ws, tmp_path, name="executed.ipynb", **values):
    """Run the test notebook the way Airflow's PapermillOperator does (papermill, report mode)."""
    notebook = ws.root / "notebooks" / "report.ipynb"
    params = validate_parameters(notebook, {"company": "alpha", **values})
    out = tmp_path / name
    try:
        papermill.execute_notebook(str(notebook), str(out), parameters=params, progress_bar=False,
                                   report_mode=True, kernel_name="python3")
    except papermill.PapermillExecutionError:
        pass  # papermill keeps the failed notebook, with the error, like the operator's task
    return out


def test_an_executed_notebook_is_published_as_the_run(project, tmp_path):
    from quantlib.cli import app

    spec = write_spec(project, outputs=["ipynb"])
    executed = _papermill(project, tmp_path)
    outcome = run_job(spec, "parameters/reports/alpha.yaml", workspace=project, scheduled_for=SLOT,
                      executed=executed, sleep=lambda s: None)
    assert outcome.status is RunStatus.SUCCESS, outcome.summary()
    published = nbformat.read(outcome.run_dir / "notebook.ipynb", as_version=4)
    assert published == nbformat.read(executed, as_version=4)  # taken as it ran, not run again
    record = json.loads((outcome.run_dir / "run.json").read_text())
    assert record["parameters"]["company"] == "alpha" and record["outputs"] == {"notebook": "notebook.ipynb"}
    [row] = project.history().runs("test_report")
    assert (row.status, row.attempt) == (RunStatus.SUCCESS, 1)
    # The command the DAG's publish task runs.
    root = ["--root", str(project.root)]
    done = CliRunner().invoke(app, ["schedule", "run", "test_report", "--company", "alpha", "--executed",
                                    str(executed), *root])
    assert done.exit_code == 0, done.output
    assert len(list(project.reports.glob("test_report/alpha/*/run.json"))) == 2
    done = CliRunner().invoke(app, ["schedule", "run", "test_report", "--executed", str(executed), *root])
    assert done.exit_code == 2 and "one job and one --company" in done.output


def test_a_failed_or_outdated_notebook_is_refused_before_any_attempt(project, tmp_path):
    spec = write_spec(project, outputs=["ipynb"], retries={"count": 2, "backoff": 0})
    failed = _papermill(project, tmp_path, "failed.ipynb", fail=True)
    outdated = _papermill(project, tmp_path, "outdated.ipynb", work_seconds=0.5)
    for executed, reason in ((failed, "a cell failed"), (outdated, r"other parameters .*work_seconds"),
                             (tmp_path / "missing.ipynb", "cannot be read")):
        outcome = run_job(spec, "parameters/reports/alpha.yaml", workspace=project, scheduled_for=SLOT,
                          executed=executed, sleep=lambda s: None)
        assert outcome.status is RunStatus.FAILED and outcome.attempts == 0, outcome.summary()
        assert re.search(reason, outcome.error), outcome.error
    assert not list(project.reports.glob("test_report/alpha/*"))
