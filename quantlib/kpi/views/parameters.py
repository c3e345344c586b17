"""Parameter models of the scheduled report notebooks.

Each notebook's ``parameters`` cell mirrors one of these models,
and ``quant run`` / the scheduler validate values against it before any kernel starts.
"""

from __future__ import annotations

from pydantic import Field

from quantlib.parameters import NotebookParameters, register_parameters


@register_parameters("monthly_business_review")
class MonthlyReviewParameters(NotebookParameters):
    """Monthly business review: the month of ``as_of`` and ``months`` of history."""

    months: int = Field(12, ge=2, le=60, description="months of history in the trend charts")
    # The warehouse has no bank balance: the cash-flow forecast starts from this figure
    # (as in notebooks/cashflow_forecast.ipynb).
    starting_cash: float = Field(250_000.0, description="cash at the end of as_of, start of the 90-day cash forecast")
    plan_days: int = Field(5, ge=1, le=31,
                           description="last working days re-planned by the router for drive-time figures")
    baseline_year: int | None = Field(None, ge=1990, le=2100,
                                      description="year the success scorecard compares with; default the "
                                                  "latest year before the twelve months to as_of")


@register_parameters("weekly_operations")
class WeeklyOperationsParameters(NotebookParameters):
    """Weekly operations report: the week ending ``as_of`` and ``weeks`` of trend."""

    weeks: int = Field(12, ge=2, le=104, description="weeks of history in the trend charts")
    plan_days: int = Field(5, ge=1, le=14,
                           description="last working days re-planned by the router for drive-time figures")


@register_parameters("operations_efficiency")
class OperationsEfficiencyParameters(NotebookParameters):
    """Daily operations efficiency: the last ``days`` days."""

    days: int = Field(14, ge=1, le=90, description="days shown")


@register_parameters("sales_performance")
class SalesPerformanceParameters(NotebookParameters):
    """Weekly sales performance: quotes of the last ``days`` days, the funnel over ``months`` months."""

    days: int = Field(30, ge=7, le=365, description="days of quotes")
    months: int = Field(3, ge=1, le=24, description="months of the funnel")
    zip_shapes: str | None = Field(None, description="GeoJSON of the zip areas (e.g. census ZCTA) for the revenue "
                                                     "map; without it, revenue by H3 hexagon")
    zip_feature_key: str = Field("properties.ZCTA5CE10", description="the zip code's path in each GeoJSON feature")
    competitors: str | None = Field(None, description="CSV of competitor locations (lat, lon, competitors[, name]) "
                                                      "drawn over the zip map")


@register_parameters("financial_summary")
class FinancialSummaryParameters(NotebookParameters):
    """Weekly financial summary: revenue and margins, overhead, cash and receivables."""

    months: int = Field(6, ge=2, le=36, description="months of history")
    weeks: int = Field(8, ge=2, le=52, description="weeks of cash collected")
