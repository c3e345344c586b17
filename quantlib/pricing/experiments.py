"""Price experiments (the specification's A/B testing): design, a Bayesian stopping rule, simulation.

* :func:`sample_size`: quotes per arm to detect a change in win rate with a two-sided test at
  ``alpha`` and ``power`` (statsmodels' power analysis on Cohen's h).
* :class:`PriceExperiment`: two (or more) prices, each a Beta-Binomial on its win rate
  (uniform prior unless given); the value of a price is its expected margin per quote,
  ``P(win) x margin``. :meth:`PriceExperiment.decide` draws from the posteriors and reports, per
  arm, the probability it is best and its expected loss (the margin per quote given up, on
  average, by choosing it if another is better). The experiment stops when the best arm's
  expected loss falls below ``threshold`` (a share of its margin): the expected-loss rule of
  Bayesian A/B testing, which, unlike a p-value, may be checked after every batch.
* :func:`simulate_experiment`: run the rule on a simulated market with known win rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantlib.errors import QuantError

__all__ = ["ExperimentError", "PriceExperiment", "sample_size", "simulate_experiment"]


class ExperimentError(QuantError, ValueError):
    """An experiment that cannot be designed or decided (bad rates, no arms)."""


def sample_size(p_control: float, p_treatment: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Quotes per arm to tell win rate ``p_treatment`` from ``p_control`` (two-sided, equal arms)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    for p in (p_control, p_treatment):
        if not 0 < p < 1:
            raise ExperimentError(f"win rates must be within (0, 1), got {p}")
    if p_control == p_treatment:
        raise ExperimentError("the two win rates are equal: no sample size detects no difference")
    h = proportion_effectsize(p_treatment, p_control)
    n = NormalIndPower().solve_power(effect_size=abs(h), alpha=alpha, power=power, alternative="two-sided")
    return int(np.ceil(n))


@dataclass
class Arm:
    """One price of the experiment and what it has seen."""

    name: str
    price: float
    margin: float          # price - cost: what a won quote earns
    wins: int = 0
    losses: int = 0


class PriceExperiment:
    """A Bayesian price experiment on expected margin per quote.

    Parameters
    ----------
    arms : list of (name, price, margin)
        Each price tried and the margin a won quote earns at it.
    prior : (a, b)
        Beta prior of every arm's win rate (default uniform).
    threshold : float
        Stop when the best arm's expected loss is below ``threshold`` x its expected margin.
    n_draws : int
        Posterior draws per decision.
    random_state : int
    """

    def __init__(self, arms, prior=(1.0, 1.0), threshold: float = 0.002, n_draws: int = 20_000,
                 random_state: int = 0) -> None:
        if len(arms) < 2:
            raise ExperimentError("an experiment needs at least two prices")
        self.arms = [Arm(str(n), float(p), float(m)) for n, p, m in arms]
        self.prior = prior
        self.threshold = threshold
        self.n_draws = n_draws
        self.random_state = random_state

    def record(self, name: str, won: int, lost: int) -> "PriceExperiment":
        """Add ``won`` wins and ``lost`` losses to arm ``name``."""
        for arm in self.arms:
            if arm.name == name:
                arm.wins += int(won)
                arm.losses += int(lost)
                return self
        raise ExperimentError(f"no arm {name!r}; arms: {', '.join(a.name for a in self.arms)}")

    def decide(self) -> pd.DataFrame:
        """Per arm: quotes, win rate, expected margin per quote, P(best), expected loss, and ``stop``
        (true on the best arm when its expected loss is below the threshold)."""
        rng = np.random.default_rng(self.random_state)
        a0, b0 = self.prior
        draws = np.column_stack([rng.beta(a0 + arm.wins, b0 + arm.losses, self.n_draws) * arm.margin
                                 for arm in self.arms])
        best = draws.max(axis=1, keepdims=True)
        loss = (best - draws).mean(axis=0)
        p_best = np.bincount(draws.argmax(axis=1), minlength=len(self.arms)) / self.n_draws
        value = draws.mean(axis=0)
        table = pd.DataFrame({
            "arm": [a.name for a in self.arms], "price": [a.price for a in self.arms],
            "quotes": [a.wins + a.losses for a in self.arms],
            "win_rate": [(a0 + a.wins) / (a0 + b0 + a.wins + a.losses) for a in self.arms],
            "expected_margin": value, "p_best": p_best, "expected_loss": loss})
        leader = int(np.argmin(loss))
        table["stop"] = False
        table.loc[leader, "stop"] = bool(loss[leader] < self.threshold * max(value[leader], 1e-12))
        return table


def simulate_experiment(win_rates, margins, batch: int = 50, max_quotes: int = 20_000, threshold: float = 0.002,
                        random_state: int = 0) -> dict:
    """Run the stopping rule on a market whose true win rates are known.

    Quotes arrive in batches of ``batch`` per arm; after each batch the rule is checked. Returns
    ``chosen`` (arm index), ``best`` (the arm with the highest true expected margin), ``quotes``
    (per arm, when it stopped) and ``stopped`` (false if ``max_quotes`` per arm was reached).
    """
    rng = np.random.default_rng(random_state)
    win_rates, margins = np.asarray(win_rates, float), np.asarray(margins, float)
    experiment = PriceExperiment([(str(i), m, m) for i, m in enumerate(margins)], threshold=threshold,
                                 n_draws=4000, random_state=random_state)
    seen = 0
    while seen < max_quotes:
        for i, p in enumerate(win_rates):
            won = int(rng.binomial(batch, p))
            experiment.record(str(i), won, batch - won)
        seen += batch
        table = experiment.decide()
        if table["stop"].any():
            return {"chosen": int(table.index[table["stop"]][0]), "best": int(np.argmax(win_rates * margins)),
                    "quotes": seen, "stopped": True}
    table = experiment.decide()
    return {"chosen": int(table["expected_loss"].idxmin()), "best": int(np.argmax(win_rates * margins)),
            "quotes": seen, "stopped": False}
