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


def test_weekly_frequency_is_inferred():
    df = pd.DataFrame(
        {"series_id": "w", "ds": pd.date_range("2024-01-07", periods=8, freq="W-SUN"), "y": np.arange(8.0)}
    )
    out = Naive().fit(df).predict(2)
    assert out.ds.tolist() == [pd.Timestamp("2024-03-03"), pd.Timestamp("2024-03-10")]
