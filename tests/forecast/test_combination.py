"""The combination forecaster: median of members, dropped members, exogenous columns, conformal intervals."""

import numpy as np
import pandas as pd
import pytest

from quantlib.forecast import CombinationForecaster  # the package exports it (issue 12: the default)
from quantlib.forecast.base import Forecaster
from quantlib.forecast.combination import default_member_sets, default_members
from quantlib.forecast.metrics import coverage
from quantlib.forecast.models import Comb, Drift, Naive, SeasonalNaive, Theta, naive_fallback
from quantlib.forecast.statsforecast_models import SFAutoETS, SFDOTheta, ets_spec


def _seasonal(n_series=4, n=60, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        t = np.arange(n)
        y = 100 + (0.5 + 0.2 * i) * t + (8 + 2 * i) * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)
        frames.append(pd.DataFrame({"series_id": f"s{i}", "ds": pd.date_range("2015-01-01", periods=n, freq="MS"),
                                    "y": y}))
    return pd.concat(frames, ignore_index=True)


def _walks(n_series, n, seed) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = 50 + np.cumsum(rng.normal(0, 1, (n_series, n)), axis=1)
    return pd.DataFrame({"series_id": np.repeat(np.arange(n_series), n), "ds": np.tile(np.arange(n), n_series),
                         "y": y.ravel()})


class NarrowNaive(Naive):
    """The naive forecast with intervals five times too narrow."""

    def _predict_series(self, state, h, level, X_future):
        mean, iv = super()._predict_series(state, h, level, X_future)
        return mean, {lv: (mean - (mean - lo) / 5, mean + (hi - mean) / 5) for lv, (lo, hi) in iv.items()}


class Broken(Forecaster):
    """A member that cannot fit any series."""

    fallback_model = staticmethod(naive_fallback)

    def _fit_series(self, y, season_length, X, series_id=None):
        raise FloatingPointError("optimiser diverged")


class FirstRegressor(Forecaster):
    """Forecasts the first exogenous column's future values."""

    uses_exog = True
    fallback_model = staticmethod(naive_fallback)

    def _fit_series(self, y, season_length, X, series_id=None):
        assert X is not None and X.shape == (len(y), 1)
        return {}

    def _predict_series(self, state, h, level, X_future):
        mean = np.asarray(X_future, dtype=float)[:, 0]
        return mean, {lv: (mean - 1, mean + 1) for lv in level}


def test_contract_and_point_forecast_is_the_members_median():
    df = _seasonal()
    members = [Naive(), Drift(), SeasonalNaive()]
    comb = CombinationForecaster(members=members, calibrate=False).fit(df)
    out = comb.predict(12, level=(80, 95))
    assert list(out.columns) == ["series_id", "ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95",
                                 "model"]
    assert len(out) == 4 * 12 and out.model.iloc[0] == "median(Naive+Drift+SeasonalNaive(12))"
    preds = [m.fit(df).predict(12, level=(80,)) for m in members]
    np.testing.assert_allclose(out.yhat, np.median([p.yhat for p in preds], axis=0))
    np.testing.assert_allclose(out.yhat_lo_80, np.median([p.yhat_lo_80 for p in preds], axis=0))
    assert comb.calibration_scores_ is None


def test_mean_and_trimmed_mean():
    df = _seasonal(n_series=2)
    members = [Naive(), Drift(), SeasonalNaive(), Comb()]
    preds = np.array([m.fit(df).predict(6, level=(80,)).yhat for m in members])
    mean = CombinationForecaster(members=members, combine="mean", calibrate=False).fit(df).predict(6)
    np.testing.assert_allclose(mean.yhat, preds.mean(axis=0))
    trimmed = CombinationForecaster(members=members, combine="trimmed", trim=0.25, calibrate=False).fit(df)
    np.testing.assert_allclose(trimmed.predict(6).yhat, np.sort(preds, axis=0)[1:3].mean(axis=0))
    with pytest.raises(ValueError, match="combine"):
        CombinationForecaster(members=members, combine="max").fit(df)


def test_failing_member_is_dropped_and_all_failing_falls_back():
    df = _seasonal(n_series=2)
    comb = CombinationForecaster(members=[Broken(), Naive(), Drift()], calibrate=False).fit(df)
    expected = np.mean([Naive().fit(df).predict(5).yhat, Drift().fit(df).predict(5).yhat], axis=0)
    np.testing.assert_allclose(comb.predict(5).yhat, expected)
    assert comb.predict(5).model.iloc[0] == "median(Naive+Drift)"
    alone = CombinationForecaster(members=[Broken()], calibrate=False).fit(df)
    assert set(alone.fallbacks_) == {"s0", "s1"}
    np.testing.assert_allclose(alone.predict(12).yhat, SeasonalNaive().fit(df).predict(12).yhat)


def test_exogenous_columns_reach_the_members_that_use_them():
    df = _seasonal(n_series=2, n=40).assign(promo=lambda d: np.arange(len(d)) % 3)
    comb = CombinationForecaster(members=[FirstRegressor()], calibrate=False).fit(df)
    assert comb.uses_exog and comb.exog_columns_ == ["promo"]
    future = pd.DataFrame({"series_id": np.repeat(["s0", "s1"], 4),
                           "ds": np.tile(pd.date_range("2018-05-01", periods=4, freq="MS"), 2),
                           "promo": [7.0, 8, 9, 10, 1, 2, 3, 4]})
    np.testing.assert_allclose(comb.predict(4, X_future=future).yhat, future.promo)
    with pytest.raises(ValueError, match="X_future"):
        comb.predict(4)
    # the default members use no regressors: the columns are ignored, not an error
    assert not CombinationForecaster().uses_exog


def test_conformal_calibration_repairs_too_narrow_intervals():
    train = _walks(300, 40, seed=1)
    h = 6
    raw = CombinationForecaster(members=[NarrowNaive()], calibrate=False).fit(train).predict(h, level=(80,))
    cal = CombinationForecaster(members=[NarrowNaive()], h=h).fit(train)
    out = cal.predict(h, level=(80,))
    np.testing.assert_allclose(out.yhat, raw.yhat)  # calibration leaves the forecasts alone
    assert cal.n_calibrated_ == 300 and cal.calibration_scores_.shape == (300, h)
    scale = cal.interval_scale(h, 80)
    assert np.all(scale > 3)  # five times too narrow, minus sampling noise
    # coverage on 300 fresh futures of the same walks
    rng = np.random.default_rng(99)
    last = train.groupby("series_id").y.last().to_numpy()
    future = (last[:, None] + np.cumsum(rng.normal(0, 1, (300, h)), axis=1)).ravel()
    before = coverage(future, raw.yhat_lo_80, raw.yhat_hi_80)
    after = coverage(future, out.yhat_lo_80, out.yhat_hi_80)
    assert before < 0.4
    assert 0.7 <= after <= 0.9


def test_steps_beyond_the_calibration_horizon_use_the_last_step():
    cal = CombinationForecaster(members=[NarrowNaive()], h=3).fit(_walks(100, 30, seed=2))
    scale = cal.interval_scale(8, 80)
    assert np.all(scale[3:] == scale[2])


def test_series_too_short_for_a_calibration_window_get_the_pooled_scale():
    df = pd.concat([_walks(50, 30, seed=3), _walks(1, 5, seed=4).assign(series_id="short")], ignore_index=True)
    cal = CombinationForecaster(members=[NarrowNaive()], h=4).fit(df)
    assert cal.n_calibrated_ == 50
    raw = CombinationForecaster(members=[NarrowNaive()], calibrate=False).fit(df).predict(4, level=(80,))
    out = cal.predict(4, level=(80,))
    short = (out.series_id == "short").to_numpy()
    width = (out.yhat_hi_80 - out.yhat_lo_80)[short].to_numpy()
    raw_width = (raw.yhat_hi_80 - raw.yhat_lo_80)[short].to_numpy()
    np.testing.assert_allclose(width / raw_width, cal.interval_scale(4, 80))


def test_parallel_fit_matches_serial():
    df = _walks(12, 30, seed=5)
    a = CombinationForecaster(members=[Naive(), Drift(), Comb()], h=4).fit(df).predict(4)
    b = CombinationForecaster(members=[Naive(), Drift(), Comb()], h=4, n_jobs=2).fit(df).predict(4)
    pd.testing.assert_frame_equal(a, b)


def test_ets_spec_and_refit_keep_the_chosen_form():
    assert ets_spec("ETS(M,Ad,N)") == ("MAN", True)
    assert ets_spec("ETS(A,N,A)") == ("ANA", False)
    assert ets_spec("CES(S)") is None
    y = _seasonal(n_series=1, n=60).y.to_numpy()
    member = SFAutoETS()
    state = member._fit_series(y, 12, None)
    again = member._refit_like(state, y[:48], 12, None)
    assert again["model"].model_["method"] == state["model"].model_["method"]


def test_default_members_combination_forecasts_seasonal_data():
    df = _seasonal(n_series=3, n=72)
    train, test = df[df.ds < "2020-01-01"], df[df.ds >= "2020-01-01"]
    comb = CombinationForecaster(h=12).fit(train)
    assert [type(m) for m in default_members()] == [SFAutoETS, SFDOTheta, Theta, Comb, SeasonalNaive, Drift]
    out = comb.predict(12, level=(80,))
    snaive = SeasonalNaive().fit(train).predict(12)
    err = np.abs(out.yhat.to_numpy() - test.y.to_numpy()).mean()
    assert err < np.abs(snaive.yhat.to_numpy() - test.y.to_numpy()).mean()
    assert (out.yhat_lo_80 < out.yhat).all() and (out.yhat < out.yhat_hi_80).all()


class Const(Forecaster):
    """Forecasts a constant (records the season lengths it was fitted with)."""

    fallback_model = staticmethod(naive_fallback)

    def __init__(self, value):
        self.value = value
        super().__init__()

    def _fit_series(self, y, season_length, X, series_id=None):
        return {"m": season_length}

    def _predict_series(self, state, h, level, X_future):
        mean = np.full(h, float(self.value))
        return mean, {lv: (mean - 1, mean + 1) for lv in level}


def test_members_by_season_length():
    monthly = _seasonal(n_series=2, n=48)
    walks = _walks(2, 30, 1)
    sets = {12: [Const(1), Const(2), Const(3)], None: [Const(10), Const(20)]}
    m_out = CombinationForecaster(members=sets, calibrate=False).fit(monthly, season_length=12).predict(3)
    assert np.allclose(m_out.yhat, 2.0)
    o_out = CombinationForecaster(members=sets, calibrate=False).fit(walks, season_length=1).predict(3)
    assert np.allclose(o_out.yhat, 15.0)
    # without a None key, other season lengths get the default six
    comb = CombinationForecaster(members={12: [Const(1)]})
    assert [type(m) for m in comb._members(4)] == [type(m) for m in default_members()]
    # a plain sequence serves every season length
    assert [m.value for m in CombinationForecaster(members=[Const(7)])._members(1)] == [7]
    with pytest.raises(ValueError):
        CombinationForecaster(members={1: []}).fit(walks, season_length=1)


def test_default_member_sets_per_season_length():
    sets = default_member_sets()
    assert [type(m) for m in sets[1]] == [SFDOTheta, Theta, Drift]
    assert [type(m) for m in sets[4]] == [SFAutoETS, SFDOTheta, SeasonalNaive]
    assert [type(m) for m in sets[12]] == [SFAutoETS, Theta, SeasonalNaive]
    assert [type(m) for m in sets[None]] == [type(m) for m in default_members()]
    out = CombinationForecaster(calibrate=False).fit(_walks(1, 30, 2), season_length=1).predict(4, level=(80,))
    assert out.model.iloc[0].startswith("median(") and out.model.iloc[0].count("+") == 2


def test_several_calibration_windows_add_scores_from_earlier_cuts():
    train = _walks(40, 30, seed=5)
    h = 4
    one = CombinationForecaster(members=[NarrowNaive()], h=h).fit(train)
    three = CombinationForecaster(members=[NarrowNaive()], h=h, calibration_windows=3, calibration_step=2).fit(train)
    assert three.n_calibrated_ == 40 and three.calibration_scores_.shape == (120, h)
    # the first window of each series is the single-window fit's
    np.testing.assert_allclose(three.calibration_scores_[::3], one.calibration_scores_)
    # the second is cut two steps earlier: its scores are the naive errors of those steps
    y = train[train.series_id == train.series_id.iloc[0]].y.to_numpy()
    c = len(y) - h - 2
    state = three.models_[train.series_id.iloc[0]].state
    lo, hi = NarrowNaive()._predict_series(NarrowNaive()._fit_series(y[:c], 1, None), h, (80,), None)[1][80]
    sd = (np.asarray(hi) - np.asarray(lo)) / (2 * 1.2815515655446004)
    np.testing.assert_allclose(state["cv_z"][1], (y[c:c + h] - y[c - 1]) / sd)  # signed


def test_windows_stop_where_the_training_part_would_be_too_short():
    train = _walks(5, 12, seed=6)
    cal = CombinationForecaster(members=[NarrowNaive()], h=4, min_train=6, calibration_windows=5).fit(train)
    # cuts at 8, 7, 6 keep at least six points; 5 and 4 would not
    assert cal.calibration_scores_.shape == (15, 4)


def test_signed_intervals_widen_the_side_the_forecast_misses_on():
    # Walks that drift upwards: the naive forecast runs low, so the truth lands above it.
    walks = _walks(300, 44, seed=8)
    walks["y"] += 0.8 * walks["ds"]
    train, truth = walks[walks.ds < 40], walks[walks.ds >= 40].y.to_numpy()
    h = 4
    signed = CombinationForecaster(members=[Naive()], h=h, intervals="signed").fit(train)
    lower, upper = signed.interval_scales(h, 80)
    assert (upper > 2 * lower).all()
    symmetric = CombinationForecaster(members=[Naive()], h=h).fit(train)
    same_lower, same_upper = symmetric.interval_scales(h, 80)
    np.testing.assert_allclose(same_lower, same_upper)
    # on the held-out steps the signed interval covers about 80 % and misses on both sides alike
    out = signed.predict(h, level=(80,))
    above, below = (truth > out.yhat_hi_80.to_numpy()).mean(), (truth < out.yhat_lo_80.to_numpy()).mean()
    assert 0.72 <= 1 - above - below <= 0.88 and abs(above - below) < 0.06
    out = symmetric.predict(h, level=(80,))
    assert (truth > out.yhat_hi_80.to_numpy()).mean() > 3 * (truth < out.yhat_lo_80.to_numpy()).mean()
    with pytest.raises(ValueError, match="intervals must be"):
        CombinationForecaster(members=[Naive()], intervals="wide").fit(train)


def test_debias_moves_the_forecast_by_the_median_calibration_error():
    # Walks that drift upwards by 0.8 a step: the naive forecast runs low by 0.8 k at step k.
    walks = _walks(300, 52, seed=9)
    walks["y"] += 0.8 * walks["ds"]
    train, truth = walks[walks.ds < 48], walks[walks.ds >= 48].y.to_numpy()
    h = 4
    plain = CombinationForecaster(members=[Naive()], h=h, calibration_windows=3, calibration_step=h).fit(train)
    debiased = CombinationForecaster(members=[Naive()], h=h, calibration_windows=3, calibration_step=h,
                                     debias=True).fit(train)
    assert plain.bias_ is None
    # the bias is the median signed score per step: positive, as the truth lands above the forecast
    np.testing.assert_allclose(debiased.bias_, np.median(debiased.calibration_scores_, axis=0))
    assert (debiased.bias_ > 0).all()
    p, d = plain.predict(h, level=(80, 95)), debiased.predict(h, level=(80, 95))
    assert list(d.columns) == list(p.columns)
    # the centre moves by bias * sd, sd the naive interval's 80 % half-width in normal units
    step = d.groupby("series_id").cumcount().to_numpy()
    raw = CombinationForecaster(members=[Naive()], h=h, calibrate=False).fit(train).predict(h, level=(80,))
    sd = (raw.yhat_hi_80 - raw.yhat_lo_80).to_numpy() / (2 * 1.2815515655446004)
    np.testing.assert_allclose(d.yhat.to_numpy(), p.yhat.to_numpy() + debiased.bias_[step] * sd)
    # error is smaller, still about 80 % covered, with the misses on both sides alike
    assert np.abs(truth - d.yhat).mean() < 0.8 * np.abs(truth - p.yhat).mean()
    above, below = (truth > d.yhat_hi_80).mean(), (truth < d.yhat_lo_80).mean()
    assert 0.72 <= 1 - above - below <= 0.88 and abs(above - below) < 0.06
    assert ((d.yhat_lo_95 <= d.yhat_lo_80) & (d.yhat_lo_80 <= d.yhat) & (d.yhat <= d.yhat_hi_80)
            & (d.yhat_hi_80 <= d.yhat_hi_95)).all()
    # the 80 % reference interval used inside is not returned when not asked for
    assert "yhat_lo_80" not in debiased.predict(h, level=(95,)).columns


def test_debias_leaves_degenerate_intervals_and_uncalibrated_fits_alone():
    flat = pd.DataFrame({"series_id": np.repeat(["a", "b"], 20), "ds": np.tile(np.arange(20), 2), "y": 5.0})
    out = CombinationForecaster(members=[Naive()], h=4, debias=True, calibration_windows=3,
                                calibration_step=4).fit(flat).predict(4, level=(80,))
    assert (out.yhat == 5.0).all() and (out.yhat_lo_80 == 5.0).all() and (out.yhat_hi_80 == 5.0).all()
    walks = _walks(30, 30, seed=10)
    off = CombinationForecaster(members=[Naive()], h=4, debias=True, calibrate=False).fit(walks)
    assert off.bias_ is None
    np.testing.assert_allclose(off.predict(4).yhat, CombinationForecaster(members=[Naive()], h=4, calibrate=False)
                               .fit(walks).predict(4).yhat)
