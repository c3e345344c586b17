"""Run records and the reports index."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from quantlib.errors import RunStatus
from quantlib.publish.index import load_runs, write_index, write_run_record

NETWORK = re.compile(r"http://|https://|//cdn|<script[^>]*\bsrc", re.IGNORECASE)


def _run(reports, job, company, run_id, finished, status="success",
         files=("report.html", "report.pdf", "notebook.ipynb")):
    run_dir = reports / job / company / run_id
    run_dir.mkdir(parents=True)
    for name in files:
        (run_dir / name).write_text("x")
    write_run_record(run_dir, {
        "job": job, "company": company, "run_id": run_id, "parameters": {"company": company},
        "started": finished, "finished": finished, "status": status,
        "outputs": {"html": "report.html", "pdf": "report.pdf", "notebook": "notebook.ipynb"},
    })
    return run_dir


def test_write_run_record_is_json_with_iso_dates(tmp_path):
    path = write_run_record(tmp_path / "r", {"job": "j", "company": "c", "run_id": "1", "status": "success",
                                             "started": datetime(2025, 1, 2, 3, 4, 5)})
    assert json.loads(path.read_text())["started"] == "2025-01-02T03:04:05"
    assert not list((tmp_path / "r").glob("*.tmp"))


def test_run_record_status_is_a_run_status_stored_as_its_string(tmp_path):
    path = write_run_record(tmp_path / "r", {"job": "j", "company": "c", "run_id": "1", "status": RunStatus.FAILED})
    assert json.loads(path.read_text())["status"] == "failed"
    with pytest.raises(ValueError):
        write_run_record(tmp_path / "s", {"job": "j", "company": "c", "run_id": "1", "status": "finished"})

def test_index_lists_runs_newest_first_with_relative_links(tmp_path):
    reports = tmp_path / "reports"
    _run(reports, "mbr", "mixed_trades", "20250101T0600", "2025-01-01T06:10:00")
    _run(reports, "mbr", "seasonal_outdoor", "20250201T0600", "2025-02-01T06:10:00")
    _run(reports, "weekly ops", "mixed_trades", "20250115T0600", "2025-01-15T06:10:00", status="failed",
         files=("notebook.ipynb",))
    (reports / "broken" / "x" / "y").mkdir(parents=True)
    (reports / "broken" / "x" / "y" / "run.json").write_text("{not json")
    assert [r["run_id"] for r in load_runs(reports)] == ["20250201T0600", "20250115T0600", "20250101T0600"]

    html = write_index(reports).read_text()
    assert not NETWORK.search(html)
    assert html.index("20250201T0600") < html.index("20250101T0600")
    assert 'href="mbr/seasonal_outdoor/20250201T0600/report.pdf"' in html
    assert 'href="mbr/mixed_trades/20250101T0600/notebook.ipynb"' in html
    # A failed run links only what exists; the space in the job name is URL-quoted.
    assert 'href="weekly%20ops/mixed_trades/20250115T0600/notebook.ipynb"' in html
    assert "weekly%20ops/mixed_trades/20250115T0600/report.html" not in html
    assert 'id="f-job"' in html and '<option value="seasonal_outdoor">' in html
    assert 'data-company="seasonal_outdoor"' in html
    assert not list(reports.glob("*.tmp")) and not list(reports.glob(".index*"))


def test_empty_reports_folder(tmp_path):
    html = write_index(tmp_path).read_text()
    assert "No runs published yet" in html and not NETWORK.search(html)
