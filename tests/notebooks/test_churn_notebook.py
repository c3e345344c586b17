"""The churn-risk report runs top to bottom on a small company, renders cleanly and shows the engine's numbers."""

from __future__ import annotations

import datetime as dt

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


def test_notebook_runs_and_renders(demo_lake, tmp_path, ops_store):
    from quantlib.customers.views.churn import at_risk_list, score_customers
    from quantlib.data.gold import gold_as_of, open_gold
    from quantlib.data.opstore import OpsStore

    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, top_n=10, trend_months=3)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warnings
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) == 2  # segment bars, trend
    assert {"Churn alerts", "At-risk customers", "Risk by segment", "Trend"} <= set(section_headings(executed))
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    # The at-risk list in the report is the engine's, computed here independently of the kernel.
    run = score_customers(demo_lake, scorer="learned")
    expected = at_risk_list(run, top=10)
    assert len(expected) == 10
    for row in expected.itertuples(index=False):
        assert row.customer_id in html and row.intervention in html
    assert "immediate outreach" in html or "proactive engagement" in html
    # The run recorded one churn probability per scored active customer, for model monitoring.
    recorded = OpsStore(ops_store).prediction_frame(model="churn_risk")
    with open_gold(demo_lake) as con:
        day = gold_as_of(con)
    scored = run.scored[run.scored["score"].notna()]
    assert len(recorded) == len(scored) > 0 and recorded["run_id"].nunique() == 1
    assert set(recorded["subject"]) == set(scored["customer_id"].astype(str))
    assert (recorded["quantity"] == "churn").all() and (recorded["as_of"] == day).all()
    assert (recorded["target_end"] == day + dt.timedelta(days=180)).all()
    by_customer = recorded.set_index("subject")["value"]
    assert by_customer.reindex(scored["customer_id"].astype(str)).to_numpy() == pytest.approx(
        scored["score"].to_numpy())


def test_recording_can_be_switched_off(demo_lake, tmp_path, ops_store):
    run_notebook(STEM, demo_lake, tmp_path, top_n=10, trend_months=2, scorer="rule", record_predictions=False)
    assert not ops_store.exists()  # nothing opened the store, let alone wrote to it
