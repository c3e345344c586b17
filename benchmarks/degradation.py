"""Degradation rates per unit against the generator's truth (issue 15).

    python -m benchmarks.degradation [--company mixed_trades] [--scale 3] [--seed 11] [--out FILE.json]

A company is generated in memory; its daily energy meter (``equipment_states.energy_kwh``),
maintenance events, weather and equipment are given to :class:`DegradationModel` (per-unit
OLS with HAC errors, the same with one intercept per unit instead of per service interval, and
the mixed model with a random slope per unit) and to the naive baseline
(:func:`calendar_trend_rates`, the trend of raw kWh over calendar time). Each unit's estimate
is scored against two truths:

* ``true``: the generator's ``equipment_reliability.degradation_rate_per_year`` ``r`` (energy
  x ``1 + r x wear age``);
* ``log_slope``: what a log-linear model can estimate, ``r / (1 + r x w)``, ``w`` the unit's
  mean true wear age in years over its days (truth table ``equipment_wear``), the slope of
  ``log(1 + r x wear)`` at the unit's typical wear.

Per model and truth: units scored, Pearson and Spearman correlation, coverage of the intervals
(nominal 95 %), median absolute error, mean error (bias); and per kind the kind's estimated
rate and interval against the kind's mean true rate; and fit seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from quantlib.data.generate import generate_company
from quantlib.data.profile import load_profile
from quantlib.maintenance.degradation import DegradationModel, calendar_trend_rates, compare_rates

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"
MODELS = {"ols": {"method": "ols"}, "ols_unit_intercept": {"method": "ols", "per_interval": False},
          "mixed": {"method": "mixed"}, "ols_learned_restore": {"method": "ols", "learn_restore": True}}


def _truth(company):
    truth = company.truth_tables["equipment_reliability"][["equipment_id", "kind", "degradation_rate_per_year"]]
    wear = (company.truth_tables["equipment_wear"].groupby("equipment_id")["wear_age_days"].mean() / 365.25)
    truth = truth.merge(wear.rename("mean_wear_years").reset_index(), on="equipment_id")
    r = truth["degradation_rate_per_year"]
    return truth.assign(log_slope=r / (1 + r * truth["mean_wear_years"]))


def _scores(rates, truth) -> dict:
    return {name: {k: round(v, 4) if isinstance(v, float) else v for k, v in compare_rates(rates, truth, col).items()}
            for name, col in (("true", "degradation_rate_per_year"), ("log_slope", "log_slope"))}


def run(company) -> dict:
    t = company.tables
    truth = _truth(company)
    out = {"units": int(len(truth)), "unit_days": int(t["equipment_states"]["energy_kwh"].notna().sum()),
           "true_rate_by_kind": truth.groupby("kind")["degradation_rate_per_year"].mean().round(4).to_dict()}
    for name, params in MODELS.items():
        tic = time.perf_counter()
        model = DegradationModel(**params).fit(t["equipment_states"], t["maintenance_events"], t["weather"],
                                               t["equipment"])
        seconds = time.perf_counter() - tic
        out[name] = {**_scores(model.rates_, truth), **({"restore": {k: round(v, 3) for k, v in model.restore_.items()}}
                                                         if params.get("learn_restore") else {}),
                     "kinds": model.kind_rates_.round(4).set_index("kind").to_dict(orient="index"),
                     "fit_seconds": round(seconds, 2)}
    tic = time.perf_counter()
    naive = calendar_trend_rates(t["equipment_states"])
    out["naive_calendar_trend"] = {**_scores(naive, truth), "fit_seconds": round(time.perf_counter() - tic, 2)}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    company = generate_company(load_profile(PROFILES / f"{args.company}.yaml"), seed=args.seed, scale=args.scale)
    result = run(company)
    result.update({"company": args.company, "scale": args.scale, "seed": args.seed})
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
