"""80 % interval coverage of the combination by how its calibration errors are put to scale.

    python -m benchmarks.forecast_interval_scores --data FILE.csv [FILE2.csv ...] [--windows 3]
        [--n-jobs 2] [--out TABLE.csv]

Choose on the validation files of ``benchmarks.forecast_validation split`` (the training rows
only, the last horizon of each training series held out); score a test set only after the choice
is fixed. Per file and frequency the combination (``CombinationForecaster``'s defaults) is fitted
once; each series is cut ``h``, ``2h``, ... steps before its end (``--windows`` cuts, while at
least ``min_train`` values stay before the cut) and the combination refitted there forecasts the
``h`` values after the cut. From those window forecasts every variant below is computed offline,
so they share the point forecasts and differ only in their 80 % interval:

- ``comb``: the product's scores, the error over the combination's own 80 % half-width in
  normal units (``CombinationForecaster``'s conformal calibration);
- ``naive_mae`` / ``seasonal_mae``: the error over the mean absolute one-step (seasonal) change
  of the history before the cut, the interval ``yhat +- q_k * scale`` with the scale of the whole
  history;
- ``relative``: the error over ``|yhat|``;
- ``log``: ``|log(y / yhat)|``, the interval ``yhat * exp(+-q_k)`` (positive series only; a
  non-positive value leaves that score out and that forecast's interval is the point);
- ``comb_debiased``: the product's scores kept signed; their median at each step moves the point
  forecast by that many of the series' own half-widths (in normal units), and the interval is
  calibrated on the scores less that median. The only variant that changes the point forecast.

``q_k`` is the conformal 80 % quantile of the step-``k`` scores over every series of the
frequency (all steps pooled where a step has fewer than 20), each with one window or all of
them. The table gives per set the coverage, the share of actuals above the interval and the
sMAPE, and per variant the mean distance of the coverages from 0.80, how many sets leave
0.75-0.85 and the mean sMAPE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.forecast_competition import SEASON_LENGTH, read_competition
from quantlib.forecast.combination import CombinationForecaster, _conformal_quantile, step_statistic
from quantlib.forecast.metrics import smape

Z_80 = float(stats.norm.ppf(0.9))
SCALES = ("comb", "naive_mae", "seasonal_mae", "relative", "log", "comb_debiased")


class _WindowRecorder(CombinationForecaster):
    """The default combination, keeping each calibration window's forecast instead of its scores."""

    def _window_scores(self, y, c, h, m, X, series_id, fitted, members):
        window = self._window_forecast(y, c, h, m, X, series_id, fitted, members)
        if window is None:
            return None
        mean, lo, hi = window
        # one row per window: actuals, forecast, bounds and the cut, kept in the state's "cv_z"
        return np.concatenate([y[c:c + h], mean, lo, hi, [c]])


def history_scale(history: np.ndarray, m: int, kind: str) -> float:
    """Mean absolute one-step (``naive_mae``) or seasonal (``seasonal_mae``) change of ``history``."""
    lag = m if (kind == "seasonal_mae" and m > 1 and len(history) > m) else 1
    if len(history) <= lag:
        return np.nan
    return float(np.mean(np.abs(history[lag:] - history[:-lag])))


def window_scores(actual, mean, lo, hi, history, m, kind) -> np.ndarray:
    """One window's scores under scale ``kind``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "comb":
            z = np.abs(actual - mean) / ((hi - lo) / (2 * Z_80))
        elif kind == "comb_debiased":
            z = (actual - mean) / ((hi - lo) / (2 * Z_80))  # signed: its median is the bias
        elif kind in ("naive_mae", "seasonal_mae"):
            z = np.abs(actual - mean) / history_scale(history, m, kind)
        elif kind == "relative":
            z = np.abs(actual - mean) / np.abs(mean)
        else:
            z = np.abs(np.log(actual / mean))
    return np.where(np.isfinite(z), z, np.nan)


def step_quantiles(z: np.ndarray, h: int, min_calibration: int = 20, statistic=None) -> np.ndarray:
    """Per step, ``statistic`` (default the conformal 80 % quantile) of ``z``'s column, all steps pooled
    where a step has fewer than ``min_calibration`` scores: the product's own per-step rule."""
    statistic = statistic or (lambda col: _conformal_quantile(col, 80.0))
    return step_statistic(z, h, statistic, min_calibration)


def interval(kind, q, pred, histories, m, bias=None):
    """80 % bounds of ``pred`` (raw combination forecasts) under scale ``kind`` and step quantiles ``q``
    (``comb_debiased``: also the point forecast moved by the per-step median score ``bias``)."""
    k = pred.groupby("series_id", sort=False).cumcount().to_numpy()
    yhat = pred.yhat.to_numpy(float)
    if kind == "comb_debiased":
        sd = (pred.yhat_hi_80.to_numpy(float) - pred.yhat_lo_80.to_numpy(float)) / (2 * Z_80)
        point = yhat + bias[k] * sd
        return point - q[k] * sd, point + q[k] * sd, point
    if kind == "comb":
        mult = q[k] / Z_80
        return (yhat - mult * (yhat - pred.yhat_lo_80.to_numpy(float)),
                yhat + mult * (pred.yhat_hi_80.to_numpy(float) - yhat))
    if kind == "log":
        positive = yhat > 0
        return np.where(positive, yhat * np.exp(-q[k]), yhat), np.where(positive, yhat * np.exp(q[k]), yhat)
    if kind == "relative":
        scale = np.abs(yhat)
    else:
        scale = pred.series_id.map({sid: history_scale(v, m, kind) for sid, v in histories.items()}).to_numpy(float)
    return yhat - q[k] * scale, yhat + q[k] * scale


def coverage_by_scale(path: str, windows: int, n_jobs: int) -> list[dict]:
    raw = pd.read_csv(path)
    train, _ = read_competition(path)
    actual = raw.loc[raw.split == "test", ["series_id", "t", "y"]]
    rows = []
    for (freq, h), group in train.groupby(["frequency", "horizon"], sort=False):
        h, m = int(h), SEASON_LENGTH.get(str(freq).lower(), 1)
        model = _WindowRecorder(h=h, n_jobs=n_jobs, calibration_windows=windows, calibration_step=h)
        model.fit(group[["series_id", "ds", "y"]], season_length=m)
        model.calibrate = False  # the raw combined bounds; every variant rescales them itself
        pred = model.predict(h, level=(80,))
        histories = {sid: g.y.to_numpy(float) for sid, g in group.groupby("series_id", sort=False)}
        recorded = {sid: fs.state["cv_z"] for sid, fs in model.models_.items()
                    if isinstance(fs.state, dict) and fs.state.get("cv_z") is not None}
        merged_keys = pred.rename(columns={"ds": "t"})[["series_id", "t"]]
        truth = merged_keys.merge(actual, on=["series_id", "t"], how="left").y.to_numpy(float)
        for n_windows in sorted({1, windows}):
            for kind in SCALES:
                scores = []
                for sid, wins in recorded.items():
                    for r in wins[:n_windows]:
                        c = int(r[4 * h])
                        scores.append(window_scores(r[:h], r[h:2 * h], r[2 * h:3 * h], r[3 * h:4 * h],
                                                    histories[sid][:c], m, kind))
                scores, bias = np.array(scores), None
                if kind == "comb_debiased":
                    bias = step_quantiles(scores, h, statistic=np.median)
                    scores = np.abs(scores - bias[: scores.shape[1]])
                q = step_quantiles(scores, h)
                lo, hi, *point = interval(kind, q, pred, histories, m, bias)
                point = point[0] if point else pred.yhat.to_numpy(float)
                per_series = pd.DataFrame({"series_id": pred.series_id.to_numpy(), "y": truth, "f": point})
                rows.append({"file": Path(path).stem, "frequency": freq, "scale": kind, "windows": n_windows,
                             "coverage_80": round(float(np.mean((truth >= lo) & (truth <= hi))), 3),
                             "above": round(float(np.mean(truth > hi)), 3),
                             "smape": round(float(np.mean([smape(g.y, g.f) for _, g in per_series.groupby(
                                 "series_id", sort=False)])), 3)})
                print(rows[-1], flush=True)
    return rows


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per variant, the coverage per set, its mean distance from 0.80, the sets outside 0.75-0.85 and
    the mean sMAPE over the sets."""
    table = table.assign(set=table.file + " " + table.frequency)
    wide = table.pivot_table(index=["scale", "windows"], columns="set", values="coverage_80")
    sets = wide.columns
    wide["mean_distance"] = (wide[sets] - 0.8).abs().mean(axis=1).round(4)
    wide["outside"] = ((wide[sets] < 0.75) | (wide[sets] > 0.85)).sum(axis=1)
    wide["mean_smape"] = table.groupby(["scale", "windows"]).smape.mean().round(3)
    return wide


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    table = pd.DataFrame([r for path in args.data for r in coverage_by_scale(path, args.windows, args.n_jobs)])
    if args.out:
        table.to_csv(args.out, index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(summary(table).to_string())


if __name__ == "__main__":
    main()
