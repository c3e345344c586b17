"""80 % interval coverage of the combination by the number of calibration windows.

    python -m benchmarks.forecast_calibration --data VAL.csv [VAL2.csv ...] [--windows 5] [--step 1]
        [--n-jobs 2] [--out TABLE.csv]

Run it on the validation files of ``benchmarks.forecast_validation split`` (the training rows
only, the last horizon of each training series held out), never on a test set. Per file and
frequency the combination is fitted once with ``--windows`` calibration windows; the coverage
of the held-out values is then scored with the scores of the first 1, 2, ... windows of each
series (the point forecasts are the same for every count).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchmarks.forecast_competition import SEASON_LENGTH, read_competition
from quantlib.forecast.combination import CombinationForecaster
from quantlib.forecast.metrics import coverage


def _scores(per_series: list[np.ndarray], windows: int) -> np.ndarray:
    rows = [r for series in per_series for r in series[:windows]]
    z = np.full((len(rows), max(len(r) for r in rows)), np.nan)
    for i, r in enumerate(rows):
        z[i, : len(r)] = r
    return z


def coverage_by_windows(path: str, windows: int, step: int, n_jobs: int) -> list[dict]:
    raw = pd.read_csv(path)
    train, _ = read_competition(path)
    actual = raw.loc[raw.split == "test", ["series_id", "t", "y"]]
    rows = []
    for (freq, h), group in train.groupby(["frequency", "horizon"], sort=False):
        m = SEASON_LENGTH.get(str(freq).lower(), 1)
        model = CombinationForecaster(h=int(h), n_jobs=n_jobs, calibration_windows=windows,
                                      calibration_step=step).fit(group[["series_id", "ds", "y"]], season_length=m)
        per_series = [fs.state["cv_z"] for fs in model.models_.values()
                      if isinstance(fs.state, dict) and fs.state.get("cv_z") is not None]
        for w in range(1, windows + 1):
            model.calibration_scores_ = _scores(per_series, w)
            pred = model.predict(int(h), level=(80,)).rename(columns={"ds": "t"})
            merged = actual.merge(pred, on=["series_id", "t"])
            per = [coverage(g.y, g.yhat_lo_80, g.yhat_hi_80) for _, g in merged.groupby("series_id")]
            rows.append({"file": path.rsplit("/", 1)[-1], "frequency": freq, "windows": w,
                         "coverage_80": round(float(np.mean(per)), 3),
                         "scores": int(model.calibration_scores_.shape[0])})
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = [r for path in args.data for r in coverage_by_windows(path, args.windows, args.step, args.n_jobs)]
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    print(table.pivot_table(index=["file", "frequency"], columns="windows", values="coverage_80").to_string())


if __name__ == "__main__":
    main()
