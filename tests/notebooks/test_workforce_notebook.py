"""The workforce plan notebook runs top to bottom on a small company and renders cleanly."""

from __future__ import annotations

import nbformat
import pytest

from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

STEM = "workforce_plan"
PATH = ROOT / "notebooks" / f"{STEM}.ipynb"
SMALL = {"max_jobs": 40, "time_limit_seconds": 3.0, "allocation_weeks": 2, "allocation_time_limit": 10.0}


def test_parameters_cell_mirrors_its_model():
    check_parameters_cell(PATH)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(PATH, {"company": "no_such_company"})
    with pytest.raises(ValueError):
        validate_parameters(PATH, {"company": "mixed_trades", "sla_share": 1.5})
    with pytest.raises(ValueError):
        validate_parameters(PATH, {"company": "mixed_trades", "max_jobz": 3})


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(PATH, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, **SMALL)
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) >= 2
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) >= 5
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    assert "Independent check of every constraint: passed." in html
    assert {"Week's schedule", "Utilisation", "Skill gaps", "On-call staffing",
            "Allocation over the coming weeks"} <= set(section_headings(executed))
