"""Revenue model: sensible magnitudes on the demo company, learned weights, no leakage,
the spec's accuracy on hand-made numbers, clear errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from quantlib.forecast.pipeline import censor_snapshot, warehouse_snapshot
from quantlib.forecast.revenue import (
    COMPONENTS,
    RevenueModel,
    _history_part,
    _seasonal_index,
    backtest_revenue,
    horizon_accuracy,
    weekly_wape,
)

AS_OF = pd.Timestamp("2024-09-30")


@pytest.fixture(scope="module")
def snapshot(demo_lake):
    return warehouse_snapshot(demo_lake.gold)


@pytest.fixture(scope="module")
def fitted(snapshot):
    return RevenueModel(n_origins=3).fit(snapshot, as_of=AS_OF)


def test_metrics_by_hand():
    assert horizon_accuracy([100, 100], [90, 120]) == pytest.approx(1 - 10 / 200)
    assert horizon_accuracy([0, 0], [1, 1]) != horizon_accuracy([0, 0], [1, 1])  # nan
    # Two weeks: weekly sums 70 vs 77 and 70 vs 63 -> WAPE 14 / 140.
    a = np.full(14, 10.0)
    f = np.r_[np.full(7, 11.0), np.full(7, 9.0)]
    assert weekly_wape(a, f) == pytest.approx(0.1)


def test_history_part_recovers_annual_and_weekday_seasonality():
    # Three years of daily revenue: an annual swing of +-30 %, quiet weekends, 5 % noise.
    rng = np.random.default_rng(1)
    ds = pd.date_range("2021-01-01", "2023-12-31", freq="D")
    week = np.array([1.2, 1.2, 1.2, 1.2, 1.2, 0.5, 0.5])
    truth = lambda d: 1000 * (1 + 0.3 * np.sin(2 * np.pi * d.day_of_year / 365.25)) * week[d.day_of_week]  # noqa: E731
    y = pd.Series(truth(ds) * rng.lognormal(0, 0.05, len(ds)), index=ds)
    idx = _seasonal_index(pd.DataFrame({"ds": ds, "total": y.to_numpy()}))
    fc = _history_part(y, 91, None, idx)
    future = pd.date_range("2024-01-01", periods=91, freq="D")
    want = np.asarray(truth(future), float)
    weekly = lambda a: np.add.reduceat(a, np.arange(0, 91, 7))  # noqa: E731
    np.testing.assert_allclose(weekly(fc), weekly(want), rtol=0.06)
    # The weekday profile is carried: weekend days well below weekdays.
    assert fc[future.day_of_week >= 5].mean() < 0.6 * fc[future.day_of_week < 5].mean()
    # Without the annual index the spring rise is missed (the test can fail).
    flat = _history_part(y, 91, None, None)
    assert np.abs(weekly(flat) - weekly(want)).sum() > 1.5 * np.abs(weekly(fc) - weekly(want)).sum()


def test_long_horizon_learns_at_a_proxy_horizon(snapshot):
    # Thirteen months of usable history: a year ahead has one inner origin, so the weights
    # are learned at half the horizon and the spread is scaled up from there.
    fc = RevenueModel(horizons=(365,), n_origins=3).fit(snapshot, as_of="2024-02-15")
    assert fc.weights_source_[365] == "backtest (182 d)"
    tb = fc.training_backtest_
    assert (tb["horizon"] == 365).sum() < 2 <= (tb["horizon"] == 182).sum()
    assert fc.dof_[365] >= 1 and fc.sigma_[365] > 0


def test_forecast_magnitudes_against_history(fitted, snapshot):
    out = fitted.forecast()
    assert list(out["horizon"]) == [30, 90, 365]
    assert (out["worst"] < out["likely"]).all() and (out["likely"] < out["best"]).all()
    assert (out["lo_95"] < out["lo_80"]).all() and (out["hi_80"] < out["hi_95"]).all()
    daily = snapshot["jobs"].query("is_completed")
    last_year = daily[(daily["completed_date"] > AS_OF - pd.Timedelta(days=365))
                      & (daily["completed_date"] <= AS_OF)]["revenue"].sum()
    per_day = last_year / 365
    for _, row in out.iterrows():
        assert 0.6 * per_day * row["horizon"] < row["likely"] < 1.6 * per_day * row["horizon"]
    assert set(fitted.scenarios()["scenario"]) == {"worst", "likely", "best"}
    daily_path = fitted.predict_daily(45)
    assert len(daily_path) == 45 and daily_path["ds"].iloc[0] == AS_OF + pd.Timedelta(days=1)


def test_weights_learned_non_negative_summing_to_one(fitted, snapshot):
    w = fitted.weights_
    assert list(w.columns) == list(COMPONENTS)
    assert np.allclose(w.sum(axis=1), 1.0) and (w.to_numpy() >= 0).all()
    assert fitted.weights_source_[30] == "backtest"
    # Learned, not the prior constant (the data moves them).
    assert not np.allclose(w.loc[30].to_numpy(), [0.4, 0.3, 0.2, 0.1], atol=1e-4)
    # A strong prior keeps them at the prior.
    strong = RevenueModel(horizons=(30,), n_origins=2, prior_strength=1e6)
    strong.fit(snapshot, as_of=AS_OF)
    assert np.allclose(strong.weights_.loc[30].to_numpy(), [0.4, 0.3, 0.2, 0.1], atol=1e-3)


def test_no_leakage_future_changes_do_not_move_the_forecast(snapshot, fitted):
    changed = censor_snapshot(snapshot, snapshot.as_of)
    jobs = changed.tables["jobs"]
    later = jobs["completed_date"] > AS_OF
    jobs.loc[later, "revenue"] *= 5
    q = changed.tables["quotes"]
    # Decided after the as-of day (a quote decided during that day is known at its end).
    q.loc[q["decided_at"].dt.normalize() > AS_OF, "status"] = "lost"
    again = RevenueModel(n_origins=3).fit(changed, as_of=AS_OF)
    pd.testing.assert_frame_equal(again.forecast(), fitted.forecast())


def test_backtest_reports_accuracy_next_to_targets(snapshot):
    detail, summary = backtest_revenue(snapshot, horizons=(30,), n_origins=2,
                                       model=RevenueModel(n_origins=2))
    assert len(detail) == 2
    assert set(summary.columns) >= {"accuracy", "wape", "coverage_80", "baseline_accuracy",
                                    "target_accuracy"}
    assert summary["target_accuracy"].iloc[0] == 0.92
    assert summary["accuracy"].between(0.3, 1.0).all()


def test_bad_input(snapshot):
    with pytest.raises(ValueError, match="at least 400"):
        RevenueModel().fit(snapshot, as_of="2022-06-30")
    with pytest.raises(ValueError, match="prior_weights"):
        RevenueModel(prior_weights=(1, 2)).fit(snapshot)
    with pytest.raises(ValueError, match="horizons"):
        RevenueModel(horizons=(0,)).fit(snapshot)
    with pytest.raises(NotFittedError):
        RevenueModel().forecast()
