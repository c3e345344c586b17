"""Cohort heatmap and retention curves from cohort_retention's long table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.customers.cohorts import cohort_retention
from quantlib.viz import cohort_heatmap, retention_curves
from quantlib.viz.cohorts import weighted_retention
from tests.viz.helpers import aria_labels, inline_datasets, mark_texts, marks, render_svg, spec_of, texts


@pytest.fixture
def retention():
    # Two cohorts: January (10 customers, periods 0-2) and February (5 customers, periods 0-1).
    return pd.DataFrame({"cohort": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2),
                         "period": [0, 1, 2, 0, 1], "customers": [10, 10, 10, 5, 5], "active": [10, 4, 2, 5, 1],
                         "retention": [1.0, 0.4, 0.2, 1.0, 0.2]})


def test_pooled_retention_weights_by_cohort_size(retention):
    pooled = weighted_retention(retention).set_index("period")
    assert pooled.loc[1, "retention"] == pytest.approx(5 / 15)  # not the mean of 40 % and 20 %
    assert pooled.loc[2, "retention"] == pytest.approx(0.2) and pooled.loc[2, "customers"] == 10


def test_heatmap_cells_and_printed_values(retention):
    svg = render_svg(cohort_heatmap(retention))
    words = texts(svg)
    assert {"Jan 2024", "Feb 2024"} <= set(words)
    assert sorted(mark_texts(svg)) == sorted(["100%", "40%", "20%", "100%", "20%"])
    assert len(marks(svg, "rect")) == len(retention)
    assert any("Period: 1; Cohort size: 10; Active: 4" in label for label in aria_labels(svg))


def test_curves_leave_out_period_zero_and_draw_the_pooled_curve(retention):
    chart = retention_curves(retention)
    datasets = inline_datasets(spec_of(chart))
    pooled = next(rows for rows in datasets if rows and rows[0].get("series") == "All cohorts")
    assert [row["period"] for row in pooled] == [1, 2]
    assert pooled[0]["retention"] == pytest.approx(5 / 15)
    svg = render_svg(chart)
    assert len(marks(svg, "line")) == 2 + 1  # two cohorts and the pooled curve
    assert "Retention curves by first-job cohort" in texts(svg)


def test_demo_lake_retention_charts(gold):
    retention = cohort_retention(gold, periods=6)
    recent = retention[retention["cohort"] >= retention["cohort"].max() - pd.DateOffset(months=11)]
    svg = render_svg(cohort_heatmap(recent, show_values=False))
    assert len(marks(svg, "rect")) == len(recent)
    labels = set(texts(svg))
    assert set(recent["cohort"].dt.strftime("%b %Y")) <= labels
    curves = render_svg(retention_curves(retention))
    assert len(marks(curves, "line")) == retention.loc[retention["period"] > 0, "cohort"].nunique() + 1
    assert np.isclose(weighted_retention(retention).set_index("period").loc[0, "retention"], 1.0)
