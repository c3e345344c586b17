"""Pricing engines: the cost of a job built up from the company's data.

>>> model = CostModel().fit(lake)                   # rates, hours, materials, overhead from gold
>>> model.build("hvac", "repair")                   # CostBuildUp: labour, equipment, materials, overhead
"""

from quantlib.pricing.cost import (
    CostBuildUp,
    CostModel,
    PriceListItem,
    PricingError,
    PricingParameters,
    load_pricing_parameters,
)

__all__ = ["CostBuildUp", "CostModel", "PriceListItem", "PricingError", "PricingParameters",
           "load_pricing_parameters"]
