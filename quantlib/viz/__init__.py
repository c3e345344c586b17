"""Altair helpers for reports and apps: SVG rendering, the house theme, chart builders."""

from quantlib.viz.charts import bar_chart, kpi_vs_target_chart, line_chart
from quantlib.viz.tables import FORMATS, format_value, report_table, scorecard_table
from quantlib.viz.theme import PALETTE, house_theme, use_svg, use_theme

__all__ = ["FORMATS", "PALETTE", "format_value", "report_table", "scorecard_table", "bar_chart", "house_theme", "kpi_vs_target_chart", "line_chart", "use_svg", "use_theme"]
