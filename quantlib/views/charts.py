"""Small, generic chart builders used by report notebooks and apps."""

from __future__ import annotations

import altair as alt
import pandas as pd

from quantlib.views.theme import PALETTE

__all__ = ["bar_chart", "kpi_vs_target_chart", "line_chart"]


def _type(df: pd.DataFrame, column: str) -> str:
    # Infer the Vega-Lite type from the dtype so callers pass plain column names.
    s = df[column]
    if pd.api.types.is_datetime64_any_dtype(s):
        return "temporal"
    if pd.api.types.is_numeric_dtype(s):
        return "quantitative"
    return "nominal"


def _enc(df: pd.DataFrame, column: str, title: str | None = None, **kw):
    return alt.Undefined if column is None else {"field": column, "type": _type(df, column),
                                                 "title": title if title is not None else column, **kw}


def line_chart(df: pd.DataFrame, x: str, y: str, color: str | None = None, *, title: str = "",
               y_title: str | None = None, y_format: str | None = None, width: int | None = None,
               height: int | None = None, points: bool = False) -> alt.Chart:
    """A line per ``color`` group of ``y`` over ``x``.

    Parameters
    ----------
    df : DataFrame
        Long format: one row per (x, color) point.
    x, y, color : str
        Column names; ``color`` optional.
    title, y_title, y_format : str
        Chart title, y-axis title, d3 number format (e.g. ``"$,.0f"``, ``".0%"``).
    """
    chart = alt.Chart(df, title=title).mark_line(point=points).encode(
        x=alt.X(**_enc(df, x)),
        y=alt.Y(**_enc(df, y, y_title, axis=alt.Axis(format=y_format) if y_format else alt.Undefined)),
    )
    if color is not None:
        chart = chart.encode(color=alt.Color(**_enc(df, color)))
    return chart.properties(**_size(width, height))


def bar_chart(df: pd.DataFrame, x: str, y: str, color: str | None = None, *, title: str = "",
              horizontal: bool = False, sort: str | None = "-y", y_title: str | None = None,
              y_format: str | None = None, width: int | None = None, height: int | None = None) -> alt.Chart:
    """Bars of ``y`` per ``x`` category (stacked by ``color`` when given).

    ``horizontal=True`` puts categories on the y axis, easier to read with long labels.
    ``sort="-y"`` orders bars by value, largest first; ``None`` keeps data order.
    """
    axis = alt.Axis(format=y_format) if y_format else alt.Undefined
    cat = _enc(df, x, sort=("-x" if horizontal and sort == "-y" else sort) if sort else None)
    val = _enc(df, y, y_title, axis=axis)
    if horizontal:
        chart = alt.Chart(df, title=title).mark_bar().encode(y=alt.Y(**cat), x=alt.X(**val))
    else:
        chart = alt.Chart(df, title=title).mark_bar().encode(x=alt.X(**cat), y=alt.Y(**val))
    if color is not None:
        chart = chart.encode(color=alt.Color(**_enc(df, color)))
    return chart.properties(**_size(width, height))


def kpi_vs_target_chart(series_df: pd.DataFrame, *, x: str = "ds", actual: str = "y", target: str | None = "target",
                        window: int = 3, title: str = "", y_title: str = "", y_format: str | None = None,
                        width: int | None = None, height: int | None = None) -> alt.LayerChart:
    """Actual values, their trailing moving average and the target line, one KPI.

    Parameters
    ----------
    series_df : DataFrame
        One row per period with columns ``x`` (date), ``actual`` and optionally ``target``
        (a constant or per-period target).
    window : int
        Periods in the trailing moving average.
    """
    df = series_df.sort_values(x).reset_index(drop=True)
    names = {"actual": "Actual", "ma": f"{window}-period average", "target": "Target"}
    long = pd.DataFrame({x: df[x], "value": df[actual], "series": names["actual"]})
    ma = pd.DataFrame({x: df[x], "value": df[actual].rolling(window, min_periods=1).mean(), "series": names["ma"]})
    parts = [long, ma]
    if target is not None and target in df:
        parts.append(pd.DataFrame({x: df[x], "value": df[target], "series": names["target"]}))
    data = pd.concat(parts, ignore_index=True)
    domain = [n for n in names.values() if n in set(data["series"])]
    colors = {names["actual"]: PALETTE[0], names["ma"]: PALETTE[1], names["target"]: "#888888"}
    dashes = {names["actual"]: [1, 0], names["ma"]: [1, 0], names["target"]: [6, 4]}
    axis = alt.Axis(format=y_format) if y_format else alt.Undefined
    base = alt.Chart(data, title=title).encode(
        x=alt.X(**_enc(data, x, "")),
        y=alt.Y("value:Q", title=y_title, axis=axis),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=domain, range=[colors[d] for d in domain])),
        strokeDash=alt.StrokeDash("series:N", title=None,
                                  scale=alt.Scale(domain=domain, range=[dashes[d] for d in domain])),
    )
    lines = base.mark_line()
    points = base.transform_filter(alt.datum.series == names["actual"]).mark_point(size=30)
    return alt.layer(lines, points).properties(**_size(width, height))


def _size(width: int | None, height: int | None) -> dict:
    return {k: v for k, v in {"width": width, "height": height}.items() if v is not None}
