"""QuotePricer's fitted attributes against the rules they come from."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.data.price_segments import quote_segments
from quantlib.pricing import PricingError
from quantlib.pricing.quote import QuotePricer


@pytest.fixture(scope="module")
def pricer(demo_lake):
    return QuotePricer().fit(demo_lake)


def test_segment_of_is_each_customers_segment_on_the_as_of_date(pricer):
    customers = pricer.customers_["customer_id"]
    assert list(pricer.segment_of_.index) == list(customers)
    for customer in customers.iloc[::7]:
        frame = pd.DataFrame({"customer_id": [customer], "created_at": [pd.Timestamp(pricer.as_of_)]})
        one = quote_segments(frame, pricer.customers_, pricer.contracts_).iloc[0]
        assert pricer.segment_of_[customer] == one == pricer.segment(customer)
    assert set(pricer.segment_of_) <= set(pricer.segment_payment_loss_.index)
    with pytest.raises(PricingError, match="unknown customer"):
        pricer.segment("NO-SUCH")


@pytest.fixture(scope="module")
def plain(demo_lake):
    return QuotePricer(cross_sell=False).fit(demo_lake)


def test_cross_sell_margin_enters_the_price_of_a_customer_with_recommendations(pricer, plain):
    recs = pricer.cross_sell_.recommendations_
    assert plain.cross_sell_ is None
    checked = 0
    for customer in recs["customer_id"].unique()[:6]:
        for line, job in (("hvac", "install"), ("plumbing", "repair")):
            advice, base = pricer.quote(customer, line, job), plain.quote(customer, line, job)
            items = pricer.cross_sell_.items(customer, line, job)
            assert advice.cross_sell == items and f"{line}/{job}" not in [i.item for i in items]
            # the customer's own items are shown; the segment's mean value is priced
            assert advice.customer_cross_sell_margin == pytest.approx(sum(i.probability * i.margin for i in items))
            members = pricer.segment_of_.index[pricer.segment_of_ == advice.segment]
            own = [pricer.cross_sell_.expected_margin(c, line, job) for c in members]
            assert advice.cross_sell_margin == pytest.approx(sum(own) / len(members))
            assert advice.cross_sell_margin > 0
            rec, risk = advice.recommendation, advice.risk
            assert rec.price <= base.recommendation.price
            net = rec.price * (1 - risk.payment_loss) - advice.cost.total - risk.completion_risk - risk.weather_risk
            assert rec.expected_margin == pytest.approx(rec.win_probability * (net + advice.cross_sell_margin))
            assert rec.expected_margin > base.recommendation.expected_margin
            data = advice.as_dict()
            assert data["cross_sell_margin"] == pytest.approx(advice.cross_sell_margin, abs=0.005)
            assert [i["item"] for i in data["cross_sell_items"]] == [i.item for i in items]
            assert any(n.startswith("cross-sell:") for n in risk.notes)
            checked += 1
    assert checked == 12


def test_a_customer_without_recommendations_is_priced_at_the_segments_cross_sell(pricer, demo_lake):
    import duckdb

    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        idle = con.execute("SELECT customer_id FROM customers WHERE customer_id NOT IN "
                           "(SELECT customer_id FROM jobs WHERE status = 'completed') LIMIT 1").fetchone()[0]
    advice = pricer.quote(idle, "hvac", "install")
    assert advice.cross_sell == () and advice.customer_cross_sell_margin == 0.0
    assert advice.as_dict()["customer_cross_sell_margin"] == 0.0 and advice.as_dict()["cross_sell_items"] == []
    # the price is the segment's: the same as a peer's with recommendations
    peer = next(c for c in pricer.cross_sell_.recommendations_["customer_id"].unique()
                if pricer.segment(c) == advice.segment)
    other = pricer.quote(peer, "hvac", "install")
    assert other.customer_cross_sell_margin > 0
    assert advice.cross_sell_margin == other.cross_sell_margin
    assert advice.recommendation.price == other.recommendation.price


def test_too_little_history_for_cross_sell_prices_without_it(demo_lake, plain):
    # a calibration window longer than the company's history: nothing to measure the ranks on
    pricer = QuotePricer(cross_sell_days=4000).fit(demo_lake)
    assert pricer.cross_sell_ is None and pricer.cross_sell_note_.startswith("cross-sell: not priced (no completed job")
    customer = pricer.segment_of_.index[0]
    advice = pricer.quote(customer, "hvac", "install")
    assert advice.cross_sell_margin == 0.0 and pricer.cross_sell_note_ in advice.risk.notes
    assert advice.recommendation.price == plain.quote(customer, "hvac", "install").recommendation.price
