"""The generator's workforce behaves like a real company's (issue 11).

Technicians work shifts with a booking capacity, take days off, vacations and sick days
(written to the ground truth, ``technician_days``), an on-call rota covers the emergencies
that come in around the clock (``on_call``), and the roads are slower in the rush hours.
"""

import holidays
import numpy as np
import pandas as pd
import pytest

from quantlib.data.generate import EMERGENCY_HOUR_WEIGHTS

COMPANIES = ["mixed_company", "seasonal_company"]


def _active_jobs(company):
    jobs = company.tables["jobs"]
    return jobs[jobs["status"] != "cancelled"].copy()


def _callouts(company, jobs):
    """Emergencies done by the technician on call (for their trade and region) on the day of the call."""
    rota = company.truth_tables["on_call"].rename(columns={"technician_id": "on_call_technician"})
    calls = jobs.assign(date=jobs["created_at"].dt.normalize())
    calls = calls.merge(rota, on=["date", "region", "service_line"], how="left").set_index(jobs.index)
    return (jobs["urgency"] == "emergency") & (calls["technician_id"] == calls["on_call_technician"])


def _out_of_shift(company, jobs):
    """Emergencies called in outside the working day (or in its last two hours, as the generator books them)."""
    wf = company.profile.workforce
    call = jobs["created_at"]
    hour = call.dt.hour + call.dt.minute / 60
    us = holidays.US(years=range(call.dt.year.min(), call.dt.year.max() + 1))
    weekday_names = np.array(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    company_day = (pd.Series(weekday_names[call.dt.day_of_week], index=jobs.index).isin(wf.working_days)
                   & ~call.dt.date.map(lambda d: d in us).astype(bool))
    in_shift = company_day & (hour >= wf.shift_start_hour) & (hour < wf.shift_end_hour - 2)
    return (jobs["urgency"] == "emergency") & ~in_shift


def _capacity(company):
    wf = company.profile.workforce
    days = company.truth_tables["technician_days"].set_index(["technician_id", "date"])
    minutes = np.where(days["on_call"], wf.on_call_booking_hours, wf.booking_hours) * 60.0
    return days.assign(capacity=minutes)


@pytest.mark.parametrize("company_fixture", COMPANIES)
def test_bookings_fit_the_technicians_capacity(company_fixture, request):
    company = request.getfixturevalue(company_fixture)
    jobs = _active_jobs(company)
    booked = jobs[~_callouts(company, jobs)]
    booked = booked.assign(date=booked["scheduled_start"].dt.normalize(),
                           load=booked["scheduled_hours"] * 60 + booked["travel_minutes"])
    per_day = booked.groupby(["technician_id", "date"]).agg(load=("load", "sum"), longest=("load", "max"))
    capacity = _capacity(company)
    per_day = per_day.join(capacity["capacity"])
    assert per_day["capacity"].notna().all()
    # A technician-day is full at its booking hours; at most one job's length over.
    over = per_day[per_day["load"] - per_day["longest"] > per_day["capacity"]]
    assert over.empty, over.head().to_string()
    # Utilisation of the technician-days worked (in the data period): busy, not saturated.
    end = pd.Timestamp(company.profile.end)
    worked = capacity[capacity["available"] & (capacity.index.get_level_values("date") <= end)]
    load = per_day["load"].reindex(worked.index, fill_value=0.0)
    utilisation = load / worked["capacity"]
    assert 0.5 < utilisation.mean() < 0.95, utilisation.mean()
    by_year = utilisation.groupby(utilisation.index.get_level_values("date").year).mean()
    assert (by_year > 0.4).all() and (by_year < 1.0).all(), by_year.to_dict()


@pytest.mark.parametrize("company_fixture", COMPANIES)
def test_nobody_works_on_a_day_off(company_fixture, request):
    company = request.getfixturevalue(company_fixture)
    jobs = _active_jobs(company)
    days = company.truth_tables["technician_days"]
    callout = _callouts(company, jobs)
    # Booked work is done on the technician's working days only.
    booked = jobs[~callout].assign(date=lambda j: j["scheduled_start"].dt.normalize())
    reasons = booked.merge(days, on=["technician_id", "date"], how="left")["reason"]
    assert reasons.notna().all()
    assert (reasons == "working").all(), reasons.value_counts().to_dict()
    # The technician on call may be called out on a day off, never on leave, sick or gone.
    calls = jobs[callout].assign(date=lambda j: j["created_at"].dt.normalize())
    reasons = calls.merge(days, on=["technician_id", "date"], how="left")["reason"]
    assert len(reasons) > 0 and reasons.isin(["working", "day_off"]).all(), reasons.value_counts().to_dict()


@pytest.mark.parametrize("company_fixture", COMPANIES)
def test_leave_and_sickness_rates_match_the_profile(company_fixture, request):
    company = request.getfixturevalue(company_fixture)
    wf = company.profile.workforce
    days = company.truth_tables["technician_days"]
    assert set(days["reason"]) == {"working", "day_off", "vacation", "sick", "not_employed"}
    assert (days["available"] == (days["reason"] == "working")).all()
    employed = days[days["reason"] != "not_employed"]
    # Sick days as a share of the days that would have been worked.
    would_work = employed["reason"].isin(["working", "sick"]).sum()
    sick_share = (employed["reason"] == "sick").sum() / would_work
    assert sick_share == pytest.approx(wf.sick_day_rate, rel=0.25)
    # Vacation days per technician and full calendar year employed.
    employed = employed.assign(year=employed["date"].dt.year)
    start, end = pd.Timestamp(company.profile.start), pd.Timestamp(company.profile.end)
    employed = employed[(employed["date"] >= start) & (employed["date"] <= end)]
    per_year = employed.groupby(["technician_id", "year"]).agg(
        days=("date", "size"), vacation=("reason", lambda r: (r == "vacation").sum()))
    full = per_year[per_year["days"] >= 365]
    assert len(full) >= 10
    lo, hi = wf.vacation_blocks_per_year
    expected = (lo + hi) / 2 * wf.vacation_block_days
    assert full["vacation"].mean() == pytest.approx(expected, rel=0.15)
    assert full["vacation"].max() <= hi * wf.vacation_block_days
    # Weekends: nobody works a Sunday; a Saturday rota covers about saturday_share of the staff.
    working = days[days["reason"] == "working"]
    assert (working["date"].dt.day_of_week != 6).all()
    saturdays = employed[employed["date"].dt.day_of_week == 5]
    worked_saturdays = (saturdays["reason"].isin(["working", "vacation", "sick"])).mean()
    assert worked_saturdays == pytest.approx(wf.saturday_share, abs=0.08)


def test_emergencies_come_around_the_clock_and_go_to_the_on_call_technician(mixed_company):
    jobs = _active_jobs(mixed_company)
    emergencies = jobs[jobs["urgency"] == "emergency"]
    assert len(emergencies) > 500
    hour = emergencies["created_at"].dt.hour
    night = ((hour >= 22) | (hour < 6)).mean()
    assert night > 0.05, night
    # The hour-of-day profile of the calls is the generator's.
    observed = np.bincount(hour, minlength=24) / len(emergencies)
    expected = np.asarray(EMERGENCY_HOUR_WEIGHTS) / np.sum(EMERGENCY_HOUR_WEIGHTS)
    assert np.abs(observed - expected).max() < 0.02
    # Out of shift, the technician on call that day (per the rota truth) takes them.
    out = _out_of_shift(mixed_company, jobs)
    assert out.sum() > 100
    assert _callouts(mixed_company, jobs)[out].all()
    # And starts after the call.
    assert (jobs.loc[out, "scheduled_start"] > jobs.loc[out, "created_at"]).all()


def test_travel_is_slower_in_the_rush_hours(mixed_company):
    jobs = _active_jobs(mixed_company)
    driven = jobs[jobs["travel_miles"] > 3]
    departure = driven["scheduled_start"] - pd.to_timedelta(driven["travel_minutes"], unit="m")
    pace = (driven["travel_minutes"] - 5) / driven["travel_miles"]  # minutes a mile, less parking
    by_hour = pace.groupby(departure.dt.hour).median()
    rush = by_hour.reindex([7, 8, 16, 17]).dropna()
    midday = by_hour.reindex([10, 11, 13, 14]).dropna()
    assert len(rush) >= 3 and len(midday) >= 3
    assert rush.min() > 1.2 * midday.max(), by_hour.round(2).to_dict()


@pytest.mark.parametrize("company_fixture", COMPANIES)
def test_the_roster_is_what_the_scheduling_system_knows(company_fixture, request):
    """The roster table (source data) matches the truth up to the end of the data; later it
    holds planned leave but no sickness yet; booked work is on rostered working days."""
    company = request.getfixturevalue(company_fixture)
    roster = company.tables["roster"]
    truth = company.truth_tables["technician_days"]
    both = roster.merge(truth, on=["technician_id", "date"], how="left", validate="one_to_one")
    assert both["reason"].notna().all() and (both["reason"] != "not_employed").all()
    end = pd.Timestamp(company.profile.end)
    past = both[both["date"] <= end]
    assert ((past["status"] == "working") == (past["reason"] == "working")).all()
    leave = past[past["reason"].isin(["vacation", "sick"])]
    assert len(leave) and (leave["status"] == leave["reason"]).all()
    assert (past["status"] == "holiday").any() and (past["on_call_x"] == past["on_call_y"]).all()
    future = both[both["date"] > end]
    assert len(future) and not (future["status"] == "sick").any()
    assert (future.loc[future["reason"] == "vacation", "status"] == "vacation").all()
    jobs = _active_jobs(company)
    booked = jobs[~_callouts(company, jobs)].assign(date=lambda j: j["scheduled_start"].dt.normalize())
    status = booked[["technician_id", "date"]].merge(roster, on=["technician_id", "date"], how="left")["status"]
    past_booked = (booked["date"] <= end).to_numpy()
    assert (status[past_booked] == "working").all(), status[past_booked].value_counts().to_dict()
