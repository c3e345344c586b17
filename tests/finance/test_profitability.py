"""Activity-based costing: reconciles to the books to the cent, follows its drivers, finds the leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantlib.data.gold import open_gold
from quantlib.finance.profitability import (
    CostingParameters,
    ProfitabilityError,
    cost_jobs,
    leak_table,
    load_costing_parameters,
    margin_waterfall,
    profit_by,
    reconcile,
    split_cents,
)

AS_OF = "2024-12-31"


@pytest.fixture(scope="module")
def costing(demo_lake):
    return cost_jobs(demo_lake, AS_OF)


@given(st.integers(0, 10**9), st.lists(st.floats(0.001, 1e6), min_size=1, max_size=50))
def test_split_cents_adds_up_exactly_and_follows_the_weights(total, weights):
    parts = split_cents(total, np.array(weights))
    assert parts.sum() == total and (parts >= 0).all()
    exact = np.array(weights) / sum(weights) * total
    assert np.abs(parts - exact).max() < 1.0 + 1e-6


def test_the_costing_reconciles_to_the_books_to_the_cent(costing, demo_lake):
    r = reconcile(costing)
    assert r["difference_cents"] == 0
    # and the books' totals are the warehouse's, read independently
    with open_gold(demo_lake) as con:
        expenses = con.execute("SELECT sum(amount) FROM expenses WHERE date > DATE '2023-12-31' "
                               "AND date <= DATE '2024-12-31'").fetchone()[0]
        direct = con.execute("""SELECT sum(coalesce(labor_cost, 0) + coalesce(material_cost, 0)
                                         + coalesce(equipment_cost, 0)) FROM job_facts
                                WHERE activity_date > DATE '2023-12-31'
                                  AND activity_date <= DATE '2024-12-31'""").fetchone()[0]
    assert costing.expenses_total == pytest.approx(expenses, abs=0.005)
    assert costing.direct_total == pytest.approx(direct, abs=0.005)
    assert r["books"] == pytest.approx(expenses + direct, abs=0.01)
    assert set(costing.unassigned["category"]) == {"rent", "utilities", "marketing"}


def test_each_pool_follows_its_driver(costing):
    jobs = costing.jobs
    for _, pool in costing.pools.iterrows():
        column = f"overhead_{pool['activity']}"
        driver = {"travel_miles": "travel_miles", "labor_hours": "labor_hours", "invoices": "invoices",
                  "complaints": "complaints", "equipment_hours": "equipment_hours", "jobs": "job_count"}[pool["driver"]]
        assert jobs[column].sum() == pytest.approx(pool["amount"], abs=0.005)
        # every job pays the pool's rate per driver unit, to within a cent
        np.testing.assert_allclose(jobs[column], jobs[driver] * pool["rate"], atol=0.0100001)
    # a job without complaints carries none of the complaints pool
    assert (jobs.loc[jobs["complaints"] == 0, "overhead_callbacks and complaints"] == 0).all()


def test_a_pool_whose_driver_is_absent_stays_unassigned_and_still_reconciles(demo_lake):
    params = CostingParameters.model_validate({"activities": {
        "nothing drives this": {"driver": "callbacks", "categories": {"rent": 1.0}},
        "driving": {"driver": "travel_miles", "categories": {"fuel": 1.0}}}})
    costing = cost_jobs(demo_lake, "2022-01-10", months=1, params=params)
    if costing.jobs["callbacks"].sum() == 0:
        assert any("no callbacks" in c for c in costing.unassigned["category"])
    assert reconcile(costing)["difference_cents"] == 0


def test_bad_parameters_say_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="unknown driver"):
        CostingParameters.model_validate({"activities": {"a": {"driver": "vibes", "categories": {"rent": 1}}}})
    with pytest.raises(ValueError, match="more than all of rent"):
        CostingParameters.model_validate({"activities": {
            "a": {"driver": "jobs", "categories": {"rent": 0.6}},
            "b": {"driver": "jobs", "categories": {"rent": 0.6}}}})
    bad = tmp_path / "profitability.yaml"
    bad.write_text("activities: {a: {driver: jobs, categories: {rent: 2}}}\n")
    with pytest.raises(ProfitabilityError, match="profitability.yaml"):
        load_costing_parameters(bad)


def test_profit_by_dimension_adds_up_to_the_company(costing):
    total_profit = costing.jobs["profit"].sum()
    for dimension in ("service line", "customer type", "zip code", "customer segment", "technician"):
        table = profit_by(costing, dimension)
        assert table["profit"].sum() == pytest.approx(total_profit, abs=0.01)
        # a flat share moves profit between groups but not in total
        assert (table["revenue"] - table["direct_cost"]).sum() - costing.jobs["overhead"].sum() == \
            pytest.approx(total_profit, abs=0.01)
    with pytest.raises(ProfitabilityError, match="unknown dimension"):
        profit_by(costing, "star sign")


def test_the_waterfall_walks_from_list_price_to_net_profit(costing, demo_lake):
    import duckdb

    w = margin_waterfall(costing)
    assert list(w["step"][:6]) == ["list price", "discounts", "revenue", "labour", "materials", "equipment"]
    step = w.set_index("step")
    assert step.loc["revenue", "amount"] == pytest.approx(costing.jobs["revenue"].sum(), abs=0.01)
    # the discounts are the quotes' list prices less what their jobs billed, counted straight from gold
    ids = costing.jobs.loc[costing.jobs["revenue"] > 0, "job_id"].tolist()
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        discount = con.execute("SELECT sum(q.list_amount - j.revenue) FROM jobs j JOIN quotes q USING (quote_id) "
                               "WHERE j.job_id IN (SELECT unnest(?))", [ids]).fetchone()[0]
    assert discount > 0 and -step.loc["discounts", "amount"] == pytest.approx(discount, abs=0.01)
    assert step.loc["list price", "amount"] == pytest.approx(step.loc["revenue", "amount"] + discount, abs=0.01)
    # each change moves the running total; each level restarts it
    changes = w[~w["step"].isin(["list price", "revenue", "margin", "net profit"])]
    previous = w["running"].shift(1).loc[changes.index]
    assert (changes["running"] - previous - changes["amount"]).abs().max() < 1e-6
    margin = w.loc[w["step"] == "margin", "amount"].iloc[0]
    assert margin == pytest.approx(costing.jobs["profit"].sum(), abs=0.01)
    net = w.loc[w["step"] == "net profit", "amount"].iloc[0]
    assert net == pytest.approx(margin - costing.unassigned["amount"].sum(), abs=0.01)
    line = margin_waterfall(costing, "hvac")
    assert "net profit" not in set(line["step"])
    with pytest.raises(ProfitabilityError, match="no jobs of service line"):
        margin_waterfall(costing, "astrology")


def test_leaks_are_the_lowest_margins_and_name_the_cost_above_average(costing):
    leaks = leak_table(costing, top=5)
    assert len(leaks) == 5 and leaks["margin"].is_monotonic_increasing
    everything = leak_table(costing, top=10_000)
    assert leaks["margin"].iloc[0] == everything["margin"].min()
    # the named leak is the cost line furthest above the company's share of revenue
    row = leaks.iloc[0]
    jobs = costing.jobs[(costing.jobs["revenue"] > 0) & (costing.jobs["service_line"] == row["service_line"])
                        & (costing.jobs["job_type"] == row["job_type"])
                        & (costing.jobs["customer_type"] == row["customer_type"])]
    billed = costing.jobs[costing.jobs["revenue"] > 0]
    costs = ["labor_cost", "material_cost", "equipment_cost"] + [c for c in billed if c.startswith("overhead_")]
    excess = pd.Series({c: jobs[c].sum() - jobs["revenue"].sum() * billed[c].sum() / billed["revenue"].sum()
                        for c in costs})
    assert row["leak"] == excess.idxmax().removeprefix("overhead_").replace("_cost", "")
    assert row["leak_amount"] == pytest.approx(excess.max())
