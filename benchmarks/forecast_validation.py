"""Choose a combination's members on the training rows only (no test value is read).

    python -m benchmarks.forecast_validation split --data FILE.csv --out VAL.csv
    python -m benchmarks.forecast_accuracy --data VAL.csv ... --methods A B C --save-dir DIR
    python -m benchmarks.forecast_validation combine --data VAL.csv --preds DIR --methods A B C
        [--times A=SECONDS ...] [--budget SECONDS]

``split`` keeps a competition file's ``train`` rows and relabels the last ``horizon`` of
each series as ``test`` (the test rows of the input are dropped unread), so the file can be
run through the accuracy benchmark like the real one. ``combine`` reads the per-method
forecasts saved by ``forecast_accuracy --save-dir`` and scores the median and the mean of
every subset of two or more methods, per frequency (sMAPE, MASE), ranked by the mean
sMAPE over the frequencies; ``--times`` (seconds per 1,000 series of each method, from
the same run) with ``--budget`` marks subsets whose summed time is within the budget.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.forecast_competition import SEASON_LENGTH
from quantlib.forecast.metrics import mase, smape


def validation_split(raw: pd.DataFrame) -> pd.DataFrame:
    """Train rows only; the last ``horizon`` train rows of each series become the test rows."""
    train = raw.loc[raw.split == "train"].sort_values(["series_id", "t"], kind="stable").copy()
    pos_from_end = train.groupby("series_id").cumcount(ascending=False)
    train["split"] = np.where(pos_from_end < train["horizon"], "test", "train")
    return train.reset_index(drop=True)


def combine_table(val: pd.DataFrame, preds: dict[str, pd.DataFrame], max_size: int | None = None) -> pd.DataFrame:
    """sMAPE and MASE per frequency of each method and of the median / mean of each subset."""
    actual = val.loc[val.split == "test", ["series_id", "frequency", "t", "y"]].sort_values(["series_id", "t"])
    hist = {sid: g.y.to_numpy(float) for sid, g in val.loc[val.split == "train"].groupby("series_id")}
    names = list(preds)
    yhat = {}
    for name, p in preds.items():
        merged = actual[["series_id", "t"]].merge(p[["series_id", "t", "yhat"]], on=["series_id", "t"], how="left")
        yhat[name] = merged.yhat.to_numpy(float)
    sids = actual.series_id.to_numpy()
    bounds = np.r_[0, np.flatnonzero(sids[1:] != sids[:-1]) + 1, len(sids)]
    freq = actual.frequency.to_numpy()[bounds[:-1]]
    y = actual.y.to_numpy(float)

    def scores(f):
        sm = np.empty(len(bounds) - 1)
        ms = np.empty(len(bounds) - 1)
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            sm[i] = smape(y[a:b], f[a:b])
            ms[i] = mase(y[a:b], f[a:b], hist[sids[a]], SEASON_LENGTH.get(freq[i], 1))
        return sm, ms

    rows = []
    sizes = range(1, (max_size or len(names)) + 1)
    for k in sizes:
        for combo in itertools.combinations(names, k):
            stack = np.array([yhat[n] for n in combo])
            for how in (("single",) if k == 1 else ("median", "mean")):
                f = stack[0] if k == 1 else (np.median(stack, axis=0) if how == "median" else stack.mean(axis=0))
                sm, ms = scores(f)
                row = {"members": "+".join(combo), "combine": how, "size": k}
                for fr in pd.unique(freq):
                    row[f"smape_{fr}"] = sm[freq == fr].mean()
                    row[f"mase_{fr}"] = ms[freq == fr].mean()
                rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="member choice on a validation split of the training rows")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("split")
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True)
    cp = sub.add_parser("combine")
    cp.add_argument("--data", nargs="+", required=True)
    cp.add_argument("--preds", required=True)
    cp.add_argument("--methods", nargs="+", required=True)
    cp.add_argument("--max-size", type=int, default=None)
    cp.add_argument("--top", type=int, default=25)
    cp.add_argument("--out", default=None, help="write the full table (CSV)")
    args = parser.parse_args(argv)
    if args.cmd == "split":
        validation_split(pd.read_csv(args.data)).to_csv(args.out, index=False)
        print(f"-> {args.out}")
        return
    tables = []
    for path in args.data:
        stem = Path(path).stem
        val = pd.read_csv(path)
        preds = {m: pd.read_csv(Path(args.preds) / f"{stem}_{m}.csv") for m in args.methods}
        t = combine_table(val, preds, args.max_size)
        t.columns = [c if c in ("members", "combine", "size") else f"{stem}_{c}" for c in t.columns]
        tables.append(t.set_index(["members", "combine", "size"]))
    table = pd.concat(tables, axis=1).reset_index()
    smape_cols = [c for c in table.columns if "_smape_" in c]
    table["mean_smape"] = table[smape_cols].mean(axis=1)
    table = table.sort_values("mean_smape")
    if args.out:
        table.to_csv(args.out, index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 60):
        print(table[["members", "combine", "mean_smape", *smape_cols]].head(args.top).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
