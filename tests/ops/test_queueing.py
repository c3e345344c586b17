"""Queueing: Erlang C against textbook values and the discrete-event simulation; staffing plans."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from quantlib.ops.queueing import (
    arrival_profile,
    arrivals_from_counts,
    bank_call_arrivals,
    emergency_staffing,
    erlang_a,
    erlang_c,
    mean_wait,
    replay_emergencies,
    servers_needed,
    service_level,
    simulate_fcfs,
    simulate_mmc,
    staffing_plan,
)
from tests.conftest import ROOT

BANK_CALLS = ROOT.parent / "shared" / "data" / "demand" / "fpp3__bank_calls.csv"


def test_erlang_c_closed_forms():
    # M/M/1: P(wait) = rho; M/M/2: 2 rho^2 / (1 + rho) with rho = lambda / (2 mu).
    assert erlang_c(0.7, 1.0, 1) == pytest.approx(0.7)
    rho = 0.6
    assert erlang_c(1.2, 1.0, 2) == pytest.approx(2 * rho**2 / (1 + rho))
    assert mean_wait(0.7, 1.0, 1) == pytest.approx(0.7 / (1.0 - 0.7))  # rho / (mu - lambda)
    assert erlang_c(5, 1, 5) == 1.0 and service_level(5, 1, 5, 1.0) == 0.0


def test_erlang_c_textbook_call_centre():
    # 10 erlangs on 11 agents: 68.21 % of calls wait (the classic worked example);
    # 80 % within 20 s with a 180 s handle time needs 14 agents (13 give 79.6 %).
    assert erlang_c(10.0, 1.0, 11) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(10, 1, 13, 20 / 180) == pytest.approx(0.7956, abs=5e-4)
    assert servers_needed(100 / 0.5, 3600 / 180, 20 / 3600, 0.8) == 14
    # 30 calls an hour, 5 minutes each, 90 % not delayed: 6 servers (5 leave 13 % waiting).
    assert 1 - erlang_c(30, 12, 5) < 0.9 <= 1 - erlang_c(30, 12, 6)


def test_erlang_c_is_stable_for_large_centres():
    value = erlang_c(950, 1, 1000)
    assert 0 < value < 1 and math.isfinite(value)


@pytest.mark.parametrize("lam,mu,c,t", [(3.0, 1.0, 5, 0.25), (0.5, 0.4, 2, 1.0)])
def test_erlang_c_matches_the_simulation(lam, mu, c, t):
    waits = simulate_mmc(lam, mu, c, n_arrivals=120_000, seed=3)
    assert (waits <= t).mean() == pytest.approx(service_level(lam, mu, c, t), abs=0.015)
    assert (waits > 0).mean() == pytest.approx(erlang_c(lam, mu, c), abs=0.015)
    assert waits.mean() == pytest.approx(mean_wait(lam, mu, c), rel=0.1)


def test_erlang_a_limits():
    # No abandonment: Erlang C.
    assert erlang_a(10, 1, 1e-7, 11)["p_wait"] == pytest.approx(erlang_c(10, 1, 11), abs=1e-4)
    # Patience rate = service rate: the number in system is Poisson(a), like M/M/inf.
    a, c = 8.0, 6
    n = np.arange(200)
    pmf = poisson.pmf(n, a)
    out = erlang_a(a, 1.0, 1.0, c)
    assert out["p_wait"] == pytest.approx(pmf[n >= c].sum(), abs=1e-9)
    assert out["p_abandon"] == pytest.approx((np.maximum(n - c, 0) * pmf).sum() / a, abs=1e-9)


def test_simulation_with_shifts():
    rng = np.random.default_rng(0)
    arrivals = np.sort(rng.uniform(0, 10, 400))
    service = rng.exponential(0.2, 400)
    const = simulate_fcfs(arrivals, service, 12)
    assert np.array_equal(const, simulate_fcfs(arrivals, service, np.array([12, 12]), np.array([0.0, 5.0])))
    # Nobody on duty before hour 5: every early arrival waits until then.
    waits = simulate_fcfs(arrivals, service, np.array([0, 30]), np.array([0.0, 5.0]))
    early = arrivals < 5
    assert np.all(arrivals[early] + waits[early] >= 5.0 - 1e-12)
    # One server, deterministic: the textbook recursion W_{n+1} = max(0, W_n + S_n - A_{n+1}).
    a, s = np.array([0.0, 1.0, 1.5, 5.0]), np.array([2.0, 1.0, 0.5, 1.0])
    assert simulate_fcfs(a, s, 1).tolist() == [0.0, 1.0, 1.5, 0.0]
    with pytest.raises(ValueError, match="length"):
        simulate_fcfs(a, s[:2], 1)


def test_staffing_plan_meets_the_target_with_the_fewest_servers():
    plan = staffing_plan(pd.DataFrame({"period": [8, 9], "rate": [20.0, 55.0]}), service_hours=0.1,
                         target_wait=1 / 60, target_level=0.8)
    assert (plan["service_level"] >= 0.8).all()
    for r in plan.itertuples():
        assert service_level(r.rate, 10.0, r.servers - 1, 1 / 60) < 0.8
    with pytest.raises(ValueError, match="period"):
        staffing_plan(pd.DataFrame({"rate": [1.0]}), 0.1, 0.1)


@pytest.mark.skipif(not BANK_CALLS.exists(), reason="shared bank-calls data not present")
def test_bank_calls_profile_and_des_day():
    counts = bank_call_arrivals(BANK_CALLS)
    assert counts["day"].nunique() == 164 and counts["slot"].min() == 84  # 07:00
    days = sorted(counts["day"].unique())
    profile = arrival_profile(counts[counts["day"].isin(days[:40])])
    # A late-evening hour (light load) keeps the simulation quick.
    hours = profile[(profile["start_hour"] >= 20)]
    plan = staffing_plan(hours, service_hours=4 / 60, target_wait=20 / 3600, target_level=0.8)
    day = counts[(counts["day"] == days[100]) & (counts["slot"] >= hours["period"].min())]
    arrivals = arrivals_from_counts(day, seed=1)
    service = np.random.default_rng(2).exponential(4 / 60, len(arrivals))
    waits = simulate_fcfs(arrivals, service, plan["servers"].to_numpy(), plan["start_hour"].to_numpy())
    assert len(waits) == day["calls"].sum()
    assert 0.5 < (waits <= 20 / 3600).mean() <= 1.0


def test_emergency_staffing_from_gold(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    plan = emergency_staffing(con, target_wait_hours=2.0, target_level=0.8)
    assert len(plan) == 6 and (plan["servers"] >= 1).all()
    assert (plan["service_level"] >= 0.8).all() and plan["rate"].sum() > 0
    replay = replay_emergencies(con, plan, target_wait_hours=2.0)
    # Fewer technicians on call can only make the real emergencies wait longer.
    thin = replay_emergencies(con, plan.assign(servers=1), target_wait_hours=2.0)
    none_at_night = replay_emergencies(con, plan.assign(servers=np.where(plan["period"] < 8, 0, 1)))
    con.close()
    assert replay["emergencies"] > 0 and 0 < replay["service_level"] <= 1
    assert thin["service_level"] <= replay["service_level"] and thin["mean_wait"] >= replay["mean_wait"]
    assert none_at_night["mean_wait"] > thin["mean_wait"]
    assert thin["erlang_service_level"] <= replay["erlang_service_level"]


def test_arrival_profile_quantile_is_a_buffer():
    counts = pd.DataFrame({"slot": [84, 84, 84, 85, 85, 85], "calls": [10.0, 20.0, 30.0, 5.0, 5.0, 50.0]})
    mean = arrival_profile(counts).set_index("period")["rate"]
    q80 = arrival_profile(counts, quantile=0.8).set_index("period")["rate"]
    assert mean[84] == pytest.approx(20 * 12) and mean[85] == pytest.approx(20 * 12)
    assert q80[84] == pytest.approx(26 * 12) and q80[85] == pytest.approx(32 * 12)
