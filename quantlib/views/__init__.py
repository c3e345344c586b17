"""The presentation toolkit every domain's views share: the house theme, SVG rendering,
generic chart builders and report tables.

Domain views (``quantlib.<domain>.views``) and the apps build on this package; it imports no
engine and no delivery package, so any layer may use it.
"""

from quantlib.views.charts import bar_chart, kpi_vs_target_chart, line_chart
from quantlib.views.tables import (
    FORMATS,
    ReportSection,
    format_value,
    report_table,
    scorecard_table,
    table_view,
    with_formats,
)
from quantlib.views.theme import PALETTE, house_theme, use_svg, use_theme

__all__ = ["FORMATS", "PALETTE", "ReportSection", "format_value", "report_table", "scorecard_table", "bar_chart",
           "house_theme",
           "kpi_vs_target_chart", "line_chart", "table_view", "use_svg", "use_theme", "with_formats"]
