"""Report views on the hand-made fixture company (as of 2024-06-30), checked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from quantlib.kpi.views import report as views


@pytest.fixture
def report(fixture_lake, gold):
    ctx = views.open_report("fixture", lake=fixture_lake.root)
    yield ctx
    ctx.close()


def test_open_report_reads_the_build(report):
    assert report.as_of == dt.date(2024, 6, 30)
    assert report.company == "Fixture Co"
    assert report.period_label == "June 2024"
    assert report.targets["monthly_revenue"] == 9000


def test_open_report_without_gold_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="quant warehouse build"):
        views.open_report("fixture", lake=tmp_path)


def test_revenue_by_service_line(report):
    table = views.revenue_by_service_line(report).set_index("service_line")
    # June 2024: hvac J10 300 + J3 1000 + J4 400; plumbing J8 200; electrical J5 600.
    assert table.loc["hvac", "revenue"] == 1700
    assert table.loc["plumbing", "revenue"] == 200
    assert table.loc["electrical", "revenue"] == 600
    assert table.loc["total", "revenue"] == 2500
    # Nothing in May 2024 or June 2023: no change can be computed.
    assert table.loc["total", "prior_month"] == 0
    assert table["change_vs_prior_year"].isna().all()
    # hvac gross profit: 1700 - (100 + 550 + 160) = 890.
    assert table.loc["hvac", "gross_margin"] == pytest.approx(890 / 1700)


def test_revenue_bridge_and_variance_add_up(report):
    bridge = views.revenue_bridge(report)
    # Nothing in May 2024: the bridge starts at 0 and each line's change is its June revenue, largest first.
    assert bridge["label"].tolist() == ["Same days last month", "hvac", "electrical", "plumbing"]
    assert bridge["amount"].tolist() == [0, 1700, 600, 200] and bridge["amount"].sum() == 2500
    against = views.revenue_against_last_year(report).set_index("item")
    assert against.loc["hvac", "actual"] == 1700 and (against["plan"] == 0).all()


def test_technician_revenue_by_week(report):
    # Completed in June 2024: J10 Tess 300 (Mon 10th), J3 Tess 1000 (25th), J4 Tom 400 (28th), J5 Tom 600
    # (29th), J8 Tess 200 (Sun 30th, the report date). Two weeks: from Monday 17 June; three: from the 10th.
    rows = [(str(r.week.date()), r.technician, r.revenue)
            for r in views.technician_revenue_by_week(report, weeks=2).itertuples()]
    assert rows == [("2024-06-24", "Tess", 1200.0), ("2024-06-24", "Tom", 1000.0)]
    three = views.technician_revenue_by_week(report, weeks=3)
    assert three.iloc[0].tolist() == [pd.Timestamp("2024-06-10"), "Tess", 300.0] and len(three) == 3
    # On Saturday 29 June the week of the 24th is still running: the last complete one is the 17th's.
    report.as_of = dt.date(2024, 6, 29)
    assert views.technician_revenue_by_week(report, weeks=3)["week"].tolist() == [pd.Timestamp("2024-06-10")]


def test_monthly_revenue(report):
    monthly = views.monthly_revenue(report, months=13).set_index("month")
    assert monthly.loc["2024-06-01", "revenue"] == 2500
    assert monthly.loc["2023-12-01", "revenue"] == 400  # J12
    assert (monthly["target"] == 9000).all()


def test_daily_operations(report):
    daily = views.daily_operations(report, days=7).set_index("date")
    # 06-24 .. 06-30: J3 (25th), J7 scheduled (26th), J6 cancelled (27th), J4, J5, J8.
    assert daily["scheduled"].sum() == 6
    assert daily["completed"].sum() == 4
    assert daily.loc["2024-06-27", "cancelled"] == 1


def test_quality_by_service_line(report):
    quality = views.quality_by_service_line(report, days=30).set_index("service_line")
    # hvac in June: J10, J3, J4 (callback) -> 1 of 3.
    assert quality.loc["hvac", "jobs_completed"] == 3
    assert quality.loc["hvac", "callback_rate"] == pytest.approx(1 / 3)
    assert quality.loc["hvac", "avg_rating"] == pytest.approx((10 + 9 + 6) / 3)


def test_risks_needing_attention_are_the_register_rows_at_warning_or_critical(report):
    from quantlib.risk import risk_register

    register = risk_register(report, report.as_of, include_expensive=False)
    risks = views.risks_needing_attention(report)
    assert set(risks["indicator"]) == set(register.loc[register["level"].isin(["warning", "critical"]),
                                                       "indicator"])
    assert f"{len(risks)} risk indicator" in views.headline(report) or len(risks) == 0


def test_headline_uses_the_same_numbers(report):
    text = views.headline(report)
    assert text.startswith("Revenue for June 2024 to date is \\$2,500.")  # escaped for Markdown
    margin = views.kpi_value(report, "profit_margin")
    assert f"{margin:.1%}" in text


def test_table_views_carry_their_formats(report):
    from quantlib.views import report_table

    html = report_table(views.revenue_by_service_line(report)).to_html()
    assert "$1,700" in html and "$2,500" in html  # hvac and total revenue, as money
    assert f"{890 / 1700:.1%}" in html            # hvac gross margin, as a percentage
    ageing = views.receivables(report)
    html = report_table(ageing).to_html()
    assert "$" in html and "%" in html
    # Declarations survive the notebooks' selections (e.g. ``.head(10)``).
    assert views.technicians(report).head(1).attrs["formats"]["utilisation"] == "pct"
    assert views.market_context.labels["mean_temp_c"] == "Mean temperature (°C)"


def test_expenses_declare_their_month_columns_as_money(report):
    expenses = views.expenses_by_category(report, months=3)
    assert expenses.attrs["formats"] == {month: "money" for month in expenses.columns[2:]}
