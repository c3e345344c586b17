"""The profitability notebook runs top to bottom on a small company and renders cleanly."""

from __future__ import annotations

from tests.notebooks.helpers import (
    assert_committed_without_outputs,
    assert_parameters_checked,
    notebook_path,
    run_and_render,
)

STEM = "profitability"
NOTEBOOK = notebook_path(STEM)


def test_parameters_cell_mirrors_its_model():
    assert_parameters_checked(NOTEBOOK, {"months": 0}, "months", {"monts": 4})


def test_notebook_is_committed_without_outputs():
    assert_committed_without_outputs(NOTEBOOK)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    html = run_and_render(STEM, demo_lake, tmp_path, {
        "Margin waterfall", "Profit by service line, customer and technician", "Where margin leaks",
        "How overheads were assigned"}, months=6, top_leaks=5)
    assert "difference (cents)" in html and "Shift vs flat" in html and "Biggest cost above average" in html
    # The specification's charts: the margin waterfall (revenue and margin as subtotals) and the matrix.
    assert "Margin waterfall" in html and "net profit" in html and "Job profitability: effort against margin" in html
