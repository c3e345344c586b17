"""Each risk indicator against a figure computed independently (pandas on the silver tables)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from quantlib.risk import INDICATORS, RiskIndicator, RiskUnavailable, load_risk_parameters

MID_YEAR = dt.date(2024, 6, 30)


def _day(ts) -> pd.Series:
    return pd.to_datetime(ts).dt.normalize()


def _window(series: pd.Series, as_of, days: int) -> pd.Series:
    end = pd.Timestamp(as_of)
    return (series >= end - pd.Timedelta(days=days - 1)) & (series <= end)


def _completed(silver) -> pd.DataFrame:
    jobs = silver("jobs")
    jobs = jobs[jobs["status"] == "completed"].copy()
    jobs["day"] = _day(jobs["completed_at"])
    return jobs


@pytest.mark.parametrize("day", [None, MID_YEAR])
def test_customer_concentration_is_the_top_five_share_of_twelve_months(demo_lake, silver, as_of, day):
    when = day or as_of
    jobs = _completed(silver)
    revenue = jobs[_window(jobs["day"], when, 365)].groupby("customer_id")["revenue"].sum()
    expected = revenue.nlargest(5).sum() / revenue.sum()
    reading = INDICATORS["customer_concentration"](demo_lake, day)
    assert isinstance(reading, RiskIndicator) and reading.as_of == when
    assert reading.value == pytest.approx(expected)
    assert set(reading.drivers["customer_id"]) == set(revenue.nlargest(5).index)
    assert reading.warning == 0.4 and reading.owner == "Sales"
    assert "Diversify" in reading.mitigation


def test_dso_is_receivables_over_ninety_days_invoicing(demo_lake, silver, as_of):
    inv, pay = silver("invoices"), silver("payments")
    end = pd.Timestamp(as_of)
    issued = _day(inv["issued_date"])
    written_off = (inv["status"] == "written_off") & (_day(inv["written_off_at"].fillna(inv["issued_date"])) <= end)
    counted = inv[(issued <= end) & ~written_off]
    paid = pay[_day(pay["paid_date"]) <= end].groupby("invoice_id")["amount"].sum()
    receivables = (counted["amount"] - counted["invoice_id"].map(paid).fillna(0)).sum()
    invoiced = counted.loc[_window(issued[counted.index], as_of, 90), "amount"].sum()
    reading = INDICATORS["dso"](demo_lake)
    assert reading.value == pytest.approx(receivables / invoiced * 90)
    assert reading.mitigation.startswith("Credit policy adjustment")
    assert (reading.warning, reading.critical) == (45, 60)


def test_collection_efficiency_is_collected_over_what_fell_due(demo_lake, silver, as_of):
    inv, pay = silver("invoices"), silver("payments")
    start, end = pd.Timestamp(as_of) - pd.Timedelta(days=29), pd.Timestamp(as_of)
    paid_day = _day(pay["paid_date"])
    before = pay[paid_day < start].groupby("invoice_id")["amount"].sum()
    within = pay[(paid_day >= start) & (paid_day <= end)].groupby("invoice_id")["amount"].sum()
    written = (inv["status"] == "written_off") & (_day(inv["written_off_at"].fillna(inv["issued_date"])) < start)
    due = inv[(_day(inv["due_date"]) <= end) & (_day(inv["issued_date"]) <= end) & ~written].copy()
    due["collectible"] = due["amount"] - due["invoice_id"].map(before).fillna(0)
    due = due[due["collectible"] > 0.005]
    collected = np.minimum(due["invoice_id"].map(within).fillna(0), due["collectible"])
    reading = INDICATORS["collection_efficiency"](demo_lake)
    assert reading.value == pytest.approx(collected.sum() / due["collectible"].sum())
    assert 0 < reading.value <= 1


def test_skill_concentration_and_single_qualified_skills(demo_lake, silver, as_of):
    jobs = _completed(silver)
    recent = jobs[_window(jobs["day"], as_of, 365) & jobs["technician_id"].notna()]
    hours = recent.groupby(["service_line", "technician_id"])["labor_hours"].sum()
    by_skill = hours.groupby(level=0)
    shares = (by_skill.max() / by_skill.sum())[by_skill.sum() >= 40]
    reading = INDICATORS["skill_concentration"](demo_lake)
    assert reading.value == pytest.approx(shares.max())
    top = reading.drivers.iloc[0]
    assert top["skill"] == shares.idxmax()
    techs = silver("technicians")
    active = techs[(_day(techs["hire_date"]) <= pd.Timestamp(as_of))
                   & (techs["termination_date"].isna() | (_day(techs["termination_date"]) > pd.Timestamp(as_of)))]
    holders = {t: set(s.split(";")) for t, s in zip(active["technician_id"], active["skills"])}
    # Cross-training candidates are active technicians who lack the skill.
    for candidate in filter(None, top["cross_train"].split(";")):
        assert candidate in holders and top["skill"] not in holders[candidate]
    skills = set(recent["service_line"]) | set().union(*holders.values())
    single = sorted(s for s in skills if sum(s in h for h in holders.values()) <= 1)
    singles = INDICATORS["single_qualified_skills"](demo_lake)
    assert singles.value == len(single) and sorted(singles.drivers["skill"]) == single


def test_equipment_failure_exposure_is_unplanned_downtime_share(demo_lake, silver, as_of):
    events, equipment = silver("maintenance_events"), silver("equipment")
    end = pd.Timestamp(as_of)
    start = end - pd.Timedelta(days=89)
    scheduled = _day(events["scheduled_date"])
    unplanned = events[events["kind"].isin(["failure", "corrective"]) & (scheduled >= start) & (scheduled <= end)]
    owned = equipment[_day(equipment["purchase_date"]) <= end]
    days = (end - _day(owned["purchase_date"]).clip(lower=start)).dt.days + 1
    available = (days * owned["available_hours_per_week"] / 7).sum()
    reading = INDICATORS["equipment_failure_exposure"](demo_lake)
    assert reading.value == pytest.approx(unplanned["downtime_hours"].sum() / available)
    failures = unplanned[unplanned["kind"] == "failure"].groupby("equipment_id").size()
    drivers = reading.drivers.set_index("equipment_id")
    for piece, count in failures.items():
        assert drivers.loc[piece, "failures"] == count


def test_quality_indicators(demo_lake, silver, as_of):
    jobs = _completed(silver)
    recent = jobs[_window(jobs["day"], as_of, 30)]
    talks = silver("interactions")
    complaints = ((talks["kind"] == "complaint") & _window(_day(talks["ts"]), as_of, 30)).sum()
    assert INDICATORS["satisfaction"](demo_lake).value == pytest.approx(recent["rating"].mean())
    expected = (complaints + recent["callback"].sum()) / len(recent)
    assert INDICATORS["complaint_rate"](demo_lake).value == pytest.approx(expected)


def test_satisfaction_thresholds_are_the_five_point_ones_mapped(demo_lake):
    reading = INDICATORS["satisfaction"](demo_lake)
    settings = load_risk_parameters().satisfaction
    assert settings.scale == "five_point"
    assert reading.warning == 2 * settings.warning and reading.critical == 2 * settings.critical


def test_seasonal_volatility_is_the_spread_of_the_month_of_year_index(demo_lake, silver, as_of):
    jobs = _completed(silver)
    last_full = pd.Timestamp(as_of) if (pd.Timestamp(as_of) + pd.Timedelta(days=1)).day == 1 else \
        pd.Timestamp(as_of).replace(day=1) - pd.Timedelta(days=1)
    first = (last_full.to_period("M") - 23).to_timestamp()
    months = jobs[(jobs["day"] >= first) & (jobs["day"] <= last_full)]
    monthly = months.groupby(months["day"].dt.to_period("M"))["revenue"].sum()
    by_moy = monthly.groupby(monthly.index.month).mean()
    expected = np.std(by_moy / by_moy.mean())
    reading = INDICATORS["seasonal_volatility"](demo_lake)
    assert reading.value == pytest.approx(expected)
    assert set(reading.drivers["service_line"]) == set(months["service_line"])
    assert "trough" in reading.mitigation


def test_seasonal_volatility_needs_a_year(demo_lake, silver):
    first = _completed(silver)["day"].min()
    with pytest.raises(RiskUnavailable, match="twelve full months"):
        INDICATORS["seasonal_volatility"](demo_lake, (first + pd.Timedelta(days=200)).date())


def test_cash_reserve_covers_the_pessimistic_trough(demo_lake):
    reading = INDICATORS["seasonal_cash_reserve"](demo_lake)
    daily = reading.drivers
    assert reading.value == pytest.approx(max(0.0, -daily["cash_lo_80"].min()))
    assert len(daily) == 90
    assert reading.warning is None and reading.critical is None
    assert reading.level == "none"  # no threshold: the reserve is reported, not judged


def test_unknown_indicator_names_the_known_ones():
    from quantlib.risk import get_indicator

    with pytest.raises(KeyError, match="known: dso"):
        get_indicator("nope")


def test_counter_seasonal_lines_are_suggested_for_the_trough():
    """Crafted: roofing peaks in summer, plumbing in winter; the total's trough is where plumbing is strong."""
    import duckdb

    rows = []
    for month in pd.date_range("2023-01-01", "2024-12-01", freq="MS"):
        summer = month.month in (5, 6, 7, 8, 9)
        rows.append({"completed_date": month.date(), "service_line": "roofing", "revenue": 9000.0 if summer else 1000.0,
                     "is_completed": True})
        rows.append({"completed_date": month.date(), "service_line": "plumbing",
                     "revenue": 1000.0 if summer else 2000.0, "is_completed": True})
    con = duckdb.connect(":memory:")
    con.register("frame", pd.DataFrame(rows))
    con.execute("CREATE TABLE job_facts AS SELECT * FROM frame")
    reading = INDICATORS["seasonal_volatility"](con, dt.date(2024, 12, 31))
    drivers = reading.drivers.set_index("service_line")
    assert drivers.loc["plumbing", "trough_index"] > 1 > drivers.loc["roofing", "trough_index"]
    assert "promote plumbing" in reading.mitigation
    totals = pd.Series([10000.0 if m in (5, 6, 7, 8, 9) else 3000.0 for m in range(1, 13)])
    assert reading.value == pytest.approx(np.std(totals / totals.mean()))
    assert reading.level == "critical"
