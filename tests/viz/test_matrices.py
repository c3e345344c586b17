"""The profitability matrix and its data: completed jobs per job type and line, split at the medians."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from quantlib.data.gold import gold_as_of
from quantlib.viz import job_type_profitability, profitability_matrix
from quantlib.viz.matrices import QUADRANTS, profitability_quadrants
from tests.viz.helpers import aria_labels, inline_datasets, marks, render_svg, spec_of, texts


@pytest.fixture
def kinds():
    # Medians: 3.0 hours and 0.45 margin; one job kind in each quadrant plus one on the medians.
    return pd.DataFrame({"job_type": ["inspection", "install", "maintenance", "retrofit", "repair"],
                         "service_line": ["hvac", "hvac", "plumbing", "electrical", "hvac"],
                         "labor_hours": [1.0, 6.0, 2.0, 5.0, 3.0],
                         "margin": [0.60, 0.55, 0.30, 0.20, 0.45],
                         "revenue": [1000.0, 9000.0, 3000.0, 4000.0, 5000.0]})


def test_quadrants_by_the_medians(kinds):
    out = profitability_quadrants(kinds)
    assert out.attrs["complexity_median"] == 3.0 and out.attrs["margin_median"] == 0.45
    assert out["quadrant"].tolist() == ["Quick wins", "Stars", "Fillers", "Margin drains", "Fillers"]
    assert set(QUADRANTS.values()) == {"Quick wins", "Stars", "Fillers", "Margin drains"}


def test_matrix_renders_bubbles_medians_and_quadrant_names(kinds):
    chart = profitability_matrix(kinds)
    svg = render_svg(chart)
    words = texts(svg)
    for name in QUADRANTS.values():
        assert name in words
    assert set(kinds["job_type"]) <= set(words)
    assert len(marks(svg, "circle")) == len(kinds)
    assert any("job_type: install" in label and "Revenue: $9,000" in label and "Quadrant: Stars" in label
               for label in aria_labels(svg))
    medians = [row for data in inline_datasets(spec_of(chart)) for row in data if "x_median" in row]
    assert medians == [{"x_median": 3.0, "y_median": 0.45}]


def test_job_type_profitability_matches_the_jobs(gold):
    as_of = gold_as_of(gold)
    start = as_of - dt.timedelta(days=179)
    jobs = gold.execute("SELECT job_type, service_line, labor_hours, revenue, gross_profit FROM job_facts "
                        "WHERE is_completed AND completed_date BETWEEN ? AND ?", [start, as_of]).df()
    expected = jobs.groupby(["job_type", "service_line"]).agg(
        jobs=("revenue", "size"), labor_hours=("labor_hours", "mean"), revenue=("revenue", "sum"),
        gross_profit=("gross_profit", "sum"))
    expected["margin"] = expected["gross_profit"] / expected["revenue"]
    got = job_type_profitability(gold, days=180)
    assert got.attrs["start"] == start and got["revenue"].is_monotonic_decreasing
    got = got.set_index(["job_type", "service_line"]).sort_index()
    pd.testing.assert_frame_equal(got[expected.columns], expected.sort_index(), check_dtype=False)
    assert (got["margin"].between(-1, 1)).all() and len(got) > 4


def test_demo_matrix_renders(gold):
    data = job_type_profitability(gold)
    svg = render_svg(profitability_matrix(data))
    assert len(marks(svg, "circle")) == len(data)
    assert "Job profitability: effort against margin" in texts(svg)
    quadrants = profitability_quadrants(data)["quadrant"]
    assert quadrants.nunique() >= 2 and np.isfinite(data["margin"]).all()


def test_profitability_rejects_an_empty_window():
    with pytest.raises(ValueError, match="days"):
        job_type_profitability(None, days=0)


def test_months_is_the_calendar_window_a_report_names(gold):
    from quantlib.viz.matrices import job_type_profitability

    # 30 June back three calendar months is 30 March: the 92 days after it, 30 June included.
    three = job_type_profitability(gold, "2024-06-30", months=3)
    assert (three.attrs["start"], three.attrs["end"]) == (pd.Timestamp("2024-03-31").date(),
                                                          pd.Timestamp("2024-06-30").date())
    assert three.equals(job_type_profitability(gold, "2024-06-30", days=92))
