import duckdb
import numpy as np
import pandas as pd
import pytest
from reliability.Repairable_systems import optimal_replacement_time
from scipy.integrate import quad

from quantlib.errors import DropReason, QuantError
from quantlib.maintenance import (
    AgeReplacementPolicy,
    MaintenancePolicyError,
    age_replacement_cost_rate,
    fleet_schedule,
    maintenance_costs,
    technician_capacity,
    unit_plan,
)


def _lives(kinds: dict, n: int = 400, seed: int = 0, censor: float = 1.5) -> pd.DataFrame:
    """Weibull lives per kind (shape, scale), right-censored at ``censor`` scales."""
    rng = np.random.default_rng(seed)
    frames = []
    for kind, (shape, scale) in kinds.items():
        life = scale * rng.weibull(shape, n)
        frames.append(pd.DataFrame({"kind": kind, "time": np.minimum(life, censor * scale),
                                    "event": (life < censor * scale).astype(int)}))
    return pd.concat(frames, ignore_index=True)


def _costs(rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{"kind": k, "preventive_cost": cp, "failure_cost": cf, "current_interval_days": cur}
                         for k, (cp, cf, cur) in rows.items()]).set_index("kind")


@pytest.fixture(scope="module")
def policy():
    lives = _lives({"wear": (2.5, 300.0), "random": (0.7, 400.0)})
    return AgeReplacementPolicy().fit(lives, _costs({"wear": (200.0, 2000.0, 90.0), "random": (100.0, 1500.0, 90.0)}))


def test_cost_rate_is_the_age_replacement_formula():
    shape, scale, cp, cf, T = 2.2, 250.0, 150.0, 1800.0, 120.0
    R = np.exp(-(T / scale) ** shape)
    integral, _ = quad(lambda t: np.exp(-(t / scale) ** shape), 0, T)
    assert age_replacement_cost_rate(T, shape, scale, cp, cf) == pytest.approx((cp * R + cf * (1 - R)) / integral,
                                                                              rel=1e-9)


def test_optimum_matches_the_reliability_package(policy):
    row = policy.table_.loc["wear"]
    reference = optimal_replacement_time(row["preventive_cost"], row["failure_cost"], row["scale"], row["shape"],
                                         show_time_plot=False, show_ratio_plot=False, print_results=False)
    assert row["optimal_interval"] == pytest.approx(reference.ORT, rel=0.01)
    assert row["cost_rate"] == pytest.approx(reference.min_cost, rel=0.01)
    # the optimum beats both alternatives, and the fit found the wear-out shape it was given
    assert row["cost_rate"] < row["current_cost_rate"] and row["cost_rate"] < row["run_to_failure_cost_rate"]
    assert row["shape"] == pytest.approx(2.5, rel=0.1) and row["scale"] == pytest.approx(300, rel=0.1)
    assert row["saving_vs_current"] == pytest.approx(row["current_cost_rate"] - row["cost_rate"])
    assert policy.cost_rate("wear", 90.0) == pytest.approx(row["current_cost_rate"])


def test_no_finite_optimum_when_the_hazard_does_not_rise(policy):
    row = policy.table_.loc["random"]
    assert row["shape"] < 1
    assert np.isinf(row["optimal_interval"]) and row["decision"] == "run to failure"
    assert row["cost_rate"] == pytest.approx(row["failure_cost"] / row["mean_life"])
    assert row["saving_vs_run_to_failure"] == 0
    assert policy.table_.loc["wear", "decision"] == "preventive at optimal interval"


def test_too_few_failures_and_unknown_kinds_are_named():
    lives = pd.DataFrame({"kind": ["a"] * 4, "time": [10.0, 20, 30, 40], "event": [1, 0, 0, 1]})
    with pytest.raises(MaintenancePolicyError, match="no kind can be fitted .kind 'a': 2 failure"):
        AgeReplacementPolicy().fit(lives, _costs({"a": (1.0, 10.0, 5.0)}))
    with pytest.raises(MaintenancePolicyError, match="no row for equipment kind 'a'") as caught:
        AgeReplacementPolicy(min_failures=1).fit(lives, _costs({"b": (1.0, 10.0, 5.0)}))
    assert isinstance(caught.value, QuantError)


def test_a_kind_with_too_few_failures_is_skipped_and_its_units_dropped():
    lives = pd.concat([_lives({"wear": (2.5, 300.0)}, n=100),
                       pd.DataFrame({"kind": "rare", "time": [50.0, 400.0, 500.0], "event": [1, 0, 0]})])
    policy = AgeReplacementPolicy().fit(lives, _costs({"wear": (200.0, 2000.0, 90.0), "rare": (50.0, 900.0, 90.0)}))
    assert policy.kinds_ == ["wear"] and policy.skipped_["kind"].tolist() == ["rare"]
    assert "1 failure(s), fewer than min_failures=3" in policy.skipped_["reason"].iloc[0]
    units = pd.DataFrame({"equipment_id": ["A", "B"], "kind": ["wear", "rare"], "age_days": [400.0, 400.0]})
    schedule = fleet_schedule(policy, units, {"wear": 4.0}, np.inf, horizon_weeks=30)
    assert schedule.dropped["equipment_id"].tolist() == ["B"] and "kind not fitted" in schedule.dropped["reason"][0]
    assert schedule.dropped["reason_code"][0] == DropReason.KIND_NOT_FITTED
    assert set(schedule.plan["equipment_id"]) == {"A"}


# ----------------------------------------------------------------------------- the fleet schedule

def _fleet(n_per_kind: int = 30, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"equipment_id": [f"E{i:03d}" for i in range(2 * n_per_kind)],
                         "kind": ["wear"] * n_per_kind + ["random"] * n_per_kind,
                         "age_days": rng.uniform(0, 600, 2 * n_per_kind).round()})


HOURS = {"wear": 4.0, "random": 3.0}


def test_unlimited_capacity_gives_each_unit_its_own_optimum(policy):
    fleet = _fleet()
    schedule = fleet_schedule(policy, fleet, HOURS, np.inf, horizon_weeks=52)
    assert schedule.iterations == 0 and len(schedule.plan)
    for unit in fleet.itertuples():
        own = unit_plan(policy, unit.kind, unit.age_days, horizon_weeks=52)
        assert schedule.plan.loc[schedule.plan["equipment_id"] == unit.equipment_id, "week"].tolist() == own
    # the wear-out kind's DP renews near the continuous optimum interval (weekly steps)
    young = unit_plan(policy, "wear", 0.0, horizon_weeks=104)
    interval_weeks = policy.optimal_interval("wear") / 7
    assert len(young) >= 2 and abs((young[1] - young[0]) - interval_weeks) <= 1.5
    assert (schedule.plan["expected_cost_avoided"] > 0).all()


def test_capacity_is_never_exceeded(policy):
    fleet = _fleet(n_per_kind=40)
    free = fleet_schedule(policy, fleet, HOURS, np.inf, horizon_weeks=26)
    capacity = 8.0   # two interventions a week; the unconstrained plan needs more in its busiest week
    assert free.load["hours"].max() > capacity
    schedule = fleet_schedule(policy, fleet, HOURS, capacity, horizon_weeks=26)
    per_week = schedule.plan.groupby("week")["hours"].sum()
    assert (per_week <= capacity + 1e-9).all()
    assert not schedule.plan.duplicated(["equipment_id", "week"]).any()
    assert len(schedule.plan) > 0 and schedule.plan["week"].between(0, 25).all()
    # capacity varying by week is honoured too
    weekly = np.where(np.arange(26) % 2 == 0, 0.0, 12.0)
    alternating = fleet_schedule(policy, fleet, HOURS, weekly, horizon_weeks=26)
    assert (alternating.plan["week"] % 2 == 1).all()
    assert (alternating.plan.groupby("week")["hours"].sum() <= 12.0 + 1e-9).all()


def test_a_unit_whose_hazard_does_not_rise_is_never_maintained(policy):
    fleet = _fleet()
    schedule = fleet_schedule(policy, fleet, HOURS, np.inf, horizon_weeks=104)
    kinds = set(schedule.plan["kind"])
    assert "wear" in kinds and "random" not in kinds
    assert unit_plan(policy, "random", 5000.0, horizon_weeks=104) == []


def test_an_intervention_larger_than_every_week_is_dropped_with_its_reason(policy):
    schedule = fleet_schedule(policy, _fleet(n_per_kind=3), {"wear": 10.0, "random": 3.0}, 6.0, horizon_weeks=10)
    assert set(schedule.dropped["kind"]) == {"wear"} and "more than any week" in schedule.dropped["reason"].iloc[0]
    assert (schedule.dropped["reason_code"] == DropReason.EXCEEDS_WEEKLY_CAPACITY).all()
    with pytest.raises(MaintenancePolicyError, match="kind 'wear': no positive hours"):
        fleet_schedule(policy, _fleet(), {"random": 3.0}, 6.0)


# ----------------------------------------------------------------------------- from gold

@pytest.fixture(scope="module")
def gold_costs(demo_lake):
    return maintenance_costs(demo_lake)


def test_costs_follow_the_stated_formula(demo_lake, gold_costs):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        start, end = con.execute("SELECT data_start, as_of FROM build_params").fetchone()
        events = con.execute("""SELECT m.*, e.kind AS unit_kind, e.available_hours_per_week AS avail
                                FROM maintenance_events m JOIN equipment e USING (equipment_id)""").df()
        kpis = con.execute("""SELECT e.kind, sum(job_revenue) / sum(available_hours) AS rate
                              FROM equipment_kpis_between(?::DATE, ?::DATE) JOIN equipment e USING (equipment_id)
                              GROUP BY 1""", [start, end]).df().set_index("kind")["rate"]
    finally:
        con.close()
    for kind, row in gold_costs.costs.iterrows():
        mine = events[events["unit_kind"] == kind]
        fail = mine[mine["kind"] == "failure"]
        pm = mine[(mine["kind"] == "preventive") & mine["completed_date"].notna()]
        share = mine["avail"].iloc[0] / 168
        assert row["failure_cost"] == pytest.approx(fail["cost"].mean() + fail["downtime_hours"].mean() * share
                                                    * kpis[kind])
        assert row["preventive_cost"] == pytest.approx(pm["cost"].mean() + pm["downtime_hours"].mean() * share
                                                       * kpis[kind])
        assert row["failure_cost"] > row["preventive_cost"] > 0
        # the generator schedules preventive visits every 90 days plus up to 9 + 7 days of slack
        assert 85 <= row["current_interval_days"] <= 100


def test_lives_run_from_a_repair_to_the_next_failure_or_as_of(demo_lake, gold_costs):
    lives = gold_costs.lives
    assert (lives["time"] > 0).all()
    censored = lives[lives["event"] == 0]
    assert (censored["end"] == pd.Timestamp(gold_costs.as_of)).all()
    assert not censored.duplicated("equipment_id").any()
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        failures = con.execute("""SELECT equipment_id, scheduled_date, completed_date FROM maintenance_events
                                  WHERE kind = 'failure' ORDER BY equipment_id, scheduled_date""").df()
    finally:
        con.close()
    # every failure but each unit's first (whose life began before the records) ends one life
    n_units_failed = failures["equipment_id"].nunique()
    assert (lives["event"] == 1).sum() == len(failures) - n_units_failed
    unit = failures["equipment_id"].value_counts().index[0]
    mine = failures[failures["equipment_id"] == unit]
    expected = (mine["scheduled_date"].iloc[1:].to_numpy() - mine["completed_date"].iloc[:-1].to_numpy()) \
        / np.timedelta64(1, "D")
    got = lives[(lives["equipment_id"] == unit) & (lives["event"] == 1)]["time"].to_numpy()
    np.testing.assert_allclose(got, expected)
    kept = maintenance_costs(demo_lake, from_observation_start=True).lives
    assert len(kept) > len(lives)


def test_policy_and_schedule_on_a_generated_company(demo_lake, gold_costs):
    policy = AgeReplacementPolicy().fit(gold_costs.lives, gold_costs.costs)
    assert set(policy.kinds_) == set(gold_costs.costs.index)
    capacity = technician_capacity(demo_lake, share=0.05)
    schedule = fleet_schedule(policy, gold_costs.units, gold_costs.costs["preventive_hours"].to_dict(), capacity,
                              horizon_weeks=26)
    assert (schedule.plan.groupby("week")["hours"].sum() <= capacity + 1e-9).all()
    assert set(schedule.plan["equipment_id"]) <= set(gold_costs.units["equipment_id"])
    with pytest.raises(MaintenancePolicyError, match=r"in \(0, 1\]"):
        technician_capacity(demo_lake, share=0)
