"""Customer-value views carry how their tables print, including the data-dependent cohort months."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from quantlib.customers.views import value as vv
from quantlib.views import report_table


def test_clv_distribution_prints_money_and_shares():
    res = SimpleNamespace(customers=pd.DataFrame({"clv": [100.0, 300.0, 2600.0]}))
    html = report_table(vv.clv_distribution(res).drop(columns="lower")).to_html()
    assert "$2,600" in html and "33.3%" in html and "Share of value" in html


def test_retention_matrix_declares_its_month_columns():
    cohorts = pd.DataFrame({"cohort": pd.to_datetime(["2024-01-01"] * 3), "months_since": [0, 1, 2],
                            "cohort_size": [10] * 3, "active": [10, 5, 4], "retention": [1.0, 0.5, 0.4]})
    matrix = vv.retention_matrix(cohorts, max_months=2)
    assert matrix.attrs["formats"] == {"cohort": "month", "customers": "int", "m1": "pct", "m2": "pct"}
    html = report_table(matrix).to_html()
    assert "Jan 2024" in html and "50.0%" in html and ">Cohort<" in html and ">2<" in html
