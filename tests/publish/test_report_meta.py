"""The report header names the company and the period covered, not the slug and the run date."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from quantlib.config import project_root
from quantlib.publish.render import report_meta_for

NOTEBOOK = project_root() / "notebooks" / "monthly_business_review.ipynb"


@pytest.fixture
def lake(tmp_path):
    """A lake whose gold holds only what the header reads: build_info and build_params."""
    root = tmp_path / "lake"
    root.mkdir()
    with duckdb.connect(str(root / "gold.duckdb")) as con:
        con.execute("CREATE TABLE build_info (table_name VARCHAR, company VARCHAR)")
        con.execute("INSERT INTO build_info VALUES ('jobs', 'Prairie Home Services')")
        con.execute("CREATE TABLE build_params (as_of DATE, data_start DATE)")
        con.execute("INSERT INTO build_params VALUES ('2026-11-30', '2024-01-01')")
    return root


def test_company_name_and_month_come_from_gold(lake):
    meta = report_meta_for(NOTEBOOK, {"company": "mixed_trades", "lake": str(lake), "as_of": None},
                           run_date=dt.date(2026, 12, 7))
    assert meta.title == "Monthly business review"
    assert meta.company == "Prairie Home Services"
    assert meta.period == "November 2026"                 # the data's month, not the run date
    assert meta.as_dict()["run_date"] == "2026-12-07"


def test_as_of_and_period_parameters_win(lake):
    params = {"company": "mixed_trades", "lake": str(lake)}
    assert report_meta_for(NOTEBOOK, {**params, "as_of": dt.date(2026, 10, 31)}).period == "October 2026"
    assert report_meta_for(NOTEBOOK, {**params, "period": "Q4 2026"}).period == "Q4 2026"
    assert report_meta_for(NOTEBOOK, params, title="Monthly review").title == "Monthly review"


def test_without_gold_the_profile_names_the_company(tmp_path):
    import yaml

    expected = yaml.safe_load((project_root() / "parameters/companies/mixed_trades.yaml").read_text())["name"]
    meta = report_meta_for(NOTEBOOK, {"company": "mixed_trades", "lake": str(tmp_path / "none")})
    assert meta.company == expected and meta.company != "mixed_trades"
    assert meta.period == "Latest data"
