"""The portfolio MIP against brute force; CVaR against its definition; the frontier against a grid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quantlib.finance import (
    InvestmentCase,
    InvestmentError,
    appraisal_table,
    choose_portfolio,
    cvar_loss,
    efficient_frontier,
    multi_criteria_score,
    simulate,
)


def _cases(k, seed):
    rng = np.random.default_rng(seed)
    return [InvestmentCase(f"inv{i}", upfront_cost=float(rng.uniform(10_000, 60_000)),
                           monthly_gain=float(rng.uniform(300, 2_500)), life_months=int(rng.integers(24, 72)),
                           demand_lo_80=float(rng.uniform(0.4, 0.95)), demand_hi_80=float(rng.uniform(1.05, 1.6)),
                           cost_overrun_sd=float(rng.uniform(0, 0.3))) for i in range(k)]


def _brute(costs, scenarios, budget, alpha=0.9, max_cvar=None):
    best, best_set = -np.inf, None
    k = scenarios.shape[1]
    for mask in itertools.product([False, True], repeat=k):
        m = np.array(mask)
        if costs[m].sum() > budget:
            continue
        total = scenarios[:, m].sum(axis=1)
        if max_cvar is not None and cvar_loss(total, alpha) > max_cvar + 1e-6:
            continue
        if total.mean() > best:
            best, best_set = total.mean(), m
    return best, best_set


def test_cvar_is_the_minimum_of_its_defining_function_and_the_tail_mean():
    rng = np.random.default_rng(3)
    npv = rng.normal(100, 50, 1_000)
    loss = -npv
    grid = np.linspace(loss.min(), loss.max(), 20_001)
    by_grid = min(e + np.maximum(loss - e, 0).mean() / 0.1 for e in grid)
    assert cvar_loss(npv, 0.9) == pytest.approx(by_grid, abs=0.05)
    # with alpha * n whole, it is the mean of the worst 10 %
    assert cvar_loss(npv, 0.9) == pytest.approx(np.sort(loss)[-100:].mean())


@pytest.mark.parametrize("seed", range(4))
def test_the_mip_finds_the_brute_force_optimum(seed):
    cases = _cases(9, seed)
    costs = np.array([c.upfront_cost for c in cases])
    scenarios = simulate(cases, n_scenarios=400, random_state=seed)
    budget = costs.sum() * 0.45
    names = [c.name for c in cases]
    got = choose_portfolio(names, costs, scenarios, budget)
    best, best_set = _brute(costs, scenarios, budget)
    assert got.status == "optimal"
    assert got.expected_npv == pytest.approx(best, rel=1e-6)
    assert got.cost <= budget
    # and with a risk limit that binds: the brute force's best set under the same CVaR limit
    unlimited_cvar = got.cvar_loss
    limit = unlimited_cvar - 0.5 * abs(unlimited_cvar) - 1_000
    best_r, best_set_r = _brute(costs, scenarios, budget, max_cvar=limit)
    if best_set_r is None:
        with pytest.raises(InvestmentError, match="no portfolio"):
            choose_portfolio(names, costs, scenarios, budget, max_cvar_loss=limit)
    else:
        risky = choose_portfolio(names, costs, scenarios, budget, max_cvar_loss=limit)
        assert risky.cvar_loss <= limit + 1e-6
        assert risky.expected_npv == pytest.approx(best_r, rel=1e-6)


def test_must_fund_and_impossible_budgets():
    cases = _cases(4, 9)
    costs = np.array([c.upfront_cost for c in cases])
    names = [c.name for c in cases]
    scenarios = simulate(cases, n_scenarios=200)
    worst = names[int(np.argmin(scenarios.mean(axis=0)))]
    got = choose_portfolio(names, costs, scenarios, costs.sum(), must_fund=[worst])
    assert worst in got.chosen
    with pytest.raises(InvestmentError, match="no portfolio"):
        choose_portfolio(names, costs, scenarios, budget=costs.min() - 1, must_fund=[names[0]])
    with pytest.raises(InvestmentError, match="unknown"):
        choose_portfolio(names, costs, scenarios, 1e9, must_fund=["nope"])


def test_the_frontier_has_the_least_variance_of_a_grid_of_portfolios():
    cases = _cases(3, 5)
    costs = np.array([c.upfront_cost for c in cases])
    scenarios = simulate(cases, n_scenarios=2_000, random_state=2, demand_correlation=0.3)
    budget = costs.sum() * 0.6
    frontier = efficient_frontier([c.name for c in cases], costs, scenarios, budget, n_points=8)
    assert len(frontier) >= 6
    assert (frontier["cost"] <= budget + 1e-6).all()
    assert np.all(np.diff(frontier["sd_npv"]) >= -1e-6)      # more return costs more risk
    mean, cov = scenarios.mean(axis=0), np.cov(scenarios, rowvar=False)
    steps = np.linspace(0, 1, 41)
    grid = np.array([w for w in itertools.product(steps, repeat=3) if costs @ np.array(w) <= budget])
    g_mean, g_sd = grid @ mean, np.sqrt(np.einsum("ij,jk,ik->i", grid, cov, grid))
    for _, point in frontier.iterrows():
        # above the least-variance point, no portfolio expecting as much risks less
        at_least = g_mean >= point["expected_npv"]
        if at_least.any():
            assert point["sd_npv"] <= g_sd[at_least].min() * 1.001 + 1.0
    # its top is the best expected NPV the budget allows with fractional funding
    assert frontier["expected_npv"].max() >= (grid @ mean).max() - 1e-6 * abs((grid @ mean).max())


def test_a_dominated_investment_scores_last():
    good = InvestmentCase("good", 10_000, 1_500, 36, demand_lo_80=0.95, demand_hi_80=1.05, criteria={"fit": 0.9})
    mid = InvestmentCase("mid", 10_000, 700, 36, demand_lo_80=0.8, demand_hi_80=1.2, criteria={"fit": 0.5})
    bad = InvestmentCase("bad", 10_000, 280, 36, demand_lo_80=0.5, demand_hi_80=1.5, criteria={"fit": 0.1})
    cases = [mid, bad, good]
    table = multi_criteria_score(appraisal_table(cases), simulate(cases, 2_000), cases)
    assert list(table["investment"]) == ["good", "mid", "bad"]
    assert table["score"].between(0, 1).all()
    with pytest.raises(InvestmentError, match="unknown criterion"):
        multi_criteria_score(appraisal_table(cases), simulate(cases, 100), cases, weights={"luck": 1})
