"""Price experiments: sample size against the closed form, the stopping rule on simulated markets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from quantlib.pricing.experiments import ExperimentError, PriceExperiment, sample_size, simulate_experiment


def test_sample_size_matches_the_arcsine_closed_form():
    p1, p2 = 0.40, 0.46
    h = 2 * np.arcsin(np.sqrt(p2)) - 2 * np.arcsin(np.sqrt(p1))
    # var(2 asin sqrt p) = 1 / n per arm, so the difference of two arms has variance 2 / n
    closed = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    assert sample_size(p1, p2) == int(np.ceil(closed))
    assert sample_size(0.4, 0.5) < sample_size(0.4, 0.46)          # bigger effects need fewer quotes
    assert sample_size(0.4, 0.46, power=0.9) > sample_size(0.4, 0.46)
    with pytest.raises(ExperimentError, match="equal"):
        sample_size(0.4, 0.4)
    with pytest.raises(ExperimentError, match="within"):
        sample_size(0.0, 0.3)


def test_the_posterior_favours_the_arm_with_more_margin_per_quote():
    # the cheaper price wins more often but earns less per win: 0.50 x 100 = 50 < 0.40 x 150 = 60
    experiment = PriceExperiment([("cheap", 400, 100), ("dear", 450, 150)], random_state=1)
    experiment.record("cheap", 500, 500).record("dear", 400, 600)
    table = experiment.decide().set_index("arm")
    assert table.loc["dear", "p_best"] > 0.99 and table.loc["dear", "stop"]
    assert table.loc["dear", "expected_loss"] < table.loc["cheap", "expected_loss"]
    assert table.loc["cheap", "win_rate"] == pytest.approx(501 / 1002)
    with pytest.raises(ExperimentError, match="no arm 'free'"):
        experiment.record("free", 1, 1)


def test_no_data_does_not_stop():
    table = PriceExperiment([("a", 1, 100), ("b", 2, 100)]).decide()
    assert not table["stop"].any()


def test_the_rule_finds_the_better_price_on_simulated_markets():
    rng = np.random.default_rng(7)
    right, runs, quotes = 0, 60, []
    for seed in range(runs):
        base = rng.uniform(0.25, 0.6)
        margins = np.array([100.0, 125.0])
        # the dearer price loses some wins; its expected margin is 5-15 % better or worse
        ratio = rng.choice([0.87, 0.92, 1.08, 1.13])
        rates = np.array([base, base * ratio * margins[0] / margins[1]])
        result = simulate_experiment(rates, margins, batch=100, max_quotes=30_000, random_state=seed)
        right += result["chosen"] == result["best"]
        quotes.append(result["quotes"])
    # stopping at an expected loss of 0.2 % of margin: right in 58 of 60 markets (0.5 %: 56, 1 %: 55)
    assert right / runs >= 0.93
    assert np.median(quotes) < 30_000
