"""The rule price: the company's markup on the cost build-up, times the specification's factors."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from quantlib.pricing import CostModel, PricingError
from quantlib.pricing.rules import RulePricer


@pytest.fixture(scope="module")
def pricer(demo_lake):
    return RulePricer(CostModel().fit(demo_lake)).fit(demo_lake)


@pytest.fixture(scope="module")
def pair(demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        return con.execute("SELECT service_line, job_type FROM job_facts WHERE is_completed AND urgency = 'routine' "
                           "AND contract_id IS NULL GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1").fetchone()


def test_markup_is_the_median_revenue_over_cost_of_routine_jobs(pricer, pair, demo_lake):
    line, job_type = pair
    start = (pd.Timestamp(pricer.as_of_) - pd.DateOffset(months=24)).date()
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        median = con.execute("SELECT median(revenue) FROM job_facts WHERE is_completed AND revenue > 0 AND "
                             "urgency = 'routine' AND contract_id IS NULL AND service_line = ? AND job_type = ? "
                             "AND completed_date > ? AND completed_date <= ?",
                             [line, job_type, start, pricer.as_of_]).fetchone()[0]
    cost = pricer.cost_model_.build(line, job_type).total  # the same for every job of a line and type
    assert pricer.markup_.loc[(line, job_type)] == pytest.approx(median / cost)


def test_the_specifications_factors_multiply(pricer, pair):
    line, job_type = pair
    base = pricer.price(line, job_type, demand="normal")
    assert base.total == pytest.approx(base.cost * base.markup, abs=0.01)
    full = pricer.price(line, job_type, urgency="emergency", segment="new", position="leader", demand="surge")
    assert full.total == pytest.approx(base.cost * base.markup * 1.2 * 1.1 * 1.5 * 0.88, abs=0.01)
    rush = pricer.price(line, job_type, urgency="urgent", segment="volume", position="follower", demand="peak_season")
    assert rush.total == pytest.approx(base.total * 1.15 * 0.95 * 1.25 * 0.90, abs=0.02)
    table = full.factors()
    assert table["step"].tolist()[0] == "cost" and table["price"].iloc[-1] == pytest.approx(full.total, abs=0.01)


def test_demand_state_follows_the_lines_own_season(demo_lake, pair):
    line, _ = pair
    calm = RulePricer(surge_ratio=float("inf")).fit(demo_lake)  # no surge: only the season decides
    index = calm.monthly_index_[calm.monthly_index_["service_line"] == line].set_index("month")["index"]
    for month, value in index.items():
        assert calm.demand_state(line, month) == ("peak_season" if value >= 1.15 else "normal")
    eager = RulePricer(surge_ratio=0.0).fit(demo_lake)
    assert eager.demand_state(line) == "surge"


def test_unknown_inputs_name_what_is_allowed(pricer, pair):
    line, job_type = pair
    with pytest.raises(PricingError, match="unknown urgency 'asap'; one of routine, urgent, emergency"):
        pricer.price(line, job_type, urgency="asap")
    with pytest.raises(PricingError, match="unknown segment"):
        pricer.price(line, job_type, segment="vip")
    with pytest.raises(PricingError, match="unknown service line"):
        pricer.price("pool_cleaning", job_type)


def test_a_job_type_only_ever_urgent_learns_its_markup_at_that_urgency(pricer, demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        line, job_type = con.execute(
            "SELECT service_line, job_type FROM job_facts WHERE is_completed AND contract_id IS NULL GROUP BY 1, 2 "
            "HAVING bool_and(urgency = 'emergency') ORDER BY count(*) DESC LIMIT 1").fetchone()
    assert pricer.markup_urgency_.loc[(line, job_type)] == "emergency"
    call_out = pricer.price(line, job_type, urgency="emergency", demand="normal")
    assert call_out.total == pytest.approx(call_out.cost * call_out.markup, abs=0.01)  # no urgency factor twice
    booked = pricer.price(line, job_type, urgency="routine", demand="normal")
    assert booked.total == pytest.approx(call_out.total / 1.5, abs=0.01) and booked.urgency_factor == 1 / 1.5
