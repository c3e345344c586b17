"""Predictive maintenance (issue 15): equipment life models, recurrence, and (to come) sensor
analytics, health scores and work orders.

Engines only: nothing here imports a delivery package.
"""

from quantlib.maintenance.survival import (
    LifeDataError,
    WeibullLifeModel,
    mean_cumulative_function,
)

__all__ = ["LifeDataError", "WeibullLifeModel", "mean_cumulative_function"]
