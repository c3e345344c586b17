"""Cross-sell value: recommendation ranks calibrated into purchase probabilities, item margins, the sum."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.customers.recommend import (
    HybridRecommender,
    evaluation_targets,
    maintenance_contracts,
    service_history,
)
from quantlib.pricing.cross_sell import CrossSellModel


@pytest.fixture(scope="module")
def model(demo_lake):
    return CrossSellModel(days=90, k=5).fit(demo_lake)


def test_rank_probabilities_are_the_bought_share_and_fall_with_rank(model, demo_lake):
    rates = model.rank_rates_
    assert list(rates.index) == [1, 2, 3, 4, 5]
    assert ((rates["probability"] >= 0) & (rates["probability"] <= 1)).all()
    assert (np.diff(rates["probability"]) <= 1e-12).all()
    # On the generated company the top recommendation is bought clearly more often than the fifth.
    assert rates.loc[1, "rate"] > 2 * rates.loc[5, "rate"] > 0
    # By hand: recommend as of the window's start to the customers active before it, count the purchases.
    history = service_history(demo_lake)
    history = history[history["date"] <= pd.Timestamp(model.as_of_)]
    start = model.calibration_start_
    assert start + pd.Timedelta(days=90) == pd.Timestamp(model.as_of_) + pd.Timedelta(days=1)
    known = history.loc[history["date"] < start, "customer_id"].unique()
    recs = HybridRecommender(validation_days=90).fit(history, start, maintenance_contracts(demo_lake)).recommend(
        known, k=5, start=start, days=90)
    bought = evaluation_targets(history, start, 90)
    top = recs[recs["rank"] == 1]
    hits = sum(item in bought.get(c, ()) for c, item in zip(top["customer_id"], top["item"]))
    assert rates.loc[1, "offered"] == len(top) == len(known)
    assert rates.loc[1, "bought"] == hits


def test_item_margin_is_the_mean_revenue_less_direct_cost(model, demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        jobs = con.execute("SELECT service_line, job_type, revenue, "
                           "labor_cost + material_cost + equipment_cost AS cost "
                           "FROM job_facts WHERE is_completed AND revenue > 0 AND completed_date <= ? "
                           "AND completed_date > ?",
                           [model.as_of_, (pd.Timestamp(model.as_of_) - pd.DateOffset(months=24)).date()]).df()
    mean = (jobs["revenue"] - jobs["cost"]).groupby(jobs["service_line"] + "/" + jobs["job_type"]).mean()
    assert model.item_margins_["margin"].to_numpy() == pytest.approx(mean.loc[model.item_margins_.index].to_numpy())
    assert (model.item_margins_["margin"] > 0).all()


def test_a_quotes_value_sums_probability_times_margin_without_the_quoted_item(model):
    recs = model.recommendations_
    customer = recs["customer_id"].iloc[0]
    mine = recs[recs["customer_id"] == customer]
    quoted = mine.iloc[0]
    items = model.items(customer, quoted["service_line"], quoted["job_type"])
    assert [i.item for i in items] == list(mine["item"].iloc[1:])
    for item in items:
        assert item.probability == model.rank_rates_.loc[item.rank, "probability"]
        assert item.margin == model.item_margins_.loc[item.item, "margin"]
    value = model.expected_margin(customer, quoted["service_line"], quoted["job_type"])
    assert value == pytest.approx(sum(i.probability * i.margin for i in items)) and value > 0
    # A job not among the recommendations keeps every item.
    assert len(model.items(customer, "no_line", "no_type")) == len(mine)


def test_a_customer_without_recommendations_gets_nothing(model, demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        idle = con.execute("SELECT customer_id FROM customers WHERE customer_id NOT IN "
                           "(SELECT customer_id FROM jobs WHERE status = 'completed') LIMIT 1").fetchone()[0]
    assert idle not in set(model.recommendations_["customer_id"])
    assert model.items(idle, "hvac", "repair") == () and model.expected_margin(idle, "hvac", "repair") == 0.0


def test_bad_settings_are_refused(demo_lake):
    with pytest.raises(ValueError, match="at least 1"):
        CrossSellModel(days=0).fit(demo_lake)


def test_the_estimator_contract(demo_lake):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    est = CrossSellModel(days=60, k=2, history_months=12)
    assert clone(est).get_params() == {"days": 60, "k": 2, "history_months": 12}
    with pytest.raises(NotFittedError):
        est.items("C1", "hvac", "repair")
    before = set(vars(est))
    assert est.fit(demo_lake) is est and est.get_params() == {"days": 60, "k": 2, "history_months": 12}
    assert all(name.endswith("_") or name.startswith("_") for name in set(vars(est)) - before)
    assert est.rank_rates_.index.max() == 2
