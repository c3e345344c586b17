"""The maintenance notebook runs top to bottom on a company with failures and renders cleanly."""

from __future__ import annotations

import pytest

from tests.conftest import build_lake
from tests.notebooks.helpers import (
    assert_committed_without_outputs,
    assert_parameters_checked,
    notebook_path,
    run_and_render,
)

STEM = "maintenance"
NOTEBOOK = notebook_path(STEM)


@pytest.fixture(scope="module")
def fleet_lake(mixed_company, tmp_path_factory):
    return build_lake(mixed_company, tmp_path_factory.mktemp("maintenance_nb"))


def test_parameters_cell_mirrors_its_model():
    assert_parameters_checked(NOTEBOOK, {"top_units": 0}, "top_units", {"top_unit": 4})


def test_notebook_is_committed_without_outputs():
    assert_committed_without_outputs(NOTEBOOK)


def test_notebook_runs_and_renders(fleet_lake, tmp_path):
    html = run_and_render(STEM, fleet_lake, tmp_path, {
        "Fleet health", "Units at risk and their evidence", "How the warnings did", "Interventions due"},
        top_units=5, evidence_units=2)
    assert "P(failure in 30 days)" in html and "Median warning (days)" in html
