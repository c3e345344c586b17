"""Churn views carry how their tables print: the report notebook passes no format dictionary."""

from __future__ import annotations

import pytest

from quantlib.customers.views import churn as cv
from quantlib.views import report_table


@pytest.fixture(scope="module")
def run(demo_lake):
    return cv.score_customers(demo_lake, scorer="rule", segments=False)


def test_at_risk_list_prints_money_percentages_and_flags(run):
    table = cv.at_risk_list(run, top=5)
    html = report_table(table).to_html()
    assert f"${table['value_365d'].iloc[0]:,.0f}" in html and f"{table['score'].iloc[0]:.1%}" in html
    assert "Spend, last 365 days" in html and "Churn risk" in html and "Top reasons" in html
    assert cv.alert_table.formats == cv.at_risk_list.formats


def test_risk_by_segment_heads_the_group_by_its_column(run):
    table = cv.risk_by_segment(run, "region")
    html = report_table(table).to_html()
    assert ">Region<" in html and "Spend at risk" in html and "$" in html and "%" in html
    assert cv.risk_by_segment(run, "customer_type").attrs["labels"]["group"] == "Customer type"


def test_model_quality_declares_two_decimals():
    assert cv.model_quality.formats == {"value": "num2"}
