"""The customer value notebook runs top to bottom on a small company and renders cleanly; value_summary."""

from __future__ import annotations

import duckdb
import nbformat
import pytest

from quantlib.customers.views.value import value_summary
from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

STEM = "customer_value"
PATH = ROOT / "notebooks" / f"{STEM}.ipynb"


def test_parameters_cell_mirrors_its_model():
    check_parameters_cell(PATH)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(PATH, {"company": "no_such_company"})
    with pytest.raises(ValueError):
        validate_parameters(PATH, {"company": "mixed_trades", "horizon_month": 3})
    with pytest.raises(ValueError, match="discount_rate"):
        validate_parameters(PATH, {"company": "mixed_trades", "discount_rate": -0.1})


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(PATH, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


def test_notebook_runs_and_renders(demo_lake, tmp_path):
    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, as_of="2024-09-30", horizon_months=6,
                                     cohort_months=6, top_n=5)
    svgs = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 3  # value histogram, retention curves, cohort heat map
    assert any("Retention curves by first-job cohort" in svg for svg in svgs)
    assert any("Share of each cohort with a job" in svg for svg in svgs)
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) >= 4
    assert not [o for o in outputs if o.output_type == "stream" and o.get("name") == "stderr"]
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    assert "30 September 2024" in html and "P(active)" in html
    assert "**" not in html and "<strong>$" in html  # the headline's amounts are not read as a formula
    assert {"Customer lifetime value", "Acquisition cohorts and retention",
            "Top customers by predicted value", "Model"} <= set(section_headings(executed))


def test_value_summary_for_the_monthly_review(demo_lake):
    s = value_summary(demo_lake, "2024-06-30", horizon_months=12)
    assert s["customers"] >= s["customers_likely_alive"] > 0
    assert 0 < s["retention_rate"] < 1 and 0 < s["share_likely_alive"] <= 1
    assert s["total_predicted_clv"] == pytest.approx(s["average_predicted_clv"] * s["customers"])
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        again = value_summary(con, "2024-06-30", horizon_months=12)
        # The retention is the KPI registry's: one definition everywhere.
        from quantlib.kpi.registry import REGISTRY

        assert again["retention_rate"] == REGISTRY["customer_retention"].compute(con, "2024-06-30")
    assert again == s
    shorter = value_summary(demo_lake, "2024-06-30", horizon_months=3)
    assert shorter["total_predicted_clv"] < s["total_predicted_clv"]
