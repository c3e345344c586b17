"""The capital allocation notebook runs top to bottom on a small company and renders cleanly."""

from __future__ import annotations

from tests.notebooks.helpers import (
    assert_committed_without_outputs,
    assert_parameters_checked,
    notebook_path,
    run_and_render,
)

STEM = "capital_allocation"
NOTEBOOK = notebook_path(STEM)


def test_parameters_cell_mirrors_its_model():
    assert_parameters_checked(NOTEBOOK, {"budget": -5}, "budget", {"budgte": 4})


def test_notebook_is_committed_without_outputs():
    assert_committed_without_outputs(NOTEBOOK)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    html = run_and_render(STEM, demo_lake, tmp_path, {"Recommendation", "The cases", "The portfolio",
                                                      "How the cases were built"}, n_scenarios=300, budget=80_000)
    assert "route optimisation" in html and "$80,000" in html and "Meets the hurdle" in html
