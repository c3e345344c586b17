import numpy as np
import pandas as pd
import pytest

from quantlib.maintenance import SensorDataError
from quantlib.maintenance.failure_modes import FailureModeClassifier, failure_mode_report, failure_windows

# each mode drifts its own signal before the failure; "control_board" gives no warning
SIGNATURES = {"bearing": "vibration_z", "refrigerant_leak": "pressure_z", "electrical": "temperature_z",
              "control_board": None}


def _failures(n_units=40, per_unit=4, seed=0):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01")
    rows, fails = [], []
    for u in range(n_units):
        kind = "heavy" if u % 2 else "diagnostic"
        days = 60 * per_unit + 30
        z = {s: rng.normal(0, 1, days) for s in ("vibration_z", "temperature_z", "pressure_z")}
        for k in range(per_unit):
            day = 60 * (k + 1)
            mode = rng.choice(list(SIGNATURES))
            signal = SIGNATURES[mode]
            if signal:
                z[signal][day - 20:day + 1] += np.linspace(0, 5, 21)
            fails.append((f"E{u}", start + pd.Timedelta(days=day), mode))
        for d in range(days):
            rows.append({"equipment_id": f"E{u}", "date": start + pd.Timedelta(days=d), "kind": kind,
                         **{s: v[d] for s, v in z.items()}})
    failures = pd.DataFrame(fails, columns=["equipment_id", "failure_date", "failure_mode"])
    return pd.DataFrame(rows), failures


def test_windows_summarise_the_days_before_each_failure():
    features, failures = _failures(n_units=2, per_unit=2, seed=1)
    windows = failure_windows(features, failures, window_days=14)
    assert len(windows) == len(failures)
    first = windows.iloc[0]
    unit = features[(features.equipment_id == first.equipment_id) & (features.date <= first.failure_date)
                    & (features.date > first.failure_date - pd.Timedelta(days=14))]
    assert first["vibration_max"] == pytest.approx(unit["vibration_z"].clip(-10, 10).max())
    assert first["pressure_last"] == pytest.approx(unit["pressure_z"].iloc[-1])
    assert first["kind"] in {"heavy", "diagnostic"} and first["failure_mode"] in SIGNATURES
    with pytest.raises(SensorDataError, match="vibration_z"):
        failure_windows(features.drop(columns="vibration_z"), failures)


@pytest.mark.parametrize("model", ["random_forest", "gradient_boosting"])
def test_classifiers_recover_the_modes_with_a_signature(model):
    features, failures = _failures(seed=2)
    windows = failure_windows(features, failures)
    train, test = windows.iloc[: len(windows) * 2 // 3], windows.iloc[len(windows) * 2 // 3:]
    clf = FailureModeClassifier(model=model).fit(train)
    report = failure_mode_report(clf, test)
    assert set(clf.classes_) == set(SIGNATURES)
    for mode in ("bearing", "refrigerant_leak", "electrical"):
        assert report["recall"][mode] > 0.8, (model, report["recall"])
    assert report["macro_recall"] > 0.6
    confusion = report["confusion"]
    assert confusion.to_numpy().sum() == len(test)
    assert np.allclose(clf.predict_proba(test).sum(axis=1), 1)


def test_unlabelled_failures_and_unknown_models_are_clear_errors():
    features, failures = _failures(n_units=4, per_unit=2, seed=3)
    windows = failure_windows(features, failures)
    with pytest.raises(SensorDataError, match="failure_mode"):
        FailureModeClassifier().fit(windows.assign(failure_mode=None))
    with pytest.raises(ValueError, match="model"):
        FailureModeClassifier(model="svm").fit(windows)
