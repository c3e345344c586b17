"""Choice by rolling-origin cross-validation, backtests, and no leakage from the future."""

import numpy as np
import pandas as pd
import pytest

from quantlib.forecast import AutoForecaster, Drift, Naive, SeasonalNaive, Theta, cross_validate


def _long(series: dict) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"series_id": k, "ds": np.arange(len(v)), "y": v}) for k, v in series.items()],
        ignore_index=True,
    )


def _data(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(60)
    return {
        # strongly seasonal with no trend: seasonal naive should win
        "seasonal": 50 + 10 * np.tile([3, -1, -4, 2], 15) + rng.normal(0, 0.5, 60),
        # a straight trend: drift should win
        "trend": 10 + 2.0 * t + rng.normal(0, 0.3, 60),
    }


def test_auto_forecaster_chooses_by_rolling_origin_cv_and_keeps_scores():
    fc = AutoForecaster(candidates=[SeasonalNaive(), Naive(), Drift()], h=4, cv_windows=3).fit(
        _long(_data()), season_length=4
    )
    res = fc.cv_results_
    assert set(res.columns) == {"series_id", "model", "score", "windows", "chosen"}
    assert len(res) == 6 and (res.windows == 3).all()
    chosen = res[res.chosen].set_index("series_id").model
    assert chosen["seasonal"] == "SeasonalNaive"
    assert chosen["trend"] == "Drift"
    out = fc.predict(4)
    assert out.groupby("series_id").model.first()["trend"] == "Drift"
    # the chosen model's score is the minimum per series
    best = res.groupby("series_id").score.min()
    np.testing.assert_allclose(res[res.chosen].set_index("series_id").score[best.index], best)


def test_auto_forecaster_cv_score_is_the_mean_mase_over_windows():
    y = _data()["trend"]
    fc = AutoForecaster(candidates=[Naive()], h=3, cv_windows=2, metric="mae").fit(_long({"t": y}))
    # naive from cutoffs 57 and 54: errors y[c:c+3] - y[c-1]
    expected = np.mean([np.mean(np.abs(y[c : c + 3] - y[c - 1])) for c in (57, 54)])
    assert fc.cv_results_.score.iloc[0] == pytest.approx(expected)


def test_short_series_gets_the_first_candidate_without_cv():
    fc = AutoForecaster(candidates=[Naive(), Drift()], h=4, min_train=4).fit(_long({"short": [1.0, 2, 3, 4, 5, 6]}))
    assert fc.cv_results_.windows.max() == 0
    assert fc.predict(2).model.iloc[0] == "Naive"


def test_cross_validate_returns_backtest_table():
    df = _long(_data())
    cv = cross_validate(SeasonalNaive(), df, h=4, n_windows=3, season_length=4)
    assert list(cv.columns[:5]) == ["series_id", "cutoff", "ds", "y", "yhat"]
    assert {"yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"} <= set(cv.columns)
    assert len(cv) == 2 * 3 * 4
    assert sorted(cv.cutoff.unique()) == [47, 51, 55]
    s = cv[(cv.series_id == "seasonal") & (cv.cutoff == 51)]
    y = _data()["seasonal"]
    np.testing.assert_allclose(s.y, y[52:56])
    np.testing.assert_allclose(s.yhat, y[48:52])  # one season before the cutoff


@pytest.mark.parametrize(
    "make",
    [lambda: Theta(), lambda: AutoForecaster(candidates=[SeasonalNaive(), Naive(), Theta()], h=4)],
    ids=["theta", "auto"],
)
def test_no_leakage_changing_future_values_does_not_change_past_forecasts(make):
    base = _data()
    shifted = {k: v.copy() for k, v in base.items()}
    for v in shifted.values():
        v[52:] += 1000.0  # everything after the earliest cutoff (51) is changed
    a = cross_validate(make(), _long(base), h=4, n_windows=3, season_length=4)
    b = cross_validate(make(), _long(shifted), h=4, n_windows=3, season_length=4)
    earliest = a.cutoff == 51
    cols = ["yhat", "yhat_lo_80", "yhat_hi_95"]
    pd.testing.assert_frame_equal(a.loc[earliest, cols], b.loc[earliest, cols])
    # the test can fail: later cutoffs see the change
    assert not np.allclose(a.loc[a.cutoff == 55, "yhat"], b.loc[b.cutoff == 55, "yhat"])


def test_auto_forecaster_fit_on_truncated_data_ignores_later_values():
    base = _data()
    cut = {k: v[:52] for k, v in base.items()}
    fc1 = AutoForecaster(h=4).fit(_long(cut), season_length=4)
    changed = {k: np.r_[v[:52], v[52:] * 5] for k, v in base.items()}
    fc2 = AutoForecaster(h=4).fit(_long({k: v[:52] for k, v in changed.items()}), season_length=4)
    pd.testing.assert_frame_equal(fc1.predict(4), fc2.predict(4))
    pd.testing.assert_frame_equal(fc1.cv_results_, fc2.cv_results_)


def _shifting_walks(n_series=40, n=60, h=6, seed=1):
    """Random walks whose noise triples for the last three horizons of history and after.

    The in-sample errors (mostly from the calm part) understate the out-of-sample ones;
    the CV windows (the last three horizons) see the noisier regime.
    """
    rng = np.random.default_rng(seed)
    train, test = {}, {}
    for i in range(n_series):
        sd = np.r_[np.full(n - 3 * h, 1.0), np.full(4 * h, 3.0)]
        y = 100 + np.cumsum(rng.normal(0, sd))
        train[f"s{i}"], test[f"s{i}"] = y[:n], y[n : n + h]
    return train, test


def _coverage(out, test, level=80):
    hits = []
    for sid, g in out.groupby("series_id"):
        y = test[sid]
        hits.append(np.mean((y >= g[f"yhat_lo_{level}"].to_numpy()) & (y <= g[f"yhat_hi_{level}"].to_numpy())))
    return float(np.mean(hits))


def test_calibrated_intervals_cover_closer_to_nominal_and_keep_forecasts():
    train, test = _shifting_walks()
    kw = dict(candidates=[Naive(), Drift()], h=6, cv_windows=3)
    cal = AutoForecaster(**kw).fit(_long(train)).predict(6, level=(80, 95))
    raw = AutoForecaster(calibrate_intervals=False, **kw).fit(_long(train)).predict(6, level=(80, 95))
    pd.testing.assert_series_equal(cal.yhat, raw.yhat)
    pd.testing.assert_series_equal(cal.model, raw.model)
    c_cal, c_raw = _coverage(cal, test), _coverage(raw, test)
    assert c_raw < 0.7  # the in-sample intervals are too narrow here
    assert abs(c_cal - 0.8) < abs(c_raw - 0.8)
    # intervals stay around yhat and nested across levels
    assert (cal.yhat_lo_80 <= cal.yhat).all() and (cal.yhat <= cal.yhat_hi_80).all()
    assert (cal.yhat_lo_95 <= cal.yhat_lo_80).all() and (cal.yhat_hi_80 <= cal.yhat_hi_95).all()


def test_calibration_leaves_series_without_cv_unchanged():
    df = _long({"short": [1.0, 2, 4, 3, 5, 6]})
    a = AutoForecaster(candidates=[Naive()], h=4).fit(df).predict(3)
    b = AutoForecaster(candidates=[Naive()], h=4, calibrate_intervals=False).fit(df).predict(3)
    pd.testing.assert_frame_equal(a, b)


def test_top_k_averages_the_two_best_candidates_by_cv():
    df = _long(_data())
    cands = [SeasonalNaive(), Naive(), Drift()]
    fc = AutoForecaster(candidates=cands, h=4, cv_windows=3, top_k=2, calibrate_intervals=False).fit(
        df, season_length=4
    )
    res = fc.cv_results_
    assert (res.groupby("series_id").chosen.sum() == 2).all()
    out = fc.predict(4, level=(80,))
    for sid, g in res.groupby("series_id"):
        two = g.nsmallest(2, "score").model.tolist()
        assert sorted(g[g.chosen].model) == sorted(two)
        singles = [
            next(c for c in cands if type(c).__name__ == name).clone().fit(df[df.series_id == sid], season_length=4)
            .predict(4, level=(80,))
            for name in two
        ]
        got = out[out.series_id == sid]
        np.testing.assert_allclose(got.yhat, np.mean([s.yhat for s in singles], axis=0))
        np.testing.assert_allclose(got.yhat_lo_80, np.mean([s.yhat_lo_80 for s in singles], axis=0))
    # calibration widens or narrows the averaged intervals but keeps the averaged forecast
    cal = AutoForecaster(candidates=cands, h=4, cv_windows=3, top_k=2).fit(df, season_length=4).predict(4, level=(80,))
    np.testing.assert_allclose(cal.yhat, out.yhat)
    assert not np.allclose(cal.yhat_hi_80, out.yhat_hi_80)
    # the single best (top_k=1) differs from the average for the trend series
    best = AutoForecaster(candidates=cands, h=4, cv_windows=3).fit(df, season_length=4).predict(4)
    assert not np.allclose(best[best.series_id == "trend"].yhat, out[out.series_id == "trend"].yhat)
    with pytest.raises(ValueError, match="top_k"):
        AutoForecaster(candidates=cands, top_k=0).fit(df, season_length=4)
