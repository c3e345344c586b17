"""The forecaster contract and the models: shapes, fallbacks, errors, intervals."""

import numpy as np
import pandas as pd
import pytest

from quantlib.forecast import Drift, ForecastInputError, Naive, SeasonalNaive


def _monthly(series: dict, start="2020-01-01") -> pd.DataFrame:
    frames = [
        pd.DataFrame({"series_id": sid, "ds": pd.date_range(start, periods=len(y), freq="MS"), "y": y})
        for sid, y in series.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_seasonal_naive_repeats_last_season_with_contract_columns():
    y = np.tile(np.arange(12.0), 3)
    out = SeasonalNaive().fit(_monthly({"a": y})).predict(14, level=(80, 95))
    assert list(out.columns) == [
        "series_id", "ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"
    ]
    np.testing.assert_allclose(out.yhat, np.r_[np.arange(12.0), 0, 1])
    assert out.ds.iloc[0] == pd.Timestamp("2023-01-01")
    assert out.ds.iloc[-1] == pd.Timestamp("2024-02-01")
    # a perfectly periodic series has zero residuals, hence zero-width intervals
    np.testing.assert_allclose(out.yhat_hi_95 - out.yhat_lo_95, 0.0)


def test_naive_and_drift_analytic_intervals():
    y = np.array([1.0, 3.0, 2.0, 4.0, 5.0])
    df = pd.DataFrame({"series_id": "s", "ds": np.arange(5), "y": y})
    naive = Naive().fit(df).predict(2, level=(95,))
    sigma = np.sqrt(np.mean(np.diff(y) ** 2))
    np.testing.assert_allclose(naive.yhat, 5.0)
    np.testing.assert_allclose(naive.yhat_hi_95 - 5.0, 1.959964 * sigma * np.sqrt([1, 2]), rtol=1e-5)
    assert list(naive.ds) == [5, 6]  # integer time index continues
    drift = Drift().fit(df).predict(2, level=(80,))
    np.testing.assert_allclose(drift.yhat, [6.0, 7.0])


def test_int_and_string_series_ids_are_kept():
    df = pd.DataFrame({"series_id": [7] * 4 + [8] * 4, "ds": list(range(4)) * 2, "y": np.arange(8.0)})
    out = Naive().fit(df).predict(1)
    assert out.series_id.tolist() == [7, 8]


def test_gap_is_an_error_naming_series_and_first_missing_date():
    df = _monthly({"ok": np.arange(10.0), "holey": np.arange(10.0)})
    df = df.drop(df.index[(df.series_id == "holey") & (df.ds == "2020-04-01")])
    with pytest.raises(ForecastInputError, match=r"'holey'.*2020-04-01"):
        SeasonalNaive().fit(df, freq="MS")
    filled = Naive(fill="zero").fit(df, freq="MS")
    assert filled.models_["holey"].n == 10


def test_missing_y_names_rows_and_too_short_falls_back():
    df = _monthly({"a": [1.0, np.nan, 3.0]})
    with pytest.raises(ForecastInputError, match=r"row 1: series 'a'"):
        Naive().fit(df)
    with pytest.raises(ForecastInputError, match=r"series 'one'.*1 observation"):
        Naive().fit(_monthly({"one": [1.0]}), freq="MS")
    with pytest.raises(ForecastInputError, match="missing column"):
        Naive().fit(pd.DataFrame({"series_id": [1], "y": [1.0]}))


def test_duplicate_timestamp_is_an_error():
    df = pd.DataFrame({"series_id": "d", "ds": [0, 1, 1, 2], "y": [1.0, 2, 3, 4]})
    with pytest.raises(ForecastInputError, match="duplicate"):
        Naive().fit(df)


def test_short_series_fallbacks_are_recorded():
    df = _monthly({"short": np.arange(15.0), "tiny": [1.0, 2.0]})
    fc = SeasonalNaive().fit(df)
    assert "tiny" in fc.fallbacks_ and "naive" in fc.fallbacks_["tiny"]
    out = fc.predict(3)
    np.testing.assert_allclose(out[out.series_id == "tiny"].yhat, 2.0)


def test_microsecond_dates_from_duckdb_are_on_the_grid():
    df = _monthly({"a": np.arange(14.0)})
    df["ds"] = df["ds"].astype("datetime64[us]")  # what DuckDB's .df() gives
    out = Naive().fit(df, freq="MS").predict(1)
    assert out.ds.tolist() == [pd.Timestamp("2021-03-01")] and out.yhat.tolist() == [13.0]


def test_weekly_frequency_is_inferred():
    df = pd.DataFrame(
        {"series_id": "w", "ds": pd.date_range("2024-01-07", periods=8, freq="W-SUN"), "y": np.arange(8.0)}
    )
    out = Naive().fit(df).predict(2)
    assert out.ds.tolist() == [pd.Timestamp("2024-03-03"), pd.Timestamp("2024-03-10")]


# ----------------------------------------------------------------- the statistical models

from quantlib.forecast import AutoARIMA, AutoETS, Ensemble, Theta  # noqa: E402
from quantlib.forecast.metrics import coverage  # noqa: E402


def _seasonal_series(n=48, seed=0, level=100.0, slope=0.5, amp=20.0, noise=3.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + slope * t + amp * np.sin(2 * np.pi * t / 12) + rng.normal(0, noise, n)


def test_theta_matches_statsmodels_theta_model():
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = _seasonal_series(60, seed=3)
    ours = Theta().fit(_monthly({"s": y})).predict(12, level=(80,))
    ref = ThetaModel(y, period=12).fit(disp=False).forecast(12)
    np.testing.assert_allclose(ours.yhat, np.asarray(ref), rtol=1e-3)


def test_auto_ets_recovers_a_seasonal_pattern_and_reports_the_model():
    y = _seasonal_series(48, seed=1)
    out = AutoETS(candidates=("ANN", "ANA", "AAA")).fit(_monthly({"s": y})).predict(12)
    truth = 100 + 0.5 * np.arange(48, 60) + 20 * np.sin(2 * np.pi * np.arange(48, 60) / 12)
    snaive = SeasonalNaive().fit(_monthly({"s": y})).predict(12)
    assert np.mean(np.abs(out.yhat - truth)) < 0.5 * np.mean(np.abs(snaive.yhat - truth))
    assert out.model.iloc[0] in {"ETS(ANA)", "ETS(AAA)"}


def test_negative_values_make_multiplicative_ets_fall_back_to_additive():
    y = _seasonal_series(36, seed=2, level=0.0, slope=0.0)
    assert (y < 0).any()
    fc = AutoETS(candidates=("MNM",)).fit(_monthly({"neg": y}))
    assert fc.predict(3).model.iloc[0] == "ETS(ANA)"


def test_arima_uses_exogenous_regressors():
    rng = np.random.default_rng(4)
    n = 40
    x = rng.normal(size=n + 6)
    y = 10 + 5 * x[:n] + rng.normal(0, 0.5, n)
    df = pd.DataFrame({"series_id": "s", "ds": np.arange(n), "y": y, "temp": x[:n]})
    fc = AutoARIMA().fit(df)
    fut = pd.DataFrame({"series_id": "s", "ds": np.arange(n, n + 6), "temp": x[n:]})
    out = fc.predict(6, X_future=fut)
    np.testing.assert_allclose(out.yhat, 10 + 5 * x[n:], atol=1.0)
    with pytest.raises(ForecastInputError, match="X_future"):
        fc.predict(6)


def test_ensemble_is_the_median_of_its_members():
    y = _seasonal_series(48, seed=5)
    df = _monthly({"s": y})
    members = [Naive(), SeasonalNaive(), Theta()]
    ens = Ensemble(members=members).fit(df).predict(6)
    each = np.vstack([m.clone().fit(df).predict(6).yhat for m in members])
    np.testing.assert_allclose(ens.yhat, np.median(each, axis=0))
    assert ens.model.iloc[0].startswith("Ensemble(")


def _random_walks(n_series=300, n=40, h=6, seed=11):
    rng = np.random.default_rng(seed)
    paths = np.cumsum(rng.normal(0, 1, (n_series, n + h)), axis=1) + 50
    train = pd.DataFrame(
        {"series_id": np.repeat(np.arange(n_series), n), "ds": np.tile(np.arange(n), n_series),
         "y": paths[:, :n].ravel()}
    )
    return train, paths[:, n:]


@pytest.mark.parametrize("model", [Naive(), Theta()], ids=["naive", "theta"])
def test_80pct_intervals_cover_at_nominal_rate_on_simulated_random_walks(model):
    train, future = _random_walks()
    out = model.fit(train).predict(6, level=(80,))
    cov = coverage(future.ravel(), out.yhat_lo_80.to_numpy(), out.yhat_hi_80.to_numpy())
    assert 0.72 <= cov <= 0.88, cov


def test_80pct_intervals_cover_at_nominal_rate_for_seasonal_naive():
    rng = np.random.default_rng(12)
    n_series, n, h, m = 300, 36, 4, 4
    pattern = rng.normal(0, 5, (n_series, m))
    t = np.arange(n + h)
    y = 20 + pattern[:, t % m] + rng.normal(0, 1, (n_series, n + h))
    train = pd.DataFrame(
        {"series_id": np.repeat(np.arange(n_series), n), "ds": np.tile(np.arange(n), n_series), "y": y[:, :n].ravel()}
    )
    out = SeasonalNaive().fit(train, season_length=m).predict(h, level=(80,))
    cov = coverage(y[:, n:].ravel(), out.yhat_lo_80.to_numpy(), out.yhat_hi_80.to_numpy())
    assert 0.72 <= cov <= 0.88, cov


@pytest.mark.slow
def test_80pct_intervals_cover_at_nominal_rate_for_auto_ets_on_ar1_series():
    rng = np.random.default_rng(13)
    n_series, n, h = 300, 40, 4
    y = np.zeros((n_series, n + h))
    for t in range(1, n + h):
        y[:, t] = 0.8 * y[:, t - 1] + rng.normal(0, 1, n_series)
    y += 30
    train = pd.DataFrame(
        {"series_id": np.repeat(np.arange(n_series), n), "ds": np.tile(np.arange(n), n_series), "y": y[:, :n].ravel()}
    )
    out = AutoETS(candidates=("ANN",), n_jobs=-1).fit(train).predict(h, level=(80,))
    cov = coverage(y[:, n:].ravel(), out.yhat_lo_80.to_numpy(), out.yhat_hi_80.to_numpy())
    assert 0.72 <= cov <= 0.88, cov


def _many_series(k=24):
    return _monthly({f"s{i}": _seasonal_series(40 + i, seed=i) for i in range(k)})


def test_n_jobs_2_gives_identical_forecasts_to_n_jobs_1():
    df = _many_series()
    model = Ensemble(members=[Theta(), SeasonalNaive(), AutoETS(candidates=("ANN", "MNM"))])
    one = model.fit(df).predict(6)
    two = model.clone().set_params(n_jobs=2).fit(df).predict(6)
    pd.testing.assert_frame_equal(one, two)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_forecasts():
    from distributed import Client, LocalCluster

    df = _many_series(12)
    expected = Theta().fit(df).predict(6)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            got = Theta(backend="dask", dask_address=client).fit(df).predict(6)
            by_address = Theta(backend="dask", dask_address=cluster.scheduler_address).fit(df).predict(6)
    pd.testing.assert_frame_equal(expected, got)
    pd.testing.assert_frame_equal(expected, by_address)


def test_seasonality_test_detects_a_planted_season_and_not_white_noise():
    from quantlib.forecast.models import is_seasonal

    rng = np.random.default_rng(4)
    assert is_seasonal(_seasonal_series(60, seed=4), 12)
    # white noise: each 90 % test may reject by chance, so require a low rate over many draws
    false_alarms = np.mean([is_seasonal(rng.normal(100, 5, 60), 12) for _ in range(300)])
    assert false_alarms < 0.2
    assert not is_seasonal(_seasonal_series(60, seed=4), 1)
    assert not is_seasonal(_seasonal_series(23, seed=4), 12)  # under two seasons


def test_seasonality_test_finds_a_season_under_a_strong_trend():
    from quantlib.forecast.models import _acf_significant, is_seasonal, seasonal_strength

    # a steep trend makes acf(12) of the levels large at every lag, so the M4 test alone
    # (|acf(12)| against its Bartlett limit) misses the season; the differences keep it
    hits_m4 = hits = 0
    for seed in range(20):
        y = _seasonal_series(48, seed=seed, slope=6.0, amp=12.0, noise=3.0)
        hits_m4 += _acf_significant(y, 12)
        hits += is_seasonal(y, 12)
    assert hits_m4 <= 5 and hits == 20
    # two seasons only: the strength test decides
    y = _seasonal_series(24, seed=1, slope=0.0, amp=20.0, noise=2.0)
    assert seasonal_strength(y, 12) > 0.9 and is_seasonal(y, 12)
    assert seasonal_strength(np.full(30, 5.0), 12) == 0.0


def test_deseasonalise_recovers_planted_factors_and_round_trips():
    from quantlib.forecast.models import _deseasonalise

    factors = np.array([1.3, 1.1, 0.9, 0.7])
    rng = np.random.default_rng(5)
    trend = 100 + 2.0 * np.arange(40)
    y = trend * np.tile(factors, 10) * np.exp(rng.normal(0, 0.01, 40))
    x, idx, multiplicative = _deseasonalise(y, 4)
    assert multiplicative
    np.testing.assert_allclose(idx, factors / factors.mean(), atol=0.02)
    np.testing.assert_allclose(x * idx[np.arange(40) % 4], y)
    # values <= 0 switch to the additive decomposition
    x_add, idx_add, mult_add = _deseasonalise(y - y.mean(), 4)
    assert not mult_add
    np.testing.assert_allclose(x_add + idx_add[np.arange(40) % 4], y - y.mean())


def test_comb_is_the_mean_of_ses_holt_and_damped_holt():
    from quantlib.forecast.models import Comb, _ses, _smoother_forecast

    rng = np.random.default_rng(6)
    y = 50 + 0.8 * np.arange(40) + rng.normal(0, 2, 40)  # no season: the members see y itself
    fc = Comb().fit(_monthly({"s": y}), season_length=12)
    state = fc.models_["s"].state
    assert state["idx"] is None
    members = state["members"]
    assert members["ses"]["trend"] == 0 and members["holt"]["phi"] == 1 and members["damped"]["phi"] < 1
    # the SES member's level is the SES recursion at its alpha
    assert members["ses"]["level"] == pytest.approx(_ses(y, members["ses"]["alpha"])[1])
    out = fc.predict(6, level=(80,))
    expected = np.mean([_smoother_forecast(p, 6)[0] for p in members.values()], axis=0)
    np.testing.assert_allclose(out.yhat, expected)
    # a trending series: Holt's members follow the trend, so Comb beats the naive forecast
    truth = 50 + 0.8 * np.arange(40, 46)
    assert np.abs(out.yhat - truth).mean() < np.abs(y[-1] - truth).mean()
    assert (out.yhat_lo_80 < out.yhat).all() and (out.yhat < out.yhat_hi_80).all()


def test_comb_forecasts_a_seasonal_series_better_than_seasonal_naive():
    from quantlib.forecast.models import Comb

    errs_comb, errs_snaive = [], []
    for seed in range(5):
        y = _seasonal_series(60, seed=seed)
        truth = 100 + 0.5 * np.arange(48, 60) + 20 * np.sin(2 * np.pi * np.arange(48, 60) / 12)
        df = _monthly({"s": y[:48]})
        errs_comb.append(np.abs(Comb().fit(df).predict(12).yhat - truth).mean())
        errs_snaive.append(np.abs(SeasonalNaive().fit(df).predict(12).yhat - truth).mean())
    assert np.mean(errs_comb) < 0.8 * np.mean(errs_snaive)
