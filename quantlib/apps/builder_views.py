"""The chart builder's specification views: the templates no shelf can express.

The specification's templates ask for cohorts and retention curves (customer analysis), a
waterfall, a variance view and a forecast view (financial dashboard) next to rankings and trends.
Those are not one grouped query of the builder's catalogue, so each is a named view here: the
engine that computes it (:func:`quantlib.customers.cohorts.cohort_retention`, the report views'
revenue bridge, the latest recorded forecast) and the :mod:`quantlib.viz` chart that draws it,
dated by the builder's "To" date (default the warehouse's). They are drawn and exported like any
chart; saving is for shelf charts (a view is already saved: by its name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd

from quantlib.data.gold import gold_as_of
from quantlib.errors import QuantError

__all__ = ["SPEC_VIEWS", "SpecView", "ViewUnavailable", "draw_view"]


class ViewUnavailable(QuantError, ValueError):
    """A view has nothing to draw yet (e.g. no forecast recorded); the message says what is missing."""


@dataclass(frozen=True)
class SpecView:
    """A named view: its title and how to draw it from gold at a date."""

    title: str
    draw: Callable[..., tuple[alt.TopLevelMixin, pd.DataFrame]]


def _report(con, gold: Path, day: dt.date):
    from quantlib.kpi.views.report import ReportContext

    return ReportContext(con=con, gold=Path(gold), as_of=day, company="", data_start=day)


def _revenue_bridge(con, gold, day, ops_store=None):
    from quantlib.kpi.views.report import revenue_bridge
    from quantlib.viz import waterfall

    steps = revenue_bridge(_report(con, gold, day))
    return waterfall(steps, total_label="This month to date", opening=True, value_title="Revenue",
                     title=f"Revenue bridge: same days last month to {day:%d %b %Y}"), steps


def _variance(con, gold, day, ops_store=None):
    from quantlib.kpi.views.report import revenue_against_last_year
    from quantlib.viz import variance_chart

    frame = revenue_against_last_year(_report(con, gold, day))
    return variance_chart(frame, title=f"Revenue by service line, month to {day:%d %b %Y}, against last year",
                          value_title="Revenue, this year − last year"), frame


def _cohorts(con, gold, day, ops_store=None):
    from quantlib.customers.cohorts import cohort_retention
    from quantlib.viz import cohort_heatmap

    frame = cohort_retention(con, day, periods=12, cohorts=12)
    return cohort_heatmap(frame, title=f"Retention by first-job cohort, months ended by {day:%d %b %Y}"), frame


def _curves(con, gold, day, ops_store=None):
    from quantlib.customers.cohorts import cohort_retention
    from quantlib.viz import retention_curves

    frame = cohort_retention(con, day, periods=12, cohorts=12)
    return retention_curves(frame, title=f"Retention curves by first-job cohort to {day:%d %b %Y}"), frame


def _forecast(con, gold, day, ops_store=None):
    """The latest recorded revenue forecast (30/90/365 days: likely, 80 % interval) against the same
    days a year before it."""
    from quantlib.alerts.views import read_only_store
    from quantlib.data.opstore import latest_prediction_run

    with read_only_store(ops_store) as ops:
        run = latest_prediction_run(ops, "revenue_forecast", "revenue", "all")
    if run.empty:
        raise ViewUnavailable("no revenue forecast recorded yet: the scheduled revenue_forecast report records one")
    rows = []
    for r in run.itertuples(index=False):
        start, end = pd.Timestamp(r.target_start), pd.Timestamp(r.target_end)
        before = con.execute("SELECT coalesce(sum(revenue), 0) FROM daily_revenue WHERE date BETWEEN ? AND ?",
                             [(start - pd.DateOffset(years=1)).date(), (end - pd.DateOffset(years=1)).date()]
                             ).fetchone()[0]
        rows.append({"horizon": f"next {(end - start).days + 1} days", "likely": r.value, "worst": r.lo_80,
                     "best": r.hi_80, "last_year": float(before)})
    frame = pd.DataFrame(rows)
    as_of = pd.Timestamp(run["as_of"].iloc[0])
    order = frame["horizon"].tolist()
    x = alt.X("horizon:N", sort=order, title=None, axis=alt.Axis(labelAngle=0))
    money = alt.Axis(format="$,.0f")
    tips = [alt.Tooltip("horizon:N"), alt.Tooltip("worst:Q", format="$,.0f"),
            alt.Tooltip("likely:Q", format="$,.0f"), alt.Tooltip("best:Q", format="$,.0f"),
            alt.Tooltip("last_year:Q", title="same days last year", format="$,.0f")]
    base = alt.Chart(frame).encode(x=x)
    bars = base.mark_bar(width={"band": 0.5}, color="#4c78a8").encode(
        y=alt.Y("likely:Q", title="Revenue", axis=money), tooltip=tips)
    band = base.mark_rule(color="#333333", strokeWidth=1.5).encode(y="worst:Q", y2="best:Q")
    last_year = base.mark_tick(color="#e45756", thickness=3, size=40).encode(y="last_year:Q", tooltip=tips)
    chart = alt.layer(bars, band, last_year, title=alt.Title(
        f"Revenue forecast of {as_of:%d %b %Y}", subtitle="bars: likely, lines: 80 % interval, red: same days "
                                                           "last year")).properties(width=420, height=260)
    return chart, frame


#: The views, by the name the template list shows.
SPEC_VIEWS: dict[str, SpecView] = {
    "Customer analysis: cohort retention (view)": SpecView("Cohort retention", _cohorts),
    "Customer analysis: retention curves (view)": SpecView("Retention curves", _curves),
    "Financial dashboard: revenue bridge, waterfall (view)": SpecView("Revenue bridge", _revenue_bridge),
    "Financial dashboard: variance against last year (view)": SpecView("Revenue variance", _variance),
    "Financial dashboard: revenue forecast (view)": SpecView("Revenue forecast", _forecast),
}


def draw_view(name: str, con, gold, day: dt.date | None = None, ops_store=None):
    """Draw view ``name`` at ``day`` (default gold's date): ``(title, Altair chart, its data)``.

    Raises
    ------
    KeyError
        Unknown view.
    ViewUnavailable
        The view has nothing to draw yet.
    """
    view = SPEC_VIEWS[name]
    day = day or gold_as_of(con)
    chart, frame = view.draw(con, gold, day, ops_store=ops_store)
    return view.title, chart, frame
