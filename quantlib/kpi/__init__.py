"""KPIs: one definition each, a registry, and a summary table.

>>> from quantlib.kpi import REGISTRY, kpi_summary, Filters
>>> kpi_summary("data/demo/mixed_trades/lake/gold.duckdb", "2024-06-30")          # doctest: +SKIP
>>> REGISTRY["dso"].compute(con, "2024-06-30", filters=Filters(region="north"))  # doctest: +SKIP

Each KPI's definition is the docstring of its function in
:mod:`quantlib.kpi.definitions`; shared formulas (technician scores, churn rule
score) are SQL macros in :mod:`quantlib.kpi.formulas`, installed into gold by
the warehouse build and used by both the marts and the KPIs.

Ratings are recorded on 0-10; the specification's 5-point thresholds map through
:func:`to_ten_point` / :func:`to_five_point` (x 2, :mod:`quantlib.kpi.ratings`).
"""

from quantlib.kpi import definitions as _definitions  # noqa: F401  (registers the KPIs)
from quantlib.kpi.definitions import (
                                   customer_acquisition_by_month,
                                   daily_revenue_vs_target,
                                   monthly_revenue_target,
                                   technician_scorecard,
)
from quantlib.kpi.formulas import CHURN_RISK_THRESHOLD, EFFICIENCY_WEIGHTS, install_formulas
from quantlib.kpi.ratings import RATING_FACTOR, RatingScaleError, to_five_point, to_ten_point
from quantlib.kpi.registry import (
    DIRECTIONS,
    KPI,
    REGISTRY,
    Filters,
    KpiUnavailable,
    get_kpi,
    is_alert,
    kpi_summary,
    target_status,
    targets_of,
)

__all__ = [
    "CHURN_RISK_THRESHOLD", "EFFICIENCY_WEIGHTS", "KPI", "REGISTRY", "Filters", "KpiUnavailable",
    "customer_acquisition_by_month", "daily_revenue_vs_target", "get_kpi", "install_formulas",
    "kpi_summary", "monthly_revenue_target", "targets_of", "target_status", "is_alert", "DIRECTIONS",
    "technician_scorecard", "RATING_FACTOR", "RatingScaleError", "to_five_point", "to_ten_point",
]
