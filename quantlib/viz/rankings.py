"""Rankings: the top items by a value, and how items' ranks move over periods (a bump chart)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from quantlib.viz._style import INK, MONEY, NEUTRAL, require_columns, tooltip_type

__all__ = ["bump_chart", "ranking_chart", "ranks_by_period", "top_items"]


def top_items(frame: pd.DataFrame, item: str, value: str, top: int = 10) -> pd.DataFrame:
    """The ``top`` items by ``value`` (summed per item), largest first, with their ``rank`` (1 = largest).

    Ties keep the items' first appearance order.
    """
    require_columns(frame, [item, value], "frame")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    totals = frame.groupby(item, as_index=False, sort=False)[value].sum()
    totals = totals.sort_values(value, ascending=False, kind="stable").head(top).reset_index(drop=True)
    totals["rank"] = range(1, len(totals) + 1)
    return totals


def _room_for_labels(values: pd.Series, share: float = 0.15) -> alt.Scale:
    """A value scale from zero with ``share`` of its range left free beyond the largest bar for its label."""
    low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
    return alt.Scale(domain=[low, high + share * (high - low or 1.0)], nice=False)


def ranking_chart(frame: pd.DataFrame, item: str, value: str, top: int = 10, *, title: str = "",
                  value_title: str | None = None, value_format: str = MONEY, width: int = 480,
                  bar_height: int = 22) -> alt.LayerChart:
    """Horizontal bars of the ``top`` items by ``value``, largest on top, each labelled with its value.

    Parameters
    ----------
    frame : DataFrame
        Rows with an ``item`` and a ``value`` (several rows of an item are summed).
    item, value : str
        Column names.
    top : int
        How many items to show.
    title, value_title, value_format : str
        Chart title, value axis title (default the column name) and d3 number format.
    width, bar_height : int
        Plot width and the height of one bar's row, in pixels.

    Returns
    -------
    alt.LayerChart
    """
    data = top_items(frame, item, value, top)
    y = alt.Y(f"{item}:N", sort=data[item].astype(str).tolist(), title=None,
              axis=alt.Axis(labelLimit=180, ticks=False, domain=False))
    x = alt.X(f"{value}:Q", title=value_title if value_title is not None else value.replace("_", " ").capitalize(),
              axis=alt.Axis(format=value_format), scale=_room_for_labels(data[value]))
    base = alt.Chart(data).encode(x=x, y=y)
    bars = base.mark_bar(color=NEUTRAL).encode(
        tooltip=[alt.Tooltip("rank:Q", title="Rank"), alt.Tooltip(f"{item}:{tooltip_type(data, item)}"),
                 alt.Tooltip(f"{value}:Q", format=value_format)])
    labels = base.mark_text(align="left", dx=4, fontSize=10, color=INK).encode(
        text=alt.Text(f"{value}:Q", format=value_format))
    return alt.layer(bars, labels, title=title).properties(width=width, height=alt.Step(bar_height))


def ranks_by_period(frame: pd.DataFrame, period: str, item: str, value: str, top: int = 10) -> pd.DataFrame:
    """Each item's rank (1 = largest ``value``) in every period, for the ``top`` items of the last period.

    Ranks are taken among all items of a period (so a top item can fall below ``top`` earlier
    on); ties share the lowest rank (``method="min"``). Periods where an item has no row are
    left out for it.

    Returns
    -------
    DataFrame
        ``period, item, value, rank`` sorted by period then rank; ``attrs["items"]`` lists the
        items shown in the last period's rank order.
    """
    require_columns(frame, [period, item, value], "frame")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    totals = frame.groupby([period, item], as_index=False)[value].sum()
    totals["rank"] = totals.groupby(period)[value].rank(ascending=False, method="min").astype(int)
    last = totals[totals[period] == totals[period].max()].sort_values(["rank", item])
    items = last[item].head(top).tolist()
    ranks = totals[totals[item].isin(items)].sort_values([period, "rank"], ignore_index=True)
    ranks.attrs["items"] = items
    return ranks


def bump_chart(frame: pd.DataFrame, period: str, item: str, value: str, top: int = 10, *, title: str = "",
               value_format: str = MONEY, width: int = 560, height: int | None = None) -> alt.LayerChart:
    """Rank over periods, a line per item: the ``top`` items of the last period and their paths there.

    Parameters
    ----------
    frame : DataFrame
        Rows with a ``period`` (dates or ordered labels), an ``item`` and a ``value``.
    period, item, value : str
        Column names.
    top : int
        How many items (the last period's best) to draw.
    title, value_format : str
        Chart title and the value's d3 format in tooltips.
    width, height : int
        Plot size in pixels; default height 28 pixels per rank shown.

    Returns
    -------
    alt.LayerChart
        Lines with points (rank 1 at the top) and each item's name at its last point.
    """
    data = ranks_by_period(frame, period, item, value, top)
    kind = tooltip_type(data, period)
    if kind == "T":
        # One labelled tick per period (a time axis picks its own ticks: weeks labelled by month repeat);
        # weekly or daily periods need the day, monthly and longer only the month.
        dates = pd.to_datetime(data[period])
        steps = pd.Series(sorted(dates.unique())).diff().dropna()
        short = len(steps) > 0 and steps.median() < pd.Timedelta(days=28)
        data = data.assign(period_label=dates.dt.strftime("%d %b" if short else "%b %Y"))
        order = list(dict.fromkeys(data.sort_values(period)["period_label"]))
        x = alt.X("period_label:O", sort=order, title=None, axis=alt.Axis(labelAngle=0))
        x_tooltip = alt.Tooltip("period_label:O", title=period)
    else:
        x = alt.X(period, type="quantitative" if kind == "Q" else "ordinal", title=None,
                  axis=alt.Axis(labelAngle=0))
        x_tooltip = alt.Tooltip(period, type="quantitative" if kind == "Q" else "ordinal")
    worst = int(data["rank"].max()) if len(data) else top
    y = alt.Y("rank:Q", title="Rank", scale=alt.Scale(domain=[worst + 0.5, 0.5], nice=False),
              axis=alt.Axis(values=list(range(1, worst + 1)), format="d", grid=False))
    items = data.attrs["items"]
    color = alt.Color(f"{item}:N", sort=items, legend=None)
    base = alt.Chart(data).encode(x=x, y=y, color=color)
    lines = base.mark_line(strokeWidth=2.5, point=alt.OverlayMarkDef(size=50, filled=True)).encode(
        tooltip=[alt.Tooltip(f"{item}:N"),
                 x_tooltip, alt.Tooltip("rank:Q", title="Rank"), alt.Tooltip(f"{value}:Q", format=value_format)])
    last = data[data[period] == data[period].max()]
    names = alt.Chart(last).mark_text(align="left", dx=8, fontSize=10).encode(
        x=x, y=y, color=color, text=f"{item}:N")
    return alt.layer(lines, names, title=title).properties(width=width, height=height or 28 * max(worst, 3))
