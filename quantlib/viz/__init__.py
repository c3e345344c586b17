"""The product specification's charts: Altair (Vega-Lite) charts rendered offline as SVG.

Every chart function takes tidy DataFrames and returns an Altair chart without rendering it;
reports and apps render through :func:`quantlib.views.use_svg` (vl-convert, no network). Data
travels inline, maps included (GeoJSON features in the spec). A few data helpers read gold with
DuckDB and return the tables the charts take.

=====================  ==============================================================
Module                 Charts (and data helpers)
=====================  ==============================================================
``calendars``          :func:`calendar_heatmap`
``flows``              :func:`journey_sankey` (from :func:`quantlib.kpi.journey.journey_stages`)
``matrices``           :func:`profitability_matrix` (:func:`job_type_profitability`)
``finance``            :func:`waterfall`, :func:`variance_chart`
``cohorts``            :func:`cohort_heatmap`, :func:`retention_curves`
                       (from :func:`quantlib.customers.cohorts.cohort_retention`)
``rankings``           :func:`ranking_chart`, :func:`bump_chart`
``maps``               :func:`choropleth`, :func:`hex_map`, :func:`geographic_performance` (the report's map)
                       (:func:`zip_revenue`, :func:`customer_revenue_points`)
=====================  ==============================================================

>>> from quantlib.kpi.journey import journey_stages
>>> journey_sankey(journey_stages("data/demo/mixed_trades/lake"))          # doctest: +SKIP
"""

from quantlib.viz.calendars import calendar_heatmap
from quantlib.viz.cohorts import cohort_heatmap, retention_curves
from quantlib.viz.finance import variance_chart, waterfall
from quantlib.viz.flows import journey_sankey
from quantlib.viz.maps import choropleth, customer_revenue_points, geographic_performance, hex_map, zip_revenue
from quantlib.viz.matrices import job_type_profitability, profitability_matrix
from quantlib.viz.rankings import bump_chart, ranking_chart

__all__ = [
    "bump_chart",
    "calendar_heatmap",
    "choropleth",
    "cohort_heatmap",
    "customer_revenue_points",
    "geographic_performance",
    "hex_map",
    "job_type_profitability",
    "journey_sankey",
    "profitability_matrix",
    "ranking_chart",
    "retention_curves",
    "variance_chart",
    "waterfall",
    "zip_revenue",
]
