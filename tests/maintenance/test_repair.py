import numpy as np
import pandas as pd
import pytest
from scipy.special import gamma

from quantlib.data.generate import _age_process
from quantlib.maintenance import (
    MaintenancePolicyError,
    PeriodicMaintenancePolicy,
    VirtualAgeModel,
    age_replacement_cost_rate,
    maintenance_history,
    periodic_cost_rate,
    unit_plan,
    virtual_ages,
)


def _simulated_cost_rate(T, shape, scale, rho, cp, cf, cycles=40_000, seed=0):
    """Renewal-reward by brute force: walk each cycle visit by visit, inverting the cumulative hazard."""
    rng = np.random.default_rng(seed)
    cost, length = 0.0, 0.0
    for _ in range(cycles):
        age = 0.0
        while True:
            fail_at = scale * ((age / scale) ** shape + rng.exponential()) ** (1 / shape) - age
            if fail_at < T:
                cost += cf
                length += fail_at
                break
            cost += cp
            length += T
            age = (1 - rho) * (age + T)
    return cost / length


def test_full_restoration_is_age_replacement():
    T = np.array([20.0, 60.0, 120.0, 300.0, 900.0])
    np.testing.assert_allclose(periodic_cost_rate(T, 2.2, 240.0, 1.0, 300.0, 3000.0),
                               age_replacement_cost_rate(T, 2.2, 240.0, 300.0, 3000.0), rtol=1e-7)


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_cost_rate_matches_a_brute_force_simulation(rho):
    exact = periodic_cost_rate(90.0, 2.2, 240.0, rho, 300.0, 3000.0)
    simulated = _simulated_cost_rate(90.0, 2.2, 240.0, rho, 300.0, 3000.0)
    assert exact == pytest.approx(simulated, rel=0.015)


def test_run_to_failure_and_the_order_of_restorations():
    rtf = 3000.0 / (240.0 * gamma(1 + 1 / 2.2))  # Cf / mean life
    assert periodic_cost_rate(np.inf, 2.2, 240.0, 0.5, 300.0, 3000.0) == pytest.approx(rtf, rel=1e-6)
    # the more a visit restores, the cheaper the same interval
    rates = [periodic_cost_rate(60.0, 2.2, 240.0, rho, 300.0, 3000.0) for rho in (0.0, 0.25, 0.5, 1.0)]
    assert rates == sorted(rates, reverse=True)


def _history_from_process(n=400, horizon=1500, rho=0.5, seed=1):
    """The generator's own failure process with visits every 90 days (12 % skipped), as history segments."""
    rng = np.random.default_rng(seed)
    pm = np.arange(30, horizon, 90.0)[None, :] + rng.integers(0, 8, (n, 1))
    pm = np.where(rng.random(pm.shape) < 0.12, np.nan, pm)
    scale = np.where(np.arange(n) < n // 2, 240.0, 310.0)
    units, days, downs, _ = _age_process(rng, scale, 2.2, rho, pm, np.zeros(n), 0, horizon)
    start = pd.Timestamp("2023-01-01")
    day = pd.to_timedelta(1, "D")
    equipment = pd.DataFrame({"equipment_id": [f"E{i:04d}" for i in range(n)],
                              "kind": np.where(np.arange(n) < n // 2, "heavy", "diagnostic"),
                              "purchase_date": start})
    events = [{"equipment_id": f"E{u:04d}", "event_kind": "failure", "scheduled_date": start + d * day,
               "completed_date": start + (d + 1 + dd) * day} for u, d, dd in zip(units, days, downs)]
    # a visit due while the unit is down for repair is not made
    down = {(u, x) for u, d, dd in zip(units, days, downs) for x in range(d, d + 2 + dd)}
    events += [{"equipment_id": f"E{i:04d}", "event_kind": "preventive", "scheduled_date": start + p * day,
                "completed_date": start + p * day}
               for i in range(n) for p in pm[i] if np.isfinite(p) and (i, int(p)) not in down]
    return maintenance_history(equipment, pd.DataFrame(events), start, start + horizon * day)


def test_the_model_recovers_the_generators_process():
    history = _history_from_process()
    assert set(history["ends"]) == {"failure", "preventive", "censored"}
    model = VirtualAgeModel().fit(history)
    low, high = model.restoration_interval_
    assert low < 0.5 < high and high - low < 0.2
    assert model.table_.loc["heavy", "scale"] == pytest.approx(240, rel=0.08)
    assert model.table_.loc["diagnostic", "scale"] == pytest.approx(310, rel=0.08)
    assert model.table_["shape"].to_numpy() == pytest.approx([2.2, 2.2], rel=0.1)
    # visits that do nothing: the estimate says so
    inert = VirtualAgeModel().fit(_history_from_process(rho=0.0, seed=2))
    assert inert.restoration_interval_[0] < 0.05 and inert.restoration_ < 0.1


def test_history_starts_at_a_known_age():
    start = pd.Timestamp("2023-01-01")
    equipment = pd.DataFrame({"equipment_id": ["old", "new"], "kind": ["heavy", "heavy"],
                              "purchase_date": [pd.Timestamp("2020-05-01"), pd.Timestamp("2023-03-01")]})
    events = pd.DataFrame([
        {"equipment_id": "old", "event_kind": "preventive", "scheduled_date": "2023-02-01",
         "completed_date": "2023-02-01"},
        {"equipment_id": "old", "event_kind": "failure", "scheduled_date": "2023-04-01",
         "completed_date": "2023-04-03"},
        {"equipment_id": "old", "event_kind": "preventive", "scheduled_date": "2023-06-01",
         "completed_date": "2023-06-02"},
        {"equipment_id": "new", "event_kind": "preventive", "scheduled_date": "2023-05-01",
         "completed_date": None},  # not done: no effect
    ])
    history = maintenance_history(equipment, events, start, pd.Timestamp("2023-08-01"))
    old = history[history["equipment_id"] == "old"]
    # nothing before the first failure (age unknown), then repair -> visit -> as of
    assert old["ends"].tolist() == ["preventive", "censored"]
    assert old["start"].iloc[0] == pd.Timestamp("2023-04-03") and old["position"].tolist() == [0, 1]
    new = history[history["equipment_id"] == "new"]
    assert new["ends"].tolist() == ["censored"] and new["start"].iloc[0] == pd.Timestamp("2023-03-01")


def test_policy_optimum_beats_its_neighbours_and_errors_are_named():
    history = _history_from_process()
    costs = pd.DataFrame({"preventive_cost": [300.0, 200.0], "failure_cost": [3000.0, 2500.0],
                          "current_interval_days": [90.0, 90.0]}, index=pd.Index(["heavy", "diagnostic"],
                                                                                 name="kind"))
    policy = PeriodicMaintenancePolicy().fit(history, costs)
    for kind, row in policy.table_.iterrows():
        m = policy.model_.table_.loc[kind]
        T = row["optimal_interval"]
        for other in (0.8 * T, 1.25 * T):
            assert row["cost_rate"] <= periodic_cost_rate(other, m["shape"], m["scale"], row["restoration"],
                                                          row["preventive_cost"], row["failure_cost"])
        assert row["cost_rate"] < row["run_to_failure_cost_rate"]
    with pytest.raises(MaintenancePolicyError, match="no row for equipment kind 'heavy'"):
        PeriodicMaintenancePolicy().fit(history, costs.drop(index="heavy"))
    with pytest.raises(MaintenancePolicyError, match="no column 'ends'"):
        VirtualAgeModel().fit(history.drop(columns="ends"))
    with pytest.raises(MaintenancePolicyError, match="restoration must be between 0 and 1"):
        VirtualAgeModel(restoration=1.5).fit(history)


def test_virtual_ages_apply_each_visit():
    start = pd.Timestamp("2023-01-01")
    equipment = pd.DataFrame({"equipment_id": ["u"], "kind": ["heavy"], "purchase_date": [start]})
    events = pd.DataFrame([
        {"equipment_id": "u", "event_kind": "preventive", "scheduled_date": "2023-01-31",
         "completed_date": "2023-01-31"},
        {"equipment_id": "u", "event_kind": "preventive", "scheduled_date": "2023-03-02",
         "completed_date": "2023-03-02"},
    ])
    history = maintenance_history(equipment, events, start, pd.Timestamp("2023-03-12"))
    ages = virtual_ages(history, 0.5)
    # 30 days -> 15, +30 -> 45 -> 22.5, +10 days to the as-of date
    assert ages["age_days"].tolist() == [pytest.approx(32.5)]
    assert virtual_ages(history, 1.0)["age_days"].tolist() == [pytest.approx(10.0)]


def test_the_fleet_dp_under_imperfect_repair_keeps_the_optimal_rhythm():
    history = _history_from_process()
    costs = pd.DataFrame({"preventive_cost": [300.0, 200.0], "failure_cost": [3000.0, 2500.0]},
                         index=pd.Index(["heavy", "diagnostic"], name="kind"))
    policy = PeriodicMaintenancePolicy().fit(history, costs)
    for kind in policy.kinds_:
        weeks = unit_plan(policy, kind, 0.0, horizon_weeks=156)
        gaps = np.diff(weeks)[2:]  # once the virtual age has settled
        assert len(gaps) >= 5
        assert 0.7 < np.median(gaps) * 7 / policy.optimal_interval(kind) < 1.3
    # a visit that restores nothing is never worth making
    inert = PeriodicMaintenancePolicy(restoration=0.0).fit(history, costs)
    assert unit_plan(inert, "heavy", 100.0, horizon_weeks=52) == []
    assert np.isinf(inert.optimal_interval("heavy"))
