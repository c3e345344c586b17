"""Cohort charts: the retention triangle as a heatmap and as curves.

Both take :func:`quantlib.customers.cohorts.cohort_retention`'s long table
(``cohort, period, customers, active, retention``).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from quantlib.viz._style import INK, SEQUENTIAL, require_columns

__all__ = ["cohort_heatmap", "retention_curves", "weighted_retention"]

_COLUMNS = ["cohort", "period", "customers", "active", "retention"]


def _with_cohort_label(retention: pd.DataFrame) -> pd.DataFrame:
    require_columns(retention, _COLUMNS, "retention")
    data = retention[_COLUMNS].copy()
    data["cohort"] = pd.to_datetime(data["cohort"])
    data["cohort_label"] = data["cohort"].dt.strftime("%b %Y")
    return data


def weighted_retention(retention: pd.DataFrame) -> pd.DataFrame:
    """All cohorts together per period: ``period, customers, active, retention`` (``sum active / sum customers``).

    Only cohorts that have reached a period count in it, so a young cohort does not pull an
    old period's average down.
    """
    require_columns(retention, ["period", "customers", "active"], "retention")
    pooled = retention.groupby("period", as_index=False)[["customers", "active"]].sum()
    pooled["retention"] = pooled["active"] / pooled["customers"].where(pooled["customers"] > 0)
    return pooled


def cohort_heatmap(retention: pd.DataFrame, *, title: str = "Retention by first-job cohort",
                   period_title: str = "Months since first job", show_values: bool = True, cell: int = 20,
                   width: int | None = None) -> alt.LayerChart:
    """A cohort (rows) x period (columns) heatmap of retention, the values printed in the cells.

    Parameters
    ----------
    retention : DataFrame
        :func:`~quantlib.customers.cohorts.cohort_retention`'s output.
    title, period_title : str
        Chart title and the period axis' title (say ``"Quarters since first job"`` for quarters).
    show_values : bool
        Print each cell's retention in it.
    cell : int
        Row height in pixels (the cohort axis' step).
    width : int, optional
        Plot width; default 36 pixels per period.

    Returns
    -------
    alt.LayerChart
        ``rect`` marks coloured by retention with tooltips (cohort, period, size, active,
        retention) and, with ``show_values``, ``text`` marks. Period 0 (100 % by definition)
        is shown but left out of the colour scale's domain so the later periods get its range.
    """
    data = _with_cohort_label(retention)
    cohorts = data.drop_duplicates("cohort").sort_values("cohort")
    # Period 0 is always 100 %: scale colours on the later periods, which carry the information.
    later = data.loc[data["period"] > 0, "retention"]
    top = float(later.max()) if len(later) and later.max() > 0 else 1.0
    color_scale = alt.Scale(domain=[0, top], range=SEQUENTIAL[:3], clamp=True)
    y = alt.Y("cohort_label:O", sort=cohorts["cohort_label"].tolist(), title="First-job cohort",
              axis=alt.Axis(domain=False, ticks=False))
    x = alt.X("period:O", title=period_title, axis=alt.Axis(labelAngle=0, domain=False, ticks=False))
    base = alt.Chart(data).encode(x=x, y=y)
    cells = base.mark_rect(stroke="white", strokeWidth=0.5).encode(
        color=alt.Color("retention:Q", scale=color_scale, title="Retention",
                        legend=alt.Legend(format=".0%", gradientLength=200)),
        tooltip=[alt.Tooltip("cohort:T", title="Cohort", format="%b %Y"),
                 alt.Tooltip("period:O", title="Period"), alt.Tooltip("customers:Q", title="Cohort size",
                                                                      format=",.0f"),
                 alt.Tooltip("active:Q", title="Active", format=",.0f"),
                 alt.Tooltip("retention:Q", title="Retention", format=".1%")],
    )
    layers = [cells]
    if show_values:
        # Dark cells get white text; the threshold is half the colour scale.
        layers.append(base.mark_text(fontSize=9).encode(
            text=alt.Text("retention:Q", format=".0%"),
            color=alt.condition(f"datum.retention > {top / 2}", alt.value("white"), alt.value(INK))))
    periods = data["period"].nunique()
    return alt.layer(*layers, title=title).properties(width=width or max(36 * periods, 200),
                                                      height=alt.Step(cell))


def retention_curves(retention: pd.DataFrame, *, title: str = "Retention curves by first-job cohort",
                     period_title: str = "Months since first job", include_period_zero: bool = False,
                     width: int = 560, height: int = 280) -> alt.LayerChart:
    """A retention curve per cohort (older cohorts lighter) and the all-cohort curve in black.

    Parameters
    ----------
    retention : DataFrame
        :func:`~quantlib.customers.cohorts.cohort_retention`'s output.
    title, period_title : str
        Chart and x-axis titles.
    include_period_zero : bool
        Draw period 0 (always 100 %, which flattens the rest of the chart); default from period 1.
    width, height : int
        Plot size in pixels.

    Returns
    -------
    alt.LayerChart
        Thin lines per cohort coloured on a time scale, the pooled curve
        (:func:`weighted_retention`) with points and tooltips.
    """
    data = _with_cohort_label(retention)
    if not include_period_zero:
        data = data[data["period"] > 0]
    pooled = weighted_retention(data)
    pooled["series"] = "All cohorts"
    x = alt.X("period:Q", title=period_title, axis=alt.Axis(tickMinStep=1, format="d"))
    y = alt.Y("retention:Q", title="Customers with a completed job", axis=alt.Axis(format=".0%"))
    lines = alt.Chart(data).mark_line(strokeWidth=1, opacity=0.6).encode(
        x=x, y=y, detail="cohort_label:N",
        color=alt.Color("cohort:T", title="Cohort", scale=alt.Scale(range=SEQUENTIAL[1:]),
                        legend=alt.Legend(format="%b %Y", gradientLength=200)),
        tooltip=[alt.Tooltip("cohort:T", title="Cohort", format="%b %Y"), alt.Tooltip("period:Q", title="Period"),
                 alt.Tooltip("retention:Q", title="Retention", format=".1%"),
                 alt.Tooltip("customers:Q", title="Cohort size", format=",.0f")],
    )
    average = alt.Chart(pooled).mark_line(color="#111111", strokeWidth=3, point=alt.OverlayMarkDef(
        color="#111111", size=30)).encode(
        x=x, y=y,
        tooltip=[alt.Tooltip("series:N", title="Curve"), alt.Tooltip("period:Q", title="Period"),
                 alt.Tooltip("retention:Q", title="Retention", format=".1%"),
                 alt.Tooltip("customers:Q", title="Customers", format=",.0f")],
    )
    return alt.layer(lines, average, title=alt.Title(title, subtitle="Black: all cohorts together")).properties(
        width=width, height=height)
