"""``python -m benchmarks.pricing``: the contract's keys, and the oracle bounds what any policy earns."""

from __future__ import annotations

import json

import pytest

from benchmarks import pricing
from tests.conftest import PROFILES


@pytest.fixture(scope="module")
def company():
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    return generate_company(load_profile(PROFILES / "mixed_trades.yaml"), scale=0.5)


def test_writes_the_contract_and_the_oracle_bounds_the_optimised_policy(company, tmp_path, monkeypatch):
    monkeypatch.setattr(pricing, "generate_company", lambda *a, **k: company)
    out = tmp_path / "pricing.json"
    pricing.main(["--out", str(out), "--limit", "40"])
    result = json.loads(out.read_text())
    for key in ("rule_profit", "optimised_profit", "oracle_profit", "elasticity_error", "rule_win_rate",
                "optimised_win_rate", "oracle_win_rate"):
        assert isinstance(result[key], float), key
    assert result["quotes"] == 40
    # Same guard rails, true win model: no policy's expected profit beats the oracle's.
    assert result["oracle_profit"] >= result["optimised_profit"] * (1 - 1e-3)
    assert 0 < result["optimised_win_rate"] < 1 and 0 <= result["elasticity_error"] < 1


def test_the_market_reads_the_truth_back(company):
    quotes, share = pricing.market(company)
    ratio = quotes["amount"] / quotes["list_amount"]
    p = pricing._sigmoid(quotes["true_base"] + quotes["price_coef"] * (ratio - 1))
    assert p.to_numpy() == pytest.approx(quotes["p_win"].to_numpy(), rel=1e-9)  # the generator's own p_win
    assert (share > 0).all() and (share < 1).all()
