"""Investment cases from the company's data: crews, tools and markets, and the plan that funds them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data.gold import open_gold
from quantlib.finance import InvestmentError
from quantlib.finance.cases import (
    CapitalParameters,
    CapitalParametersError,
    capital_plan,
    expansion_cases,
    load_capital_parameters,
    market_cases,
    technology_cases,
)

AS_OF = "2024-12-31"


@pytest.fixture(scope="module")
def params():
    return load_capital_parameters()


def test_the_shipped_parameters_load_and_a_bad_file_names_itself(tmp_path, params):
    assert params.roi_threshold == 0.25 and params.max_payback_months == 18
    bad = tmp_path / "capital.yaml"
    bad.write_text("budget: -3\ntechnology:\n  - name: x\n    baseline: nowhere\n")
    with pytest.raises(CapitalParametersError, match=r"capital.yaml.*budget"):
        load_capital_parameters(bad)


def test_a_crew_case_is_the_lines_extra_work_at_its_margin(demo_lake, params):
    cases, table = expansion_cases(demo_lake, AS_OF, params)
    assert set(table["service_line"]) >= {"hvac", "plumbing", "electrical"}
    assert (table["extra_jobs_per_month"] <= table["crew_capacity_jobs"] + 1e-9).all()
    e = params.expansion
    wanted = table["growth_jobs_per_month"] + e.backlog_capture * table["late_jobs_per_month"]
    np.testing.assert_allclose(table["extra_jobs_per_month"], np.minimum(wanted, table["crew_capacity_jobs"]))
    by_name = {c.name: c for c in cases}
    for _, row in table.iterrows():
        case = by_name.get(f"one more {row['service_line']} crew")
        if row["extra_jobs_per_month"] <= 0:
            assert case is None
            continue
        assert case.monthly_gain == pytest.approx(row["extra_jobs_per_month"] * row["margin_before_labour"])
        assert case.upfront_cost == pytest.approx(e.hire_cost + e.vehicle_cost + row["kit_cost"])
        assert case.demand_lo_80 < 1 < case.demand_hi_80
    # the margin before labour, recomputed from the jobs themselves
    with open_gold(demo_lake) as con:
        jobs = con.execute("""SELECT service_line, revenue, material_cost, equipment_cost FROM job_facts
                              WHERE is_completed AND completed_date > DATE '2023-12-31'
                                AND completed_date <= DATE '2024-12-31'""").df()
    margin = (jobs["revenue"] - jobs["material_cost"] - jobs["equipment_cost"]).groupby(jobs["service_line"]).mean()
    got = table.set_index("service_line")["margin_before_labour"]
    pd.testing.assert_series_equal(got.sort_index(), margin.reindex(got.index).sort_index(), check_names=False)


def test_technology_saves_a_share_of_a_measured_cost(demo_lake, params):
    cases, table = technology_cases(demo_lake, AS_OF, params)
    with open_gold(demo_lake) as con:
        expenses = con.execute("SELECT date, category, amount FROM expenses").df()
    window = expenses[(expenses["date"] > pd.Timestamp("2023-12-31")) & (expenses["date"] <= pd.Timestamp(AS_OF))]
    salaries = window.loc[window["category"] == "office_salaries", "amount"].sum() / 12
    row = table.set_index("investment").loc["scheduling and invoicing automation"]
    assert row["baseline_per_month"] == pytest.approx(salaries)
    case = {c.name: c for c in cases}["scheduling and invoicing automation"]
    assert case.monthly_gain == pytest.approx(salaries * 0.08)
    unknown = params.model_copy(update={"technology": [params.technology[0].model_copy(
        update={"baseline": "expense:crystal_balls"})]})
    with pytest.raises(InvestmentError, match="crystal_balls.*known: .*office_salaries"):
        technology_cases(demo_lake, AS_OF, unknown)


def test_markets_come_only_from_supplied_data(demo_lake, params):
    assert market_cases(demo_lake, AS_OF, params) == []
    supplied = CapitalParameters.model_validate(params.model_dump() | {"markets": [{
        "name": "commercial east", "annual_market_size": 1_200_000, "share_potential": 0.05, "share_lo_80": 0.02,
        "share_hi_80": 0.08, "entry_cost": 50_000, "gross_margin": 0.3}]})
    [case] = market_cases(demo_lake, AS_OF, supplied)
    assert case.monthly_gain == pytest.approx(1_200_000 * 0.05 * 0.3 / 12)
    assert case.demand_lo_80 == pytest.approx(0.4) and case.demand_hi_80 == pytest.approx(1.6)


def test_the_plan_funds_only_hurdle_cases_within_the_budget(demo_lake, params):
    plan = capital_plan(demo_lake, AS_OF, params.model_copy(update={"n_scenarios": 400, "budget": 40_000}))
    hurdle = set(plan.appraisals.loc[plan.appraisals["meets_hurdle"], "investment"])
    assert plan.scenarios.shape == (400, len(plan.cases))
    if hurdle:
        assert set(plan.portfolio.chosen) <= hurdle and plan.portfolio.cost <= 40_000
    else:
        assert plan.portfolio is None and plan.frontier.empty
    # without the hurdle every case may be funded; the budget still binds
    loose = capital_plan(demo_lake, AS_OF, params.model_copy(update={"n_scenarios": 400, "budget": 40_000,
                                                                     "hurdle_only": False}))
    funded = [c for c in loose.cases if c.name in loose.portfolio.chosen]
    assert loose.portfolio.cost == pytest.approx(sum(c.upfront_cost for c in funded)) and loose.portfolio.cost <= 40_000
    assert all(loose.appraisals.set_index("investment").loc[c.name, "npv"] > 0 for c in funded)
    broke = capital_plan(demo_lake, AS_OF, params.model_copy(update={"n_scenarios": 200, "budget": 0,
                                                                     "hurdle_only": False}))
    assert broke.portfolio.chosen == []
