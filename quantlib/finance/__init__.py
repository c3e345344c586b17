"""Finance engines: investment appraisal and capital allocation.

>>> cases = [InvestmentCase("van", upfront_cost=45_000, monthly_gain=3_200, life_months=60)]
>>> appraisal_table(cases)                       # NPV, IRR, ROI, payback, the spec's hurdle
>>> scenarios = simulate(cases)                  # Monte Carlo NPVs on demand and cost
>>> choose_portfolio(["van"], [45_000], scenarios, budget=100_000)
"""

from quantlib.finance.appraisal import (
    InvestmentCase,
    InvestmentError,
    appraisal_table,
    appraise,
    cash_flows,
    monthly_rate,
    payback_months,
    simulate,
)
from quantlib.finance.portfolio import (
    PortfolioChoice,
    choose_portfolio,
    cvar_loss,
    efficient_frontier,
    multi_criteria_score,
)

__all__ = [
    "InvestmentCase", "InvestmentError", "appraisal_table", "appraise", "cash_flows", "monthly_rate",
    "payback_months", "simulate", "PortfolioChoice", "choose_portfolio", "cvar_loss", "efficient_frontier",
    "multi_criteria_score",
]
