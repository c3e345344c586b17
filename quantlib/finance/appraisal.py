"""Investment appraisal: NPV, IRR, payback and a Monte Carlo of a case's cash flows.

An :class:`InvestmentCase` is an upfront cost and a monthly net cash flow (the gain the
investment brings, less its running cost) over a life in months, with the uncertainty of its
two drivers: demand (the gain scales with it; its spread comes from a forecast's 80 %
interval) and cost (the upfront cost overruns). :func:`appraise` gives the deterministic NPV,
IRR, ROI and payback; :func:`simulate` draws scenarios of the case's NPV for the portfolio
(:mod:`quantlib.finance.portfolio`).

The money arithmetic is numpy-financial's (``npv``, ``irr``): a monthly rate is the annual
discount rate compounded down, ``(1 + r) ** (1 / 12) - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy_financial as npf
import pandas as pd

from quantlib.errors import QuantError

__all__ = ["InvestmentCase", "InvestmentError", "appraise", "appraisal_table", "cash_flows", "monthly_rate",
           "payback_months", "simulate"]

#: z of the 90th percentile of a standard normal: an 80 % interval spans +-Z80 sigma.
Z80 = 1.2815515655446004


class InvestmentError(QuantError, ValueError):
    """An investment case that cannot be appraised (no life, a negative cost, a bad interval)."""


@dataclass(frozen=True)
class InvestmentCase:
    """One investment: what it costs, what it returns per month, and how unsure both are.

    Attributes
    ----------
    name : str
    kind : str
        ``equipment_expansion``, ``technology_upgrade``, ``market_expansion`` or ``other``.
    upfront_cost : float
        Paid at month 0.
    monthly_gain : float
        Cash the investment adds per month once running (extra margin or savings); it scales
        with demand.
    monthly_cost : float
        Its running cost per month (a salary, a subscription), paid whatever the demand.
    life_months : int
        Months of gains.
    ramp_months : int
        Months over which the gain rises linearly to ``monthly_gain`` (0: from month 1).
    salvage_value : float
        Received at the end of its life.
    demand_lo_80, demand_hi_80 : float
        The 80 % interval of the demand behind the gain, as multipliers of the expected
        demand (from a forecast's interval: ``lo_80 / yhat`` and ``hi_80 / yhat``); 1, 1 is
        certain.
    cost_overrun_sd : float
        Standard deviation of the upfront cost's relative overrun (0.1: +-10 %).
    criteria : dict
        Scores 0-1 on other criteria (strategic fit, risk reduction...) for the multi-criteria
        score.
    """

    name: str
    upfront_cost: float
    monthly_gain: float
    life_months: int
    kind: str = "other"
    monthly_cost: float = 0.0
    ramp_months: int = 0
    salvage_value: float = 0.0
    demand_lo_80: float = 1.0
    demand_hi_80: float = 1.0
    cost_overrun_sd: float = 0.0
    criteria: dict = field(default_factory=dict)

    def check(self) -> "InvestmentCase":
        """Raise :class:`InvestmentError` naming the field that is wrong; return self."""
        if self.upfront_cost < 0:
            raise InvestmentError(f"{self.name}: upfront_cost must be >= 0, got {self.upfront_cost}")
        if int(self.life_months) != self.life_months or self.life_months < 1:
            raise InvestmentError(f"{self.name}: life_months must be a whole number >= 1, got {self.life_months}")
        if not 0 <= self.ramp_months <= self.life_months:
            raise InvestmentError(f"{self.name}: ramp_months must be within 0..life_months, got {self.ramp_months}")
        if not 0 < self.demand_lo_80 <= 1:
            raise InvestmentError(f"{self.name}: demand_lo_80 must be within (0, 1] (a multiplier of the expected "
                                  f"demand), got {self.demand_lo_80}")
        if self.demand_hi_80 < 1:
            raise InvestmentError(f"{self.name}: demand_hi_80 must be >= 1 (a multiplier of the expected demand), "
                                  f"got {self.demand_hi_80}")
        if self.cost_overrun_sd < 0:
            raise InvestmentError(f"{self.name}: cost_overrun_sd must be >= 0, got {self.cost_overrun_sd}")
        return self


def monthly_rate(annual_rate: float) -> float:
    """The monthly rate equivalent to ``annual_rate`` compounded yearly."""
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def cash_flows(case: InvestmentCase, demand: float = 1.0, cost: float = 1.0) -> np.ndarray:
    """Month 0..life cash flows: ``-upfront * cost``, then the (ramped) gain times ``demand``
    less the running cost, the salvage value in the last month."""
    case.check()
    months = np.arange(1, case.life_months + 1)
    ramp = np.minimum(months / case.ramp_months, 1.0) if case.ramp_months else np.ones(len(months))
    flows = np.concatenate([[-case.upfront_cost * cost], case.monthly_gain * demand * ramp - case.monthly_cost])
    flows[-1] += case.salvage_value
    return flows


def payback_months(flows: np.ndarray) -> float:
    """Months until the cumulative cash flow turns non-negative (linear within the month);
    ``inf`` if it never does."""
    cumulative = np.cumsum(flows)
    if cumulative[0] >= 0:
        return 0.0
    after = np.flatnonzero(cumulative >= 0)
    if not len(after):
        return float("inf")
    k = int(after[0])
    return float(k - 1 + (-cumulative[k - 1]) / flows[k])


def appraise(case: InvestmentCase, discount_rate: float = 0.10) -> dict:
    """NPV, IRR (annualised), ROI and payback of the expected cash flows.

    ROI is the net gain over the life per unit of upfront cost, ``(sum of inflows - cost) /
    cost``; IRR is numpy-financial's monthly IRR compounded to a year (NaN when the flows
    never turn positive).
    """
    flows = cash_flows(case)
    irr_month = npf.irr(flows)
    gain = float(flows[1:].sum())  # net of running costs
    return {
        "investment": case.name, "kind": case.kind, "upfront_cost": case.upfront_cost,
        "npv": float(npf.npv(monthly_rate(discount_rate), flows)),
        "irr": float((1 + irr_month) ** 12 - 1) if np.isfinite(irr_month) else float("nan"),
        "roi": (gain - case.upfront_cost) / case.upfront_cost if case.upfront_cost else float("inf"),
        "payback_months": payback_months(flows),
    }


def appraisal_table(cases, discount_rate: float = 0.10, roi_threshold: float = 0.25,
                    max_payback_months: float = 18.0) -> pd.DataFrame:
    """:func:`appraise` of each case with the spec's hurdle: ROI at least ``roi_threshold``
    (0.25) and payback within ``max_payback_months`` (18)."""
    table = pd.DataFrame([appraise(c, discount_rate) for c in cases])
    table["meets_hurdle"] = (table["roi"] >= roi_threshold) & (table["payback_months"] <= max_payback_months)
    return table


def simulate(cases, n_scenarios: int = 2000, discount_rate: float = 0.10, random_state: int = 0,
             demand_correlation: float = 0.5) -> np.ndarray:
    """NPV scenarios of each case: an array ``(n_scenarios, n_cases)``.

    Demand is lognormal with the case's 80 % interval (the log-spread is the wider side of
    the interval over ``Z80``), correlated across cases by ``demand_correlation`` (one
    market moves them all); the upfront cost overruns by a normal relative error, floored at
    -50 %. The NPV is linear in both multipliers, so each scenario costs two dot products.
    """
    cases = [c.check() for c in cases]
    rng = np.random.default_rng(random_state)
    rate = monthly_rate(discount_rate)
    k = len(cases)
    if not 0 <= demand_correlation <= 1:
        raise InvestmentError(f"demand_correlation must be within 0..1, got {demand_correlation}")
    common = rng.standard_normal((n_scenarios, 1))
    own = rng.standard_normal((n_scenarios, k))
    z = np.sqrt(demand_correlation) * common + np.sqrt(1 - demand_correlation) * own
    sigma = np.array([max(np.log(c.demand_hi_80), -np.log(c.demand_lo_80)) / Z80 for c in cases])
    # A lognormal with median 1 has mean exp(sigma^2 / 2): centre it so the mean demand is 1.
    demand = np.exp(sigma * z - sigma ** 2 / 2)
    cost = np.maximum(1 + rng.standard_normal((n_scenarios, k)) * [c.cost_overrun_sd for c in cases], 0.5)
    # NPV = demand * PV(gains) + PV(salvage - running costs) - cost * upfront
    gains_pv = np.array([float(npf.npv(rate, cash_flows(c, demand=1.0, cost=0.0))) -
                         float(npf.npv(rate, cash_flows(c, demand=0.0, cost=0.0))) for c in cases])
    fixed_pv = np.array([float(npf.npv(rate, cash_flows(c, demand=0.0, cost=0.0))) for c in cases])
    upfront = np.array([c.upfront_cost for c in cases])
    return demand * gains_pv + fixed_pv - cost * upfront

