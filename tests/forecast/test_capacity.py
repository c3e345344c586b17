"""Capacity demand: hours per skill on a hand-made company, the demo company's magnitudes."""

import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from quantlib.forecast.capacity import CapacityPlanner
from quantlib.forecast.pipeline import Snapshot, warehouse_snapshot

T = pd.Timestamp("2024-06-30")  # a Sunday


def tiny() -> Snapshot:
    days = pd.date_range(end=T, periods=365, freq="D")
    days = days[days.day_of_week < 5]  # one hvac repair every weekday
    jobs = pd.DataFrame({
        "job_id": [f"J{i}" for i in range(len(days))], "service_line": "hvac", "job_type": "repair",
        "completed_date": days, "is_completed": True, "labor_hours": 2.0, "travel_minutes": 30.0,
    })
    techs = pd.DataFrame({"technician_id": ["T1", "T2"], "region": "r",
                          "skills": ["hvac;plumbing", "plumbing"], "weekly_hours": [35.0, 42.0],
                          "hire_date": pd.to_datetime(["2020-01-01", "2020-01-01"])})
    return Snapshot(as_of=T, tables={"jobs": jobs, "technicians": techs})


def test_hours_needed_and_available_by_hand():
    out = CapacityPlanner(periods=(7, 14)).fit(tiny()).forecast().set_index(["skill", "period_days"])
    hvac = out.loc[("hvac", 7)]
    assert hvac["jobs_needed"] == pytest.approx(5.0)           # Mon-Fri
    assert hvac["hours_needed"] == pytest.approx(5 * 2.5)      # 2 h work + 30 min travel
    assert hvac["hours_available"] == pytest.approx(35 / 2)    # T1 split over two skills
    assert hvac["hours_available_any"] == pytest.approx(35.0)
    assert hvac["gap"] == pytest.approx(12.5 - 17.5)
    plumbing = out.loc[("plumbing", 14)]
    assert plumbing["hours_needed"] == 0
    assert plumbing["hours_available"] == pytest.approx(2 * (35 / 2 + 42))
    no_travel = CapacityPlanner(periods=(7,), include_travel=False).fit(tiny()).forecast()
    assert no_travel.set_index("skill").loc["hvac", "hours_needed"] == pytest.approx(10.0)


def test_demo_company_hours_in_line_with_history(demo_lake):
    snap = warehouse_snapshot(demo_lake.gold, as_of="2024-09-30")
    out = CapacityPlanner().fit(snap).forecast()
    assert set(out["period_days"]) == {7, 30, 90}
    assert set(out["skill"]) >= {"hvac", "plumbing", "electrical"}
    jobs = snap["jobs"]
    last90 = jobs[jobs["is_completed"] & (jobs["completed_date"] > snap.as_of - pd.Timedelta(days=90))]
    hist_hours = (last90["labor_hours"] + last90["travel_minutes"] / 60).sum()
    need90 = out[out["period_days"] == 90]["hours_needed"].sum()
    assert 0.6 * hist_hours < need90 < 1.6 * hist_hours
    # Longer periods need more hours.
    by = out.groupby("period_days")["hours_needed"].sum()
    assert by[7] < by[30] < by[90]


def test_bad_input():
    with pytest.raises(ValueError, match="periods"):
        CapacityPlanner(periods=(0,)).fit(tiny())
    snap = tiny()
    snap.tables["jobs"] = snap.tables["jobs"].iloc[:0]
    with pytest.raises(ValueError, match="no completed jobs"):
        CapacityPlanner().fit(snap)
    with pytest.raises(NotFittedError):
        CapacityPlanner().forecast()
