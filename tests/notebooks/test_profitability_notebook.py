"""The profitability notebook runs top to bottom on a small company and renders cleanly."""

from __future__ import annotations

import nbformat
import pytest

from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

STEM = "profitability"
NOTEBOOK = ROOT / "notebooks" / f"{STEM}.ipynb"


def test_parameters_cell_mirrors_its_model():
    check_parameters_cell(NOTEBOOK)
    with pytest.raises(ValueError, match="months"):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "months": 0})
    with pytest.raises(ValueError):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "monts": 4})


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, months=6, top_leaks=5)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warnings
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) >= 1
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    assert {"Margin waterfall", "Profit by service line, customer and technician", "Where margin leaks",
            "How overheads were assigned"} <= set(section_headings(executed))
    assert "difference (cents)" in html and "Shift vs flat" in html and "Biggest cost above average" in html
