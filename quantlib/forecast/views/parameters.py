"""Parameter models of the forecast notebooks (revenue, cash flow, demand).

Each notebook's ``parameters`` cell mirrors one of these models, and
``quant run`` validates values against it before any kernel starts.
"""

from __future__ import annotations

from pydantic import Field

from quantlib.parameters import NotebookParameters, register_parameters


@register_parameters("revenue_forecast")
class RevenueForecastParameters(NotebookParameters):
    """Revenue forecast: best / likely / worst over ``horizon_days`` from ``as_of``."""

    horizon_days: int = Field(90, ge=7, le=365, description="days ahead")
    history_weeks: int = Field(52, ge=4, le=260, description="weeks of history in the chart")
    backtest_origins: int = Field(2, ge=1, le=12, description="backtest origins per horizon")
    record_predictions: bool = Field(True, description="record this run's predictions in the operational store "
                                                       "(model monitoring)")


@register_parameters("cashflow_forecast")
class CashFlowForecastParameters(NotebookParameters):
    """Cash-flow forecast: daily cash position over ``horizon_days`` and the low-cash warning."""

    horizon_days: int = Field(90, ge=30, le=180, description="days ahead")
    starting_cash: float = Field(250_000.0, description="cash at the end of as_of")
    history_weeks: int = Field(26, ge=4, le=260, description="weeks of history in the chart")
    backtest_origins: int = Field(3, ge=1, le=12, description="backtest origins")
    record_predictions: bool = Field(True, description="record this run's predictions in the operational store "
                                                       "(model monitoring)")


@register_parameters("demand_forecast")
class DemandForecastParameters(NotebookParameters):
    """Weekly job demand per service line and region, with a storm / confidence scenario."""

    horizon_weeks: int = Field(12, ge=1, le=52, description="weeks ahead")
    history_weeks: int = Field(52, ge=4, le=260, description="weeks of history in the chart")
    backtest_origins: int = Field(2, ge=0, le=6, description="backtest origins (0 = none)")
    storm_days: int = Field(3, ge=0, le=30, description="storm days in the storm scenario")
    confidence_shift: float = Field(-10.0, ge=-50, le=50, description="consumer confidence change in the scenario")
    record_predictions: bool = Field(True, description="record this run's predictions in the operational store "
                                                       "(model monitoring)")
