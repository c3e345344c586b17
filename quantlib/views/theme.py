"""The house look of every chart: readable type, a muted palette, sizes that print.

Charts render as inline SVG through vl-convert (no Vega JavaScript, no CDN), which is what
the HTML and PDF reports embed and what keeps widget outputs small in Voila apps.
"""

from __future__ import annotations

import altair as alt

__all__ = ["FONT", "PALETTE", "REPORT_RENDERER", "THEME_NAME", "house_theme", "use_svg", "use_theme"]

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


#: The renderer of report notebooks: the static SVG and the chart's Vega-Lite spec.
REPORT_RENDERER = "quant"


def _svg_and_spec(spec: dict, **metadata) -> dict:
    """A chart's output bundle: ``image/svg+xml`` (vl-convert) plus its Vega-Lite spec.

    Jupyter front ends that render Vega-Lite themselves show the spec; the report's PDF and
    any front end without Vega show the SVG; the HTML report draws the spec interactive over
    the SVG with the Vega it embeds (:mod:`quantlib.publish.interactive`).
    """
    from altair.utils.mimebundle import spec_to_mimebundle

    # The SVG exactly as Altair's own "svg" renderer makes it (same Vega-Lite version, fonts).
    bundle = spec_to_mimebundle(spec, format="svg", mode="vega-lite", **metadata)
    svg = bundle[0] if isinstance(bundle, tuple) else bundle
    mimetype = f"application/vnd.vegalite.v{alt.SCHEMA_VERSION.lstrip('v').split('.')[0]}+json"
    return {**svg, mimetype: spec, "text/plain": "<Chart>"}


alt.renderers.register(REPORT_RENDERER, _svg_and_spec)


def use_svg(theme: bool = True, interactive: bool = True) -> None:
    """Render charts as inline SVG (vl-convert) and, by default, enable the house theme.

    Call once at the top of a report notebook. Nothing is fetched from the network: the
    output holds the SVG and, with ``interactive`` (the default), the chart's Vega-Lite spec,
    which the HTML report draws with tooltips, zoom and legend filtering (the PDF keeps the
    SVG). ``interactive=False``: only ``image/svg+xml``.
    """
    alt.renderers.enable(REPORT_RENDERER if interactive else "svg")
    if theme:
        use_theme()
