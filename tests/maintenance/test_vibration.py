import base64

import numpy as np
import pandas as pd
import pytest

from quantlib.maintenance import (
    FailureModeClassifier,
    SpectralTrend,
    VibrationDataError,
    failure_windows,
    spectral_alarms,
    spectral_daily,
    waveform_features,
    waveform_matrix,
)

FS, N = 2048, 1024
T = np.arange(N) / FS


def _sine(amplitude, hz, phase=0.0):
    return amplitude * np.sin(2 * np.pi * hz * T + phase)


def test_a_pure_sine_has_the_textbook_statistics():
    # 32 Hz: exactly 16 periods in the snapshot, so the sample statistics are the continuous ones
    features = waveform_features(_sine(2.0, 32.0), FS, running_speed=32.0).iloc[0]
    assert features["rms"] == pytest.approx(2.0 / np.sqrt(2), rel=1e-6)
    assert features["crest_factor"] == pytest.approx(np.sqrt(2), rel=1e-3)
    assert features["kurtosis"] == pytest.approx(1.5, rel=1e-6)
    # Welch density integrated over the 1x band holds the sine's power, A^2 / 2
    assert features["band_1x"] == pytest.approx(2.0, rel=0.03)
    for band in ("band_2x", "band_bpfo", "band_bpfi", "band_high"):
        assert features[band] < 1e-3, band
    assert features["dominant_hz"] == pytest.approx(32.0, abs=4.0)
    assert features["dominant_amp"] == pytest.approx(2.0, rel=0.03)


def test_energy_lands_in_the_band_of_its_order_with_an_estimated_speed():
    rng = np.random.default_rng(0)
    speed = 24.3
    # one row with a strong BPFO line, one with a strong BPFI line, both with the 1x line
    rows = np.vstack([
        _sine(1.0, speed) + _sine(0.8, 3.58 * speed, 1.0) + rng.normal(0, 0.05, N),
        _sine(1.0, speed) + _sine(0.8, 5.42 * speed, 2.0) + rng.normal(0, 0.05, N),
    ])
    features = waveform_features(rows, FS)
    assert features["speed_estimated"].all()
    assert features["running_speed_hz"].to_numpy() == pytest.approx([speed, speed], abs=0.2)
    assert features.loc[0, "band_bpfo"] == pytest.approx(0.32, rel=0.1)
    assert features.loc[0, "band_bpfi"] < 0.01
    assert features.loc[1, "band_bpfi"] == pytest.approx(0.32, rel=0.1)
    assert features.loc[1, "band_bpfo"] < 0.01
    assert features["band_1x"].to_numpy() == pytest.approx([0.5, 0.5], rel=0.1)


def test_an_impulsive_signal_has_high_kurtosis_and_crest_factor():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.3, N)
    # a resonance struck every 11 ms and decaying in 1.5 ms, as a spalled outer race does
    since = np.mod(T, 0.011)
    impacts = 3.0 * np.exp(-since / 0.0015) * np.sin(2 * np.pi * 620 * since)
    shaft = _sine(1.0, 25.0)
    features = waveform_features(np.vstack([noise, noise + impacts, shaft + noise, shaft + noise + impacts]), FS,
                                 running_speed=25.0)
    assert features.loc[0, "kurtosis"] == pytest.approx(3.0, abs=0.5)
    assert features.loc[0, "kurtosis_high"] == pytest.approx(3.0, abs=0.6)
    assert features.loc[1, "kurtosis"] > 5.0
    assert features.loc[1, "crest_factor"] > features.loc[0, "crest_factor"]
    assert features.loc[3, "crest_factor"] > features.loc[2, "crest_factor"] + 1.0
    assert features.loc[1, "band_high"] > 3 * features.loc[0, "band_high"]
    # under a strong shaft line (kurtosis 1.5) the impacts stand out in the high band only
    assert features.loc[3, "kurtosis"] < 4.0
    assert features.loc[3, "kurtosis_high"] > 5.0 > features.loc[2, "kurtosis_high"]


def test_features_are_computed_per_row_of_the_matrix():
    rng = np.random.default_rng(2)
    rows = rng.normal(0, 1, (5, N)) + _sine(1.0, 25.0)
    together = waveform_features(rows, FS, running_speed=np.full(5, 25.0))
    alone = pd.concat([waveform_features(r, FS, running_speed=25.0) for r in rows], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)


def _long(matrix, units=("E1", "E2")):
    ts = pd.Timestamp("2024-01-04 10:00")
    return pd.DataFrame({
        "equipment_id": np.repeat(list(units), N), "ts": ts, "sample": np.tile(np.arange(N), len(units)),
        "sample_rate_hz": float(FS), "value": np.asarray(matrix).ravel()})


def test_the_long_table_gives_the_same_features_with_its_keys_and_speeds():
    rows = np.vstack([_sine(1.0, 25.0), _sine(2.0, 30.0)])
    table = _long(rows).sample(frac=1.0, random_state=0)  # any row order
    keys, matrix, rate = waveform_matrix(table)
    assert rate == FS and list(keys["equipment_id"]) == ["E1", "E2"]
    np.testing.assert_allclose(matrix, rows)
    speeds = pd.DataFrame({"equipment_id": ["E1", "E2"], "ts": pd.Timestamp("2024-01-04 10:00"),
                           "running_speed_hz": [25.0, 30.0]})
    features = waveform_features(table, running_speed=speeds)
    assert list(features.columns[:2]) == ["equipment_id", "ts"]
    assert not features["speed_estimated"].any()
    pd.testing.assert_frame_equal(features.drop(columns=["equipment_id", "ts"]),
                                  waveform_features(rows, FS, running_speed=[25.0, 30.0]))


def _encoded(matrix, units=("E1", "E2"), resolution=0.001):
    counts = np.round(np.asarray(matrix) / resolution).astype("<i2")
    return pd.DataFrame({"equipment_id": list(units), "ts": pd.Timestamp("2024-01-04 10:00"),
                         "sample_rate_hz": float(FS), "samples": N, "resolution_mm_s": resolution,
                         "data": [base64.b64encode(c.tobytes()).decode("ascii") for c in counts]})


def test_the_encoded_table_decodes_to_its_samples_and_passes_its_contract():
    from quantlib.data.contracts import get_contract

    rows = np.vstack([_sine(1.0, 25.0), _sine(2.0, 30.0)])
    table = _encoded(rows)
    keys, matrix, rate = waveform_matrix(table)
    assert rate == FS and list(keys["equipment_id"]) == ["E1", "E2"]
    np.testing.assert_allclose(matrix, rows, atol=0.0005 + 1e-12)
    schema = get_contract("vibration_waveforms").schema
    schema.validate(table)
    for bad in ("not base64!", table.loc[0, "data"][:-1]):
        with pytest.raises(Exception, match="data"):
            schema.validate(table.assign(data=bad))
    with pytest.raises(VibrationDataError, match="data"):
        waveform_matrix(table.assign(data=table["data"].str[:-8]))
    with pytest.raises(VibrationDataError, match="data"):
        waveform_matrix(table.assign(data="not base64!"))
    with pytest.raises(VibrationDataError, match="samples"):
        waveform_matrix(table.assign(samples=[N, N // 2]))


def test_errors_name_the_column_at_fault():
    table = _long(np.vstack([_sine(1.0, 25.0), _sine(1.0, 25.0)]))
    with pytest.raises(VibrationDataError, match="value"):
        waveform_features(table.drop(columns="value"))
    with pytest.raises(VibrationDataError, match="sample"):
        waveform_features(table.drop(index=5))
    with pytest.raises(VibrationDataError, match="value"):
        waveform_features(table.assign(value=table["value"].where(table.index != 3)))
    with pytest.raises(VibrationDataError, match="sample_rate_hz"):
        waveform_features(table.drop(columns="sample_rate_hz"))
    with pytest.raises(VibrationDataError, match="running_speed"):
        waveform_features(np.zeros((3, N)), FS, running_speed=[25.0, 25.0])
    with pytest.raises(VibrationDataError, match="amp_bpfo"):
        SpectralTrend().fit(pd.DataFrame({"equipment_id": ["E1"], "ts": [pd.Timestamp("2024-01-01")],
                                          "amp_1x": [1.0], "amp_2x": [0.3], "amp_bpfi": [0.05], "rms": [1.0]}))


def _weekly_peaks(seed=3, units=4, weeks=60, grow_unit="E0", grow_from=50):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(units):
        for w in range(weeks):
            growth = 1 + 20 * max(0, (w - grow_from) / (weeks - grow_from)) ** 1.5 if f"E{u}" == grow_unit else 1
            rows.append({"equipment_id": f"E{u}", "ts": pd.Timestamp("2023-01-05 10:00") + pd.Timedelta(weeks=w),
                         "amp_1x": rng.lognormal(0, 0.05), "amp_2x": 0.3 * rng.lognormal(0, 0.2),
                         "amp_bpfo": 0.05 * growth * rng.lognormal(0, 0.3), "amp_bpfi": 0.05 * rng.lognormal(0, 0.3),
                         "rms": rng.lognormal(0, 0.05)})
    return pd.DataFrame(rows)


def test_spectral_trend_uses_no_future_snapshot():
    peaks = _weekly_peaks()
    trend = SpectralTrend().fit(peaks)
    full = trend.transform(peaks)
    cut = pd.Timestamp("2023-09-01")
    past = trend.transform(peaks[peaks["ts"] <= cut])
    pd.testing.assert_frame_equal(full[full["ts"] <= cut].reset_index(drop=True), past)
    # the first snapshots have no baseline yet
    assert full.groupby("equipment_id")["amp_bpfo_z"].apply(lambda z: z.iloc[:6].isna().all()).all()


def test_a_growing_defect_peak_stands_out_and_alarms():
    peaks = _weekly_peaks()
    features = SpectralTrend().fit(peaks[peaks["ts"] < pd.Timestamp("2023-10-01")]).transform(peaks)
    last = features.groupby("equipment_id").tail(1).set_index("equipment_id")
    assert last.loc["E0", "amp_bpfo_z"] > 6 and last.loc["E0", "amp_bpfo_slope"] > 0.5
    assert (last.drop(index="E0")["amp_bpfo_z"].abs() < 4).all()
    alarms = spectral_alarms(features)
    assert set(alarms.loc[alarms["alarm"], "equipment_id"]) == {"E0"}
    assert alarms.loc[alarms["alarm"], "date"].min() > pd.Timestamp("2023-12-21")  # after the growth began


def test_a_reset_restarts_the_baseline_after_the_repair_only():
    peaks = _weekly_peaks(weeks=80, grow_from=40)
    repaired = pd.Timestamp("2023-12-21")  # E0 fails that day (its snapshot is still the old part); replaced
    after = (peaks["equipment_id"] == "E0") & (peaks["ts"] >= repaired + pd.Timedelta(days=1))
    peaks.loc[after, "amp_bpfo"] = 0.05 * np.random.default_rng(5).lognormal(0, 0.3, after.sum())
    resets = pd.DataFrame({"equipment_id": ["E0"], "date": [repaired]})
    trend = SpectralTrend().fit(peaks[peaks["ts"] < pd.Timestamp("2023-09-01")])
    plain, renewed = trend.transform(peaks), trend.transform(peaks, resets=resets)
    unit = renewed["equipment_id"] == "E0"
    new_life = unit & (renewed["ts"] >= repaired + pd.Timedelta(days=1))
    # before the repair nothing changes; after it, min_baseline snapshots without a baseline, then the new one
    pd.testing.assert_frame_equal(plain[~new_life], renewed[~new_life])
    assert renewed.loc[new_life, "amp_bpfo_z"].iloc[:6].isna().all()
    assert renewed.loc[new_life, "amp_bpfo_z"].iloc[6:].abs().max() < 4
    # the old baseline, still holding the grown peak, scores the new bearing far below normal
    assert plain.loc[new_life, "amp_bpfo_z"].iloc[6:].median() < renewed.loc[new_life, "amp_bpfo_z"].iloc[6:].median()
    # no look-ahead with resets either
    cut = pd.Timestamp("2024-02-01")
    pd.testing.assert_frame_equal(renewed[renewed["ts"] <= cut].reset_index(drop=True),
                                  trend.transform(peaks[peaks["ts"] <= cut], resets=resets))
    with pytest.raises(VibrationDataError, match="date"):
        trend.transform(peaks, resets=resets.rename(columns={"date": "failure_date"}))


def test_spectral_daily_carries_the_latest_snapshot_forward_only():
    peaks = _weekly_peaks(units=1, weeks=20)
    trend = SpectralTrend().fit_transform(peaks)
    days = pd.DataFrame({"equipment_id": "E0", "date": pd.date_range("2023-01-01", "2023-07-01")})
    daily = spectral_daily(trend, days, max_age_days=10)
    assert len(daily) == len(days) and (daily["date"].to_numpy() == days["date"].to_numpy()).all()
    snap = trend.set_index("date")
    for day in (pd.Timestamp("2023-03-02"), pd.Timestamp("2023-03-08"), pd.Timestamp("2023-03-09")):
        row = daily[daily["date"] == day].iloc[0]
        latest = snap.index[snap.index <= day].max()
        assert row["snapshot_age_days"] == (day - latest).days
        assert row["amp_bpfo_z"] == pytest.approx(snap.loc[latest, "amp_bpfo_z"], nan_ok=True)
    # the day before the first snapshot and days long after the last one have no snapshot
    assert daily.loc[daily["date"] == pd.Timestamp("2023-01-04"), "amp_bpfo_z"].isna().all()
    assert daily.loc[daily["date"] > peaks["ts"].max() + pd.Timedelta(days=10), "amp_bpfo_z"].isna().all()


def test_failure_windows_summarise_extra_columns_for_the_classifier():
    rng = np.random.default_rng(4)
    days = pd.date_range("2023-01-01", periods=40)
    features = pd.DataFrame({"equipment_id": "E0", "date": days, "kind": "heavy",
                             **{c: rng.normal(0, 1, 40) for c in ("vibration_z", "temperature_z", "pressure_z")},
                             "amp_bpfo_z": np.linspace(0, 8, 40)})
    failures = pd.DataFrame({"equipment_id": ["E0"], "failure_date": [days[-1]], "failure_mode": ["bearing"]})
    windows = failure_windows(features, failures, extra=("amp_bpfo_z",))
    assert windows.loc[0, "amp_bpfo_z_max"] == pytest.approx(8.0)
    assert windows.loc[0, "amp_bpfo_z_slope"] == pytest.approx(8 / 39)
    with pytest.raises(Exception, match="amp_bpfo_z"):
        FailureModeClassifier(extra_features=("amp_bpfo_z",)).fit(failure_windows(features, failures))


# -- the generator's waveforms -------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_company():
    from pathlib import Path

    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    profiles = Path(__file__).resolve().parents[2] / "parameters" / "companies"
    return generate_company(load_profile(profiles / "mixed_trades.yaml"), scale=0.4)


def test_generated_waveforms_match_their_stored_peaks(small_company):
    from quantlib.data.generate import SNAPSHOT

    waves = small_company.tables["vibration_waveforms"]
    snaps = small_company.tables["vibration_snapshots"]
    keys, matrix, rate = waveform_matrix(waves)
    assert rate == SNAPSHOT["sample_rate_hz"] and matrix.shape[1] == SNAPSHOT["samples"]
    # the last recent_waveforms weekly snapshots of each unit, all of them also in the peaks table
    stored = keys.merge(snaps, on=["equipment_id", "ts"], how="left", validate="one_to_one")
    assert stored["amp_1x"].notna().all()
    assert keys.groupby("equipment_id").size().max() <= SNAPSHOT["recent_waveforms"]
    assert keys["ts"].min() >= snaps["ts"].max() - pd.Timedelta(weeks=SNAPSHOT["recent_waveforms"])
    # recompute the stored peaks from the raw waveform, as the generator measures them
    window = np.hanning(matrix.shape[1])
    spectrum = np.abs(np.fft.rfft(matrix * window, axis=1)) * 2 / window.sum()
    step = rate / matrix.shape[1]
    ratios = {"amp_1x": 1.0, "amp_2x": 2.0, "amp_bpfo": SNAPSHOT["bpfo_ratio"], "amp_bpfi": SNAPSHOT["bpfi_ratio"]}
    for column, ratio in ratios.items():
        centre = np.rint(stored["running_speed_hz"].to_numpy() * ratio / step).astype(int)
        near = centre[:, None] + np.arange(-2, 3)[None, :]
        peak = np.take_along_axis(spectrum, near, axis=1).max(axis=1)
        # the raw values are rounded to 0.001 mm/s and the speed to 0.01 Hz
        np.testing.assert_allclose(peak, stored[column].to_numpy(), atol=0.003, err_msg=column)
    np.testing.assert_allclose(np.sqrt((matrix ** 2).mean(axis=1)), stored["rms"].to_numpy(), atol=0.002)


def test_generated_snapshot_truth_records_the_impacts(small_company):
    from quantlib.data.generate import SNAPSHOT

    truth = small_company.truth_tables["vibration_snapshots"]
    assert len(truth) == len(small_company.tables["vibration_snapshots"])
    # impacts exactly where a bearing defect grows, sized by its growth
    np.testing.assert_allclose(truth["true_impact_mm_s"], SNAPSHOT["impacts"]["amp_mm_s"] * truth["bearing_growth"],
                               atol=1e-3)
    assert (truth["bearing_growth"] > 0).any()
    assert "vibration_waveforms" in small_company.truth["vibration_snapshots"]["waveforms"]
