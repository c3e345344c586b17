"""Capital allocation: the set of investments to fund under a budget, and the efficient frontier.

* :func:`choose_portfolio`: which investments to fund (all or nothing each) to maximise the
  expected NPV within the budget, optionally holding the portfolio's conditional value at
  risk (the mean loss in its worst ``1 - alpha`` of scenarios) under a limit. A mixed-integer
  program solved by OR-Tools (SCIP); CVaR is linear over the Monte Carlo scenarios of
  :func:`quantlib.finance.appraisal.simulate` (Rockafellar and Uryasev, 2000).
* :func:`efficient_frontier`: Markowitz's mean-variance frontier with each investment funded by
  a fraction 0-1 (a quadratic program per target return, SciPy's SLSQP): the least NPV
  variance for each expected NPV.
* :func:`multi_criteria_score`: one 0-1 score from NPV, IRR, payback, risk and the cases' own
  criteria, weighted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantlib.finance.appraisal import InvestmentError

__all__ = ["PortfolioChoice", "choose_portfolio", "cvar_loss", "efficient_frontier", "multi_criteria_score"]


@dataclass(frozen=True)
class PortfolioChoice:
    """The investments funded and what the portfolio is expected to return and risk.

    Attributes
    ----------
    chosen : list of str
    expected_npv : float
        Mean NPV over the scenarios.
    cvar_loss : float
        Mean loss (``-NPV``) in the worst ``1 - alpha`` share of scenarios.
    cost : float
        Upfront cost of the chosen set.
    status : str
        ``optimal`` or ``feasible`` (time limit reached with a solution).
    """

    chosen: list[str]
    expected_npv: float
    cvar_loss: float
    cost: float
    status: str
    alpha: float = 0.9
    selected: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)


def cvar_loss(npv_scenarios: np.ndarray, alpha: float = 0.9) -> float:
    """Conditional value at risk of the loss ``-npv``: ``min over eta of eta + mean((loss -
    eta)+) / (1 - alpha)``, the definition the MIP optimises (so the two agree exactly).

    The function is convex and piecewise linear with its breaks at the scenario losses, so
    its minimum is at one of them: each is tried (sorted, with suffix sums).
    """
    loss = np.sort(-np.asarray(npv_scenarios, float))
    n = len(loss)
    above = np.concatenate([np.cumsum(loss[::-1])[::-1][1:], [0.0]])  # sum of the losses after each
    count = np.arange(n - 1, -1, -1)                                   # how many come after each
    values = loss + (above - count * loss) / (n * (1 - alpha))
    return float(values.min())


def choose_portfolio(names, costs, scenarios: np.ndarray, budget: float, *, alpha: float = 0.9,
                     max_cvar_loss: float | None = None, must_fund=(), time_limit_s: float = 30.0
                     ) -> PortfolioChoice:
    """The set of investments maximising expected NPV within ``budget`` (and a CVaR limit).

    Parameters
    ----------
    names : sequence of str
    costs : sequence of float
        Upfront cost of each investment (what the budget pays for).
    scenarios : ndarray (n_scenarios, n_investments)
        NPV scenarios (:func:`~quantlib.finance.appraisal.simulate`).
    budget : float
    alpha : float
        CVaR level (0.9: the worst 10 % of scenarios).
    max_cvar_loss : float, optional
        The portfolio's CVaR loss may not exceed this (0: the worst tail must break even on
        average); ``None``: no risk limit.
    must_fund : sequence of str
        Investments that are committed already.

    Returns
    -------
    PortfolioChoice

    Raises
    ------
    InvestmentError
        Shapes disagree, or no set satisfies the budget, the risk limit and ``must_fund``.
    """
    from ortools.linear_solver import pywraplp

    names = list(names)
    costs = np.asarray(costs, float)
    scenarios = np.asarray(scenarios, float)
    if scenarios.ndim != 2 or scenarios.shape[1] != len(names) or len(costs) != len(names):
        raise InvestmentError(f"{len(names)} names, {len(costs)} costs and scenarios of shape {scenarios.shape} "
                              "do not match")
    unknown = set(must_fund) - set(names)
    if unknown:
        raise InvestmentError(f"must_fund names unknown investments: {sorted(unknown)}")
    if not 0 < alpha < 1:
        raise InvestmentError(f"alpha must be within (0, 1), got {alpha}")
    n_s, k = scenarios.shape
    solver = pywraplp.Solver.CreateSolver("SCIP") or pywraplp.Solver.CreateSolver("CBC")
    solver.SetTimeLimit(int(time_limit_s * 1000))
    x = [solver.BoolVar(f"fund_{i}") for i in range(k)]
    solver.Add(solver.Sum(costs[i] * x[i] for i in range(k)) <= budget)
    for name in must_fund:
        solver.Add(x[names.index(name)] == 1)
    mean = scenarios.mean(axis=0)
    if max_cvar_loss is not None:
        eta = solver.NumVar(-solver.infinity(), solver.infinity(), "var")
        excess = [solver.NumVar(0, solver.infinity(), f"excess_{s}") for s in range(n_s)]
        for s in range(n_s):
            # excess_s >= loss_s - eta, loss_s = -sum npv_si x_i
            solver.Add(excess[s] >= -solver.Sum(scenarios[s, i] * x[i] for i in range(k)) - eta)
        solver.Add(eta + solver.Sum(excess) * (1.0 / ((1 - alpha) * n_s)) <= max_cvar_loss)
    solver.Maximize(solver.Sum(mean[i] * x[i] for i in range(k)))
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        raise InvestmentError(f"no portfolio fits a budget of {budget:,.0f}"
                              + (f" with CVaR loss <= {max_cvar_loss:,.0f}" if max_cvar_loss is not None else "")
                              + (f" funding {list(must_fund)}" if must_fund else ""))
    selected = np.array([v.solution_value() > 0.5 for v in x])
    total = scenarios[:, selected].sum(axis=1)
    return PortfolioChoice(chosen=[n for n, s in zip(names, selected) if s], expected_npv=float(total.mean()),
                           cvar_loss=cvar_loss(total, alpha), cost=float(costs[selected].sum()),
                           status="optimal" if status == pywraplp.Solver.OPTIMAL else "feasible", alpha=alpha,
                           selected=selected)


def efficient_frontier(names, costs, scenarios: np.ndarray, budget: float, n_points: int = 15) -> pd.DataFrame:
    """Mean-variance efficient portfolios with fractional funding (0-1 of each investment).

    For ``n_points`` expected NPVs from the least-variance portfolio's to the best the budget
    allows, the funding fractions with the least NPV variance (covariance from the
    scenarios). Returns ``expected_npv, sd_npv, cost`` and one ``share_<name>`` column per
    investment, one row per point (failed solves left out).
    """
    from scipy import optimize

    names = list(names)
    costs = np.asarray(costs, float)
    scenarios = np.asarray(scenarios, float)
    # Solve in units of the largest expected NPV: SLSQP's tolerances are absolute, and
    # variances of money run to 1e10.
    scale = float(np.abs(scenarios.mean(axis=0)).max()) or 1.0
    mean = scenarios.mean(axis=0) / scale
    cov = np.cov(scenarios / scale, rowvar=False).reshape(len(names), len(names))
    k = len(names)
    bounds = [(0.0, 1.0)] * k
    unit = budget if budget > 0 else max(float(costs.max(initial=0.0)), 1.0)  # scale the constraint to about 1
    budget_con = {"type": "ineq", "fun": lambda w: (budget - costs @ w) / unit, "jac": lambda w: -costs / unit}
    # The best expected NPV within the budget (an LP) and the least-variance portfolio bound the frontier.
    best = optimize.linprog(-mean, A_ub=[costs], b_ub=[budget], bounds=bounds, method="highs")
    if not best.success:
        raise InvestmentError(f"no fractional portfolio fits a budget of {budget:,.0f}")
    top = float(mean @ best.x)
    least = optimize.minimize(lambda w: w @ cov @ w, np.zeros(k), jac=lambda w: 2 * cov @ w, bounds=bounds,
                              constraints=[budget_con], method="SLSQP")
    low = float(mean @ least.x)
    rows = []
    start = least.x
    for target in np.linspace(low, top, n_points):
        res = optimize.minimize(lambda w: w @ cov @ w, start, jac=lambda w: 2 * cov @ w, bounds=bounds,
                                constraints=[budget_con, {"type": "eq", "fun": lambda w, t=target: mean @ w - t,
                                                          "jac": lambda w: mean}],
                                method="SLSQP", options={"maxiter": 500, "ftol": 1e-12})
        if not res.success:
            continue
        w = np.clip(res.x, 0, 1)
        start = w
        rows.append({"expected_npv": float(mean @ w) * scale, "sd_npv": float(np.sqrt(max(w @ cov @ w, 0.0))) * scale,
                     "cost": float(costs @ w), **{f"share_{n}": float(s) for n, s in zip(names, w)}})
    return pd.DataFrame(rows)


#: Default weights of the multi-criteria score.
CRITERIA_WEIGHTS = {"npv": 0.35, "irr": 0.15, "payback": 0.15, "risk": 0.25, "strategic": 0.10}


def multi_criteria_score(appraisals: pd.DataFrame, scenarios: np.ndarray, cases=None,
                         weights: dict | None = None) -> pd.DataFrame:
    """One 0-1 score per investment: a weighted mean of min-max scaled criteria.

    ``npv`` and ``irr`` (higher is better), ``payback`` (shorter is better), ``risk`` (the
    probability of a negative NPV over the scenarios, lower is better) and ``strategic``
    (the mean of each case's own ``criteria`` scores, 0-1, when ``cases`` are given).
    Returns ``appraisals`` with ``p_loss``, one ``score_<criterion>`` column each and
    ``score``, best first.
    """
    weights = dict(CRITERIA_WEIGHTS if weights is None else weights)
    table = appraisals.copy()
    table["p_loss"] = (np.asarray(scenarios) < 0).mean(axis=0)
    table["strategic"] = [np.mean(list(c.criteria.values())) if c.criteria else np.nan for c in cases] \
        if cases is not None else np.nan

    def scaled(values, higher_is_better: bool) -> np.ndarray:
        v = np.asarray(values, float)
        v = np.where(np.isfinite(v), v, np.nan)
        lo, hi = np.nanmin(v) if np.isfinite(v).any() else 0, np.nanmax(v) if np.isfinite(v).any() else 0
        out = np.full(len(v), 0.5) if hi == lo else (v - lo) / (hi - lo)
        out = out if higher_is_better else 1 - out
        return np.where(np.isnan(out), 0.0, out)

    columns = {"npv": scaled(table["npv"], True), "irr": scaled(table["irr"], True),
               "payback": scaled(np.minimum(table["payback_months"], 1e6), False),
               "risk": scaled(table["p_loss"], False), "strategic": np.nan_to_num(table["strategic"], nan=0.0)}
    total = sum(weights.values())
    if total <= 0:
        raise InvestmentError("the criteria weights must add up to more than 0")
    table["score"] = 0.0
    for name, w in weights.items():
        if name not in columns:
            raise InvestmentError(f"unknown criterion {name!r}; known: {', '.join(columns)}")
        table[f"score_{name}"] = columns[name]
        table["score"] += w / total * columns[name]
    return table.sort_values("score", ascending=False, ignore_index=True)
