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
