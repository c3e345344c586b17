"""Load a folder of DAG files with Airflow's DagBag and print what Airflow made of them, as JSON.

Run by tests/schedule/test_airflow.py with the Python of the Airflow environment (``make test``
makes it in .cache/airflow-venv); it imports Airflow only, never quantlib::

    python airflow_dagbag.py DAG_FOLDER AFTER RUN_ID OUT.json [DAG_ID TASK_ID]

For each DAG: the next three runs after AFTER (ISO) by the timetable the scheduler would use (the
DAG is serialised and read back, as the DAG processor hands it to the scheduler), and for each task
its operator, upstream tasks, retries, timeouts, the papermill and bash fields, and the templated
fields rendered by Airflow's Jinja for a run with id RUN_ID. Written to OUT.json (Airflow logs to
standard output).

With DAG_ID and TASK_ID, that task then runs as a worker would run it for run RUN_ID: its templated
fields rendered, its pre-execute hook called, then ``execute`` (for a PapermillOperator: papermill in
this environment, the notebook in the kernel the task names). The metadata database is not needed.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime


def _seconds(delta):
    return None if delta is None else delta.total_seconds()


def main(folder: str, after: str, run_id: str, dag_id: str | None = None, task_id: str | None = None) -> dict:
    import airflow
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import TimeRestriction

    try:  # Airflow 3
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=folder)
    out = {"airflow": airflow.__version__, "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
           "dags": {}}
    start = datetime.fromisoformat(after)
    for name, dag in sorted(bag.dags.items()):
        scheduled = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        runs, last = [], None
        for _ in range(3):
            info = scheduled.timetable.next_dagrun_info(
                last_automated_data_interval=last,
                restriction=TimeRestriction(earliest=start, latest=None, catchup=True))
            runs.append(info.run_after.isoformat())
            last = info.data_interval
        tasks = {}
        for task in dag.tasks:
            context = {"run_id": run_id}
            fields = {name: task.render_template(getattr(task, name), context)
                      for name in ("input_nb", "output_nb", "parameters", "kernel_name", "bash_command")
                      if hasattr(task, name)}
            tasks[task.task_id] = {
                "operator": type(task).__name__, "upstream": sorted(task.upstream_task_ids),
                "retries": task.retries, "retry_delay": _seconds(task.retry_delay),
                "retry_exponential_backoff": float(task.retry_exponential_backoff),
                "max_retry_delay": _seconds(task.max_retry_delay),
                "execution_timeout": _seconds(task.execution_timeout), **fields,
            }
        out["dags"][name] = {"file": dag.fileloc, "description": dag.description, "catchup": dag.catchup,
                               "max_active_runs": dag.max_active_runs, "timetable": type(dag.timetable).__name__,
                               "cron": scheduled.timetable.summary, "next_runs": runs, "tasks": tasks}
    if dag_id:
        task = bag.dags[dag_id].get_task(task_id)
        context = {"run_id": run_id, "task": task}
        task.render_template_fields(context)
        if task._pre_execute_hook is not None:
            task._pre_execute_hook(context)
        task.execute(context)
        out["executed"] = {"dag_id": dag_id, "task_id": task_id}
    return out


if __name__ == "__main__":
    with open(sys.argv[4], "w", encoding="utf-8") as fh:
        json.dump(main(*sys.argv[1:4], *sys.argv[5:7]), fh)
