"""``quant price``: the JSON contract, the figures of the engines behind it, and clear refusals."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

import quantlib.cli  # noqa: F401  (registers every command)
from quantlib.cli.app import app
from quantlib.pricing import CostModel, RulePricer


@pytest.fixture(scope="module")
def customer(demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        return con.execute("SELECT customer_id FROM customers WHERE customer_type = 'residential' "
                           "ORDER BY customer_id LIMIT 1").fetchone()[0]


def _price(demo_lake, *args):
    return CliRunner().invoke(app, ["price", "--lake", str(demo_lake.root), *args])


def test_json_has_the_contract_and_the_engines_figures(demo_lake, customer):
    result = _price(demo_lake, "--customer", customer, "--service-line", "hvac", "--job-type", "repair",
                    "--urgency", "urgent", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("cost", "rule_price", "recommended_price", "win_probability", "expected_margin"):
        assert isinstance(data[key], float), key
    cost = CostModel().fit(demo_lake).build("hvac", "repair")
    assert data["cost"] == pytest.approx(cost.total, abs=0.01)
    rule = RulePricer(CostModel().fit(demo_lake)).fit(demo_lake).price("hvac", "repair", urgency="urgent",
                                                                        segment=data["segment"])
    assert data["rule_price"] == pytest.approx(rule.total, abs=0.01)
    rails = data["guard_rails"]
    assert rails["lower"] - 0.01 <= data["recommended_price"] <= rails["upper"] + 0.01
    assert data["recommended_price"] >= data["cost"] * 1.10 - 0.01  # the floor margin
    assert 0 < data["win_probability"] < 1
    # The recommendation is the best expected margin the curve offers, at least the rule price's.
    assert data["expected_margin"] >= data["rule_expected_margin"] - 0.01
    # Cross-sell: the expected margin of the recommended items (the quoted job left out), counted if won.
    assert isinstance(data["cross_sell_margin"], float) and data["cross_sell_margin"] >= 0
    own = sum(i["expected_margin"] for i in data["cross_sell_items"])
    assert data["customer_cross_sell_margin"] == pytest.approx(own, abs=0.01 * (1 + len(data["cross_sell_items"])))
    for item in data["cross_sell_items"]:
        assert item["item"] != "hvac/repair" and 0 <= item["probability"] <= 1
        assert item["expected_margin"] == pytest.approx(item["probability"] * item["margin"], abs=0.02)


def test_table_shows_the_build_up_and_the_recommendation(demo_lake, customer):
    result = _price(demo_lake, "--customer", customer, "--service-line", "hvac", "--job-type", "repair")
    assert result.exit_code == 0, result.output
    for text in ("cost: labour", "rule: markup", "risk: payment loss", "cross-sell margin", "recommended price"):
        assert text in result.output


@pytest.mark.parametrize("args, message", [
    (["--customer", "NOPE", "--service-line", "hvac", "--job-type", "repair"], "unknown customer 'NOPE'"),
    (["--service-line", "pools", "--job-type", "repair"], "unknown service line 'pools'"),
    (["--service-line", "hvac", "--job-type", "repair", "--urgency", "asap"], "unknown urgency 'asap'"),
])
def test_unknown_inputs_exit_2_naming_them(demo_lake, customer, args, message):
    if "--customer" not in args:
        args = ["--customer", customer, *args]
    result = _price(demo_lake, *args)
    assert result.exit_code == 2 and message in result.output


def test_the_same_job_gets_the_same_price_within_a_segment(demo_lake):
    from quantlib.pricing.quote import QuotePricer

    pricer = QuotePricer().fit(demo_lake)
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        written_off = con.execute("SELECT DISTINCT customer_id FROM invoices WHERE written_off_at IS NOT NULL"
                                  ).df()["customer_id"].tolist()
        region = con.execute("SELECT customer_id, region FROM customers").df().set_index("customer_id")["region"]
    bad = next(c for c in written_off if pricer.segment(c) == pricer.segment(written_off[0]))
    segment = pricer.segment(bad)
    peers = [c for c in region.index if c not in written_off and region[c] == region[bad]]
    good = next(c for c in peers if pricer.segment(c) == segment)
    a, b = (pricer.quote(c, "hvac", "repair") for c in (bad, good))
    assert a.recommendation.price == b.recommendation.price  # same segment, same job, same region
    assert a.cross_sell_margin == b.cross_sell_margin  # the segment's cross-sell value, not the customer's
    assert a.customer_payment_loss > b.customer_payment_loss  # the credit record is shown, not priced
    assert a.risk.payment_loss == pytest.approx(pricer.segment_payment_loss_[segment])
