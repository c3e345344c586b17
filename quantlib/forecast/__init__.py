"""Forecasting: one estimator contract for many series (see :mod:`quantlib.forecast.base`).

>>> from quantlib.forecast import CombinationForecaster
>>> fc = CombinationForecaster(h=12, n_jobs=-1).fit(df, freq="MS")   # df: series_id, ds, y
>>> fc.predict(h=12, level=(80, 95))

:class:`CombinationForecaster` (the median of statsforecast's AutoETS and
DynamicOptimizedTheta with Theta, Comb, seasonal naive and drift, conformal intervals)
is the default for seasonal data; :class:`AutoForecaster` selects per series by
rolling-origin cross-validation where series are long enough for it.
"""

from quantlib.forecast.base import Forecaster, ForecastInputError, prepare_long, season_length_for
from quantlib.forecast.bayes import HierarchicalDemandModel
from quantlib.forecast.capacity import CapacityPlanner
from quantlib.forecast.cashflow import CASHFLOW_TARGETS, CashFlowSimulator, backtest_cashflow
from quantlib.forecast.combination import CombinationForecaster
from quantlib.forecast.demand import DemandForecaster, demand_series, estimate_demand_factors, external_factors
from quantlib.forecast.metrics import accuracy, coverage, mase, smape, wape
from quantlib.forecast.models import AutoARIMA, AutoETS, Drift, Ensemble, Naive, SeasonalNaive, Theta
from quantlib.forecast.pipeline import QuoteConversionModel, Snapshot, censor_snapshot, warehouse_snapshot
from quantlib.forecast.revenue import REVENUE_TARGETS, RevenueModel, backtest_revenue
from quantlib.forecast.selection import AutoForecaster, cross_validate
from quantlib.forecast.statsforecast_models import SCUM, SFAutoARIMA, SFAutoCES, SFAutoETS, SFDOTheta

__all__ = [
    "ForecastInputError",
    "Forecaster",
    "prepare_long",
    "season_length_for",
    "Naive",
    "SeasonalNaive",
    "Drift",
    "AutoETS",
    "AutoARIMA",
    "Theta",
    "Ensemble",
    "AutoForecaster",
    "CombinationForecaster",
    "SFAutoETS",
    "SFAutoARIMA",
    "SFAutoCES",
    "SFDOTheta",
    "SCUM",
    "cross_validate",
    "smape",
    "mase",
    "wape",
    "coverage",
    "accuracy",
    "QuoteConversionModel",
    "Snapshot",
    "censor_snapshot",
    "warehouse_snapshot",
    "RevenueModel",
    "backtest_revenue",
    "REVENUE_TARGETS",
    "CashFlowSimulator",
    "backtest_cashflow",
    "CASHFLOW_TARGETS",
    "CapacityPlanner",
    "DemandForecaster",
    "demand_series",
    "estimate_demand_factors",
    "external_factors",
    "HierarchicalDemandModel",
]
