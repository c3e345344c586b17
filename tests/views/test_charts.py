"""Chart builders and the SVG renderer: what reports and apps embed."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from quantlib.views import PALETTE, bar_chart, house_theme, kpi_vs_target_chart, line_chart, use_svg


@pytest.fixture
def svg_renderer():
    before_renderer, before_theme = alt.renderers.active, alt.theme.active
    use_svg()
    yield
    alt.renderers.enable(before_renderer)
    alt.theme.enable(before_theme)


@pytest.fixture
def monthly():
    return pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=6, freq="MS"),
                         "y": [10.0, 12, 11, 15, 14, 18], "target": 13.0,
                         "line": ["HVAC", "HVAC", "HVAC", "Plumbing", "Plumbing", "Plumbing"]})


def _svg(chart) -> str:
    bundle = chart._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    # The SVG and the spec the HTML report draws live; no Vega JS, no HTML with <script>.
    assert set(bundle) == {"image/svg+xml", f"application/vnd.vegalite.v{alt.SCHEMA_VERSION[1]}+json", "text/plain"}
    return bundle["image/svg+xml"]


def test_use_svg_without_interactivity_is_the_svg_alone(monthly):
    before_renderer, before_theme = alt.renderers.active, alt.theme.active
    use_svg(interactive=False)
    try:
        bundle = line_chart(monthly, "ds", "y")._repr_mimebundle_()
        assert set(bundle[0] if isinstance(bundle, tuple) else bundle) == {"image/svg+xml"}
    finally:
        alt.renderers.enable(before_renderer)
        alt.theme.enable(before_theme)


def test_use_svg_gives_inline_svg_with_house_theme(svg_renderer, monthly):
    svg = _svg(line_chart(monthly, "ds", "y", color="line", title="Revenue by line"))
    assert svg.startswith("<svg") and "Revenue by line" in svg and "<script" not in svg
    assert PALETTE[0] in svg  # the house palette, not Vega's default blue
    assert alt.theme.active == "quant"


def test_line_chart_encodings(monthly):
    spec = line_chart(monthly, "ds", "y", color="line", y_format="$,.0f").to_dict()
    enc = spec["encoding"]
    assert enc["x"]["type"] == "temporal" and enc["y"]["type"] == "quantitative"
    assert enc["color"]["field"] == "line" and enc["y"]["axis"]["format"] == "$,.0f"


def test_bar_chart_horizontal_sorted(monthly):
    spec = bar_chart(monthly, "line", "y", horizontal=True).to_dict()
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["y"]["field"] == "line" and spec["encoding"]["y"]["sort"] == "-x"
    assert spec["encoding"]["x"]["type"] == "quantitative"


def test_kpi_vs_target_has_actual_average_and_target(svg_renderer, monthly):
    chart = kpi_vs_target_chart(monthly, window=3, title="Revenue vs target")
    data = chart.data if chart.data is not alt.Undefined else chart.layer[0].data
    series = set(data["series"])
    assert series == {"Actual", "3-period average", "Target"}
    ma = data[data["series"] == "3-period average"]["value"].tolist()
    assert ma[2] == pytest.approx((10 + 12 + 11) / 3) and ma[0] == 10
    svg = _svg(chart)
    assert "Revenue vs target" in svg and "3-period average" in svg  # legend drawn


def test_kpi_without_target(monthly):
    chart = kpi_vs_target_chart(monthly.drop(columns="target"), target="target")
    data = chart.data if chart.data is not alt.Undefined else chart.layer[0].data
    assert set(data["series"]) == {"Actual", "3-period average"}


def test_house_theme_is_print_friendly():
    cfg = house_theme()["config"]
    assert cfg["background"] == "white" and cfg["axis"]["labelFontSize"] >= 10
    assert cfg["view"]["continuousWidth"] <= 600  # fits an A4 text column
