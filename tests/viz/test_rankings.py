"""Ranking bars and the bump chart: sums per item, ranks per period."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.viz import bump_chart, ranking_chart
from quantlib.viz.rankings import ranks_by_period, top_items
from tests.viz.helpers import aria_labels, marks, render_svg, texts


@pytest.fixture
def sales():
    # Quarterly revenue of four technicians; Bea overtakes Al in Q2, Cy drops out of the top in Q3.
    rows = {"2024-01-01": {"Al": 500, "Bea": 300, "Cy": 200, "Dee": 100},
            "2024-04-01": {"Al": 300, "Bea": 400, "Cy": 250, "Dee": 150},
            "2024-07-01": {"Al": 350, "Bea": 600, "Cy": 100, "Dee": 200}}
    return pd.DataFrame([{"quarter": pd.Timestamp(q), "technician": t, "revenue": float(v)}
                         for q, values in rows.items() for t, v in values.items()])


def test_top_items_sum_and_order(sales):
    top = top_items(sales, "technician", "revenue", top=3)
    assert top["technician"].tolist() == ["Bea", "Al", "Cy"]
    assert top["revenue"].tolist() == [1300.0, 1150.0, 550.0] and top["rank"].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="top"):
        top_items(sales, "technician", "revenue", top=0)


def test_ranking_chart_labels_values_largest_first(sales):
    svg = render_svg(ranking_chart(sales, "technician", "revenue", top=3, title="Top technicians"))
    words = texts(svg)
    assert [w for w in words if w in {"Al", "Bea", "Cy", "Dee"}] == ["Bea", "Al", "Cy"]
    assert {"$1,300", "$1,150", "$550"} <= set(words)
    assert len(marks(svg, "bar")) == 3


def test_ranks_per_period(sales):
    ranks = ranks_by_period(sales, "quarter", "technician", "revenue", top=3)
    assert ranks.attrs["items"] == ["Bea", "Al", "Dee"]  # the last quarter's top three
    by = ranks.set_index(["quarter", "technician"])["rank"]
    assert by[pd.Timestamp("2024-01-01"), "Al"] == 1 and by[pd.Timestamp("2024-01-01"), "Dee"] == 4
    assert by[pd.Timestamp("2024-04-01"), "Bea"] == 1 and by[pd.Timestamp("2024-07-01"), "Dee"] == 3
    assert "Cy" not in set(ranks["technician"]) and len(ranks) == 9


def test_bump_chart_draws_a_line_per_item_named_at_its_end(sales):
    svg = render_svg(bump_chart(sales, "quarter", "technician", "revenue", top=3, title="Rank by quarter"))
    assert len(marks(svg, "line")) == 3
    words = texts(svg)
    assert {"Bea", "Al", "Dee", "Rank by quarter"} <= set(words)
    assert any("technician: Dee" in label and "Rank: 4" in label for label in aria_labels(svg))


def test_bump_chart_axis_names_the_day_for_weekly_periods(sales):
    assert {"Jan 2024", "Apr 2024", "Jul 2024"} <= set(texts(render_svg(bump_chart(sales, "quarter", "technician",
                                                                                  "revenue"))))
    weekly = sales.assign(quarter=sales["quarter"].map({pd.Timestamp("2024-01-01"): pd.Timestamp("2024-06-03"),
                                                        pd.Timestamp("2024-04-01"): pd.Timestamp("2024-06-10"),
                                                        pd.Timestamp("2024-07-01"): pd.Timestamp("2024-06-17")}))
    assert {"03 Jun", "10 Jun", "17 Jun"} <= set(texts(render_svg(bump_chart(weekly, "quarter", "technician",
                                                                             "revenue"))))


def test_demo_technician_rankings(gold):
    frame = gold.execute("SELECT technician_name AS technician, date_trunc('quarter', completed_date) AS quarter, "
                         "sum(revenue) AS revenue FROM job_facts WHERE is_completed GROUP BY ALL").df()
    best = frame.groupby("technician")["revenue"].sum().idxmax()
    svg = render_svg(ranking_chart(frame, "technician", "revenue", top=5))
    assert [w for w in texts(svg) if w in set(frame["technician"])][0] == best
    assert len(marks(render_svg(bump_chart(frame, "quarter", "technician", "revenue", top=5)), "line")) == 5
