"""Profitability matrix: where each kind of job sits on effort against margin.

A bubble per job type (and service line): x its complexity (mean labour hours), y its gross
margin, size its revenue. Median lines split the plane into four quadrants, named for what a
manager does about them.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from quantlib.data.gold import open_gold
from quantlib.viz._style import (
    FAVOURABLE,
    INK,
    MONEY,
    MUTED,
    PALETTE,
    UNFAVOURABLE,
    date_window,
    require_columns,
    tooltip_type,
)

__all__ = ["QUADRANTS", "job_type_profitability", "profitability_matrix", "profitability_quadrants"]

#: Quadrant names by (complexity above median, margin above median).
QUADRANTS: dict[tuple[bool, bool], str] = {
    (False, True): "Quick wins",     # little effort, high margin: sell more of these
    (True, True): "Stars",           # skilled work that pays for its hours
    (False, False): "Fillers",       # easy but thin: keep them cheap to run
    (True, False): "Margin drains",  # long jobs at thin margins: reprice or redesign
}


def job_type_profitability(con_or_lake, as_of=None, days: int = 365, months: int | None = None) -> pd.DataFrame:
    """Completed jobs of the last ``days`` days per job type and service line: effort, margin, revenue.

    Parameters
    ----------
    con_or_lake : connection, report context, Lake or path
        Gold (anything :func:`~quantlib.data.gold.open_gold` takes).
    as_of : date-like, optional
        The window's last day; default gold's as-of date.
    days : int
        The window's length in days (``as_of`` included).
    months : int, optional
        Instead of ``days``: the calendar months back from ``as_of`` (a report's ``months``).

    Returns
    -------
    DataFrame
        ``job_type, service_line, jobs, labor_hours`` (mean labour hours per job), ``margin``
        (gross margin ratio, ``sum(gross_profit) / sum(revenue)``; NaN without revenue),
        ``revenue`` (sum), ``gross_profit`` (sum); largest revenue first. ``attrs``: ``start``,
        ``end``.
    """
    if days < 1 or (months is not None and months < 1):  # before opening anything
        raise ValueError(f"days and months must be at least 1, got days={days}, months={months}")
    with open_gold(con_or_lake) as con:
        if months is not None:
            _, last = date_window(con, as_of, 1)
            days = (pd.Timestamp(last) - (pd.Timestamp(last) - pd.DateOffset(months=months))).days
        start, end = date_window(con, as_of, days)
        frame = con.execute(
            """SELECT job_type, service_line, count(*) AS jobs, avg(labor_hours) AS labor_hours,
                      sum(gross_profit) / nullif(sum(revenue), 0) AS margin,
                      sum(revenue) AS revenue, sum(gross_profit) AS gross_profit
               FROM job_facts
               WHERE is_completed AND completed_date BETWEEN $start AND $end
               GROUP BY job_type, service_line
               ORDER BY revenue DESC, job_type, service_line""", {"start": start, "end": end}).df()
    frame.attrs.update(start=start, end=end)
    return frame


def profitability_quadrants(jobs: pd.DataFrame, complexity: str = "labor_hours",
                            margin: str = "margin") -> pd.DataFrame:
    """``jobs`` with a ``quadrant`` column: :data:`QUADRANTS` by the position against the medians.

    A point on a median counts as below it. ``attrs``: ``complexity_median``, ``margin_median``.
    """
    require_columns(jobs, [complexity, margin], "jobs")
    x_median, y_median = float(jobs[complexity].median()), float(jobs[margin].median())
    out = jobs.copy()
    out["quadrant"] = [QUADRANTS[(bool(x > x_median), bool(y > y_median))]
                       for x, y in zip(out[complexity], out[margin])]
    out.attrs.update(complexity_median=x_median, margin_median=y_median)
    return out


def profitability_matrix(jobs: pd.DataFrame, complexity: str = "labor_hours", margin: str = "margin",
                         revenue: str = "revenue", label: str = "job_type", color: str | None = "service_line", *,
                         title: str = "Job profitability: effort against margin",
                         complexity_title: str = "Mean labour hours per job", margin_title: str = "Gross margin",
                         width: int = 560, height: int = 360) -> alt.LayerChart:
    """A bubble chart of job kinds, split into four named quadrants at the medians.

    Parameters
    ----------
    jobs : DataFrame
        One row per kind of job, e.g. :func:`job_type_profitability`.
    complexity, margin, revenue, label : str
        Columns of the x (effort), y (margin ratio), bubble size and the bubble's label.
    color : str or None
        Colour the bubbles by this column (default the service line); ``None`` for one colour.
    title, complexity_title, margin_title : str
        Chart and axis titles.
    width, height : int
        Plot size in pixels.

    Returns
    -------
    alt.LayerChart
        Bubbles with labels and tooltips, dashed median rules and the quadrants' names in their
        corners (:data:`QUADRANTS`).
    """
    columns = [complexity, margin, revenue, label] + ([color] if color else [])
    require_columns(jobs, columns, "jobs")
    data = profitability_quadrants(jobs.dropna(subset=[complexity, margin]), complexity, margin)
    x_median, y_median = data.attrs["complexity_median"], data.attrs["margin_median"]
    x_scale = alt.Scale(zero=False, padding=24)
    y_scale = alt.Scale(zero=False, padding=24)
    x = alt.X(f"{complexity}:Q", title=complexity_title, scale=x_scale)
    y = alt.Y(f"{margin}:Q", title=margin_title, scale=y_scale, axis=alt.Axis(format=".0%"))

    tooltip = [alt.Tooltip(f"{c}:{tooltip_type(data, c)}") for c in dict.fromkeys([label] + ([color] if color else []))]
    tooltip += [alt.Tooltip(f"{complexity}:Q", title=complexity_title, format=",.1f"),
                alt.Tooltip(f"{margin}:Q", title=margin_title, format=".1%"),
                alt.Tooltip(f"{revenue}:Q", title="Revenue", format=MONEY),
                alt.Tooltip("quadrant:N", title="Quadrant")]
    if "jobs" in data.columns and "jobs" not in columns:
        tooltip.insert(-1, alt.Tooltip("jobs:Q", title="Jobs", format=",.0f"))
    bubbles = alt.Chart(data).mark_circle(opacity=0.75, stroke="white", strokeWidth=1).encode(
        x=x, y=y,
        size=alt.Size(f"{revenue}:Q", title="Revenue", scale=alt.Scale(range=[40, 1600]),
                      legend=alt.Legend(format="$~s", symbolType="circle")),
        color=(alt.Color(f"{color}:N", title=color.replace("_", " ").capitalize(),
                         legend=alt.Legend(symbolType="circle")) if color else alt.value(PALETTE[0])),
        # Big bubbles first, so the small ones stay visible on top of them.
        order=alt.Order(f"{revenue}:Q", sort="descending"),
        tooltip=tooltip,
    )
    names = bubbles.mark_text(align="left", dx=7, dy=-7, fontSize=10, color=INK).encode(
        text=f"{label}:N", size=alt.value(10), color=alt.value(INK))
    medians = pd.DataFrame({"x_median": [x_median], "y_median": [y_median]})
    rule = {"strokeDash": [4, 4], "color": MUTED}
    x_rule = alt.Chart(medians).mark_rule(**rule).encode(x=alt.X("x_median:Q", scale=x_scale))
    y_rule = alt.Chart(medians).mark_rule(**rule).encode(y=alt.Y("y_median:Q", scale=y_scale))

    # Quadrant names pinned to the plot's corners (pixel positions), whatever the data's range.
    corners = pd.DataFrame([
        {"quadrant": QUADRANTS[(False, True)], "px": 6, "py": 6, "align": "left", "baseline": "top",
         "tone": FAVOURABLE},
        {"quadrant": QUADRANTS[(True, True)], "px": width - 6, "py": 6, "align": "right", "baseline": "top",
         "tone": FAVOURABLE},
        {"quadrant": QUADRANTS[(False, False)], "px": 6, "py": height - 6, "align": "left", "baseline": "bottom",
         "tone": INK},
        {"quadrant": QUADRANTS[(True, False)], "px": width - 6, "py": height - 6, "align": "right",
         "baseline": "bottom", "tone": UNFAVOURABLE},
    ])
    quadrant_names = [
        alt.Chart(corners.iloc[[i]]).mark_text(align=row.align, baseline=row.baseline, fontSize=12, fontWeight=600,
                                               opacity=0.8).encode(
            x=alt.X("px:Q", scale=None, axis=None), y=alt.Y("py:Q", scale=None, axis=None), text="quadrant:N",
            color=alt.Color("tone:N", scale=None))
        for i, row in enumerate(corners.itertuples())
    ]
    chart = alt.layer(x_rule, y_rule, *quadrant_names, bubbles, names, title=title)
    return chart.properties(width=width, height=height)
