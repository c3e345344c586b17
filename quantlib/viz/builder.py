"""Self-service charts: a chart described as data (:class:`ChartSpec`), queried in DuckDB on gold.

The specification's portal: a data source (work orders, customers, equipment, financials), a chart
type (bar, line, pie, scatter, heatmap, geographic), fields, a calculation (sum, average, count,
percentage of the total, growth rate) and filters (date range, service line, technician,
location). A spec names fields from a fixed catalogue per source (:data:`SOURCES`): the SQL is
assembled from those known expressions and every filter value is a bound parameter, so no text a
user types reaches SQL. The query aggregates in DuckDB and returns the few rows the chart needs;
no table is loaded into pandas.

>>> spec = ChartSpec(source="work_orders", chart="bar", x="service_line", y="revenue")
>>> frame = query(gold, spec); chart = build_chart(spec, frame)                 # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import altair as alt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantlib.views.theme import PALETTE
from quantlib.viz._style import MONEY, SEQUENTIAL

__all__ = ["AGGREGATES", "CHART_TYPES", "SOURCES", "ChartFilters", "ChartSpec", "Source", "build_chart", "query"]

CHART_TYPES = ("bar", "line", "pie", "scatter", "heatmap", "geographic")
AGGREGATES = ("sum", "average", "count", "percentage", "growth")


@dataclass(frozen=True)
class Measure:
    """A number a chart can show: its SQL over the source's rows, a label and a d3 format."""

    sql: str
    label: str
    format: str = ",.0f"


@dataclass(frozen=True)
class Source:
    """A data source of the builder: a gold table, its dimensions, measures and filter columns.

    ``dimensions`` and ``measures`` map field names to SQL expressions over ``table`` (alias ``t``);
    ``time_dimensions`` are those whose values are dates; ``filters`` maps the filter names
    (``service_line``, ``region``, ``technician``) to columns; ``location`` is the SQL of a
    customer id joined to ``customers`` for maps, or None.
    """

    label: str
    table: str
    date: str | None
    dimensions: dict[str, str]
    measures: dict[str, Measure]
    filters: dict[str, str]
    time_dimensions: tuple[str, ...] = ()
    location: str | None = None
    where: str = "TRUE"
    labels: dict[str, str] = field(default_factory=dict)


SOURCES: dict[str, Source] = {
    "work_orders": Source(
        "Work orders", "job_facts", "t.activity_date",
        dimensions={"month": "date_trunc('month', t.activity_date)::DATE",
                    "week": "date_trunc('week', t.activity_date)::DATE", "day": "t.activity_date",
                    "service_line": "t.service_line", "job_type": "t.job_type",
                    "region": "t.region", "technician": "t.technician_name", "urgency": "t.urgency",
                    "customer_type": "t.customer_type", "status": "t.status"},
        measures={"jobs": Measure("1", "Jobs"), "revenue": Measure("t.revenue", "Revenue", MONEY),
                  "gross_profit": Measure("t.gross_profit", "Gross profit", MONEY),
                  "labour_hours": Measure("t.labor_hours", "Labour hours", ",.1f"),
                  "travel_miles": Measure("t.travel_miles", "Travel miles", ",.0f"),
                  "rating": Measure("t.rating", "Rating (0-10)", ".2f")},
        filters={"service_line": "t.service_line", "region": "t.region", "technician": "t.technician_id"},
        time_dimensions=("month", "week", "day"), location="t.customer_id"),
    "customers": Source(
        "Customers", "customer_features", "t.first_job_date",
        dimensions={"first_month": "date_trunc('month', t.first_job_date)::DATE", "region": "t.region",
                    "customer_type": "t.customer_type", "acquisition_channel": "t.acquisition_channel",
                    "service_line": "t.primary_service_line"},
        measures={"customers": Measure("1", "Customers"),
                  "spend_365d": Measure("t.monetary_365d", "Spend, last 365 days", MONEY),
                  "jobs_365d": Measure("t.frequency_365d", "Jobs, last 365 days", ",.1f"),
                  "average_ticket": Measure("t.avg_ticket", "Average ticket", MONEY),
                  "churn_score": Measure("t.churn_score", "Churn score", ".2f"),
                  "days_to_pay": Measure("t.avg_days_to_pay", "Days to pay", ",.1f")},
        filters={"service_line": "t.primary_service_line", "region": "t.region"},
        time_dimensions=("first_month",), location="t.customer_id"),
    "equipment": Source(
        "Equipment", "equipment_kpis", None,
        dimensions={"kind": "t.kind", "service_line": "t.service_line", "region": "t.region", "unit": "t.name"},
        measures={"units": Measure("1", "Units"), "utilisation": Measure("t.utilisation", "Utilisation", ".0%"),
                  "downtime_hours": Measure("t.downtime_hours", "Downtime (h)", ",.1f"),
                  "roi": Measure("t.roi", "ROI", ".0%"), "failures": Measure("t.failures", "Failures"),
                  "usage_hours": Measure("t.usage_hours", "Usage (h)", ",.0f"),
                  "maintenance_cost": Measure("t.maintenance_cost", "Maintenance cost", MONEY)},
        filters={"service_line": "t.service_line", "region": "t.region"}),
    "financials": Source(
        "Financials", "daily_revenue", "t.date",
        dimensions={"month": "date_trunc('month', t.date)::DATE", "week": "date_trunc('week', t.date)::DATE",
                    "day": "t.date", "service_line": "t.service_line"},
        measures={"revenue": Measure("t.revenue", "Revenue", MONEY),
                  "direct_cost": Measure("t.direct_cost", "Direct cost", MONEY),
                  "gross_profit": Measure("t.gross_profit", "Gross profit", MONEY),
                  "completed_jobs": Measure("t.completed_jobs", "Completed jobs")},
        filters={"service_line": "t.service_line"}, time_dimensions=("month", "week", "day")),
}


class ChartFilters(BaseModel):
    """What rows a chart counts: a date range (inclusive) and a service line, region, technician."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: dt.date | None = None
    end: dt.date | None = None
    service_line: str | None = None
    region: str | None = None
    technician: str | None = Field(None, description="a technician id")


class ChartSpec(BaseModel):
    """One chart: where its numbers come from, how they are calculated and drawn.

    ``x`` is a dimension (for ``scatter``: a second measure, one point per ``color`` group);
    ``color`` a dimension (series, stacks, pie slices; the heatmap's rows; required for scatter
    and heatmap); ``y`` a measure; ``aggregate`` how rows of a group combine: ``sum``,
    ``average``, ``count`` (rows, whatever ``y``), ``percentage`` (a group's sum as a share of
    the total) or ``growth`` (the change of the sum from the previous ``x``, which must be a time
    dimension). ``top`` keeps the largest groups of a category axis. ``geographic`` draws the
    measure per customer location on an H3 hexagon map.
    """

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    source: Literal["work_orders", "customers", "equipment", "financials"]
    chart: Literal["bar", "line", "pie", "scatter", "heatmap", "geographic"] = "bar"
    x: str | None = None
    y: str
    aggregate: Literal["sum", "average", "count", "percentage", "growth"] = "sum"
    color: str | None = None
    filters: ChartFilters = Field(default_factory=ChartFilters)
    top: int = Field(25, ge=1, le=500)

    @model_validator(mode="after")
    def _fits_the_source(self) -> ChartSpec:
        source = SOURCES[self.source]
        where = f"source {self.source!r}"
        if self.y not in source.measures:
            raise ValueError(f"y: {self.y!r} is not a measure of {where}; measures: {', '.join(source.measures)}")
        if self.chart == "scatter":
            if self.x not in source.measures:
                raise ValueError(f"x: a scatter plots two measures; {self.x!r} is not one of {where}")
            if self.color is None:
                raise ValueError("color: a scatter needs the dimension whose groups are its points")
        elif self.chart != "geographic":
            if self.x not in source.dimensions:
                raise ValueError(f"x: {self.x!r} is not a dimension of {where}; dimensions: "
                                 f"{', '.join(source.dimensions)}")
        elif source.location is None:
            raise ValueError(f"chart: {where} has no location for a map")
        if self.color is not None and self.color not in source.dimensions:
            raise ValueError(f"color: {self.color!r} is not a dimension of {where}")
        if self.chart == "heatmap" and self.color is None:
            raise ValueError("color: a heatmap needs a second dimension (its rows)")
        if self.aggregate == "growth" and self.x not in source.time_dimensions:
            raise ValueError(f"aggregate: growth needs a time dimension on x ({', '.join(source.time_dimensions)})")
        for name in ("service_line", "region", "technician"):
            if getattr(self.filters, name) is not None and name not in source.filters:
                raise ValueError(f"filters.{name}: {where} cannot be filtered by {name}")
        if (self.filters.start or self.filters.end) and source.date is None:
            raise ValueError(f"filters: {where} has no dates")
        return self


def _aggregate_sql(spec: ChartSpec, expression: str) -> str:
    if spec.aggregate == "count":
        return "count(*)"
    if spec.aggregate == "average":
        return f"avg({expression})"
    return f"sum({expression})"  # sum, percentage and growth start from the group's sum


def _where(spec: ChartSpec, source: Source) -> tuple[str, list]:
    clauses, params = [source.where], []
    f = spec.filters
    if f.start is not None:
        clauses.append(f"{source.date} >= ?")
        params.append(f.start)
    if f.end is not None:
        clauses.append(f"{source.date} <= ?")
        params.append(f.end)
    for name in ("service_line", "region", "technician"):
        value = getattr(f, name)
        if value is not None:
            clauses.append(f"{source.filters[name]} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def query(con, spec: ChartSpec) -> pd.DataFrame:
    """The rows ``spec`` draws, aggregated in DuckDB on gold.

    Returns
    -------
    DataFrame
        ``x, [color,] value`` (scatter: ``color, x, value``; geographic: ``lat, lon, value``),
        ``attrs["label"]`` / ``attrs["format"]`` of the value, ``attrs["x_label"]``.
    """
    from quantlib.data.gold import open_gold

    source = SOURCES[spec.source]
    measure = source.measures[spec.y]
    where, params = _where(spec, source)
    value = _aggregate_sql(spec, measure.sql)
    with open_gold(con) as gold:
        if spec.chart == "geographic":
            sql = (f"SELECT c.lat, c.lon, {value} AS value FROM {source.table} t JOIN customers c "
                   f"ON c.customer_id = {source.location} WHERE {where} AND c.lat IS NOT NULL "
                   "GROUP BY c.customer_id, c.lat, c.lon")
            frame = gold.execute(sql, params).df()
        elif spec.chart == "scatter":
            x_measure = source.measures[spec.x]
            sql = (f"SELECT {source.dimensions[spec.color]} AS color, {_aggregate_sql(spec, x_measure.sql)} AS x, "
                   f"{value} AS value FROM {source.table} t WHERE {where} GROUP BY 1 ORDER BY 1")
            frame = gold.execute(sql, params).df()
        else:
            groups = [f"{source.dimensions[spec.x]} AS x"]
            if spec.color:
                groups.append(f"{source.dimensions[spec.color]} AS color")
            keys = ", ".join(str(i + 1) for i in range(len(groups)))
            sql = f"SELECT {', '.join(groups)}, {value} AS value FROM {source.table} t WHERE {where} " \
                  f"GROUP BY {keys} ORDER BY {keys}"
            frame = gold.execute(sql, params).df()
    frame = _calculate(spec, source, frame)
    fmt = ".1%" if spec.aggregate in ("percentage", "growth") else (",.0f" if spec.aggregate == "count"
                                                                     else measure.format)
    label = {"count": "Rows", "percentage": f"{measure.label}, share", "growth": f"{measure.label}, growth",
             "average": f"{measure.label} (average)"}.get(spec.aggregate, measure.label)
    frame.attrs.update(label=label, format=fmt, x_label=(source.measures[spec.x].label if spec.chart == "scatter"
                                                        else (spec.x or "").replace("_", " ").capitalize()))
    return frame


def _calculate(spec: ChartSpec, source: Source, frame: pd.DataFrame) -> pd.DataFrame:
    """Percentages, growth rates and the top groups: on the few aggregated rows."""
    frame = frame.copy()
    if spec.chart in ("geographic", "scatter"):
        return frame
    series = ["color"] if spec.color else []
    if spec.aggregate == "percentage":
        total = frame.groupby(series)["value"].transform("sum") if series and spec.chart == "pie" else \
            frame["value"].sum()
        frame["value"] = frame["value"] / total
    elif spec.aggregate == "growth":
        frame = frame.sort_values([*series, "x"])
        previous = frame.groupby(series)["value"].shift(1) if series else frame["value"].shift(1)
        frame["value"] = (frame["value"] - previous) / previous.where(previous != 0)
        frame = frame.dropna(subset=["value"])
    if spec.x not in source.time_dimensions:
        totals = frame.groupby("x")["value"].sum().sort_values(ascending=False)
        frame = frame[frame["x"].isin(totals.index[: spec.top])]
    if spec.x in source.time_dimensions:
        frame["x"] = pd.to_datetime(frame["x"])
    return frame.reset_index(drop=True)


def build_chart(spec: ChartSpec, frame: pd.DataFrame) -> alt.Chart:
    """The Altair chart of ``spec`` over :func:`query`'s rows (house theme; render as SVG offline)."""
    from quantlib.viz.maps import hex_map

    source = SOURCES[spec.source]
    label, fmt = frame.attrs.get("label", spec.y), frame.attrs.get("format", ",.0f")
    title = spec.title or f"{label} by {(spec.x or 'location').replace('_', ' ')}"
    value = alt.Y("value:Q", title=label, axis=alt.Axis(format=fmt))
    tooltip = [alt.Tooltip("value:Q", title=label, format=fmt)]
    if spec.chart == "geographic":
        return hex_map(frame, value="value", title=title, value_title=label, value_format=fmt)
    temporal = spec.x in source.time_dimensions
    x_type = "T" if temporal else "N"
    x = alt.X(f"x:{x_type}", title=frame.attrs.get("x_label"),
              sort=None if temporal else alt.EncodingSortField("value", op="sum", order="descending"))
    tooltip = [alt.Tooltip(f"x:{x_type}", title=frame.attrs.get("x_label")), *tooltip]
    color = alt.Color("color:N", title=(spec.color or "").replace("_", " ").capitalize(),
                      scale=alt.Scale(range=PALETTE)) if spec.color else alt.Undefined
    if spec.color:
        tooltip.insert(1, alt.Tooltip("color:N", title=(spec.color or "").replace("_", " ").capitalize()))
    base = alt.Chart(frame, title=title)
    if spec.chart == "bar":
        chart = base.mark_bar().encode(x=x, y=value, color=color, tooltip=tooltip)
    elif spec.chart == "line":
        chart = base.mark_line(point=True).encode(x=x, y=value, color=color, tooltip=tooltip)
    elif spec.chart == "pie":
        chart = base.mark_arc(innerRadius=40).encode(
            theta=alt.Theta("value:Q"), color=alt.Color("x:N", title=frame.attrs.get("x_label"),
                                                       scale=alt.Scale(range=PALETTE)), tooltip=tooltip)
    elif spec.chart == "scatter":
        chart = base.mark_circle(size=90).encode(
            x=alt.X("x:Q", title=frame.attrs.get("x_label")), y=value, color=color,
            tooltip=[alt.Tooltip("color:N"), alt.Tooltip("x:Q", format=",.2f"), *tooltip[-1:]])
    else:  # heatmap
        chart = base.mark_rect().encode(
            x=x, y=alt.Y("color:N", title=(spec.color or "").replace("_", " ").capitalize()),
            color=alt.Color("value:Q", title=label, scale=alt.Scale(range=SEQUENTIAL), legend=alt.Legend(format=fmt)),
            tooltip=tooltip)
    return chart.properties(width=640, height=300)
