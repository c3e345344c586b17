"""Pricing engines: the cost of a job built up from the company's data, and the profit-optimal price.

>>> model = CostModel().fit(lake)                   # rates, hours, materials, overhead from gold
>>> model.build("hvac", "repair")                   # CostBuildUp: labour, equipment, materials, overhead
>>> RulePricer(model).fit(lake).price("hvac", "repair", urgency="urgent", segment="new")   # the spec's rule price
>>> optimal_price(cost, rule_price, win_probability, risk=risk_adjustments(lake, "C1", "hvac", "repair"))
>>> CrossSellModel().fit(lake).expected_margin("C1", "hvac", "repair")   # cross-sell value of a won job
"""

from quantlib.pricing.cost import (
    CostBuildUp,
    CostModel,
    PriceListItem,
    PricingError,
    PricingParameters,
    load_pricing_parameters,
)
from quantlib.pricing.cross_sell import CrossSellItem, CrossSellModel
from quantlib.pricing.optimal import (
    PriceRecommendation,
    RiskAdjustments,
    RiskData,
    expected_margin,
    optimal_price,
    risk_adjustments,
    risk_data,
)
from quantlib.pricing.rules import RulePrice, RulePricer

__all__ = ["CostBuildUp", "CostModel", "CrossSellItem", "CrossSellModel", "PriceListItem", "PriceRecommendation",
           "PricingError", "PricingParameters", "RiskAdjustments", "RiskData", "RulePrice", "RulePricer",
           "expected_margin", "load_pricing_parameters", "optimal_price", "risk_adjustments", "risk_data"]
