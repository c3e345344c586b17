"""Weibull life of equipment from a table of failure and censoring ages (issue 15).

    python -m benchmarks.survival --data FILE.csv --time COL [--event COL] [--covariates a,b]
        [--at a=value,...] --out OUT.json
    python -m benchmarks.survival --evaluate [--reliability-dir ../shared/data/reliability] [--out OUT.json]

Fits a two-parameter Weibull model by maximum likelihood with right censoring (``--event``:
1 = failure, 0 = censored; without it every row is a failure; times in the file's own units)
and writes ``{"shape": k, "scale": lambda, "median_life": m, "b10_life": b10}``. With
``--covariates`` the model is a Weibull accelerated-failure-time model (log scale linear in the
covariates as given) and the fields are evaluated at the ``--at`` values (at the covariates'
means when ``--at`` is absent), plus ``"coefficients"`` (``Intercept`` and one per covariate,
on log scale) and ``"at"``.

``--evaluate`` runs the public reliability tables in ../shared/data/reliability against
published figures and peers (benchmarks/README.md, "Equipment life").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.maintenance.survival import LifeDataError, WeibullLifeModel, mean_cumulative_function

RELIABILITY = Path(__file__).resolve().parents[2] / "shared" / "data" / "reliability"


def parse_at(text: str | None, covariates: list[str]) -> dict | None:
    """``a=1,b=2.5`` -> ``{"a": 1.0, "b": 2.5}``; every covariate needs a value."""
    if not text:
        return None
    at = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise SystemExit(f"--at: {part!r} is not NAME=VALUE")
        try:
            at[name.strip()] = float(value)
        except ValueError:
            raise SystemExit(f"--at: {value!r} for {name.strip()!r} is not a number") from None
    unknown = sorted(set(at) - set(covariates))
    missing = [c for c in covariates if c not in at]
    if unknown or missing:
        raise SystemExit(f"--at must give exactly the covariates {covariates}: "
                         + (f"unknown {unknown} " if unknown else "") + (f"missing {missing}" if missing else ""))
    return at


def fit_file(path: str, time_col: str, event: str | None, covariates: list[str], at: dict | None) -> dict:
    frame = pd.read_csv(path)
    model = WeibullLifeModel().fit(frame, time=time_col, event=event, covariates=covariates, source=str(path))
    return model.summary(at)


def evaluate(folder: Path = RELIABILITY) -> dict:
    """Air-conditioning failure times (Proschan 1963) and valve-seat repairs (Nelson 1995)."""
    from scipy import stats

    air = pd.read_csv(folder / "boot__aircondit.csv")
    tic = time.perf_counter()
    weibull = WeibullLifeModel().fit(air, time="hours", source="boot__aircondit.csv")
    fit_seconds = time.perf_counter() - tic
    shape, _, scale = stats.weibull_min.fit(air["hours"], floc=0)
    # the exponential is the Weibull with shape 1: its MLE mean is the sample mean
    lik_exp = float(np.sum(stats.expon.logpdf(air["hours"], scale=air["hours"].mean())))
    valve = pd.read_csv(folder / "survival__valveSeat.csv")
    mcf = mean_cumulative_function(valve, unit="id", time="time", status="status")
    by_age = {str(a): round(float(mcf.loc[mcf["time"] <= a, "mcf"].iloc[-1]), 4) for a in (200, 400, 600)}
    return {
        "aircondit": {
            "n": int(len(air)),
            "exponential_mean_hours": round(float(air["hours"].mean()), 3),
            "weibull": {k: round(v, 4) for k, v in weibull.summary().items()},
            "scipy_weibull_min": {"shape": round(float(shape), 4), "scale": round(float(scale), 4)},
            "log_likelihood": {"weibull": round(weibull.log_likelihood_, 3), "exponential": round(lik_exp, 3)},
            "likelihood_ratio_vs_exponential": round(2 * (weibull.log_likelihood_ - lik_exp), 3),
            "fit_seconds": round(fit_seconds, 4),
        },
        "valve_seats": {
            "engines": int(valve["id"].nunique()), "repairs": int(valve["status"].sum()),
            "mcf_at_days": by_age,
            "mcf_end": {"days": float(mcf["time"].iloc[-1]), "mcf": round(float(mcf["mcf"].iloc[-1]), 4),
                        "lower": round(float(mcf["lower"].iloc[-1]), 4),
                        "upper": round(float(mcf["upper"].iloc[-1]), 4)},
        },
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--time")
    parser.add_argument("--event", default=None)
    parser.add_argument("--covariates", default=None, help="comma-separated numeric columns (Weibull AFT)")
    parser.add_argument("--at", default=None, help="covariate values, e.g. temp=150,volts=200")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--evaluate", action="store_true")
    parser.add_argument("--reliability-dir", type=Path, default=RELIABILITY)
    args = parser.parse_args(argv)
    if args.evaluate:
        result = evaluate(args.reliability_dir)
    else:
        if not (args.data and args.time and args.out):
            parser.error("--data, --time and --out are required (or --evaluate)")
        covariates = [c.strip() for c in args.covariates.split(",") if c.strip()] if args.covariates else []
        try:
            result = fit_file(args.data, args.time, args.event, covariates, parse_at(args.at, covariates))
        except LifeDataError as error:
            raise SystemExit(str(error)) from None
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
