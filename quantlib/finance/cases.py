"""Investment cases built from the company's own data: more crews, better tools, new markets.

The specification's capital allocation names three kinds of case. Each is built here from gold
and ``parameters/finance/capital.yaml`` (:class:`CapitalParameters`):

* **equipment expansion** (one more crew, a technician with a van and kit, per service line):
  the extra jobs a crew would do are the forecast growth of the line's monthly jobs (a
  :class:`~quantlib.forecast.CombinationForecaster` on monthly counts) plus the share
  ``backlog_capture`` of the jobs now booked more than ``max_wait_days`` after the day asked
  for, capped by what one technician can do; each extra job brings the line's margin before
  labour, and the technician's pay is a running cost. The forecast's 80 % interval of the
  line's demand, relative to its expectation, is the demand risk of that extra work.
* **technology upgrades**: a share of a cost the data measures (travel time and fuel, or an
  expense category), with the improvement and its interval stated in the parameters.
* **market expansion**: only from market data the user supplies (size, share potential); no
  market case is made up without it.

:func:`capital_plan` appraises them all, scores them, simulates their NPVs and chooses the
portfolio under the budget.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantlib.config import load_yaml_model, project_root
from quantlib.data.gold import as_of_date, open_gold
from quantlib.finance.appraisal import InvestmentCase, InvestmentError, appraisal_table, simulate
from quantlib.finance.portfolio import PortfolioChoice, choose_portfolio, efficient_frontier, multi_criteria_score

__all__ = ["CapitalParameters", "CapitalPlan", "capital_plan", "default_capital_path", "expansion_cases",
           "load_capital_parameters", "market_cases", "technology_cases"]

WEEKS_PER_MONTH = 52 / 12


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpansionSettings(_Strict):
    hire_cost: float = Field(6000, ge=0)
    vehicle_cost: float = Field(42000, ge=0)
    life_months: int = Field(60, ge=1, le=240)
    salvage_share: float = Field(0.25, ge=0, le=1)
    target_utilisation: float = Field(0.8, gt=0, le=1)
    max_wait_days: int = Field(7, ge=0)
    backlog_capture: float = Field(0.5, ge=0, le=1)
    ramp_months: int = Field(3, ge=0)


class TechnologyUpgrade(_Strict):
    name: str
    baseline: str = Field(description="'travel' or 'expense:<category>'")
    improvement: float = Field(gt=0, lt=1)
    improvement_lo_80: float = Field(gt=0, lt=1)
    improvement_hi_80: float = Field(gt=0, lt=1)
    upfront_cost: float = Field(ge=0)
    monthly_cost: float = Field(0, ge=0)
    life_months: int = Field(36, ge=1, le=240)
    ramp_months: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _order(self) -> "TechnologyUpgrade":
        if not self.improvement_lo_80 <= self.improvement <= self.improvement_hi_80:
            raise ValueError(f"{self.name}: improvement_lo_80 <= improvement <= improvement_hi_80 must hold")
        if self.baseline != "travel" and not self.baseline.startswith("expense:"):
            raise ValueError(f"{self.name}: baseline must be 'travel' or 'expense:<category>', got {self.baseline!r}")
        return self


class MarketOpportunity(_Strict):
    name: str
    annual_market_size: float = Field(gt=0)
    share_potential: float = Field(gt=0, lt=1)
    share_lo_80: float = Field(gt=0, lt=1)
    share_hi_80: float = Field(gt=0, lt=1)
    entry_cost: float = Field(ge=0)
    monthly_cost: float = Field(0, ge=0)
    gross_margin: float | None = Field(None, gt=0, lt=1)
    life_months: int = Field(60, ge=1, le=240)
    ramp_months: int = Field(12, ge=0)

    @model_validator(mode="after")
    def _order(self) -> "MarketOpportunity":
        if not self.share_lo_80 <= self.share_potential <= self.share_hi_80:
            raise ValueError(f"{self.name}: share_lo_80 <= share_potential <= share_hi_80 must hold")
        return self


class CapitalParameters(_Strict):
    """``parameters/finance/capital.yaml``: hurdles, budget and the assumptions of each case kind."""

    discount_rate: float = Field(0.10, ge=0, lt=1)
    roi_threshold: float = 0.25
    max_payback_months: float = Field(18, gt=0)
    budget: float = Field(150_000, ge=0)
    max_cvar_loss: float | None = None
    hurdle_only: bool = Field(True, description="the portfolio chooses among cases that meet the hurdle only")
    n_scenarios: int = Field(2000, ge=100, le=100_000)
    expansion: ExpansionSettings = ExpansionSettings()
    technology: list[TechnologyUpgrade] = []
    markets: list[MarketOpportunity] = []


class CapitalParametersError(InvestmentError):
    """``parameters/finance/capital.yaml`` is missing or breaks its rules; says where."""


def default_capital_path() -> Path:
    return project_root() / "parameters" / "finance" / "capital.yaml"


@lru_cache(maxsize=8)
def _load(path: str) -> CapitalParameters:
    return load_yaml_model(path, CapitalParameters, "capital parameters", CapitalParametersError)


def load_capital_parameters(path: str | Path | None = None) -> CapitalParameters:
    """The capital parameters in ``path`` (default :func:`default_capital_path`)."""
    return _load(str(Path(path) if path else default_capital_path()))


def _year_before(as_of: dt.date) -> dt.date:
    """The same day a year earlier: a window ``(that, as_of]`` is one calendar year, leap or not."""
    return (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()


def _monthly_jobs(con, as_of: dt.date) -> pd.DataFrame:
    """Completed jobs per service line and month, whole months up to ``as_of`` (long format)."""
    return con.execute("""
        SELECT service_line AS series_id, date_trunc('month', completed_date) AS ds, count(*)::DOUBLE AS y
        FROM job_facts WHERE is_completed AND completed_date < date_trunc('month', ?::DATE + 1)
          AND completed_date >= date_trunc('month', ?::DATE + 1) - INTERVAL 48 MONTH
        GROUP BY ALL ORDER BY 1, 2""", [as_of, as_of]).df()


def _demand_outlook(con, as_of: dt.date) -> pd.DataFrame:
    """Per service line: last 12 months' jobs per month and the next 12 months' forecast (80 %)."""
    from quantlib.forecast import CombinationForecaster

    monthly = _monthly_jobs(con, as_of)
    last_month = pd.Timestamp(as_of).to_period("M").to_timestamp()
    # Whole months only: a partial last month would look like a fall in demand.
    if pd.Timestamp(as_of) < (last_month + pd.offsets.MonthEnd(0)):
        monthly = monthly[monthly["ds"] < last_month]
    counts = monthly.groupby("series_id")["ds"].count()
    enough = counts[counts >= 24].index
    if not len(enough):
        raise InvestmentError("the demand outlook needs 24 whole months of completed jobs per service line")
    monthly = monthly[monthly["series_id"].isin(enough)]
    fc = CombinationForecaster().fit(monthly, freq="MS", season_length=12).predict(12, level=(80,))
    recent = monthly.groupby("series_id").tail(12).groupby("series_id")["y"].mean()
    out = fc.groupby("series_id")[["yhat", "yhat_lo_80", "yhat_hi_80"]].mean()
    out["recent_jobs_per_month"] = recent
    return out


def expansion_cases(source, as_of=None, params: CapitalParameters | None = None) -> tuple[list, pd.DataFrame]:
    """One more crew per service line: the cases and the table of how each was built.

    Lines where one more crew would have no extra work to do (no forecast growth and no late
    jobs) are in the table with ``extra_jobs_per_month = 0`` and get no case.
    """
    params = params or load_capital_parameters()
    e = params.expansion
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        outlook = _demand_outlook(con, day)
        lines = con.execute("""
            SELECT service_line,
                   avg(revenue - material_cost - equipment_cost) AS margin_before_labour,
                   avg(hours + travel_minutes / 60.0) AS hours_per_job,
                   count(*) FILTER (WHERE date_diff('day', requested_date, scheduled_date) > ?) / 12.0
                       AS late_jobs_per_month
            FROM job_facts WHERE is_completed AND completed_date > ? AND completed_date <= ?
            GROUP BY ALL ORDER BY 1""", [e.max_wait_days, _year_before(day), day]).df().set_index("service_line")
        pay = con.execute("""
            SELECT median(hourly_rate * weekly_hours) FROM technicians
            WHERE termination_date IS NULL OR termination_date > ?""", [day]).fetchone()[0]
        kit = dict(con.execute("SELECT service_line, median(purchase_cost) FROM equipment GROUP BY ALL").fetchall())
        weekly_hours = con.execute("SELECT median(weekly_hours) FROM technicians").fetchone()[0]
    table = lines.join(outlook, how="inner")
    table["growth_jobs_per_month"] = (table["yhat"] - table["recent_jobs_per_month"]).clip(lower=0)
    table["crew_capacity_jobs"] = float(weekly_hours) * WEEKS_PER_MONTH * e.target_utilisation / table["hours_per_job"]
    wanted = table["growth_jobs_per_month"] + e.backlog_capture * table["late_jobs_per_month"]
    table["extra_jobs_per_month"] = np.minimum(wanted, table["crew_capacity_jobs"])
    table["technician_cost_per_month"] = float(pay) * WEEKS_PER_MONTH
    table["kit_cost"] = [float(kit.get(line, 0.0) or 0.0) for line in table.index]
    cases = []
    for line, row in table.iterrows():
        extra = float(row["extra_jobs_per_month"])
        if extra <= 0:
            continue
        # The crew's extra work moves with the line's demand: the forecast's 80 % band of the
        # line's next 12 months, relative to its expectation, is the band of the gain.
        lo = float(row["yhat_lo_80"] / row["yhat"]) if row["yhat"] > 0 else 1.0
        hi = float(row["yhat_hi_80"] / row["yhat"]) if row["yhat"] > 0 else 1.0
        upfront = e.hire_cost + e.vehicle_cost + row["kit_cost"]
        cases.append(InvestmentCase(
            name=f"one more {line} crew", kind="equipment_expansion", upfront_cost=float(upfront),
            monthly_gain=extra * float(row["margin_before_labour"]),
            monthly_cost=float(row["technician_cost_per_month"]), life_months=e.life_months,
            ramp_months=e.ramp_months, salvage_value=e.salvage_share * (e.vehicle_cost + row["kit_cost"]),
            demand_lo_80=float(min(max(lo, 0.01), 1.0)), demand_hi_80=float(max(hi, 1.0)),
            criteria={"service_level": float(min(row["late_jobs_per_month"] / max(extra, 1e-9), 1.0))}))
    return cases, table.reset_index()


def _baseline_per_month(con, day: dt.date, baseline: str) -> float:
    start = _year_before(day)
    if baseline == "travel":
        travel = con.execute("""SELECT sum(travel_minutes / 60.0 * technician_hourly_rate) FROM job_facts
                                WHERE is_completed AND completed_date > ? AND completed_date <= ?""",
                             [start, day]).fetchone()[0] or 0.0
        fuel = con.execute("""SELECT sum(amount) FROM expenses WHERE category = 'fuel' AND date > ? AND date <= ?""",
                           [start, day]).fetchone()[0] or 0.0
        return (float(travel) + float(fuel)) / 12
    category = baseline.split(":", 1)[1]
    total = con.execute("SELECT sum(amount) FROM expenses WHERE category = ? AND date > ? AND date <= ?",
                        [category, start, day]).fetchone()[0]
    if total is None:
        known = [r[0] for r in con.execute("SELECT DISTINCT category FROM expenses ORDER BY 1").fetchall()]
        raise InvestmentError(f"no expenses of category {category!r} in the last year; known: {', '.join(known)}")
    return float(total) / 12


def technology_cases(source, as_of=None, params: CapitalParameters | None = None) -> tuple[list, pd.DataFrame]:
    """The technology upgrades of the parameters, each gaining a share of a cost measured in gold."""
    params = params or load_capital_parameters()
    cases, rows = [], []
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        for t in params.technology:
            base = _baseline_per_month(con, day, t.baseline)
            rows.append({"investment": t.name, "baseline": t.baseline, "baseline_per_month": base,
                         "improvement": t.improvement, "saving_per_month": base * t.improvement})
            cases.append(InvestmentCase(
                name=t.name, kind="technology_upgrade", upfront_cost=t.upfront_cost,
                monthly_gain=base * t.improvement, monthly_cost=t.monthly_cost, life_months=t.life_months,
                ramp_months=t.ramp_months, demand_lo_80=t.improvement_lo_80 / t.improvement,
                demand_hi_80=t.improvement_hi_80 / t.improvement))
    return cases, pd.DataFrame(rows)


def market_cases(source, as_of=None, params: CapitalParameters | None = None) -> list:
    """Market expansions from the user's market data (none without it)."""
    params = params or load_capital_parameters()
    if not params.markets:
        return []
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        margin = con.execute("""SELECT sum(gross_profit) / nullif(sum(revenue), 0) FROM job_facts
                                WHERE is_completed AND completed_date > ? AND completed_date <= ?""",
                             [_year_before(day), day]).fetchone()[0]
    cases = []
    for m in params.markets:
        gm = m.gross_margin if m.gross_margin is not None else float(margin or 0.0)
        cases.append(InvestmentCase(
            name=m.name, kind="market_expansion", upfront_cost=m.entry_cost,
            monthly_gain=m.annual_market_size * m.share_potential * gm / 12, monthly_cost=m.monthly_cost,
            life_months=m.life_months, ramp_months=m.ramp_months,
            demand_lo_80=m.share_lo_80 / m.share_potential, demand_hi_80=m.share_hi_80 / m.share_potential))
    return cases


@dataclass
class CapitalPlan:
    """Everything the capital allocation report shows."""

    as_of: dt.date
    params: CapitalParameters
    cases: list
    appraisals: pd.DataFrame      # appraisal_table + multi-criteria score
    scenarios: np.ndarray         # (n_scenarios, n_cases) NPVs
    portfolio: PortfolioChoice | None   # None: no eligible set fits the budget and risk limit
    frontier: pd.DataFrame        # over the eligible cases (empty without any)
    expansion: pd.DataFrame       # how the crew cases were built
    technology: pd.DataFrame      # the baselines of the technology cases


def capital_plan(source, as_of=None, params: CapitalParameters | None = None, random_state: int = 0) -> CapitalPlan:
    """Build, appraise, score and simulate every case, then choose the portfolio under the budget."""
    params = params or load_capital_parameters()
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        crews, expansion = expansion_cases(con, day, params)
        tools, technology = technology_cases(con, day, params)
        markets = market_cases(con, day, params)
    cases = crews + tools + markets
    if not cases:
        raise InvestmentError("no investment case: no line needs a crew, and no technology or market is configured")
    scenarios = simulate(cases, n_scenarios=params.n_scenarios, discount_rate=params.discount_rate,
                         random_state=random_state)
    table = appraisal_table(cases, params.discount_rate, params.roi_threshold, params.max_payback_months)
    scored = multi_criteria_score(table, scenarios, cases)
    eligible = [i for i, c in enumerate(cases)
                if not params.hurdle_only or bool(table.loc[table["investment"] == c.name, "meets_hurdle"].iloc[0])]
    names = [cases[i].name for i in eligible]
    costs = [cases[i].upfront_cost for i in eligible]
    portfolio, frontier = None, pd.DataFrame()
    if eligible:
        chosen_scenarios = scenarios[:, eligible]
        try:
            portfolio = choose_portfolio(names, costs, chosen_scenarios, params.budget,
                                         max_cvar_loss=params.max_cvar_loss)
        except InvestmentError:
            portfolio = None  # nothing fits the budget and the risk limit: the report says so
        frontier = efficient_frontier(names, costs, chosen_scenarios, params.budget, n_points=12)
    return CapitalPlan(day, params, cases, scored, scenarios, portfolio, frontier, expansion, technology)
