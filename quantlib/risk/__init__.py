"""Risk indicators, the risk register and the success scorecard (issue 13).

Each indicator is computed from gold at any as-of date and registered by name:

>>> from quantlib.risk import INDICATORS, risk_register, risk_trend
>>> reading = INDICATORS["dso"]("data/demo/mixed_trades/lake", "2024-06-30")   # doctest: +SKIP
>>> reading.value, reading.level, reading.mitigation                           # doctest: +SKIP
>>> risk_register("data/demo/mixed_trades/lake")                                # doctest: +SKIP
>>> risk_trend("data/demo/mixed_trades/lake", "customer_concentration", months=12)  # doctest: +SKIP

The interface other packages (alerts) use is ``INDICATORS[name](source, as_of=None,
params=None) -> RiskIndicator``, raising :class:`RiskUnavailable` when there is no value;
``RiskIndicator.value`` is the number, ``.level`` one of ``none, info, warning, critical``.
Thresholds, owners and windows are in ``parameters/risk.yaml``
(:mod:`quantlib.risk.parameters`).

Indicators: ``dso``, ``collection_efficiency`` (cash flow); ``customer_concentration``;
``seasonal_volatility``, ``seasonal_cash_reserve`` (seasonal); ``skill_concentration``,
``single_qualified_skills`` (key person); ``equipment_failure_exposure``; ``satisfaction``,
``complaint_rate``, ``satisfaction_spc``, ``complaint_spc`` (quality).
"""

from quantlib.risk.indicators import (
    INDICATORS,
    LEVELS,
    IndicatorSpec,
    RiskIndicator,
    RiskUnavailable,
    get_indicator,
    level_of,
)
from quantlib.risk.parameters import RiskParameters, RiskParametersError, load_risk_parameters
from quantlib.risk.register import risk_register, risk_trend

__all__ = ["INDICATORS", "LEVELS", "IndicatorSpec", "RiskIndicator", "RiskParameters", "RiskParametersError",
           "RiskUnavailable", "get_indicator", "level_of", "load_risk_parameters", "risk_register", "risk_trend"]
