"""Every scheduled report notebook runs top to bottom on a small company and renders cleanly."""

from __future__ import annotations

import re
import subprocess

import nbformat
import pytest

from quantlib.publish.parameters import check_parameters_cell, validate_parameters
from quantlib.publish.render import ReportMeta, render_pdf

from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

NOTEBOOKS = {
    "monthly_business_review": {"months": 3},
    "weekly_operations": {"weeks": 3},
    "operations_efficiency": {"days": 3},
    "sales_performance": {"days": 14, "months": 2},
    "financial_summary": {"months": 2, "weeks": 3},
}


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_parameters_cell_mirrors_its_model(stem):
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    check_parameters_cell(path)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(path, {"company": "no_such_company"})


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(stem):
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_notebook_runs_and_renders(stem, demo_lake, tmp_path):
    executed, outputs = run_notebook(stem, demo_lake, tmp_path, **NOTEBOOKS[stem])
    # Charts are inline SVG, tables are HTML: something to show in every section.
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    assert any("text/html" in o.get("data", {}) for o in outputs)
    html = render_clean_html(tmp_path / "run.ipynb", stem, tmp_path)
    for heading in section_headings(executed):
        assert heading in html


def test_monthly_review_pdf_reads_like_a_report(demo_lake, tmp_path):
    run_notebook("monthly_business_review", demo_lake, tmp_path, months=3)
    meta = ReportMeta(title="Monthly business review", company="Prairie Home Services",
                      period="December 2024", run_date="2026-11-27")
    pdf = render_pdf(tmp_path / "run.ipynb", tmp_path / "report.pdf", meta)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for section in ("Executive summary", "Financial performance", "Operational metrics", "Customer analytics",
                    "Market analysis", "Risk assessment", "Prairie Home Services"):
        assert section in text
    for noise in ("Traceback", "Warning", "import ", "views."):
        assert noise not in text
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(re.search(r"Pages:\s+(\d+)", pages).group(1)) >= 4
