"""Forecast accuracy on M1 and Tourism: our methods against seasonal naive and statsforecast.

    python -m benchmarks.forecast_accuracy [--data ../shared/data/forecast/m1.csv ...] [--limit N]
        [--methods auto auto_single theta comb snaive scum sf_autoets sf_dotheta] [--n-jobs 2]
        [--save-dir DIR]

Per file and frequency: sMAPE and MASE (M4 definitions, MASE scaled by the seasonal naive
in-sample error), 80 % interval coverage, and fit+predict seconds per 1,000 series.
``--limit N`` keeps the first N series of each frequency (a stratified sample). statsforecast
is imported here only (a benchmark-only dependency); its first call includes numba
compilation, so it is warmed up on a few series before timing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.forecast_competition import SEASON_LENGTH, forecast_competition, read_competition
from quantlib.forecast.metrics import coverage, mase, smape
from quantlib.forecast.statsforecast_models import SCUM

DEFAULT_DATA = [
    str(Path(__file__).resolve().parents[2] / "shared/data/forecast/m1.csv"),
    str(Path(__file__).resolve().parents[2] / "shared/data/forecast/tourism.csv"),
]


def _statsforecast(train: pd.DataFrame, test: pd.DataFrame, which: str, n_jobs: int) -> pd.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, DynamicOptimizedTheta, Naive

    parts = []
    for (freq, h), group in train.groupby(["frequency", "horizon"], sort=False):
        m = SEASON_LENGTH.get(str(freq).lower(), 1)
        model = AutoETS(season_length=m) if which == "sf_autoets" else DynamicOptimizedTheta(season_length=m)
        # the fallback only acts on series too short for the model (none in the full M1 / Tourism
        # train sets; the validation split of benchmarks.forecast_validation has 3-point series)
        sf = StatsForecast(models=[model], freq=1, n_jobs=n_jobs, fallback_model=Naive())
        pred = sf.forecast(df=group[["series_id", "ds", "y"]].rename(columns={"series_id": "unique_id"}),
                           h=int(h), level=[80])
        pred = pred.reset_index() if "unique_id" not in pred.columns else pred
        name = [c for c in pred.columns if c not in ("unique_id", "ds") and "-lo-" not in c and "-hi-" not in c][0]
        parts.append(
            pred.rename(
                columns={"unique_id": "series_id", "ds": "t", name: "yhat",
                         f"{name}-lo-80": "lo_80", f"{name}-hi-80": "hi_80"}
            )[["series_id", "t", "yhat", "lo_80", "hi_80"]]
        )
    pred = pd.concat(parts, ignore_index=True)
    return test[["series_id", "t"]].merge(pred, on=["series_id", "t"], how="left")


def run(method: str, train, test, n_jobs: int) -> tuple[pd.DataFrame, float]:
    start = time.perf_counter()
    if method.startswith("sf_"):
        pred = _statsforecast(train, test, method, n_jobs)
    else:
        pred = forecast_competition(train, test, method, n_jobs)
    return pred, time.perf_counter() - start


def score(pred: pd.DataFrame, train: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """Per series sMAPE, MASE and coverage."""
    merged = actual.merge(pred, on=["series_id", "t"], how="left")
    hist = {sid: g.y.to_numpy(float) for sid, g in train.groupby("series_id")}
    rows = []
    for sid, g in merged.groupby("series_id"):
        m = SEASON_LENGTH.get(g.frequency.iloc[0], 1)
        rows.append(
            (
                sid,
                g.frequency.iloc[0],
                smape(g.y, g.yhat),
                mase(g.y, g.yhat, hist[sid], m),
                coverage(g.y, g.lo_80, g.hi_80),
            )
        )
    return pd.DataFrame(rows, columns=["series_id", "frequency", "smape", "mase", "coverage"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="forecast accuracy benchmark")
    parser.add_argument("--data", nargs="+", default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--methods", nargs="+",
                        default=["auto", "auto_single", "theta", "comb", "snaive", "sf_autoets", "sf_dotheta"])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--save-dir", default=None,
                        help="write each method's forecasts to DIR/<data stem>_<method>.csv")
    args = parser.parse_args(argv)

    if any(m.startswith("sf_") for m in args.methods):  # numba compilation outside the timings
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, DynamicOptimizedTheta

        warm = pd.DataFrame({"unique_id": "w", "ds": np.arange(40), "y": np.sin(np.arange(40)) + 5})
        StatsForecast(models=[AutoETS(season_length=4), DynamicOptimizedTheta(season_length=4)], freq=1).forecast(
            df=warm, h=4, level=[80]
        )
    if any(m.startswith("scum") for m in args.methods):  # the same in this process and the workers
        warm = pd.DataFrame({"series_id": np.repeat(np.arange(8), 40), "ds": np.tile(np.arange(40), 8),
                             "y": np.tile(np.sin(np.arange(40)) + 5, 8)})
        SCUM(n_jobs=args.n_jobs).fit(warm, season_length=4).predict(4, level=(80,))

    lines = ["| data | frequency | series | method | sMAPE | MASE | coverage 80 % | s / 1,000 series |",
             "|---|---|---|---|---|---|---|---|"]
    for path in args.data:
        train, test = read_competition(path)
        if args.limit:
            keep = train.groupby("frequency").series_id.apply(lambda s: list(pd.unique(s)[: args.limit])).sum()
            train, test = train[train.series_id.isin(keep)], test[test.series_id.isin(keep)]
        raw = pd.read_csv(path)
        actual = raw.loc[raw.split == "test", ["series_id", "frequency", "t", "y"]]
        actual = actual[actual.series_id.isin(train.series_id.unique())]
        n_by_freq = train.groupby("frequency").series_id.nunique()
        for method in args.methods:
            pred, seconds = run(method, train, test, args.n_jobs)
            if args.save_dir:
                Path(args.save_dir).mkdir(parents=True, exist_ok=True)
                pred.to_csv(Path(args.save_dir) / f"{Path(path).stem}_{method}.csv", index=False)
            per_series = score(pred, train, actual)
            per_1000 = seconds / train.series_id.nunique() * 1000
            for freq, g in per_series.groupby("frequency"):
                lines.append(
                    f"| {Path(path).stem} | {freq} | {n_by_freq[freq]} | {method} | {g.smape.mean():.2f} | "
                    f"{g.mase.mean():.3f} | {g.coverage.mean():.3f} | {per_1000:.1f} |"
                )
                print(lines[-1], flush=True)  # every row as it comes: a long run's rows survive a stop
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
