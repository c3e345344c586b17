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
