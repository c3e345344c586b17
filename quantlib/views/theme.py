"""The house look of every chart: readable type, a muted palette, sizes that print.

Charts render as inline SVG through vl-convert (no Vega JavaScript, no CDN), which is what
the HTML and PDF reports embed and what keeps widget outputs small in Voila apps.
"""

from __future__ import annotations

import altair as alt

__all__ = ["FONT", "PALETTE", "THEME_NAME", "house_theme", "use_svg", "use_theme"]

THEME_NAME = "quant"
# Font stacks that exist on most systems; the PDF engine falls back to its embedded fonts.
FONT = "Liberation Sans, Helvetica, Arial, DejaVu Sans, sans-serif"
#: Muted, colour-blind-safe-ish palette; first colour is the "actual" series.
PALETTE = ["#2f5d8a", "#d08c3f", "#5b8f6a", "#9a5b7a", "#7f7f7f", "#b5a642", "#4f9fb3", "#c2605a"]
INK = "#333333"
GRID = "#e4e4e4"


def house_theme() -> dict:
    """The Vega-Lite ``config`` of the house theme (A4/Letter column width, 10-12 pt type)."""
    return {
        "config": {
            "background": "white",
            "font": FONT,
            "view": {"continuousWidth": 560, "continuousHeight": 260, "stroke": None},
            "title": {"fontSize": 14, "fontWeight": 600, "color": INK, "anchor": "start", "offset": 10},
            "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": 500, "labelColor": INK,
                     "titleColor": INK, "gridColor": GRID, "domainColor": "#999999", "tickColor": "#999999"},
            "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom", "symbolType": "stroke"},
            "range": {"category": PALETTE},
            "line": {"strokeWidth": 2},
            "bar": {"color": PALETTE[0]},
            "point": {"filled": True, "size": 40},
        }
    }


@alt.theme.register(THEME_NAME, enable=False)
def _quant_theme() -> alt.theme.ThemeConfig:
    return house_theme()  # type: ignore[return-value]


def use_theme() -> None:
    """Enable the house theme for charts created from now on."""
    alt.theme.enable(THEME_NAME)


def use_svg(theme: bool = True) -> None:
    """Render charts as inline SVG (vl-convert) and, by default, enable the house theme.

    Call once at the top of a report notebook or app. The output bundle is then only
    ``image/svg+xml``: no script tag, nothing fetched from the network.
    """
    alt.renderers.enable("svg")
    if theme:
        use_theme()
