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


def test_outreach_exports_keep_a_formula_name_inert(run):
    import base64
    import dataclasses
    import io
    import re

    import openpyxl
    import pandas as pd

    from quantlib.apps.churn_explorer import ChurnExplorer

    hostile = '=HYPERLINK("http://x","y")'
    scored = run.scored.copy()
    first = cv.outreach_list(run)["customer_id"].iloc[0]
    scored.loc[scored["customer_id"] == first, "name"] = hostile
    hostile_run = dataclasses.replace(run, scored=scored)
    outreach = cv.outreach_list(hostile_run)
    assert outreach.loc[0, "name"] == hostile and (outreach["value_365d"] >= 0).all()
    # Excel, as the report's helper writes it.
    sheet = openpyxl.load_workbook(io.BytesIO(cv.to_excel_bytes(outreach))).active
    column = [c.value for c in sheet[1]].index("name")
    cell = sheet.cell(row=2, column=column + 1)
    assert cell.data_type == "s" and cell.value == "'" + hostile
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    # CSV and Excel as the churn explorer's download links carry them.
    links = ChurnExplorer(hostile_run)._links_html(outreach)
    csv = base64.b64decode(re.search(r"data:text/csv;base64,([^\"]+)", links).group(1)).decode()
    back = pd.read_csv(io.StringIO(csv))
    assert back.loc[0, "name"] == "'" + hostile and back["score"].dtype.kind == "f"
    xlsx = base64.b64decode(re.search(r"spreadsheetml\.sheet;base64,([^\"]+)", links).group(1))
    cell = openpyxl.load_workbook(io.BytesIO(xlsx)).active.cell(row=2, column=column + 1)
    assert cell.data_type == "s" and cell.value == "'" + hostile
