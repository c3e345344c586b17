"""The per-unit thermal baseline: one grouped Huber fit against a library fit per unit (issue 15).

    python -m benchmarks.thermal_baseline [--company mixed_trades] [--scale 3] [--seed 11] [--repeats 3]
        [--out FILE.json]

``SensorFeatures.fit`` regresses each unit's daily temperature on its region's ambient
temperature with a Huber M-estimator. A generated company's daily readings (``daily_readings``
of its telemetry, equipment and weather) are fitted three ways, each timed (median of
``--repeats``): ``grouped_huber_line`` (every unit at once), statsmodels ``RLM(HuberT())`` per
unit (the same estimator, the reference for the coefficients) and scikit-learn's
``HuberRegressor`` per unit (what ``fit`` used before; a slightly different estimator: a joint
scale and a small ridge penalty). Reported: seconds and the largest coefficient difference from
RLM.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from sklearn.linear_model import HuberRegressor

from quantlib.data.generate import generate_company
from quantlib.data.profile import load_profile
from quantlib.maintenance.sensors import daily_readings, grouped_huber_line

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"


def _per_unit(readings, fit_one):
    out = {}
    for unit, group in readings.groupby("equipment_id", sort=True):
        out[unit] = fit_one(group["ambient"].to_numpy(), group["temperature"].to_numpy())
    return out


def _rlm(x, y):
    return sm.RLM(y, sm.add_constant(x), M=sm.robust.norms.HuberT()).fit(conv="coefs", tol=1e-10).params


def _sklearn(x, y):
    reg = HuberRegressor().fit(x[:, None], y)
    return np.array([reg.intercept_, reg.coef_[0]])


def _timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        tic = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - tic)
    return float(np.median(times)), result


def run(company, repeats: int = 3) -> dict:
    t = company.tables
    readings = daily_readings(t["telemetry"], t["equipment"], t["weather"]).dropna(subset=["ambient", "temperature"])
    grouped_s, grouped = _timed(lambda: grouped_huber_line(readings["ambient"], readings["temperature"],
                                                           readings["equipment_id"]), repeats)
    rlm_s, rlm = _timed(lambda: _per_unit(readings, _rlm), repeats)
    sk_s, sk = _timed(lambda: _per_unit(readings, _sklearn), repeats)
    ref = np.array([rlm[u] for u in grouped.index])
    ours = grouped[["intercept", "slope"]].to_numpy()
    theirs = np.array([sk[u] for u in grouped.index])
    return {"company": company.profile.name, "scale": company.scale, "seed": company.seed,
            "units": int(len(grouped)), "unit_days": int(len(readings)), "repeats": repeats,
            "seconds": {"grouped_huber_line": grouped_s, "statsmodels_rlm_per_unit": rlm_s,
                        "sklearn_huber_per_unit": sk_s},
            "speedup_vs_rlm": rlm_s / grouped_s, "speedup_vs_sklearn": sk_s / grouped_s,
            "max_abs_difference_vs_rlm": {"intercept": float(np.abs(ours[:, 0] - ref[:, 0]).max()),
                                          "slope": float(np.abs(ours[:, 1] - ref[:, 1]).max())},
            "max_abs_difference_sklearn_vs_rlm": {"intercept": float(np.abs(theirs[:, 0] - ref[:, 0]).max()),
                                                  "slope": float(np.abs(theirs[:, 1] - ref[:, 1]).max())}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    company = generate_company(load_profile(PROFILES / f"{args.company}.yaml"), seed=args.seed, scale=args.scale)
    text = json.dumps(run(company, args.repeats), indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
