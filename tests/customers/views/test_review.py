"""The monthly review's customer analytics agree with the engines they gather."""

from __future__ import annotations

import duckdb
import pytest

from quantlib.customers.churn import churn_summary
from quantlib.customers.views.review import customer_review, formatted_indicators
from quantlib.customers.views.value import value_summary


@pytest.fixture(scope="module")
def review_and_gold(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    yield customer_review(con, as_of, top=3), con, as_of
    con.close()


def test_indicators_are_the_engines_figures(review_and_gold):
    review, con, as_of = review_and_gold
    churn, value = churn_summary(con, as_of, top=3), value_summary(con, as_of)
    values = dict(zip(review.indicators["indicator"], review.indicators["value"]))
    assert values["Share of active customers at high churn risk"] == pytest.approx(churn["risk_share"])
    assert values["High-value customers above 0.7 churn risk"] == churn["high_value_at_risk"]
    assert values["12-month customer retention"] == pytest.approx(value["retention_rate"])
    assert values["Predicted value per customer, next 12 months"] == pytest.approx(value["average_predicted_clv"])
    shown = formatted_indicators(review)
    assert shown["value"].iloc[0] == f"{value['retention_rate']:.1%}"


def test_at_risk_accounts_are_named_and_sorted_by_value(review_and_gold):
    review, con, _ = review_and_gold
    assert len(review.at_risk) <= 3
    assert (review.at_risk["score"] > 0.7).all()
    assert review.at_risk["value_365d"].is_monotonic_decreasing
    names = dict(con.execute("SELECT customer_id, name FROM customers").fetchall())
    assert list(review.at_risk["name"]) == [names[c] for c in review.at_risk["customer_id"]]
    count = int(dict(zip(review.indicators["indicator"], review.indicators["value"]))[
        "High-value customers above 0.7 churn risk"])
    assert f"{count} high-value customer" in review.text() or count == 0


def test_segment_sizes_add_up(review_and_gold):
    review, _, _ = review_and_gold
    assert review.segments["share"].sum() == pytest.approx(1.0)
    assert (review.segments["change"] == review.segments["customers"] - review.segments["previous_customers"]).all()
    assert 0 <= review.moved_share <= 1


def test_review_tables_carry_their_formats(review_and_gold):
    from quantlib.views import report_table

    review, _, _ = review_and_gold
    html = report_table(review.segments).to_html()
    assert "A month earlier" in html and "Segment" in html and "%" in html
    assert review.at_risk.attrs["formats"] == {"value_365d": "money", "score": "num2"}
    assert review.at_risk[["name", "score"]].attrs["labels"]["score"] == "Churn risk"
