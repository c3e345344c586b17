"""The forecast notebooks (revenue, cash flow, demand) run top to bottom on a small company and render cleanly."""

from __future__ import annotations

import nbformat
import pytest

from quantlib.data.opstore import OpsStore
from quantlib.parameters import check_parameters_cell, validate_parameters
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

NOTEBOOKS = {
    "revenue_forecast": {"horizon_days": 30, "history_weeks": 12, "backtest_origins": 1},
    "cashflow_forecast": {"horizon_days": 60, "history_weeks": 8, "backtest_origins": 1},
    "demand_forecast": {"horizon_weeks": 4, "history_weeks": 12, "backtest_origins": 1},
}


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
def test_notebook_runs_and_renders(stem, demo_lake, tmp_path, ops_store):
    executed, outputs = run_notebook(stem, demo_lake, tmp_path, **NOTEBOOKS[stem])
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) >= 2
    render_clean_html(tmp_path / "run.ipynb", stem, tmp_path)
    assert {"History and forecast", "Forecast accuracy"} <= set(section_headings(executed))
    if stem == "demand_forecast":  # its predictions are recorded for monitoring: per service line, 4 weeks
        recorded = OpsStore(ops_store).prediction_frame(model="demand_forecast")
        assert set(recorded["quantity"]) == {"jobs"} and recorded["subject"].nunique() >= 2
        assert {(e - a).days for a, e in zip(recorded["as_of"], recorded["target_end"])} == {28}
        assert (recorded["value"] > 0).all() and recorded["lo_80"].isna().all()
    if stem == "cashflow_forecast":  # the collections it expects over 30 and 60 days (its horizon here)
        recorded = OpsStore(ops_store).prediction_frame(model="cashflow_forecast")
        assert set(recorded["quantity"]) == {"cash_in"} and set(recorded["subject"]) == {"all"}
        assert sorted((e - a).days for a, e in zip(recorded["as_of"], recorded["target_end"])) == [30, 60]
        assert (recorded["lo_80"] <= recorded["value"]).all() and (recorded["value"] <= recorded["hi_80"]).all()
