"""The quote segment rule: each branch by hand, and the same answer in the generator's truth and
from the warehouse the models read."""

import pandas as pd
import pytest

from quantlib.data.gold import open_gold
from quantlib.data.price_segments import QUOTE_SEGMENTS, quote_segments


def _customers():
    return pd.DataFrame({
        "customer_id": ["loyal_res", "prio_com", "com", "ad_new", "new_res", "old_res", "edge_res"],
        "customer_type": ["residential", "commercial", "commercial", "residential", "residential",
                          "residential", "residential"],
        "acquisition_channel": ["advertising", "web", "web", "advertising", "referral", "web", "web"],
        "created_date": pd.to_datetime(["2024-06-01", "2020-01-01", "2024-06-01", "2024-06-01", "2024-06-01",
                                        "2020-01-01", "2024-01-01"]),
        "is_priority": [False, True, False, False, False, False, False],
    })


def test_each_branch_and_its_precedence():
    contracts = pd.DataFrame({"customer_id": ["loyal_res"], "start_date": pd.to_datetime(["2024-07-01"]),
                              "end_date": pd.to_datetime(["2024-12-01"])})
    quotes = pd.DataFrame({
        "customer_id": ["loyal_res", "loyal_res", "loyal_res", "loyal_res", "prio_com", "com", "ad_new",
                        "new_res", "old_res", "edge_res", "edge_res"],
        "created_at": pd.to_datetime(["2024-06-30 10:00", "2024-07-01 09:00", "2024-11-30 17:00",
                                      "2024-12-01 08:00", "2024-08-01 12:00", "2024-08-01 12:00", "2024-08-01 12:00",
                                      "2024-08-01 12:00", "2024-08-01 12:00", "2024-12-30 12:00",
                                      "2024-12-31 12:00"]),
    }, index=range(100, 111))
    got = quote_segments(quotes, _customers(), contracts)
    assert got.index.equals(quotes.index)
    assert got.tolist() == [
        # Before its contract an advertising customer is price sensitive (advertising comes before new);
        # from the start day to the day before the end the contract makes it loyal.
        "price_sensitive", "premium_loyal", "premium_loyal", "price_sensitive",
        "premium_loyal", "volume", "price_sensitive", "new", "standard",
        # 364 days after creation still new, 365 days after it not.
        "new", "standard"]
    assert set(got) <= set(QUOTE_SEGMENTS)
    # Without contracts the contract holder falls through to the next rule.
    assert quote_segments(quotes.iloc[[1]], _customers(), None).tolist() == ["price_sensitive"]


def test_unknown_customer_and_missing_columns_are_refused():
    quotes = pd.DataFrame({"customer_id": ["nobody"], "created_at": pd.to_datetime(["2024-08-01"])})
    with pytest.raises(ValueError, match="not in customers"):
        quote_segments(quotes, _customers(), None)
    with pytest.raises(ValueError, match="acquisition_channel"):
        quote_segments(quotes, _customers().drop(columns="acquisition_channel"), None)


def test_generator_truth_is_the_rule_on_the_company_tables(mixed_company):
    t = mixed_company.tables
    truth = mixed_company.truth_tables["quotes"].set_index("quote_id")["segment"]
    got = quote_segments(t["quotes"], t["customers"], t["contracts"])
    assert (got.to_numpy() == truth.reindex(t["quotes"]["quote_id"]).to_numpy()).all()
    # Every segment occurs, so the test above checks every branch on generated data.
    assert set(got) == set(QUOTE_SEGMENTS)


def test_generator_truth_is_the_rule_on_the_gold_tables(demo_lake):
    # What a model reads (gold, after ingest) gives the segments the generator drew outcomes from.
    with open_gold(demo_lake) as con:
        quotes = con.execute("SELECT quote_id, customer_id, created_at FROM quotes").df()
        customers = con.execute("SELECT * FROM customers").df()
        contracts = con.execute("SELECT customer_id, start_date, end_date FROM contracts").df()
    truth = pd.read_parquet(demo_lake.root.parent / "raw" / "_truth" / "quotes.parquet").set_index("quote_id")
    got = quote_segments(quotes, customers, contracts)
    assert len(got) == len(truth)
    assert (got.to_numpy() == truth["segment"].reindex(quotes["quote_id"]).to_numpy()).all()
