"""The churn-risk report runs top to bottom on a small company, renders cleanly and shows the engine's numbers."""

from __future__ import annotations

import nbformat
import pytest

from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

STEM = "churn_risk"
PATH = ROOT / "notebooks" / f"{STEM}.ipynb"


def test_parameters_cell_mirrors_its_model():
    check_parameters_cell(PATH)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(PATH, {"company": "no_such_company"})
    with pytest.raises(ValueError):
        validate_parameters(PATH, {"company": "mixed_trades", "scorer": "magic"})
    with pytest.raises(ValueError):
        validate_parameters(PATH, {"company": "mixed_trades", "top_n": 1})


def test_notebooks_are_committed_without_outputs():
    for path in (PATH, ROOT / "notebooks" / "apps" / "churn_explorer.ipynb"):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and not any(c.outputs or c.execution_count for c in code)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    from quantlib.customers.views.churn import at_risk_list, score_customers

    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, top_n=10, trend_months=3)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warnings
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) == 2  # segment bars, trend
    assert {"Churn alerts", "At-risk customers", "Risk by segment", "Trend"} <= set(section_headings(executed))
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    # The at-risk list in the report is the engine's, computed here independently of the kernel.
    expected = at_risk_list(score_customers(demo_lake, scorer="learned"), top=10)
    assert len(expected) == 10
    for row in expected.itertuples(index=False):
        assert row.customer_id in html and row.intervention in html
    assert "immediate outreach" in html or "proactive engagement" in html
