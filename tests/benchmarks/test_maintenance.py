from benchmarks.maintenance import run, usage_drift
from quantlib.data.generate import generate_company
from quantlib.data.profile import load_profile


def test_benchmark_scores_every_detector_against_the_truth():
    company = generate_company(load_profile("parameters/companies/mixed_trades.yaml"), seed=5, scale=1)
    result = run(company, train_days=365, window_days=60)
    assert set(result["detectors"]) == {"cusum", "ewma", "isolation_forest", "fixed_threshold (baseline)"}
    for summary in result["detectors"].values():
        assert summary["failures"] > 10
        assert 0 <= summary["recall"] <= 1 and summary["false_alarms"] <= summary["alerts"]
    # the slow drifts are strong: the per-unit CUSUM warns of most bearing failures and leaks a week
    # ahead; a control board gives a few days of erratic readings, so most of those come unwarned
    by_mode = result["detectors"]["cusum"]["by_mode"]
    assert sum(m["failures"] for m in by_mode.values()) == result["detectors"]["cusum"]["failures"]
    slow = [by_mode[m] for m in ("bearing", "refrigerant_leak") if m in by_mode]
    assert sum(m["failures"] for m in slow) > 5
    assert sum(m["warned_share"] * m["failures"] for m in slow) / sum(m["failures"] for m in slow) > 0.7
    assert by_mode["control_board"]["warned_share"] < 0.3
    assert result["detectors"]["cusum"]["warned_share"] > 0.4


def test_benchmark_scores_the_time_to_failure_models():
    company = generate_company(load_profile("parameters/companies/mixed_trades.yaml"), seed=5, scale=1)
    result = run(company, train_days=365, window_days=60)
    ttf = result["time_to_failure"]
    # the company records operating states and vibration snapshots, so every variant is scored
    assert set(ttf) == {"landmark_cox", "landmark_cox + usage", "landmark_cox + spectral",
                        "landmark_cox + usage + spectral", "age_weibull (baseline)"}
    for scores in ttf.values():
        assert scores["rows"] > 100 and 0 <= scores["concordance"] <= 1
        assert 0 <= scores["integrated_brier_score"] <= 0.25 and len(scores["calibration"]) == 5


def test_benchmark_scores_the_failure_type_classifiers():
    company = generate_company(load_profile("parameters/companies/mixed_trades.yaml"), seed=5, scale=1)
    types = run(company, train_days=365, window_days=60)["failure_types"]
    assert {"random_forest", "gradient_boosting", "kind_majority (baseline)"} <= set(types)
    assert types["test_failures"] > 5
    for name in ("random_forest", "gradient_boosting"):
        assert 0 <= types[name]["macro_recall"] <= 1
        assert sum(sum(row.values()) for row in types[name]["confusion"].values()) == types["test_failures"]


def test_benchmark_scores_the_usage_drift_against_the_truth():
    company = generate_company(load_profile("parameters/companies/mixed_trades.yaml"), seed=5, scale=1)
    usage = usage_drift(company, train_days=365)
    assert usage["unit_days_scored"] > 5000 and usage["soon_unit_days"] > 100
    # the drift statistic ranks the fortnight before a failure above the rest, and is calm on healthy days
    assert usage["auc"]["drift_z"] > 0.75
    assert usage["false_alarm_rate"]["alpha_0.01"] < 0.02 and usage["false_alarm_rate"]["alpha_0.05"] < 0.07
    assert usage["failures_warned_14d"]["bearing"]["warned"] > 0.8
