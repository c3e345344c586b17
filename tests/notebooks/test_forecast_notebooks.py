"""The forecast notebooks (revenue, cash flow, demand) run top to bottom on a small company and render cleanly."""

from __future__ import annotations

import re

import nbformat
import pytest

from quantlib.publish.execute import execute_notebook
from quantlib.publish.parameters import check_parameters_cell, validate_parameters
from quantlib.publish.render import ReportMeta, render_html

from tests.conftest import ROOT

NOTEBOOKS = {
    "revenue_forecast": {"horizon_days": 30, "history_weeks": 12, "backtest_origins": 1},
    "cashflow_forecast": {"horizon_days": 60, "history_weeks": 8, "backtest_origins": 1},
    "demand_forecast": {"horizon_weeks": 4, "history_weeks": 12, "backtest_origins": 1},
}
NETWORK = re.compile(r"https?://|//cdn|<script[^>]+src=", re.IGNORECASE)


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_parameters_cell_mirrors_its_model(stem):
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    check_parameters_cell(path)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(path, {"company": "no_such_company"})
    with pytest.raises(ValueError):
        validate_parameters(path, {"company": "mixed_trades", "horizont": 3})


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(stem):
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_notebook_runs_and_renders(stem, demo_lake, tmp_path):
    notebook = ROOT / "notebooks" / f"{stem}.ipynb"
    values = validate_parameters(notebook, {"company": "mixed_trades", "lake": str(demo_lake.root),
                                            **NOTEBOOKS[stem]})
    result = execute_notebook(notebook, tmp_path / "run.ipynb", values, execution_timeout=240)
    executed = nbformat.read(result.output, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) >= 2
    meta = ReportMeta(title=stem.replace("_", " ").capitalize(), company="Prairie Home Services",
                      period="test", run_date="2026-11-27")
    html = render_html(result.output, tmp_path / "report.html", meta).read_text()
    assert not NETWORK.search(html), NETWORK.search(html)
    assert "Traceback" not in html and "import " not in html
    headings = [c.source.splitlines()[0].lstrip("# ") for c in executed.cells
                if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert {"History and forecast", "Forecast accuracy"} <= set(headings)
    for heading in headings:
        assert heading in html
