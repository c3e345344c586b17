import numpy as np
import pandas as pd
import pytest

from quantlib.data.contracts import OPERATING_STATES, TRANSITION_COLUMNS
from quantlib.data.generate import OPERATING_CHAINS, generate_company
from quantlib.data.profile import load_profile
from quantlib.maintenance import UsageChain, UsageDataError, stationary_distribution, transition_matrices
from quantlib.maintenance.usage import _hours_to_idle

P_BASE = np.array([[0.80, 0.15, 0.05, 0.00],
                   [0.10, 0.75, 0.15, 0.00],
                   [0.05, 0.35, 0.55, 0.05],
                   [0.30, 0.40, 0.00, 0.30]])
P_DRIFT = np.array(OPERATING_CHAINS["pre_failure"])


def _chains(n_units, days, matrix_of_day, seed=0, start="2024-01-01"):
    """Daily transition counts of hourly chains (24 steps a day from idle at midnight), vectorised over
    units; ``matrix_of_day(day)`` gives each day's matrix (the same for all units)."""
    rng = np.random.default_rng(seed)
    k = len(OPERATING_STATES)
    counts = np.zeros((n_units, days, k * k), dtype=np.int64)
    for day in range(days):
        cum = np.cumsum(matrix_of_day(day), axis=1)
        state = np.zeros(n_units, dtype=np.int64)
        for _ in range(24):
            new = np.minimum((rng.random(n_units)[:, None] > cum[state]).sum(axis=1), k - 1)
            counts[np.arange(n_units), day, state * k + new] += 1
            state = new
    ids = np.repeat([f"U{i:03d}" for i in range(n_units)], days)
    dates = np.tile(pd.date_range(start, periods=days, freq="D").to_numpy(), n_units)
    frame = pd.DataFrame(counts.reshape(-1, k * k), columns=list(TRANSITION_COLUMNS))
    return pd.concat([pd.DataFrame({"equipment_id": ids, "date": dates}), frame], axis=1)


def test_matrices_recover_a_known_chain_within_sampling_error():
    states = _chains(5, 120, lambda day: P_BASE)
    fitted = transition_matrices(states, prior=0.0)
    assert fitted.matrices.shape == (5, 4, 4)
    n_from = fitted.counts.sum(axis=2, keepdims=True)
    se = np.sqrt(P_BASE * (1 - P_BASE) / n_from)
    # every cell within 4 standard errors; impossible transitions stay 0 without a prior
    assert (np.abs(fitted.matrices - P_BASE) <= 4 * se + 1e-12).all()
    assert (fitted.matrices[:, P_BASE == 0] == 0).all()
    np.testing.assert_allclose(fitted.matrices.sum(axis=2), 1.0)
    pi = fitted.stationary.to_numpy()
    np.testing.assert_allclose(np.einsum("nk,nkj->nj", pi, fitted.matrices), pi, atol=1e-10)
    np.testing.assert_allclose(stationary_distribution(P_BASE), fitted.stationary.mean().to_numpy(), atol=0.03)
    long = fitted.long()
    assert len(long) == 5 * 16 and set(long.columns) == {"equipment_id", "from_state", "to_state", "count",
                                                          "probability"}
    row = long[(long.equipment_id == "U000") & (long.from_state == "heavy") & (long.to_state == "fault")]
    assert row["probability"].iloc[0] == pytest.approx(fitted.matrices[0, 2, 3])


def test_the_prior_keeps_a_rare_row_proper_and_leans_on_the_fleet():
    states = _chains(6, 60, lambda day: P_BASE, seed=1)
    rare = states["equipment_id"] == "U000"
    # U000 never left fault: its fault row has no transitions
    fault_out = [c for c in TRANSITION_COLUMNS if c.startswith("fault_to_")]
    states.loc[rare, fault_out] = 0
    fitted = transition_matrices(states, prior=2.0)
    fleet = fitted.counts.sum(axis=0)
    fleet_fault_row = (fleet[3] + 0.25) / (fleet[3].sum() + 1)
    np.testing.assert_allclose(fitted.matrices[0, 3], fleet_fault_row)
    assert np.isfinite(fitted.stationary.to_numpy()).all()
    # per-kind references: each group shrinks toward its own kind
    kinds = states.assign(kind=np.where(states.equipment_id <= "U002", "a", "b"))
    by_kind = transition_matrices(kinds, by="kind", prior=0.0)
    assert list(by_kind.groups) == ["a", "b"]
    window = (kinds.date >= "2024-01-10") & (kinds.date < "2024-02-01")
    per_unit = transition_matrices(kinds, prior=1.0, prior_by="kind", start="2024-01-10", end="2024-02-01")
    assert per_unit.counts.sum() == kinds.loc[window, list(TRANSITION_COLUMNS)].to_numpy().sum()
    kind_a = kinds[window & (kinds.kind == "a")][[c for c in TRANSITION_COLUMNS if c.startswith("fault_to_")]].sum()
    np.testing.assert_allclose(per_unit.matrices[0, 3], (kind_a.to_numpy() + 0.25) / (kind_a.sum() + 1))
    with pytest.raises(UsageDataError, match="kind must be constant"):
        transition_matrices(kinds.assign(kind=np.where(kinds.date.dt.day == 1, "a", "b")), prior_by="kind")


def test_drift_test_holds_its_level_without_drift_and_detects_a_drifted_chain():
    alpha = 0.05
    # 1,000 units scored on one day each (40 baseline days, then the 7-day window): independent draws
    calm = _chains(1000, 47, lambda day: P_BASE, seed=2)
    model = UsageChain(recent_days=7, baseline_days=40, min_baseline_days=40, alpha=alpha).fit(calm)
    features = model.transform(calm).dropna(subset=["drift_p"])
    assert len(features) == 1000 and (features.date == features.date.max()).all()
    # null calibration: the rejection rate is near alpha (binomial sd 0.7 points) and z near N(0, 1)
    assert abs(features["alarm"].mean() - alpha) < 0.02, features["alarm"].mean()
    assert abs(features["drift_z"].mean()) < 0.15 and 0.8 < features["drift_z"].std() < 1.2
    # power: the last week drifts 40 % of the way to the pre-failure matrix
    drifted = _chains(100, 47, lambda day: P_BASE if day < 40 else 0.6 * P_BASE + 0.4 * P_DRIFT, seed=3)
    scored = model.transform(drifted)
    final = scored[scored.date == scored.date.max()]
    assert final["alarm"].mean() > 0.8
    assert (final["fault_entry"] > final["baseline_fault_entry"]).mean() > 0.9
    assert final["fault_share"].mean() > 2 * features["fault_share"].mean()


def test_hours_to_idle_is_the_expected_hitting_time():
    rng = np.random.default_rng(5)
    cum = np.cumsum(P_BASE, axis=1)
    state, steps = np.full(20000, 1), np.zeros(20000)
    while (state != 0).any():  # from normal, hour by hour, until idle
        busy = state != 0
        steps += busy
        state[busy] = np.minimum((rng.random(busy.sum())[:, None] > cum[state[busy]]).sum(axis=1), 3)
    expected = _hours_to_idle(P_BASE[None], np.array([[0.0, 1.0, 0.0, 0.0]]))[0]
    assert expected == pytest.approx(steps.mean(), rel=0.03)


def test_windows_use_only_the_past_and_restart_at_a_reset():
    states = _chains(3, 80, lambda day: P_BASE if day < 70 else P_DRIFT, seed=4)
    model = UsageChain(recent_days=5, baseline_days=30, min_baseline_days=20).fit(states)
    full = model.transform(states)
    cut = model.transform(states[states.date < "2024-03-05"])
    merged = full.merge(cut, on=["equipment_id", "date"], suffixes=("", "_cut"))
    np.testing.assert_allclose(merged["drift_g"], merged["drift_g_cut"], equal_nan=True)
    first_days = full[full.date < pd.Timestamp("2024-01-01") + pd.Timedelta(days=24)]
    assert first_days["drift_p"].isna().all()
    resets = pd.DataFrame({"equipment_id": ["U000"], "date": [pd.Timestamp("2024-03-11")]})
    after = model.transform(states, resets=resets)
    day = after[after.date == pd.Timestamp("2024-03-15")].set_index("equipment_id")
    assert day.loc["U000", "recent_days_observed"] == 5 and day.loc["U000", "baseline_days_observed"] == 0
    assert np.isnan(day.loc["U000", "drift_p"]) and not np.isnan(day.loc["U001", "drift_p"])
    # a missing day is simply not observed: the window counts days with a row
    gap = model.transform(states.drop(index=states.index[(states.equipment_id == "U001")
                                                          & (states.date == "2024-03-14")]))
    assert gap.set_index(["equipment_id", "date"]).loc[("U001", pd.Timestamp("2024-03-15")),
                                                       "recent_days_observed"] == 4


def test_degenerate_input_errors_name_the_column():
    states = _chains(2, 10, lambda day: P_BASE)
    with pytest.raises(UsageDataError, match="heavy_to_fault"):
        transition_matrices(states.drop(columns="heavy_to_fault"))
    bad = states.copy()
    bad.loc[0, "idle_to_normal"] = -1
    with pytest.raises(UsageDataError, match="idle_to_normal"):
        UsageChain().fit(bad)
    bad = states.astype({"normal_to_idle": float})
    bad.loc[3, "normal_to_idle"] = np.nan
    with pytest.raises(UsageDataError, match="normal_to_idle"):
        transition_matrices(bad)
    with pytest.raises(UsageDataError, match="idle_to_idle is empty"):
        transition_matrices(states.assign(idle_to_idle=pd.array([pd.NA] * len(states), dtype="Int64")))
    with pytest.raises(UsageDataError, match="date"):
        transition_matrices(states.assign(date=pd.NaT))
    with pytest.raises(UsageDataError, match="kind"):
        transition_matrices(states, by="kind")
    with pytest.raises(UsageDataError, match="no row"):
        transition_matrices(states, start="2030-01-01")
    with pytest.raises(UsageDataError, match="duplicate|more than one row"):
        transition_matrices(pd.concat([states, states.iloc[:1]]))
    with pytest.raises(UsageDataError, match="recent_days"):
        UsageChain(recent_days=0).fit(states)
    with pytest.raises(UsageDataError, match="resets has no column 'date'"):
        UsageChain().fit(states).transform(states, resets=pd.DataFrame({"equipment_id": ["U000"]}))


def test_generator_counts_agree_with_the_hours_and_the_chain():
    company = generate_company(load_profile("parameters/companies/mixed_trades.yaml"), scale=0.4, seed=3)
    states = company.tables["equipment_states"]
    counts = states[list(TRANSITION_COLUMNS)].to_numpy().reshape(-1, 4, 4)
    hours = states[[f"{s}_hours" for s in OPERATING_STATES]].to_numpy()
    assert (counts.sum(axis=(1, 2)) == 24).all()
    # every hour is the arrival of one transition; the first leaves the idle midnight start
    np.testing.assert_array_equal(counts.sum(axis=1), hours)
    out = counts.sum(axis=2)
    arrivals = counts.sum(axis=1)
    diff = out - arrivals
    # out - in = [first state was idle] - [last hour's state]: one +1 at idle (or 0), one -1
    assert set(np.unique(diff.sum(axis=1))) == {0}
    assert (diff[:, 1:] <= 0).all() and (diff[:, 0] <= 1).all()
    # healthy days never enter fault (neither the working nor the night matrix does)
    failures = company.truth_tables["equipment_failures"]
    drifting = np.zeros(len(states), dtype=bool)
    for f in failures.itertuples():
        drifting |= ((states.equipment_id == f.equipment_id) & (states.date >= f.drift_start)
                     & (states.date <= f.failure_date)).to_numpy()
    assert counts[~drifting][:, :3, 3].sum() == 0
    assert counts[drifting][:, :3, 3].sum() > 0
