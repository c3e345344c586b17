"""The scheduled jobs as Airflow DAGs: the generated files import in a real Airflow (its own
virtual environment, made by ``make test``) with the spec's schedule, time zone, retries, timeouts
and parameters; the publish task's ``quant schedule run --executed`` publishes what papermill ran."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import nbformat
import papermill

from quantlib.errors import RunStatus
from quantlib.parameters import validate_parameters
from quantlib.schedule.runner import run_job
from tests.schedule.conftest import write_spec

SLOT = datetime(2026, 12, 7, 8, tzinfo=timezone.utc)


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


def test_a_failed_or_outdated_notebook_is_refused_before_any_attempt(project, tmp_path):
    spec = write_spec(project, outputs=["ipynb"], retries={"count": 2, "backoff": 0})
    failed = _papermill(project, tmp_path, "failed.ipynb", fail=True)
    outdated = _papermill(project, tmp_path, "outdated.ipynb", marker="", work_seconds=0.5)
    for executed, reason in ((failed, "a cell failed"), (outdated, r"other parameters .*work_seconds"),
                             (tmp_path / "missing.ipynb", "cannot be read")):
        outcome = run_job(spec, "parameters/reports/alpha.yaml", workspace=project, scheduled_for=SLOT,
                          executed=executed, sleep=lambda s: None)
        assert outcome.status is RunStatus.FAILED and outcome.attempts == 0, outcome.summary()
        import re

        assert re.search(reason, outcome.error), outcome.error
    assert not list(project.reports.glob("test_report/alpha/*"))
