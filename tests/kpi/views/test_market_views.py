"""The monthly review's market tables: the market signals, trimmed to the movers and formatted."""

from __future__ import annotations

import pytest

from quantlib.kpi.market import demand_changes, discount_pressure, pricing_pressure
from quantlib.kpi.views import report as views
from quantlib.views import report_table


@pytest.fixture(scope="module")
def report(demo_lake):
    ctx = views.open_report("mixed_trades", lake=demo_lake.root)
    yield ctx
    ctx.close()


def test_demand_table_is_the_top_movers(report, demo_lake):
    table = views.demand_changes_table(report, days=90, top=4)
    full = demand_changes(demo_lake, days=90)
    assert len(table) == 4 and table["recent"].tolist() == full["recent"].head(4).tolist()
    html = report_table(table).to_html()
    assert "Last 90 days" in html and "Same 90 days last year" in html and "Change (jobs)" in html


def test_pricing_table_keeps_the_largest_moves_falls_first(report, demo_lake):
    table = views.pricing_table(report, days=90, top=3)
    full = pricing_pressure(demo_lake, days=90)
    largest = set(full.reindex(full["change"].abs().sort_values(ascending=False).index).head(3)["change"])
    assert set(table["change"]) == largest and table["change"].is_monotonic_increasing
    assert "Average price, same 90 days last year" in report_table(table).to_html()


def test_discount_table_prints_points(report, demo_lake):
    table = views.discount_table(report, days=90)
    full = discount_pressure(demo_lake, days=90)
    html = report_table(table).to_html()
    first = full.iloc[0]
    assert f"{first['change_points'] * 100:+.1f} pts" in html and f"{first['discount']:.1%}" in html


def test_market_text_names_the_largest_fall_or_says_none_fell(report):
    demand = views.demand_changes_table(report, days=90)
    prices = views.pricing_table(report, days=90)
    text = views.market_signals_text(demand, prices, days=90)
    assert text.startswith(f"Jobs requested in the last 90 days: {demand.attrs['total_recent']:,.0f} against")
    falls = prices[prices["change"] < 0]
    if len(falls):
        assert f"{falls.iloc[0]['service_line']} {falls.iloc[0]['job_type']}" in text
    rising = prices[prices["change"] >= 0]
    rising.attrs.update(prices.attrs)
    assert views.market_signals_text(demand, rising).endswith("No service type's average price fell.")
