"""Forecast a competition file (M1 / Tourism long format) without looking at the test values.

    python -m benchmarks.forecast_competition --data FILE.csv --out PRED.csv [--method auto] [--n-jobs -1]

Input columns: ``series_id, frequency, category, horizon, t, y, split``. The ``train`` rows
are the history; of the ``test`` rows only ``series_id`` and ``t`` are used (their ``y`` is
dropped on read). Output: ``series_id, t, yhat, lo_80, hi_80`` for every test row.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from quantlib.forecast import AutoETS, AutoForecaster, Drift, Ensemble, Naive, SeasonalNaive, Theta
from quantlib.forecast.combination import CombinationForecaster
from quantlib.forecast.models import Comb
from quantlib.forecast.statsforecast_models import SCUM, SFAutoARIMA, SFAutoCES, SFAutoETS, SFDOTheta

SEASON_LENGTH = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 52, "daily": 7}
METHODS = ("auto", "auto_signed", "auto_debiased", "auto_select", "auto_single", "theta", "comb", "snaive", "naive",
           "drift", "ets", "ensemble", "scum", "scum3", "scum_ets", "scum_ces", "scum_arima", "scum_dotheta")
# SCUM's members on their own, through quantlib's wrappers (statsforecast's models per series)
SCUM_MEMBERS = {"scum_ets": SFAutoETS, "scum_ces": SFAutoCES, "scum_arima": SFAutoARIMA, "scum_dotheta": SFDOTheta}


def read_competition(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train rows as ``series_id, ds, y`` (+ frequency, horizon) and test rows without ``y``."""
    raw = pd.read_csv(path)
    test = raw.loc[raw.split == "test"].drop(columns=["y"])  # no peeking: test values never kept
    train = raw.loc[raw.split == "train"].rename(columns={"t": "ds"})
    assert "y" not in test.columns
    return train, test


def make_model(method: str, h: int, n_jobs: int):
    """The forecaster behind ``--method``."""
    if method == "auto":
        # issue 12: the median of members chosen per season length (yearly DOTheta, Theta, drift;
        # quarterly AutoETS, DOTheta, seasonal naive; monthly AutoETS, Theta, seasonal naive; else the six),
        # with conformal 80 % intervals from one calibration window of h steps; members chosen
        # on a validation split of the training rows (benchmarks/README.md, "the combination")
        return CombinationForecaster(h=h, n_jobs=n_jobs)
    if method == "auto_signed":  # the same, each side of the interval calibrated on its own tail
        return CombinationForecaster(h=h, n_jobs=n_jobs, intervals="signed")
    if method == "auto_debiased":  # the point moved by the median calibration error of 3 windows h apart
        return CombinationForecaster(h=h, n_jobs=n_jobs, debias=True, calibration_windows=3, calibration_step=h)
    if method == "auto_select":
        # the previous "auto": cheap numpy candidates, the mean of the two best by 3-window CV
        return AutoForecaster(
            candidates=[Theta(), Comb(), SeasonalNaive(), Naive(), Drift()], h=h, cv_windows=3, top_k=2, n_jobs=n_jobs
        )
    if method == "auto_single":  # the previous "auto": the single best of three candidates
        return AutoForecaster(candidates=[Theta(), SeasonalNaive(), Naive()], h=h, cv_windows=3, n_jobs=n_jobs)
    if method == "theta":
        return Theta(n_jobs=n_jobs)
    if method == "comb":
        return Comb(n_jobs=n_jobs)
    if method == "snaive":
        return SeasonalNaive(n_jobs=n_jobs)
    if method == "naive":
        return Naive(n_jobs=n_jobs)
    if method == "drift":
        return Drift(n_jobs=n_jobs)
    if method == "ets":
        return AutoETS(n_jobs=n_jobs)
    if method == "ensemble":
        return Ensemble(members=[Theta(), SeasonalNaive(), AutoETS(candidates=("ANN", "AAdN"))], n_jobs=n_jobs)
    if method == "scum":  # median of ETS, CES, ARIMA, DOTheta (needs statsforecast)
        return SCUM(n_jobs=n_jobs)
    if method == "scum3":  # without AutoARIMA, by far the slowest member
        return SCUM(members=[SFAutoETS(), SFAutoCES(), SFDOTheta()], n_jobs=n_jobs)
    if method in SCUM_MEMBERS:
        return SCUM_MEMBERS[method](n_jobs=n_jobs)
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def forecast_competition(train: pd.DataFrame, test: pd.DataFrame, method: str = "auto",
                         n_jobs: int = -1) -> pd.DataFrame:
    """Forecast every series' horizon; returns ``series_id, t, yhat, lo_80, hi_80`` per test row."""
    parts = []
    for (freq, h), group in train.groupby(["frequency", "horizon"], sort=False):
        m = SEASON_LENGTH.get(str(freq).lower(), 1)
        if m == 52 and group.groupby("series_id").size().min() < 2 * m:
            m = 1  # weekly series shorter than two years: no usable yearly season
        model = make_model(method, int(h), n_jobs)
        pred = model.fit(group[["series_id", "ds", "y"]], season_length=m).predict(int(h), level=(80,))
        parts.append(pred.rename(columns={"ds": "t", "yhat_lo_80": "lo_80", "yhat_hi_80": "hi_80"}))
    pred = pd.concat(parts, ignore_index=True)
    out = test[["series_id", "t"]].merge(pred[["series_id", "t", "yhat", "lo_80", "hi_80"]],
                                         on=["series_id", "t"], how="left")
    missing = out.yhat.isna().sum()
    if missing:
        raise RuntimeError(f"{missing} test rows have no forecast")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--method", default="auto", choices=METHODS)
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args(argv)
    train, test = read_competition(args.data)
    start = time.perf_counter()
    out = forecast_competition(train, test, args.method, args.n_jobs)
    out.to_csv(args.out, index=False)
    print(f"{train.series_id.nunique()} series, {len(out)} forecasts in {time.perf_counter() - start:.1f} s "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
