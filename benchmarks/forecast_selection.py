"""Per-series selection among the combination and its members, where a series has the windows for it.

    python -m benchmarks.forecast_selection --data FILE.csv [FILE2.csv ...] [--n-jobs 2] [--out TABLE.csv]

Choose on the validation files of ``benchmarks.forecast_validation split``; score a test set only
after the choice is fixed. Per file and frequency the default ``CombinationForecaster`` is fitted
once (without calibration: the last ``h`` steps stay the interval calibration window, never a
selection window). Each series is then cut ``2h``, ``3h`` and ``4h`` steps before its end while at
least ``max(min_train, 2m)`` values stay before the cut; there the members are refitted (the
product's own refit: ETS keeps its form) and the combination and each member forecast the ``h``
values after the cut. A series *supports selection* with at least ``S`` such windows (``S`` = 2
or 3); its forecast is then the candidate with the lowest mean sMAPE over its windows, while the
other series keep the combination. The table gives per set the combination's sMAPE on the
held-out rows, each variant's, how many series were selected for and what they picked.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from benchmarks.forecast_competition import SEASON_LENGTH, read_competition
from quantlib.forecast.combination import CombinationForecaster, _aggregate
from quantlib.forecast.metrics import smape

SELECTION_CUTS = (2, 3, 4)  # in horizons before the end; 1 is the calibration window
MIN_WINDOWS = (2, 3)


def _member_forecasts(fitted, h) -> list[np.ndarray | None]:
    out = []
    for member, state in fitted:
        forecast = None
        if state is not None:
            try:
                mean, _ = member._predict_series(state, h, (80.0,), None)
            # a member that cannot forecast this series is simply not a candidate
            except Exception:  # nosec B112
                mean = None
            if mean is not None and np.all(np.isfinite(mean)):
                forecast = np.asarray(mean, float)
        out.append(forecast)
    return out


def _with_combination(model, forecasts) -> list[np.ndarray | None]:
    ok = [f for f in forecasts if f is not None]
    return [_aggregate(np.array(ok), model.combine, model.trim) if ok else None] + forecasts


def series_candidates(model, series_id, y, fitted, m, h):
    """Window sMAPE (rows: windows, columns: combination then members) and the candidates' forecasts."""
    members = [member for member, _ in fitted]
    scores = []
    for k in SELECTION_CUTS:
        cut = len(y) - k * h
        if cut < max(model.min_train, 2 * m):
            break
        season = m if cut >= 2 * m else 1
        like = [state if season == m else None for _, state in fitted]
        part = model._fit_members(y[:cut], season, None, series_id, like=like, members=members)
        actual = y[cut:cut + h]
        scores.append([smape(actual, f) if f is not None else np.nan
                       for f in _with_combination(model, _member_forecasts(part, h))])
    return series_id, np.array(scores), _with_combination(model, _member_forecasts(fitted, h))


def select(scores: np.ndarray, forecasts: list, min_windows: int) -> int:
    """The candidate to use: the lowest mean window sMAPE with ``min_windows`` windows, else 0 (the combination)."""
    if scores.ndim != 2 or scores.shape[0] < min_windows:
        return 0
    with np.errstate(all="ignore"):
        mean = np.nanmean(scores, axis=0)
    usable = np.array([f is not None for f in forecasts]) & np.isfinite(mean)
    return int(np.argmin(np.where(usable, mean, np.inf)))


def selection_table(path: str, n_jobs: int) -> list[dict]:
    raw = pd.read_csv(path)
    train, _ = read_competition(path)
    rows = []
    for (freq, h), group in train.groupby(["frequency", "horizon"], sort=False):
        h, m = int(h), SEASON_LENGTH.get(str(freq).lower(), 1)
        model = CombinationForecaster(h=h, n_jobs=n_jobs, calibrate=False)
        model.fit(group[["series_id", "ds", "y"]], season_length=m)
        histories = {sid: g.y.to_numpy(float) for sid, g in group.groupby("series_id", sort=False)}
        # series where every member failed use the fallback: no candidates, left out of every column
        jobs = [(sid, fs.state["fitted"]) for sid, fs in model.models_.items()
                if isinstance(fs.state, dict) and "fitted" in fs.state]
        names = ["combination"] + [type(member).__name__ for member in model._members(m)]
        results = Parallel(n_jobs=n_jobs)(
            delayed(series_candidates)(model, sid, histories[sid], fitted, m, h) for sid, fitted in jobs)
        held_out = raw.loc[(raw.split == "test") & (raw.frequency == freq)]
        actual = {sid: g.y.to_numpy(float) for sid, g in held_out.groupby("series_id", sort=False)}
        row = {"file": Path(path).stem, "frequency": freq, "series": len(results),
               "combination": round(float(np.mean([smape(actual[sid], f[0]) for sid, _, f in results])), 3)}
        for min_windows in MIN_WINDOWS:
            picks = [select(scores, f, min_windows) for _, scores, f in results]
            row[f"selected_{min_windows}"] = round(float(np.mean(
                [smape(actual[sid], f[j]) for (sid, _, f), j in zip(results, picks)])), 3)
            selecting = [scores.ndim == 2 and scores.shape[0] >= min_windows for _, scores, _ in results]
            row[f"series_selecting_{min_windows}"] = sum(selecting)
            row[f"picked_{min_windows}"] = dict(Counter(names[j] for j, on in zip(picks, selecting) if on))
        rows.append(row)
        print(row, flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    table = pd.DataFrame([r for path in args.data for r in selection_table(path, args.n_jobs)])
    if args.out:
        table.to_csv(args.out, index=False)
    means = table[["combination"] + [f"selected_{s}" for s in MIN_WINDOWS]].mean().round(3)
    print(table.drop(columns=[f"picked_{s}" for s in MIN_WINDOWS]).to_string(index=False))
    print("mean over the sets:", means.to_dict())


if __name__ == "__main__":
    main()
