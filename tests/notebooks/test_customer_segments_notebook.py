"""The customer segments notebook runs top to bottom on a small company and renders cleanly."""

from __future__ import annotations

import nbformat
import pytest

from quantlib.customers.views.segments import segment_summary
from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

STEM = "customer_segments"
NOTEBOOK = ROOT / "notebooks" / f"{STEM}.ipynb"
SMALL = {"k_min": 3, "k_max": 5, "sample_size": 800, "stability_seeds": 2, "migration_months": 3}


def test_parameters_cell_mirrors_its_model():
    check_parameters_cell(NOTEBOOK)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(NOTEBOOK, {"company": "no_such_company"})
    with pytest.raises(ValueError, match="k_min"):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "k_min": 6, "k_max": 4})
    with pytest.raises(ValueError):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "n_segmnets": 4})


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, **SMALL)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warnings
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) >= 3  # value bars, profile heatmap, migration heatmap
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) >= 7
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    assert {"Segments: size and value", "Profiles", "Strategy and pricing stance", "Migration between segments",
            "Next-service offers", "How the segments were found"} <= set(section_headings(executed))
    assert "Pricing stance" in html and "lapsed" in html


def test_segment_summary_for_the_monthly_review(demo_lake):
    summary = segment_summary(demo_lake, "2024-12-31", months_back=1)
    sizes = summary["sizes"]
    assert str(summary["previous"]) == "2024-11-30"
    assert sizes["customers"].sum() == summary["movement"]["customers"].sum()
    assert (sizes["change"] == sizes["customers"] - sizes["previous_customers"]).all()
    assert 0 <= summary["moved_share"] < 0.5
    assert {"lapsed", "no history"} <= set(sizes["segment_name"])
