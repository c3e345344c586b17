"""statsforecast's models behind the forecaster contract, and SCUM (their median)."""

import numpy as np
import pandas as pd
import pytest

from quantlib.forecast.base import Forecaster
from quantlib.forecast.metrics import smape
from quantlib.forecast.models import SeasonalNaive, naive_fallback
from quantlib.forecast.statsforecast_models import (
    SCUM,
    SFAutoARIMA,
    SFAutoCES,
    SFAutoETS,
    SFDOTheta,
)


def _seasonal(n_series=3, n=60, seed=0, start="2015-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        t = np.arange(n)
        y = 100 + (0.5 + 0.3 * i) * t + (10 + 3 * i) * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)
        frames.append(pd.DataFrame({"series_id": f"s{i}", "ds": pd.date_range(start, periods=n, freq="MS"), "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("cls", [SFAutoETS, SFAutoCES, SFAutoARIMA, SFDOTheta])
def test_member_contract(cls):
    df = _seasonal(n_series=2, n=48)
    out = cls().fit(df).predict(7, level=(80, 95))
    assert list(out.columns) == [
        "series_id", "ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"
    ]
    assert list(out.series_id) == ["s0"] * 7 + ["s1"] * 7
    assert out.ds.iloc[0] == pd.Timestamp("2019-01-01") and out.ds.iloc[6] == pd.Timestamp("2019-07-01")
    assert np.isfinite(out.yhat).all()
    assert (out.yhat_lo_95 <= out.yhat_lo_80).all() and (out.yhat_lo_80 <= out.yhat).all()
    assert (out.yhat <= out.yhat_hi_80).all() and (out.yhat_hi_80 <= out.yhat_hi_95).all()
    assert (out.yhat_hi_80 > out.yhat_lo_80).all()  # noisy data: intervals of positive width


def test_members_match_statsforecast_directly():
    from statsforecast.models import AutoETS

    df = _seasonal(n_series=1, n=48)
    ours = SFAutoETS().fit(df).predict(5, level=(80,))
    theirs = AutoETS(season_length=12).forecast(y=df.y.to_numpy(), h=5, level=[80])
    np.testing.assert_allclose(ours.yhat, theirs["mean"])
    np.testing.assert_allclose(ours.yhat_lo_80, theirs["lo-80"])


def test_scum_is_the_median_of_its_members():
    df = _seasonal(n_series=2, n=48)
    members = [SFAutoETS(), SFAutoCES(), SFAutoARIMA(), SFDOTheta()]
    scum = SCUM().fit(df).predict(6, level=(80,))
    preds = [m.fit(df).predict(6, level=(80,)) for m in members]
    np.testing.assert_allclose(scum.yhat, np.median([p.yhat for p in preds], axis=0))
    np.testing.assert_allclose(scum.yhat_lo_80, np.median([p.yhat_lo_80 for p in preds], axis=0))
    np.testing.assert_allclose(scum.yhat_hi_80, np.median([p.yhat_hi_80 for p in preds], axis=0))
    assert scum.model.iloc[0] == "SCUM(AutoETS+AutoCES+AutoARIMA+DynamicOptimizedTheta)"


def test_scum_beats_seasonal_naive_on_trending_seasonal_series():
    df = _seasonal(n_series=4, n=72, seed=3)
    h = 12
    train = df.groupby("series_id").head(72 - h)
    test = df.groupby("series_id").tail(h)
    members = [SFAutoETS(), SFAutoCES(), SFDOTheta()]  # ARIMA left out to keep the test fast
    scum = SCUM(members=members).fit(train).predict(h, level=())
    snaive = SeasonalNaive().fit(train).predict(h, level=())
    err_scum = np.mean([smape(g.y, scum[scum.series_id == sid].yhat) for sid, g in test.groupby("series_id")])
    err_snaive = np.mean([smape(g.y, snaive[snaive.series_id == sid].yhat) for sid, g in test.groupby("series_id")])
    assert err_scum < 0.7 * err_snaive, (err_scum, err_snaive)


class _Broken(Forecaster):
    fallback_model = staticmethod(naive_fallback)

    def _fit_series(self, y, season_length, X, series_id=None):
        raise FloatingPointError("always fails")


def test_failing_member_is_left_out_and_short_series_fall_back():
    df = _seasonal(n_series=1, n=48)
    both = SCUM(members=[SFAutoETS(), _Broken()]).fit(df).predict(3, level=(80,))
    alone = SFAutoETS().fit(df).predict(3, level=(80,))
    np.testing.assert_allclose(both.yhat, alone.yhat)
    short = pd.DataFrame({"series_id": ["a", "a", "b", "b", "b", "b", "b"], "ds": [0, 1, 0, 1, 2, 3, 4],
                          "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    fc = SCUM(members=[SFAutoETS(), SFDOTheta()])
    out = fc.fit(short, season_length=12).predict(2, level=(80,))
    assert "a" in fc.fallbacks_ and "naive" in fc.fallbacks_["a"]
    np.testing.assert_allclose(out[out.series_id == "a"].yhat, 2.0)
    assert "b" in fc.fallbacks_ and "non-seasonal" in fc.fallbacks_["b"]
    assert np.isfinite(out.yhat).all()


def test_scum_parallel_matches_serial():
    df = _seasonal(n_series=4, n=40)
    members = [SFAutoETS(), SFDOTheta()]
    serial = SCUM(members=members).fit(df).predict(4, level=(80,))
    parallel = SCUM(members=members, n_jobs=2).fit(df).predict(4, level=(80,))
    pd.testing.assert_frame_equal(serial, parallel)
