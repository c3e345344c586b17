"""Vibration in the frequency domain: features of raw waveforms and the trend of spectral peaks.

Two sources, as condition-monitoring systems keep them:

* **Raw waveforms** (table ``vibration_waveforms``, a unit's recent high-rate snapshots, one row
  per snapshot with its samples encoded): :func:`waveform_features` computes per snapshot the time-domain statistics
  (rms, peak, crest factor, kurtosis: impacts of a spalled bearing make the signal spiky, so
  kurtosis and crest factor rise before the rms does; under a velocity signal's strong shaft
  lines, the kurtosis of the high band shows them best) and, from a Welch spectrum
  (``scipy.signal.welch``, Hann segments of half the snapshot, 50 % overlap), the energy in
  bands around the running speed's orders (1x imbalance, 2x misalignment, the bearing's outer
  and inner race defect frequencies BPFO and BPFI), the broadband high-frequency energy (where
  the structure's resonances ring after impacts) and the dominant peak. The running speed comes
  from the snapshots table or is estimated as the strongest peak in ``speed_range_hz``.
  :func:`waveform_matrix` decodes the table (or a one-row-per-sample export) into the 2-D array
  it takes.
* **Spectral peaks over the whole history** (table ``vibration_snapshots``, one weekly row per
  unit): :class:`SpectralTrend` standardises each peak's log amplitude against the unit's own
  past snapshots (a robust baseline, the median and scaled MAD of the previous
  ``baseline_snapshots``, with no look-ahead, as
  :class:`~quantlib.maintenance.sensors.SensorFeatures` does for daily readings) and adds its
  drift (the least-squares slope over the last ``slope_snapshots``), so a growing bearing
  defect peak stands out from the unit's normal level; the baseline may restart at each repair
  that renews the part (``resets``). :func:`spectral_daily` carries the
  latest snapshot's features forward to each day (joinable by ``equipment_id, date``) and
  :func:`spectral_alarms` turns them into alarms with the detectors' interface
  (``equipment_id, date, alarm, statistic``), for :func:`~quantlib.maintenance.sensors.alert_episodes`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import signal, stats
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from quantlib.errors import QuantError
from quantlib.maintenance.sensors import _MAD_SCALE, _rolling_slope

__all__ = [
    "DEFAULT_ORDERS", "SPECTRAL_PEAKS", "SpectralTrend", "VibrationDataError", "spectral_alarms", "spectral_daily",
    "waveform_features", "waveform_matrix",
]

#: Band centres as orders of the running speed: 1x (imbalance), 2x (misalignment) and the bearing's
#: outer / inner race defect frequencies (BPFO, BPFI; a property of the bearing's geometry, here
#: the generator's bearing).
DEFAULT_ORDERS = {"1x": 1.0, "2x": 2.0, "bpfo": 3.58, "bpfi": 5.42}
#: The columns of ``vibration_snapshots`` that :class:`SpectralTrend` follows by default.
SPECTRAL_PEAKS = ("amp_1x", "amp_2x", "amp_bpfo", "amp_bpfi", "rms")


class VibrationDataError(QuantError, ValueError):
    """Vibration data that cannot be used: names the column or unit at fault."""


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise VibrationDataError(f"{what}: missing column(s) {', '.join(missing)}")


def _decode(data: pd.DataFrame) -> np.ndarray:
    """The samples of the one-row-per-snapshot form: base64 of little-endian int16 counts."""
    sizes = pd.to_numeric(data["samples"], errors="coerce").unique()
    if len(sizes) != 1 or not np.isfinite(sizes[0]):
        raise VibrationDataError(f"waveforms: column samples must be one length for all snapshots, got "
                                 f"{sorted(map(str, sizes))}; compute the features of each length apart")
    size = int(sizes[0])
    try:
        raw = b"".join(base64.b64decode(text, validate=True) for text in data["data"].astype(str))
    except (binascii.Error, ValueError) as exc:
        raise VibrationDataError(f"waveforms: column data is not base64 ({exc})") from None
    if len(raw) != 2 * size * len(data):
        raise VibrationDataError(f"waveforms: column data does not hold {size} 16-bit samples per snapshot")
    resolution = data["resolution_mm_s"].to_numpy(float)
    if not (np.isfinite(resolution) & (resolution > 0)).all():
        raise VibrationDataError("waveforms: column resolution_mm_s must be positive")
    return np.frombuffer(raw, dtype="<i2").reshape(len(data), size) * resolution[:, None]


def waveform_matrix(waveforms: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, float]:
    """The waveform table as one row of samples per snapshot.

    Parameters
    ----------
    waveforms : DataFrame
        Either the table ``vibration_waveforms``, one row per snapshot (``equipment_id, ts,
        sample_rate_hz, samples, resolution_mm_s, data``: ``data`` is base64 of ``samples``
        little-endian int16 counts of ``resolution_mm_s``), or one row per sample
        (``equipment_id, ts, sample, value`` + ``sample_rate_hz``), as a company may export it.

    Returns
    -------
    keys : DataFrame
        ``equipment_id, ts`` of each snapshot, sorted.
    matrix : numpy.ndarray
        ``(snapshots, samples)`` values (mm/s) in sample order.
    sample_rate_hz : float
        The common sample rate (NaN when the table has no ``sample_rate_hz`` column).

    Raises
    ------
    VibrationDataError
        A missing column, undecodable ``data``, a non-finite ``value``, snapshots of different
        lengths or with gaps in ``sample``, a snapshot twice, or several sample rates.
    """
    encoded = "data" in waveforms.columns
    _require(waveforms, ["equipment_id", "ts", *(("samples", "resolution_mm_s", "data") if encoded
                                                 else ("sample", "value"))], "waveforms")
    if waveforms.empty:
        raise VibrationDataError("waveforms: no rows")
    if encoded:
        data = waveforms.sort_values(["equipment_id", "ts"], kind="stable").reset_index(drop=True)
        keys = data[["equipment_id", "ts"]]
        if keys.duplicated().any():
            raise VibrationDataError("waveforms: a snapshot (equipment_id, ts) occurs twice")
        matrix = _decode(data)
    else:
        data = waveforms.sort_values(["equipment_id", "ts", "sample"], kind="stable")
        values = data["value"].to_numpy(float)
        if not np.isfinite(values).all():
            raise VibrationDataError("waveforms: column value has missing or non-finite samples")
        keys = data[["equipment_id", "ts"]].drop_duplicates()
        if len(values) % len(keys):
            raise VibrationDataError("waveforms: column sample: the snapshots have different numbers of samples")
        size = len(values) // len(keys)
        samples = data["sample"].to_numpy().reshape(len(keys), size)
        if not (samples == np.arange(size)[None, :]).all():
            raise VibrationDataError(f"waveforms: column sample must run 0..{size - 1} in every snapshot "
                                     "(same length, no gaps or repeats)")
        matrix = values.reshape(len(keys), size)
    rate = np.nan
    if "sample_rate_hz" in data:
        rates = data["sample_rate_hz"].dropna().unique()
        if len(rates) > 1:
            raise VibrationDataError(f"waveforms: column sample_rate_hz has several rates {sorted(rates)}; "
                                     "compute the features of each rate apart")
        rate = float(rates[0]) if len(rates) else np.nan
    return keys.reset_index(drop=True), matrix, rate


def _band_mask(freqs: np.ndarray, centre: np.ndarray, half: np.ndarray) -> np.ndarray:
    return np.abs(freqs[None, :] - centre[:, None]) <= half[:, None]


def _estimate_speed(x: np.ndarray, fs: float, speed_range_hz: tuple[float, float]) -> np.ndarray:
    """The strongest spectral line in ``speed_range_hz`` per snapshot (a zero-padded Hann spectrum
    with parabolic interpolation of the peak, finer than the Welch bins)."""
    n = x.shape[1]
    pad = 8 * n
    spectrum = np.abs(np.fft.rfft((x - x.mean(axis=1, keepdims=True)) * np.hanning(n)[None, :], n=pad, axis=1))
    freqs = np.fft.rfftfreq(pad, 1 / fs)
    inside = np.flatnonzero((freqs >= speed_range_hz[0]) & (freqs <= speed_range_hz[1]))
    if len(inside) < 3:
        raise VibrationDataError(f"speed_range_hz {speed_range_hz} holds fewer than 3 spectral lines at "
                                 f"{fs:g} Hz and {n} samples")
    k = inside[np.argmax(spectrum[:, inside], axis=1)]
    k = np.clip(k, 1, len(freqs) - 2)
    rows = np.arange(len(x))
    a, b, c = (np.log(spectrum[rows, k + d] + 1e-300) for d in (-1, 0, 1))
    denominator = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(denominator != 0, 0.5 * (a - c) / denominator, 0.0)
    return (k + np.clip(shift, -0.5, 0.5)) * (freqs[1] - freqs[0])


def waveform_features(waveforms, sample_rate_hz: float | None = None, running_speed=None, *,
                      orders: Mapping[str, float] = DEFAULT_ORDERS, nperseg: int | None = None,
                      band_fraction: float = 0.05, high_band_hz: float = 400.0,
                      speed_range_hz: tuple[float, float] = (5.0, 100.0)) -> pd.DataFrame:
    """Time-domain and spectral features of each vibration snapshot (vectorised over snapshots).

    Parameters
    ----------
    waveforms : array-like of shape (snapshots, samples), or DataFrame
        The signals (mm/s), one row per snapshot; or the table ``vibration_waveforms`` (or a
        one-row-per-sample export; see :func:`waveform_matrix`), whose keys then lead the result.
    sample_rate_hz : float, optional
        Samples a second; taken from the table's ``sample_rate_hz`` when ``waveforms`` is a table.
    running_speed : float, array-like or DataFrame, optional
        The shaft speed in Hz: one value, one per snapshot, or (with a table) the snapshots table
        ``equipment_id, ts, running_speed_hz``; snapshots without one get the estimate.
        Estimated as the strongest line in ``speed_range_hz`` when not given.
    orders : mapping, default :data:`DEFAULT_ORDERS`
        Band name -> order of the running speed at its centre.
    nperseg : int, optional
        Welch segment length; default half the snapshot (three Hann segments with 50 % overlap:
        4 Hz bins for 1,024 samples at 2,048 Hz).
    band_fraction : float, default 0.05
        Half-width of each band as a share of its centre frequency, at least two Welch bins (a Hann
        window's main lobe) so a line between bins still lands in its band.
    high_band_hz : float, default 400
        Lower edge of the broadband high-frequency band (up to the Nyquist frequency) and the
        cut-off of the high-pass filter of ``kurtosis_high``.
    speed_range_hz : (float, float)
        Where to look for the running speed when it is estimated.

    Returns
    -------
    DataFrame
        One row per snapshot: ``rms, peak, crest_factor`` (peak / rms), ``kurtosis`` (Pearson's,
        3 for Gaussian noise, 1.5 for a sine), ``kurtosis_high`` (of the signal high-passed at
        ``high_band_hz``: bearing impacts, unmasked by the shaft lines), ``running_speed_hz``,
        ``speed_estimated``,
        ``band_<name>`` (mean-square energy, (mm/s)^2, in each order band), ``band_high``,
        ``dominant_hz`` and ``dominant_amp`` (the Welch spectrum's largest peak above
        ``speed_range_hz[0]``, as a sine amplitude from its main lobe's energy).

    Raises
    ------
    VibrationDataError
        Names the column or argument at fault.
    """
    keys = None
    if isinstance(waveforms, pd.DataFrame):
        keys, x, table_rate = waveform_matrix(waveforms)
        if sample_rate_hz is None:
            sample_rate_hz = table_rate
    else:
        x = np.asarray(waveforms, dtype=float)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise VibrationDataError(f"waveforms: expected a 2-D array (snapshots, samples), got {x.ndim} dimensions")
        if not np.isfinite(x).all():
            raise VibrationDataError("waveforms: missing or non-finite samples")
    if sample_rate_hz is None or not np.isfinite(sample_rate_hz) or sample_rate_hz <= 0:
        raise VibrationDataError(f"sample_rate_hz must be a positive number, got {sample_rate_hz!r}")
    fs = float(sample_rate_hz)
    m, n = x.shape
    segment = n // 2 if nperseg is None else int(nperseg)
    if not 8 <= segment <= n:
        raise VibrationDataError(f"nperseg must be between 8 and the {n} samples of a snapshot, got {segment}")

    speed = np.full(m, np.nan)
    if isinstance(running_speed, pd.DataFrame):
        if keys is None:
            raise VibrationDataError("running_speed as a table needs waveforms as a table (equipment_id, ts)")
        _require(running_speed, ["equipment_id", "ts", "running_speed_hz"], "running_speed")
        known = keys.merge(running_speed[["equipment_id", "ts", "running_speed_hz"]].drop_duplicates(
            ["equipment_id", "ts"]), on=["equipment_id", "ts"], how="left")
        speed = known["running_speed_hz"].to_numpy(float)
    elif running_speed is not None:
        given = np.asarray(running_speed, dtype=float)
        if given.ndim == 0:
            given = np.full(m, float(given))
        if given.shape != (m,):
            raise VibrationDataError(f"running_speed: expected one value or {m} (one per snapshot), "
                                     f"got {given.size}")
        speed = given.copy()
    if (speed[np.isfinite(speed)] <= 0).any():
        raise VibrationDataError("running_speed_hz must be positive")
    estimated = ~np.isfinite(speed)
    if estimated.any():
        speed[estimated] = _estimate_speed(x[estimated], fs, speed_range_hz)

    centred = x - x.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(x * x, axis=1))
    peak = np.abs(x).max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        crest = np.where(rms > 0, peak / rms, np.nan)
    kurt = stats.kurtosis(x, axis=1, fisher=False, bias=True)
    # Impacts ring the structure at high frequency; under the strong, low-kurtosis shaft lines of a
    # velocity signal they show in the kurtosis of the high band (a Butterworth high-pass, run
    # forwards and back so it does not shift the impacts).
    if not 0 < high_band_hz < fs / 2:
        raise VibrationDataError(f"high_band_hz must be between 0 and the Nyquist frequency {fs / 2:g}, "
                                 f"got {high_band_hz!r}")
    high = signal.sosfiltfilt(signal.butter(4, high_band_hz, btype="highpass", fs=fs, output="sos"), x, axis=1)
    kurt_high = stats.kurtosis(high, axis=1, fisher=False, bias=True)

    freqs, psd = signal.welch(centred, fs=fs, window="hann", nperseg=segment, noverlap=segment // 2,
                              detrend=False, scaling="density", axis=1)
    df = freqs[1] - freqs[0]
    out = {"rms": rms, "peak": peak, "crest_factor": crest, "kurtosis": kurt, "kurtosis_high": kurt_high,
           "running_speed_hz": speed,
           "speed_estimated": estimated}
    for name, order in orders.items():
        centre = speed * float(order)
        half = np.maximum(band_fraction * centre, 2 * df)
        out[f"band_{name}"] = (psd * _band_mask(freqs, centre, half)).sum(axis=1) * df
    out["band_high"] = psd[:, freqs >= high_band_hz].sum(axis=1) * df
    # The dominant peak above the lowest speed (the DC bin and its leakage are not a peak); its
    # amplitude from the energy of its main lobe (+-2 bins), so a line between bins is not underrated.
    above = np.flatnonzero(freqs >= speed_range_hz[0])
    top = above[np.argmax(psd[:, above], axis=1)]
    lobe = np.abs(np.arange(len(freqs))[None, :] - top[:, None]) <= 2
    out["dominant_hz"] = freqs[top]
    out["dominant_amp"] = np.sqrt(2 * (psd * lobe).sum(axis=1) * df)
    result = pd.DataFrame(out)
    return result if keys is None else pd.concat([keys, result], axis=1)


class SpectralTrend(BaseEstimator):
    """Each spectral peak's log amplitude against the unit's own past snapshots, and its drift.

    Parameters
    ----------
    peaks : tuple of str, default :data:`SPECTRAL_PEAKS`
        Columns of the snapshots table to follow (amplitudes, mm/s).
    baseline_snapshots : int, default 26
        Past snapshots that make a unit's baseline (half a year of weekly snapshots).
    min_baseline : int, default 6
        Fewest past snapshots for a baseline; earlier snapshots get no ``_z`` (NaN).
    slope_snapshots : int, default 4
        Window of the rolling slope of each ``_z`` (per snapshot).
    ceiling : float, default 2
        Cap on a unit's baseline spread, in fleet median spreads (see ``scale_ceiling_``).

    Attributes
    ----------
    scale_floor_ : dict
        Per peak, the smallest spread a unit's baseline may have: a quarter of the fleet's median
        scaled MAD of the log amplitude in the training snapshots, so a unit whose few baseline
        snapshots happen to agree does not turn noise into alarms.
    scale_ceiling_ : dict
        Per peak, the largest: ``ceiling`` x the fleet's median scaled MAD, so a unit whose
        baseline still holds the growth before its last failure (a repaired bearing is a new one)
        does not hide the next defect behind that spread.
    feature_names_ : list of str
    """

    def __init__(self, peaks: tuple[str, ...] = SPECTRAL_PEAKS, baseline_snapshots: int = 26, min_baseline: int = 6,
                 slope_snapshots: int = 4, ceiling: float = 2.0):
        self.peaks = peaks
        self.baseline_snapshots = baseline_snapshots
        self.min_baseline = min_baseline
        self.slope_snapshots = slope_snapshots
        self.ceiling = ceiling

    def _logs(self, snapshots: pd.DataFrame) -> pd.DataFrame:
        _require(snapshots, ["equipment_id", "ts", *self.peaks], "snapshots")
        out = snapshots[["equipment_id", "ts", *self.peaks]].copy()
        out["ts"] = pd.to_datetime(out["ts"])
        out = out.sort_values(["equipment_id", "ts"], kind="stable").reset_index(drop=True)
        for peak in self.peaks:
            values = out[peak].to_numpy(float)
            if (values[np.isfinite(values)] < 0).any():
                raise VibrationDataError(f"snapshots: column {peak} has negative amplitudes")
            # a zero amplitude is below the resolution, not minus infinity
            out[peak] = np.log(np.clip(values, 1e-4, None))
        return out

    @staticmethod
    def _segments(logs: pd.DataFrame, resets: pd.DataFrame | None) -> pd.Series:
        """Per snapshot, its unit and the number of the unit's resets on or before it (the baseline's group)."""
        count = np.zeros(len(logs), dtype=int)
        if resets is not None and len(resets):
            _require(resets, ["equipment_id", "date"], "resets")
            # a reset on day d (a failure, repaired after it) starts a new baseline for the snapshots
            # after day d; the snapshot of the failure day itself is still of the old part
            marks = resets[["equipment_id", "date"]].dropna().assign(
                date=lambda r: (pd.to_datetime(r["date"]).dt.normalize() + pd.Timedelta(days=1)).astype(
                    "datetime64[ns]"))
            marks = marks.drop_duplicates().sort_values(["equipment_id", "date"])
            marks["n"] = marks.groupby("equipment_id").cumcount() + 1
            left = logs[["equipment_id"]].assign(day=logs["ts"].dt.normalize().astype("datetime64[ns]"),
                                                 _row=np.arange(len(logs))).sort_values("day", kind="stable")
            found = pd.merge_asof(left, marks.sort_values("date"), left_on="day", right_on="date",
                                  by="equipment_id", direction="backward")
            count[found["_row"].to_numpy()] = found["n"].fillna(0).to_numpy(int)
        codes, _ = pd.factorize(pd.MultiIndex.from_arrays([logs["equipment_id"], count]))
        return pd.Series(codes, index=logs.index)

    def fit(self, snapshots: pd.DataFrame, y=None, resets: pd.DataFrame | None = None):
        """Learn the fleet's floor and ceiling on baseline spreads from ``snapshots`` (the training period).

        Parameters
        ----------
        snapshots : DataFrame
            ``equipment_id, ts`` and the ``peaks`` columns (the table ``vibration_snapshots``).
        resets : DataFrame, optional
            ``equipment_id, date`` of repairs that renew the monitored part (failures): a unit's
            baseline restarts from each (see :meth:`transform`).

        Returns
        -------
        self
        """
        if self.min_baseline < 2 or self.baseline_snapshots < self.min_baseline:
            raise ValueError("need 2 <= min_baseline <= baseline_snapshots")
        logs = self._logs(snapshots)
        if logs.empty:
            raise VibrationDataError("snapshots: no rows to fit on")
        if not self.ceiling > 0.25:
            raise ValueError(f"ceiling must be above the floor's 0.25, got {self.ceiling!r}")
        segments = self._segments(logs, resets)
        floors, ceilings = {}, {}
        for peak in self.peaks:
            mad = logs.groupby(segments)[peak].agg(lambda v: np.nanmedian(np.abs(v - np.nanmedian(v))))
            typical = float(_MAD_SCALE * np.nanmedian(mad)) if mad.notna().any() else np.nan
            floors[peak] = 0.25 * typical if typical == typical else 0.0
            ceilings[peak] = self.ceiling * typical if typical == typical and typical > 0 else np.inf
        self.scale_floor_, self.scale_ceiling_ = floors, ceilings
        self.feature_names_ = [f"{p}_z" for p in self.peaks] + [f"{p}_slope" for p in self.peaks]
        return self

    def transform(self, snapshots: pd.DataFrame, resets: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per unit and snapshot: ``equipment_id, ts, date`` and ``<peak>_z``, ``<peak>_slope``.

        A snapshot's values use only that snapshot and the unit's earlier ones (since its last
        reset before the snapshot's day, when ``resets`` are given).

        Parameters
        ----------
        snapshots : DataFrame
            ``equipment_id, ts`` and the ``peaks`` columns.
        resets : DataFrame, optional
            ``equipment_id, date`` of repairs that renew the monitored part (the failures of
            ``maintenance_events``): a repaired bearing is a new one, and a baseline that still
            held the growth before the last failure would hide the next (the first
            ``min_baseline`` snapshots after a reset get no ``_z``).
        """
        if not hasattr(self, "scale_floor_"):
            raise NotFittedError("SpectralTrend is not fitted yet: call fit first")
        logs = self._logs(snapshots)
        out = logs[["equipment_id", "ts"]].copy()
        out["date"] = out["ts"].dt.normalize()
        groups = self._segments(logs, resets)
        for peak in self.peaks:
            values = logs[peak]
            past = values.groupby(groups).shift(1)
            rolling = past.groupby(groups).rolling(self.baseline_snapshots, min_periods=self.min_baseline)
            centre = rolling.median().reset_index(level=0, drop=True).sort_index()
            spread = (past - centre).abs().groupby(groups).rolling(
                self.baseline_snapshots, min_periods=self.min_baseline).median().reset_index(
                level=0, drop=True).sort_index()
            scale = (_MAD_SCALE * spread).clip(self.scale_floor_[peak], self.scale_ceiling_[peak]).where(
                lambda s: s > 0)
            out[f"{peak}_z"] = ((values - centre) / scale).to_numpy()
            out[f"{peak}_slope"] = _rolling_slope(out[f"{peak}_z"], groups, self.slope_snapshots)
        return out

    def fit_transform(self, snapshots: pd.DataFrame, y=None, resets: pd.DataFrame | None = None) -> pd.DataFrame:
        return self.fit(snapshots, resets=resets).transform(snapshots, resets=resets)


def spectral_daily(trend: pd.DataFrame, days: pd.DataFrame, max_age_days: int = 14) -> pd.DataFrame:
    """The latest snapshot's trend features on each unit-day (no look-ahead).

    Parameters
    ----------
    trend : DataFrame
        From :meth:`SpectralTrend.transform`.
    days : DataFrame
        ``equipment_id, date`` to fill (e.g. :func:`~quantlib.maintenance.sensors.daily_readings`);
        its other columns are kept.
    max_age_days : int, default 14
        A snapshot older than this leaves the day empty (NaN).

    Returns
    -------
    DataFrame
        ``days`` with the trend's ``_z`` and ``_slope`` columns and ``snapshot_age_days``, in
        ``days``' order.
    """
    _require(trend, ["equipment_id", "date"], "trend")
    _require(days, ["equipment_id", "date"], "days")
    features = [c for c in trend.columns if c.endswith(("_z", "_slope"))]
    right = trend[["equipment_id", "date", *features]].assign(
        date=pd.to_datetime(trend["date"]).dt.normalize().astype("datetime64[ns]"))
    right = right.rename(columns={"date": "snapshot_date"}).sort_values("snapshot_date", kind="stable")
    left = days.assign(date=pd.to_datetime(days["date"]).dt.normalize().astype("datetime64[ns]"))
    left = left.reset_index(drop=True).reset_index(names="_row").sort_values("date", kind="stable")
    merged = pd.merge_asof(left, right, left_on="date", right_on="snapshot_date", by="equipment_id",
                           direction="backward", tolerance=pd.Timedelta(days=max_age_days))
    merged["snapshot_age_days"] = (merged["date"] - merged["snapshot_date"]).dt.days
    return merged.sort_values("_row").drop(columns=["_row", "snapshot_date"]).reset_index(drop=True)


def spectral_alarms(trend: pd.DataFrame, peaks: tuple[str, ...] = ("amp_bpfo", "amp_bpfi"),
                    limit: float = 4.0, persistence: int = 2) -> pd.DataFrame:
    """Alarms on snapshots where a peak stays above its baseline.

    Parameters
    ----------
    trend : DataFrame
        From :meth:`SpectralTrend.transform` (or :func:`spectral_daily`).
    peaks : tuple of str, default the bearing defect peaks
    limit : float, default 4
        A snapshot is high when any of the ``peaks``' ``_z`` exceeds it.
    persistence : int, default 2
        Consecutive high snapshots of the unit before the alarm (one noisy week is not a defect).

    Returns
    -------
    DataFrame
        ``equipment_id, date, alarm, statistic`` (the largest ``_z``), one row per input row.
    """
    columns = [f"{p}_z" for p in peaks]
    _require(trend, ["equipment_id", "date", *columns], "trend")
    data = trend.sort_values(["equipment_id", "date"], kind="stable").reset_index(drop=True)
    statistic = data[columns].max(axis=1, skipna=True)
    high = (statistic > limit).astype(int)
    held = high.groupby(data["equipment_id"]).rolling(persistence, min_periods=persistence).sum()
    held = held.reset_index(level=0, drop=True).sort_index()
    return pd.DataFrame({"equipment_id": data["equipment_id"], "date": pd.to_datetime(data["date"]),
                         "alarm": (held >= persistence).to_numpy(), "statistic": statistic.to_numpy()})
