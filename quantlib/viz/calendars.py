"""Calendar heatmaps: a value per day laid out as weeks (columns) by weekdays (rows)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from quantlib.viz._style import MONEY, SEQUENTIAL, inline_values, require_columns

__all__ = ["WEEKDAYS", "calendar_heatmap", "calendar_layout"]

#: Row order of the calendar (weeks start on Monday, as the business week does).
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def calendar_layout(daily: pd.DataFrame, date: str = "date", value: str = "revenue",
                    facet: str | None = "service_line") -> pd.DataFrame:
    """One row per day and facet, every day of the range present, with its week and weekday.

    Parameters
    ----------
    daily : DataFrame
        A value per day (and facet); several rows of the same day and facet are summed.
    date, value, facet : str
        Column names; ``facet=None`` for a single calendar.

    Returns
    -------
    DataFrame
        ``facet`` (when given), ``date`` (datetime), ``value`` (0 on days without a row),
        ``week`` (the Monday of the day's week), ``week_end`` (the next Monday) and
        ``weekday`` (``Mon`` .. ``Sun``).
    """
    keys = [facet] if facet else []
    require_columns(daily, [date, value, *keys], "daily")
    frame = daily[[*keys, date, value]].copy()
    frame[date] = pd.to_datetime(frame[date]).dt.normalize()
    frame = frame.groupby([*keys, date], as_index=False, observed=True)[value].sum()
    # Days without a row are days with nothing: show them as zero rather than as holes.
    days = pd.date_range(frame[date].min(), frame[date].max(), freq="D", name=date)
    if keys:
        grid = pd.MultiIndex.from_product([frame[facet].unique(), days], names=[facet, date])
        frame = frame.set_index([facet, date]).reindex(grid, fill_value=0).reset_index()
    else:
        frame = frame.set_index(date).reindex(days, fill_value=0).reset_index()
    frame["week"] = frame[date] - pd.to_timedelta(frame[date].dt.weekday, unit="D")
    frame["week_end"] = frame["week"] + pd.Timedelta(days=7)
    frame["weekday"] = pd.Categorical.from_codes(frame[date].dt.weekday, WEEKDAYS)
    return frame


def calendar_heatmap(daily: pd.DataFrame, date: str = "date", value: str = "revenue",
                     facet: str | None = "service_line", *, title: str = "Daily revenue by service line",
                     value_title: str = "Revenue", value_format: str = MONEY, width: int = 640,
                     cell: int = 11) -> alt.Chart | alt.FacetChart:
    """A GitHub-style calendar of a daily value: week columns, weekday rows, colour the value.

    Parameters
    ----------
    daily : DataFrame
        A value per day and facet, e.g. gold's ``daily_revenue`` (``date, service_line,
        revenue``). Missing days count as zero.
    date, value : str
        The day and value columns.
    facet : str or None
        One row of calendars per value of this column (``None``: one calendar).
    title, value_title, value_format : str
        Chart title, the value's name in legend and tooltip, its d3 format.
    width : int
        Width of each calendar in pixels (the weeks share it).
    cell : int
        Height of a weekday row in pixels.

    Returns
    -------
    alt.Chart or alt.FacetChart
        ``rect`` marks with tooltips (day, weekday, value); faceted by row when ``facet`` is given.
    """
    frame = calendar_layout(daily, date, value, facet)
    tooltip = [alt.Tooltip(f"{date}:T", title="Day", format="%a %d %b %Y"),
               alt.Tooltip(f"{value}:Q", title=value_title, format=value_format)]
    if facet:
        tooltip.insert(0, alt.Tooltip(f"{facet}:N", title=facet.replace("_", " ").capitalize()))
    chart = alt.Chart(inline_values(frame)).mark_rect(stroke="white", strokeWidth=0.5).encode(
        x=alt.X("week:T", title=None, axis=alt.Axis(format="%b %Y", grid=False, domain=False, ticks=False)),
        x2="week_end:T",
        y=alt.Y("weekday:O", sort=WEEKDAYS, title=None, axis=alt.Axis(domain=False, ticks=False)),
        color=alt.Color(f"{value}:Q", title=value_title, scale=alt.Scale(range=SEQUENTIAL[:3]),
                        legend=alt.Legend(format=value_format, orient="bottom", gradientLength=240)),
        tooltip=tooltip,
    ).properties(width=width, height=cell * len(WEEKDAYS))
    if not facet:
        return chart.properties(title=title)
    return chart.facet(row=alt.Row(f"{facet}:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left",
                                                                               labelFontWeight=600)),
                       title=title, spacing=12)
