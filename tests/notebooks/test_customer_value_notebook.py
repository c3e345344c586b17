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
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) == 2
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) >= 5
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


def test_cohort_retention_counts_by_hand():
    from quantlib.customers.views.value import cohort_retention, retention_matrix

    con = duckdb.connect()
    con.execute("CREATE TABLE job_facts (customer_id VARCHAR, completed_date DATE, is_completed BOOLEAN)")
    con.execute("""INSERT INTO job_facts VALUES
        ('A', '2024-01-05', true), ('A', '2024-02-10', true), ('A', '2024-04-01', true),
        ('B', '2024-01-20', true), ('B', '2024-03-15', true),
        ('C', '2024-02-03', true), ('C', '2024-02-20', true), ('C', '2024-03-01', true),
        ('D', '2024-01-08', false), ('D', '2024-03-10', true)""")
    got = cohort_retention(con, "2024-03-31", months=3)
    # A cancelled job makes no customer (D joins in March); A's April job is after the date.
    expected = [("2024-01-01", 0, 2, 2), ("2024-01-01", 1, 2, 1), ("2024-01-01", 2, 2, 1),
                ("2024-02-01", 0, 1, 1), ("2024-02-01", 1, 1, 1), ("2024-03-01", 0, 1, 1)]
    assert [(str(c.date()), m, s, a) for c, m, s, a in
            got[["cohort", "months_since", "cohort_size", "active"]].itertuples(index=False)] == expected
    assert got["retention"].tolist() == [1.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    wide = retention_matrix(got, max_months=3)
    assert list(wide.columns) == ["cohort", "customers", "m1", "m2"]
    assert wide["m1"].tolist()[:2] == [0.5, 1.0] and wide["customers"].tolist() == [2, 1, 1]
    assert cohort_retention(con, "2024-03-31", months=1)["cohort"].nunique() == 1
