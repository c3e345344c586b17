"""The profit-optimal price against a dense brute-force search, its guard rails and the risks from gold."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from quantlib.pricing import CostModel, PricingError
from quantlib.pricing.optimal import RiskAdjustments, expected_margin, optimal_price, risk_adjustments


def _logistic(list_price: float, slope: float, intercept: float = 0.6):
    return lambda x: 1 / (1 + np.exp(-(intercept + slope * (np.asarray(x, float) / list_price - 1))))


@pytest.mark.parametrize("slope", [-2.0, -5.0, -9.0])
def test_the_optimum_matches_a_dense_search_within_a_dollar(slope):
    win = _logistic(1000.0, slope)
    risk = RiskAdjustments(payment_loss=0.02, completion_risk=25.0, weather_risk=5.0, extra_margin=10.0)
    rec = optimal_price(600.0, 1000.0, win, risk=risk, floor_margin=0.0, max_change=0.6, round_to=0)
    dense = np.linspace(rec.lower, rec.upper, 200_001)
    truth = dense[np.argmax(expected_margin(dense, 600.0, win(dense), risk))]
    assert rec.price == pytest.approx(truth, abs=1.0)
    assert rec.expected_margin >= rec.rule_expected_margin - 1e-9
    # Less price-sensitive customers get a higher price.
    if slope == -2.0:
        assert rec.price > optimal_price(600.0, 1000.0, _logistic(1000.0, -9.0), risk=risk, floor_margin=0.0,
                                         max_change=0.6, round_to=0).price


def test_guard_rails_bind_and_say_which():
    steep = _logistic(800.0, -40.0)  # buyers expect 800: every dollar above the floor loses more than it earns
    rec = optimal_price(900.0, 1000.0, steep, floor_margin=0.05, max_change=0.2)
    assert rec.price == pytest.approx(945.0) and rec.binding == "floor margin"
    flat = _logistic(1000.0, -0.1)  # wants a very high price
    rec = optimal_price(500.0, 1000.0, flat, max_change=0.2)
    assert rec.price == pytest.approx(1200.0) and rec.binding == "maximum increase"
    assert rec.price == round(rec.price)  # whole dollars: the same price for the same job
    with pytest.raises(PricingError, match="no price satisfies the guard rails"):
        optimal_price(1500.0, 1000.0, flat, floor_margin=0.1, max_change=0.2)


def test_payment_loss_raises_the_price_that_pays():
    win = _logistic(1000.0, -5.0)
    safe = optimal_price(600.0, 1000.0, win, max_change=0.6, round_to=0)
    risky = optimal_price(600.0, 1000.0, win, risk=RiskAdjustments(payment_loss=0.2), max_change=0.6, round_to=0)
    assert risky.price > safe.price and risky.expected_margin < safe.expected_margin


def test_risks_measured_from_gold(demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        invoices = con.execute("SELECT customer_id, amount, written_off_at IS NOT NULL AS lost FROM invoices").df()
        pair = con.execute("SELECT service_line, job_type FROM job_facts WHERE is_completed GROUP BY 1, 2 "
                           "ORDER BY count(*) DESC LIMIT 1").fetchone()
    lost = invoices.groupby("customer_id").apply(lambda g: g.loc[g["lost"], "amount"].sum(), include_groups=False)
    worst = lost.idxmax()
    clean = invoices.groupby("customer_id")["lost"].sum().pipe(lambda s: s[s == 0]).index[0]
    model = CostModel().fit(demo_lake)
    bad = risk_adjustments(demo_lake, worst, *pair, cost_model=model)
    good = risk_adjustments(demo_lake, clean, *pair, cost_model=model)
    company = invoices.loc[invoices["lost"], "amount"].sum() / invoices["amount"].sum()
    assert good.payment_loss < company < bad.payment_loss
    assert good.completion_risk == bad.completion_risk > 0 and good.weather_risk >= 0
    assert any("payment" in n for n in bad.notes)
    with pytest.raises(PricingError, match="unknown customer"):
        risk_adjustments(demo_lake, "NO-SUCH", *pair)


def test_risks_from_data_read_once_equal_a_fresh_read(demo_lake):
    from quantlib.pricing.optimal import risk_data

    model = CostModel().fit(demo_lake)
    data = risk_data(demo_lake)
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        customers = con.execute("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 5").df()["customer_id"]
    for customer in customers:
        for pair, job_date in ((("hvac", "repair"), None), (("plumbing", "install"), "2024-07-15")):
            fresh = risk_adjustments(demo_lake, customer, *pair, cost_model=model, job_date=job_date)
            shared = risk_adjustments(None, customer, *pair, cost_model=model, job_date=job_date, data=data)
            assert shared == fresh
    with pytest.raises(PricingError, match="unknown customer"):
        risk_adjustments(None, "NO-SUCH", "hvac", "repair", data=data)


@pytest.mark.parametrize("slope", [-2.0, -5.0, -9.0])
def test_cross_sell_margin_lowers_the_price_and_counts_only_when_won(slope):
    win = _logistic(1000.0, slope)
    base = RiskAdjustments(payment_loss=0.02, completion_risk=25.0, weather_risk=5.0)
    without = optimal_price(600.0, 1000.0, win, risk=base, max_change=0.6)
    for extra in (20.0, 150.0):
        risk = RiskAdjustments(payment_loss=0.02, completion_risk=25.0, weather_risk=5.0, extra_margin=extra)
        rec = optimal_price(600.0, 1000.0, win, risk=risk, max_change=0.6)
        assert rec.price <= without.price
        p = float(win(rec.price))
        assert rec.win_probability == pytest.approx(p)
        assert rec.expected_margin == pytest.approx(p * (rec.price * 0.98 - 600.0 - 30.0 + extra))
        # Worth at least the old price with the extra margin added.
        assert rec.expected_margin >= without.expected_margin + without.win_probability * extra - 1e-9
    # A lower price wins more often, so a large enough extra margin moves the price down.
    big = optimal_price(600.0, 1000.0, win, risk=RiskAdjustments(extra_margin=400.0), max_change=0.6)
    assert big.price < optimal_price(600.0, 1000.0, win, max_change=0.6).price
