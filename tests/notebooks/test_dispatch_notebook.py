"""The dispatch plan notebook runs on a small company, shows a valid plan and renders cleanly."""

from __future__ import annotations

import duckdb
import nbformat
import pytest

from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

NOTEBOOK = ROOT / "notebooks" / "dispatch_plan.ipynb"


def test_parameters_cell_mirrors_its_model():
    check_parameters_cell(NOTEBOOK)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(NOTEBOOK, {"company": "no_such_company"})
    with pytest.raises(ValueError, match="time_limit_seconds"):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "time_limit_seconds": 0})
    with pytest.raises(ValueError, match="unknown parameter"):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "regoin": "decatur"})


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        # The busiest day of the last week with technicians: a plan with routes and, usually, drops.
        day, jobs = con.execute("""
            SELECT scheduled_start::DATE AS d, count(*) FROM jobs
            WHERE status IN ('scheduled', 'completed')
              AND scheduled_start::DATE BETWEEN (SELECT as_of FROM build_params) - 6
                                            AND (SELECT as_of FROM build_params)
            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""").fetchone()
    finally:
        con.close()
    executed, outputs = run_notebook("dispatch_plan", demo_lake, tmp_path, day=str(day),
                                     time_limit_seconds=2.0, solution_limit=100)
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 2  # the map and the timeline
    text = "\n".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert f"{jobs} jobs" in text and "no constraint broken" in text
    html = render_clean_html(tmp_path / "run.ipynb", "dispatch_plan", tmp_path)
    assert "Jobs served" in html and "Drive time" in html
    assert {"Key figures", "Routes", "Timeline", "Technicians", "Jobs not planned"} <= set(section_headings(executed))
