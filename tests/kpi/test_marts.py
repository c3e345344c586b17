"""Marts of the fixture's gold database, checked against hand-computed values (as of 2024-06-30)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

AS_OF = dt.date(2024, 6, 30)


def one(con, sql, params=()):
    return con.execute(sql, list(params)).fetchone()


def frame(con, sql, params=()):
    return con.execute(sql, list(params)).df()


def test_build_params(con):
    # Latest actual event: J8 completed 2024-06-30 (J9 is scheduled in July and must not count);
    # first job created 2022-11-25 (J11).
    assert one(con, "SELECT as_of, data_start FROM build_params") == (AS_OF, dt.date(2022, 11, 25))


def test_job_facts(con):
    facts = frame(con, "SELECT * FROM job_facts").set_index("job_id")
    assert len(facts) == 12
    j4 = facts.loc["J4"]
    assert j4["direct_cost"] == 90 + 60 + 10
    assert j4["gross_profit"] == 400 - 160
    assert j4["margin"] == pytest.approx(240 / 400)
    # Scheduled 08:00 for 2 h, done 11:00: late.
    assert bool(j4["is_late"]) and not bool(j4["is_on_time"])
    # J1: 09:00 + 3 h, done 12:00 sharp: on time.
    assert bool(facts.loc["J1", "is_on_time"])
    assert pd.isna(facts.loc["J7", "is_late"])  # not completed: unknown
    assert j4["season"] == "summer" and facts.loc["J11", "season"] == "winter"
    assert j4["weekday"] == "Friday" and j4["weekday_num"] == 5  # 2024-06-28
    assert j4["month"] == pd.Timestamp("2024-06-01")
    assert j4["technician_name"] == "Tom" and j4["customer_region"] == "north"
    assert pd.isna(facts.loc["J7", "margin"])  # no revenue: no margin rather than a division by 0


def test_daily_revenue_is_zero_filled(con):
    # Dates from 2022-12-01 (J11) to 2024-07-05 (J9's slot) = 583 days, x 3 service lines with jobs.
    assert one(con, "SELECT count(*), count(DISTINCT date), count(DISTINCT service_line) FROM daily_revenue") \
        == (583 * 3, 583, 3)
    daily = frame(con, "SELECT * FROM daily_revenue").set_index(["date", "service_line"])
    quiet = daily.loc[(pd.Timestamp("2024-06-01"), "hvac")]
    assert (quiet[["jobs", "completed_jobs", "revenue", "direct_cost", "gross_profit"]] == 0).all()
    j8 = daily.loc[(pd.Timestamp("2024-06-30"), "plumbing")]
    assert (j8["jobs"], j8["completed_jobs"], j8["revenue"], j8["gross_profit"]) == (1, 1, 200, 120)
    # J6 (cancelled) occupies its slot but earns nothing.
    j6 = daily.loc[(pd.Timestamp("2024-06-27"), "plumbing")]
    assert (j6["jobs"], j6["completed_jobs"], j6["revenue"]) == (1, 0, 0)
    # All revenue is there once: 250 + 500 + 300 + 400 + 300 + 1000 + 400 + 600 + 200.
    assert daily["revenue"].sum() == 3950


def test_customer_features(con):
    features = frame(con, "SELECT * FROM customer_features").set_index("customer_id")
    assert (features["as_of"] == pd.Timestamp(AS_OF)).all()
    c1 = features.loc["C1"]
    assert c1["recency_days"] == 0                       # J8 on the as-of day
    assert (c1["frequency_365d"], c1["frequency_lifetime"]) == (4, 5)
    assert (c1["monetary_365d"], c1["monetary_lifetime"]) == (1900, 2400)
    assert c1["avg_ticket"] == 480
    assert c1["tenure_days"] == 911                      # 2022-01-01 .. 2024-06-30
    assert c1["avg_days_to_pay"] == pytest.approx((20 + 1) / 2)  # I1 in 20 days, I4 in 1
    # Judged invoices: I1 on time, I4 on time, I10 unpaid past due; I3 and I8 not due yet.
    assert c1["late_payment_share"] == pytest.approx(1 / 3)
    assert c1["open_balance"] == 200 + 1000 + 200
    assert c1["avg_rating"] == pytest.approx((9 + 10 + 9 + 6 + 4) / 5)
    assert c1["last_rating"] == 4                        # J8
    assert c1["share_ratings_below_7"] == pytest.approx(2 / 5)
    assert bool(c1["has_contract"])                      # K1 runs from 2024-01-01, open-ended
    assert c1["churn_score"] == pytest.approx(0.20)
    c2 = features.loc["C2"]
    assert c2["recency_days"] == 198                     # J12 on 2023-12-15
    assert (c2["jobs_last_180d"], c2["jobs_prev_180d"], c2["frequency_trend"]) == (0, 1, 0)
    assert c2["late_payment_share"] == 1.0               # I2 paid late, I12 unpaid past due
    assert c2["disputes"] == 1
    assert c2["last_contact_days"] == 198                # the survey on 2023-11-01 is older
    assert not bool(c2["has_contract"])                  # K2 ended 2023-12-31
    assert c2["churn_score"] == pytest.approx(0.25 + 0.20 + 0.15 + 0.20)
    assert c2["avg_days_to_pay"] == 66                   # I2: 2023-05-05 -> 2023-07-10
    c4 = features.loc["C4"]
    assert not bool(c4["is_active"])
    # The marketing e-mail on 2023-01-15 is outbound, not contact: J11 on 2022-12-01 is the last.
    assert c4["last_contact_days"] == 577
    assert c4["open_balance"] == 0                       # I11 written off


def test_customer_features_at_an_earlier_date(con):
    # The same definition as of 2023-12-31: C2 has J2 and J12, both in the last 365 days.
    c2 = frame(con, "SELECT * FROM customer_features_at(DATE '2023-12-31') WHERE customer_id = 'C2'").iloc[0]
    assert (c2["frequency_365d"], c2["recency_days"]) == (2, 16)
    # C3 did not exist yet.
    assert one(con, "SELECT count(*) FROM customer_features_at(DATE '2023-12-31') WHERE customer_id = 'C3'")[0] == 0


def test_technician_kpis(con):
    techs = frame(con, "SELECT * FROM technician_kpis").set_index("technician_id")
    t1 = techs.loc["T1"]
    # T1 over 2022-11-25..2024-06-30: 8 scheduled (J6 cancelled is out), 7 completed.
    assert (t1["jobs_scheduled"], t1["jobs_scheduled_completed"], t1["jobs_completed"]) == (8, 7, 7)
    assert t1["efficiency"] == pytest.approx(7 / 8)
    assert t1["billable_hours"] == pytest.approx(2 + 3 + 2 + 2 + 1.5 + 4 + 2)
    assert t1["available_hours"] == pytest.approx(584 * 40 / 7)  # 584 days in the period
    ratings = [7, 9, 8, 8, 10, 9, 4]
    assert t1["avg_rating"] == pytest.approx(sum(ratings) / 7)
    assert t1["efficiency_score"] == pytest.approx(0.3 * 1 + 0.4 * 1 + 0.2 * sum(ratings) / 70 + 0.1 * 1)
    t2 = techs.loc["T2"]
    assert (t2["callbacks"], t2["safety_incidents"], t2["revenue"]) == (1, 1, 1000)
    assert t2["efficiency_score"] == pytest.approx(0.61)


def test_equipment_kpis(con):
    equipment = frame(con, "SELECT * FROM equipment_kpis").set_index("equipment_id")
    e1 = equipment.loc["E1"]
    assert e1["available_hours"] == pytest.approx(182 * 40 / 7)  # owned 2024-01-01..06-30
    assert (e1["usage_hours"], e1["jobs"], e1["job_revenue"]) == (6, 3, 1700)
    assert (e1["maintenance_cost"], e1["downtime_hours"], e1["failures"]) == (1150, 16, 1)
    assert (e1["preventive_scheduled"], e1["preventive_completed"]) == (2, 2)
    # J10 300 x 20/100 + J3 1000 x 40/550 + J4 400 x 10/160 (see test_kpis.test_equipment_roi).
    e1_generated = 60 + 1000 * 40 / 550 + 25
    assert e1["revenue_generated"] == pytest.approx(e1_generated)
    assert e1["roi"] == pytest.approx((e1_generated - 60 - 1150) / 10000)
    e2 = equipment.loc["E2"]
    assert e2["preventive_completion_rate"] == 0
    assert e2["revenue_generated"] == pytest.approx(600 * 10 / 200)
    assert e2["roi"] == pytest.approx((30 - 10) / 5000)


def test_receivables_ageing_buckets(con):
    ageing = frame(con, "SELECT * FROM receivables_ageing")
    buckets = ["bucket_current", "bucket_1_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus", "total"]
    rows = ageing.set_index(ageing["customer_id"].fillna("TOTAL"))[buckets]
    # C1: I3 1000 and I8 200 not due; I10 (due 06-10, 200 left) 20 days past due.
    assert rows.loc["C1"].tolist() == [1200, 200, 0, 0, 0, 1400]
    # C2: I12 due 2024-01-14, 168 days past due.
    assert rows.loc["C2"].tolist() == [0, 0, 0, 0, 400, 400]
    assert rows.loc["C3"].tolist() == [600, 0, 0, 0, 0, 600]
    assert "C4" not in rows.index                     # written off
    assert rows.loc["TOTAL"].tolist() == [1800, 200, 0, 0, 400, 2400]
    assert (ageing.loc[ageing["level"] == "total", "open_invoices"] == 5).all()


def test_ageing_bucket_edges(con):
    # open_invoices_at puts exactly 30 days past due in 1-30 and 31 in 31-60: I10 is due 06-10.
    def bucket(day):
        return one(con, "SELECT bucket FROM open_invoices_at(?::DATE) WHERE invoice_id = 'I10'", [day])[0]
    assert bucket("2024-06-10") == "current"
    assert bucket("2024-07-10") == "1-30"
    assert bucket("2024-07-11") == "31-60"
    assert bucket("2024-09-08") == "61-90"   # 90 days
    assert bucket("2024-09-09") == "90+"


def test_dso_mart(con):
    dso = frame(con, "SELECT * FROM dso").set_index("month")
    # One row per month from the first invoice (2023-03, I11 is written off) to 2024-06.
    assert len(dso) == 16
    june = dso.loc[pd.Timestamp("2024-06-01")]
    assert june["month_end"] == pd.Timestamp("2024-06-30")
    assert (june["receivables"], june["invoiced_90d"]) == (2400, 2500)
    assert june["dso"] == pytest.approx(86.4)
    # 2023-05-31: I2 (300) open, invoiced in 90 days I1 500 + I2 300.
    assert dso.loc[pd.Timestamp("2023-05-01"), "dso"] == pytest.approx(300 / 800 * 90)
    # Nothing invoiced in the 90 days to 2024-04-30: no DSO rather than infinity.
    assert pd.isna(dso.loc[pd.Timestamp("2024-04-01"), "dso"])


def test_dso_mart_and_kpi_agree(con):
    from quantlib.kpi import get_kpi

    assert get_kpi("dso").compute(con, "2023-05-31") == pytest.approx(300 / 800 * 90)


def test_funnel(con):
    funnel = frame(con, "SELECT * FROM funnel")
    funnel = funnel.set_index([funnel["month"].dt.strftime("%Y-%m"), "service_line"])
    assert len(funnel) == 6
    june = funnel.loc[("2024-06", "all")]
    # June leads L1 L2 L3; quotes Q1 Q3 (L1) Q2 (L2); won Q1 Q2; jobs J3 J5; invoices I3 I5, unpaid.
    assert june[["leads", "quotes", "won_quotes", "jobs", "invoices", "paid_invoices"]].tolist() == [3, 3, 2, 2, 2, 0]
    assert june["quote_win_rate"] == pytest.approx(2 / 3)
    assert (june["won_to_job"], june["job_to_invoice"], june["invoice_to_paid"], june["lead_to_paid"]) == (1, 1, 0, 0)
    hvac = funnel.loc[("2024-06", "hvac")]
    assert (hvac["leads"], hvac["quotes"], hvac["quote_win_rate"]) == (1, 2, 0.5)
    assert pd.isna(funnel.loc[("2024-06", "plumbing"), "quote_win_rate"])  # no quotes
    may = funnel.loc[("2024-05", "all")]                 # L4 -> Q4 -> J4 -> I4, paid
    assert may["lead_to_paid"] == 1


def test_targets_and_build_info(con):
    assert dict(con.execute("SELECT key, value FROM targets").fetchall()) == {
        "monthly_revenue": 9000, "monthly_revenue_hvac": 5000}
    info = frame(con, "SELECT * FROM build_info").set_index("table_name")
    assert info.loc["jobs", "row_count"] == 12 and info.loc["jobs", "kind"] == "silver"
    assert info.loc["funnel", "row_count"] == 6 and info.loc["funnel", "kind"] == "mart"
    assert info.loc["weather", "row_count"] == 0
    assert (info["company"] == "Fixture Co").all()


def test_marts_and_kpis_share_one_definition(con):
    """The technician mart and the KPI give the same score for the same period and technician."""
    from quantlib.kpi import Filters, get_kpi

    mart = one(con, "SELECT efficiency_score, utilisation FROM technician_kpis WHERE technician_id = 'T2'")
    t2 = Filters(technician_id="T2")
    start = dt.date(2022, 11, 25)  # build_params.data_start
    assert get_kpi("efficiency_score").compute(con, AS_OF, window=start, filters=t2) == pytest.approx(mart[0])
    assert get_kpi("technician_utilisation").compute(con, AS_OF, window=start, filters=t2) == pytest.approx(mart[1])
    # The churn rule: the mart's score is the macro applied to the mart's own inputs.
    rows = con.execute("""SELECT churn_score, churn_rule_score(frequency_trend, late_payment_share, disputes,
                                                               avg_rating, last_contact_days)
                          FROM customer_features""").fetchall()
    assert all(a == pytest.approx(b) for a, b in rows)


def test_expense_accruals_spread_fixed_costs_over_their_month(con):
    rows = con.execute("SELECT date, amount FROM expense_accruals WHERE expense_id = 'X1' ORDER BY date").fetchall()
    assert len(rows) == 30  # June has 30 days
    assert rows[0][0] == dt.date(2024, 6, 1) and rows[-1][0] == dt.date(2024, 6, 30)
    assert sum(r[1] for r in rows) == pytest.approx(500.0)
    variable = con.execute("SELECT date, amount FROM expense_accruals WHERE expense_id = 'X2'").fetchall()
    assert variable == [(dt.date(2024, 6, 20), 200.0)]


@pytest.mark.parametrize("service_line", [None, "hvac", "plumbing"])
def test_equipment_kpis_at_build_date_read_the_mart_with_the_macros_numbers(con, service_line):
    from quantlib.kpi import Filters, KpiUnavailable, get_kpi

    expected = con.execute(
        """SELECT (sum(revenue_generated) - sum(usage_cost) - sum(maintenance_cost)) / nullif(sum(purchase_cost), 0)
           FROM equipment_kpis_between('1900-01-01'::DATE, ?::DATE, line := ?::VARCHAR)""",
        [AS_OF, service_line]).fetchone()[0]
    kpi, filters = get_kpi("equipment_roi"), Filters(service_line=service_line)
    all_history = dt.date(1900, 1, 1)  # the mart's span, read from the mart itself
    if expected is None:  # no equipment of that line
        with pytest.raises(KpiUnavailable):
            kpi.compute(con, AS_OF, window=all_history, filters=filters)
    else:
        assert kpi.compute(con, AS_OF, window=all_history, filters=filters) == pytest.approx(expected)
