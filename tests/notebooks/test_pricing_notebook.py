"""The pricing notebook runs top to bottom on a small company, shows the engines' figures and renders cleanly."""

from __future__ import annotations

from tests.notebooks.helpers import (
    assert_committed_without_outputs,
    assert_parameters_checked,
    notebook_path,
    run_and_render,
)

STEM = "pricing"
NOTEBOOK = notebook_path(STEM)


def test_parameters_cell_mirrors_its_model():
    assert_parameters_checked(NOTEBOOK, {"max_change": 0}, "max_change", {"floor": 0.1})


def test_notebook_is_committed_without_outputs():
    assert_committed_without_outputs(NOTEBOOK)


def test_notebook_runs_and_renders_the_recommended_prices(demo_lake, tmp_path):
    from quantlib.pricing.views import report as pv

    html = run_and_render(STEM, demo_lake, tmp_path, {"Recommended prices", "Cross-sell value",
                                                      "How customers respond to price", "What jobs cost",
                                                      "Price experiments"}, max_change=0.2)
    table = pv.recommendation_table(pv.fit_pricer(demo_lake, max_change=0.2))
    assert len(table) >= 3
    for row in table.itertuples():
        assert f"${row.recommended:,.0f}" in html and f"${row.rule_price:,.0f}" in html
        assert abs(row.recommended / row.rule_price - 1) <= 0.2 + 1e-6  # the notebook's guard rail
        assert row.cross_sell >= 0
    assert table["cross_sell"].gt(0).any()
