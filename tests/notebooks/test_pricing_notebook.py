"""The pricing notebook runs top to bottom on a small company, shows the engines' figures and renders cleanly."""

from __future__ import annotations

import nbformat
import pytest

from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

STEM = "pricing"
NOTEBOOK = ROOT / "notebooks" / f"{STEM}.ipynb"


def test_parameters_cell_mirrors_its_model():
    check_parameters_cell(NOTEBOOK)
    with pytest.raises(ValueError, match="max_change"):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "max_change": 0})
    with pytest.raises(ValueError):
        validate_parameters(NOTEBOOK, {"company": "mixed_trades", "floor": 0.1})


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


def test_notebook_runs_and_renders_the_recommended_prices(demo_lake, tmp_path):
    from quantlib.pricing.views import report as pv

    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, max_change=0.2)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warnings
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    assert {"Recommended prices", "Cross-sell value", "How customers respond to price", "What jobs cost",
            "Price experiments"} <= set(section_headings(executed))
    table = pv.recommendation_table(pv.fit_pricer(demo_lake, max_change=0.2))
    assert len(table) >= 3
    for row in table.itertuples():
        assert f"${row.recommended:,.0f}" in html and f"${row.rule_price:,.0f}" in html
        assert abs(row.recommended / row.rule_price - 1) <= 0.2 + 1e-6  # the notebook's guard rail
        assert row.cross_sell >= 0
    assert table["cross_sell"].gt(0).any()
