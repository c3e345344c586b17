import numpy as np
import pandas as pd
import pytest

from quantlib.maintenance import SensorDataError
from quantlib.maintenance.failure_time import (
    AgeWeibullModel,
    TimeToFailureModel,
    evaluate_time_to_failure,
    landmarks,
    unit_ages,
)


def _fleet(n_units=30, days=900, seed=0):
    """Units fail when a hidden wear level crosses 1; vibration_z rises over the 30 days before each failure."""
    rng = np.random.default_rng(seed)
    rows, failures = [], []
    start = pd.Timestamp("2022-01-01")
    for u in range(n_units):
        day = 0
        while day < days:
            life = int(rng.weibull(2.0) * 200) + 40
            fail = day + life
            for d in range(day, min(fail + 1, days)):
                drift = max(0.0, 1 - (fail - d) / 30) if fail < days else max(0.0, 1 - (fail - d) / 30)
                rows.append((f"E{u}", start + pd.Timedelta(days=d), 4 * drift + rng.normal(0, 1)))
            if fail < days:
                failures.append((f"E{u}", start + pd.Timedelta(days=fail)))
            day = fail + 3  # three days down
    features = pd.DataFrame(rows, columns=["equipment_id", "date", "vibration_z"])
    for name in ("temperature_z", "pressure_z", "vibration_slope", "temperature_slope", "pressure_slope"):
        features[name] = rng.normal(0, 1, len(features)) * 0.1
    return features, pd.DataFrame(failures, columns=["equipment_id", "failure_date"])


def test_unit_ages_restart_after_each_failure():
    features, failures = _fleet(n_units=2, days=400, seed=1)
    ages = unit_ages(features, failures)
    unit = ages[ages.equipment_id == "E0"]
    first_failure = failures[failures.equipment_id == "E0"].failure_date.min()
    day_after = unit[unit.date > first_failure].iloc[0]
    assert day_after["life"] == 1 and day_after["age"] == 0
    assert unit.loc[unit.date == first_failure, "fails"].item() == 1
    # the rolling means use the past week only
    changed = features.copy()
    changed.loc[changed.date > pd.Timestamp("2022-06-01"), "vibration_z"] += 100
    a, b = unit_ages(features, failures), unit_ages(changed, failures)
    early = a.date <= pd.Timestamp("2022-06-01")
    np.testing.assert_allclose(a.loc[early, "vibration_z"], b.loc[early, "vibration_z"])
    with pytest.raises(SensorDataError, match="vibration_slope"):
        unit_ages(features.drop(columns="vibration_slope"), failures)


def test_landmarks_measure_the_time_to_the_next_failure_censored_at_the_horizon():
    d = pd.Timestamp
    ages = pd.DataFrame({"equipment_id": "E1", "date": pd.date_range("2024-01-01", periods=30), "age": range(30),
                         "life": 0, "fails": 0, **{c: 0.0 for c in ["vibration_z", "temperature_z", "pressure_z",
                                                                     "vibration_slope", "temperature_slope",
                                                                     "pressure_slope"]}})
    rows = landmarks(ages, pd.DataFrame({"equipment_id": ["E1"], "failure_date": [d("2024-01-20")]}),
                     every_days=7, horizon_days=10)
    assert rows["date"].tolist() == [d("2024-01-01"), d("2024-01-08"), d("2024-01-15"), d("2024-01-22"),
                                     d("2024-01-29")]
    # 1 Jan: failure 20 days on, beyond the 10-day horizon -> censored at 10; 15 Jan: fails on day 6
    assert rows["duration"].tolist() == [10, 10, 6, 9, 2] and rows["event"].tolist() == [0, 0, 1, 0, 0]


def test_landmark_cox_ranks_drifting_units_first_and_beats_age_alone():
    features, failures = _fleet(seed=2)
    split = pd.Timestamp("2023-06-01")
    train = features[features.date < split]
    model = TimeToFailureModel(horizon_days=60).fit(train, failures, end=split - pd.Timedelta(days=1))
    assert model.coefficients_["vibration_z"] > 0.3  # drift raises the hazard
    assert model.n_failures_ > 20
    baseline = AgeWeibullModel().fit(train, failures[failures.failure_date < split])
    dates = pd.date_range(split, "2024-04-01", freq="14D")
    ours = evaluate_time_to_failure(model, features, failures, dates, horizon_days=30, grid_days=60)
    age_only = evaluate_time_to_failure(baseline, features, failures, dates, horizon_days=30, grid_days=60)
    assert ours["concordance"] > age_only["concordance"]
    assert ours["integrated_brier_score"] < age_only["integrated_brier_score"]
    assert len(ours["calibration"]) == 5
    top = ours["calibration"][-1]
    assert top["observed"] > 0.3 and abs(top["predicted"] - top["observed"]) < 0.2
    state = unit_ages(features, failures).query("date == @split")
    rul = model.remaining_life(state, within=30)
    assert rul["p_fail_within"].between(0, 1).all()
    drifting = state["vibration_z"] > 2
    assert rul.loc[drifting.to_numpy(), "p_fail_within"].min() > rul.loc[~drifting.to_numpy(), "p_fail_within"].median()
    with pytest.raises(ValueError, match="beyond"):
        model.survival_at(state, [90])


def test_no_failures_is_a_clear_error():
    features, failures = _fleet(n_units=2, days=200, seed=3)
    with pytest.raises(SensorDataError, match="no failure"):
        TimeToFailureModel().fit(features, failures.iloc[0:0])


def test_a_feature_that_never_varies_is_left_out_and_no_warning_escapes():
    import warnings

    features, failures = _fleet(n_units=12, days=500, seed=4)
    features["temperature_z"] = 0.0  # a company without temperature sensors
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning reaches the caller (a report must show none)
        model = TimeToFailureModel(penalizer=0.0).fit(features, failures)
    assert "temperature_z" not in model.covariates_ and "vibration_z" in model.covariates_
    state = unit_ages(features, failures).tail(5)
    assert model.survival_at(state, [10, 30]).shape == (5, 2)
