"""The chart builder's queries equal plain SQL on gold; every chart type renders offline; bad specs say why."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import vl_convert as vlc
from pydantic import ValidationError

from quantlib.viz.builder import ChartSpec, build_chart, query


def sql(gold, text, *params):
    return gold.execute(text, list(params)).df()


def test_sum_by_dimension_with_filters_equals_sql(gold):
    region = sql(gold, "SELECT min(region) AS r FROM job_facts")["r"][0]
    spec = ChartSpec(source="work_orders", chart="bar", x="service_line", y="revenue",
                     filters={"start": "2024-01-01", "end": "2024-06-30", "region": region})
    got = query(gold, spec).set_index("x")["value"]
    want = sql(gold, "SELECT service_line AS x, sum(revenue) AS v FROM job_facts WHERE activity_date BETWEEN ? AND ? "
                     "AND region = ? GROUP BY 1", dt.date(2024, 1, 1), dt.date(2024, 6, 30), region).set_index("x")["v"]
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)


def test_percentage_growth_average_and_count(gold):
    share = query(gold, ChartSpec(source="customers", chart="pie", x="acquisition_channel", y="customers",
                                  aggregate="percentage"))
    assert share["value"].sum() == pytest.approx(1.0)
    counts = sql(gold, "SELECT acquisition_channel AS x, count(*) AS n FROM customer_features GROUP BY 1")
    shares = counts["n"] / counts["n"].sum()
    assert dict(zip(share["x"], share["value"])) == pytest.approx(dict(zip(counts["x"], shares)))
    growth = query(gold, ChartSpec(source="financials", chart="line", x="month", y="revenue", aggregate="growth"))
    monthly = sql(gold, "SELECT date_trunc('month', date)::DATE AS m, sum(revenue) AS v FROM daily_revenue "
                        "GROUP BY 1 ORDER BY 1")
    expected = monthly["v"].pct_change().iloc[1:].to_numpy()
    assert growth["value"].to_numpy() == pytest.approx(expected)
    average = query(gold, ChartSpec(source="equipment", chart="bar", x="kind", y="utilisation", aggregate="average"))
    want = sql(gold, "SELECT kind AS x, avg(utilisation) AS v FROM equipment_kpis GROUP BY 1")
    assert dict(zip(average["x"], average["value"])) == pytest.approx(dict(zip(want["x"], want["v"])))
    jobs = query(gold, ChartSpec(source="work_orders", chart="heatmap", x="month", y="revenue", color="region",
                                 aggregate="count"))
    assert jobs["value"].sum() == sql(gold, "SELECT count(*) AS n FROM job_facts")["n"][0]


def test_top_keeps_the_largest_groups(gold):
    top = query(gold, ChartSpec(source="work_orders", chart="bar", x="technician", y="revenue", top=3))
    want = sql(gold, "SELECT technician_name AS x, sum(revenue) AS v FROM job_facts GROUP BY 1 ORDER BY 2 DESC LIMIT 3")
    assert set(top["x"]) == set(want["x"])


@pytest.mark.parametrize("spec", [
    dict(source="work_orders", chart="bar", x="service_line", y="revenue"),
    dict(source="work_orders", chart="line", x="month", y="jobs", color="service_line"),
    dict(source="customers", chart="pie", x="region", y="spend_365d", aggregate="percentage"),
    dict(source="work_orders", chart="scatter", x="labour_hours", y="revenue", color="job_type", aggregate="average"),
    dict(source="work_orders", chart="heatmap", x="month", y="jobs", color="region", aggregate="count"),
    dict(source="customers", chart="geographic", y="spend_365d"),
])
def test_every_chart_type_renders_offline(gold, spec):
    chart_spec = ChartSpec(**spec, title="Chart under test")
    frame = query(gold, chart_spec)
    assert len(frame)
    rendered = build_chart(chart_spec, frame).to_dict()
    assert "url" not in str(rendered.get("data", {}))
    svg = vlc.vegalite_to_svg(rendered)
    assert svg.startswith("<svg") and "Chart under test" in svg


@pytest.mark.parametrize("spec, message", [
    (dict(source="equipment", chart="bar", x="kind", y="revenue"), "not a measure of source 'equipment'"),
    (dict(source="work_orders", chart="bar", x="colour", y="revenue"), "not a dimension"),
    (dict(source="financials", chart="bar", x="month", y="revenue", filters={"technician": "T1"}),
     "cannot be filtered by technician"),
    (dict(source="work_orders", chart="bar", x="region", y="revenue", aggregate="growth"), "growth needs a time"),
    (dict(source="work_orders", chart="heatmap", x="month", y="jobs"), "heatmap needs a second dimension"),
    (dict(source="work_orders", chart="scatter", x="region", y="revenue", color="job_type"), "two measures"),
    (dict(source="equipment", chart="geographic", y="units"), "no location"),
    (dict(source="equipment", chart="bar", x="kind", y="units", filters={"start": "2024-01-01"}), "no dates"),
    (dict(source="work_orders", chart="bar", x="region", y="revenue; DROP TABLE jobs"), "not a measure"),
])
def test_bad_specs_are_refused_with_the_reason(spec, message):
    with pytest.raises(ValidationError, match=message):
        ChartSpec(**spec)
