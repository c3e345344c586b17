"""Executors: one job for several companies at once, on a process pool and on Dask."""

from __future__ import annotations

import pytest

from quantlib.schedule.executors import EXECUTORS, DaskExecutor, get_executor
from quantlib.schedule.runner import run_many
from tests.schedule.conftest import COMPANIES, write_spec


def _square(x):
    return x * x


def test_registry():
    assert set(EXECUTORS) >= {"local", "dask", "inline"}
    with pytest.raises(ValueError, match="choose one of"):
        get_executor("spark")
    with pytest.raises(ValueError, match="no address"):
        get_executor("local", address="tcp://127.0.0.1:1")
    with get_executor("inline") as ex:
        assert ex.map(_square, [1, 2, 3]) == [1, 4, 9]


def _check_published(ws, outcomes, companies):
    assert [o.company for o in outcomes] == list(companies)
    assert all(o.status == "success" for o in outcomes), [o.summary() for o in outcomes]
    folders = sorted(p.relative_to(ws.reports).parts[:2] for p in ws.reports.glob("test_report/*/*"))
    assert folders == [("test_report", c) for c in sorted(companies)]
    assert {r.company for r in ws.history().runs("test_report")} == set(companies)
    index = (ws.reports / "index.html").read_text()
    assert all(c in index for c in companies)


@pytest.mark.slow
def test_local_process_pool(project):
    spec = write_spec(project, parameters=[f"parameters/reports/{c}.yaml" for c in COMPANIES[:2]], outputs=["html"])
    outcomes = run_many(spec, workspace=project, executor="local", workers=2)
    _check_published(project, outcomes, COMPANIES[:2])


@pytest.mark.slow
def test_dask_local_cluster_three_companies(project, monkeypatch):
    spec = write_spec(project, parameters=[f"parameters/reports/{c}.yaml" for c in COMPANIES])
    made = []

    class Recording(DaskExecutor):
        def __init__(self, workers=None, address=None):
            super().__init__(workers=workers, address=address)
            made.append(self)

        def map(self, fn, items):
            self.workers_seen = len(self.client.scheduler_info()["workers"])
            return super().map(fn, items)

    monkeypatch.setitem(EXECUTORS, "dask", Recording)
    outcomes = run_many(spec, workspace=project, executor="dask", workers=2)
    _check_published(project, outcomes, COMPANIES)
    for o in outcomes:
        assert {"report.html", "report.pdf", "notebook.ipynb", "run.json"} <= {p.name for p in o.run_dir.iterdir()}
    # The cluster really had two worker processes, and it is closed at the end.
    [executor] = made
    assert executor.cluster.status.name == "closed" and executor.client.status == "closed"
    assert executor.workers_seen == 2
