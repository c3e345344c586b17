"""A year of quotes priced three ways on the generated market (issue 14).

    python -m benchmarks.pricing --out FILE.json [--company mixed_trades] [--scale 1] [--seed N]
        [--limit N]

A company is generated in memory. The win model (:class:`QuoteConversionModel` with
``price_terms="segment"``) learns from the quotes decided before the last year; every quote
created in the last year is then priced by three policies and its outcome drawn from the
generator's own win model (the oracle's knowledge):

* **rule**: the spec's rule price on the quote's list amount (the price book): list x the
  urgency factor (emergency 1.5, rush 1.25) x the segment stance (premium 0.95, volume 0.90,
  price-sensitive 0.92, new 0.88);
* **optimised**: :func:`quantlib.pricing.optimal_price` with the learned win model;
* **oracle**: the same search with the true win probability.

Both searches keep the same guard rails (price >= cost x 1.10, within 25 % of the rule price).
The quotes are for installs and major repairs (``job_type``; a quote without one is an install).
A quote's cost is its list amount times the median ratio of direct cost to list amount of its
(service line, job type) on the company's won quoted jobs (the job's scope sets both). Profit is the expected margin,
sum of P_true(win | price) x (price - cost), and the win rate the mean P_true: expectations, so
the comparison carries no sampling noise. ``elasticity_error`` is the mean absolute relative
error of the learned per-segment price slopes against the generator's (averaged over the same
decided quotes). Writes ``{"rule_profit", "optimised_profit", "oracle_profit",
"elasticity_error", "rule_win_rate", "optimised_win_rate", "oracle_win_rate", ...}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.data.contracts import DEFAULT_QUOTE_JOB_TYPE
from quantlib.data.generate import WIN_COEF, generate_company
from quantlib.data.price_segments import quote_segments
from quantlib.data.profile import load_profile
from quantlib.forecast.pipeline import QuoteConversionModel
from quantlib.pricing.optimal import optimal_price
from quantlib.pricing.rules import SEGMENT_STANCES, URGENCY_FACTORS

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"
FLOOR_MARGIN, MAX_CHANGE = 0.10, 0.25


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def market(company):
    """Quotes with segment, the truth's slope and the linear predictor at list price."""
    t = company.tables
    quotes = t["quotes"].assign(segment=quote_segments(t["quotes"], t["customers"], t["contracts"]))
    truth = company.truth_tables["quotes"].set_index("quote_id")
    quotes = quotes.join(truth[["price_coef", "p_win"]], on="quote_id")
    ratio = quotes["amount"] / quotes["list_amount"]
    p = quotes["p_win"].clip(1e-12, 1 - 1e-12)
    # The generator's logit = base + slope x (ratio - 1): base is everything but price.
    quotes["true_base"] = np.log(p / (1 - p)) - quotes["price_coef"] * (ratio - 1)
    # A quote without a job type (files older than the column) is for an install.
    job_type = quotes["job_type"] if "job_type" in quotes else pd.Series(None, index=quotes.index, dtype=object)
    quotes["job_type"] = job_type.fillna(DEFAULT_QUOTE_JOB_TYPE)
    jobs = t["jobs"]
    won = jobs[jobs["quote_id"].notna() & (jobs["status"] == "completed")].merge(
        quotes[["quote_id", "list_amount"]], on="quote_id")
    won_cost = won["labor_cost"] + won["material_cost"] + won["equipment_cost"]
    share = (won_cost / won["list_amount"]).groupby([won["service_line"], won["job_type"]]).median()
    key = pd.MultiIndex.from_frame(quotes[["service_line", "job_type"]])
    quotes["cost"] = quotes["list_amount"].to_numpy() * share.reindex(key).to_numpy()
    return quotes, share


def run(company, limit: int | None = None) -> dict:
    quotes, share = market(company)
    end = quotes["created_at"].max().normalize()
    start = end - pd.Timedelta(days=364)
    learned = QuoteConversionModel(price_terms="segment").fit(
        quotes[quotes["created_at"] < start], as_of=start - pd.Timedelta(days=1),
        economic=company.tables["economic_indicators"])
    year = quotes[(quotes["created_at"] >= start) & quotes["cost"].notna()].reset_index(drop=True)
    if limit:
        year = year.iloc[:limit]
    decided = quotes[(quotes["status"] != "open") & (quotes["created_at"] < start)]
    recovered = learned.elasticity_.join(decided.groupby("segment")["price_coef"].mean().rename("true"))
    elasticity_error = float(np.mean(np.abs(recovered["coef"] - recovered["true"]) / np.abs(recovered["true"])))

    totals = {name: {"profit": 0.0, "win": 0.0} for name in ("rule", "optimised", "oracle")}
    seconds = 0.0
    for q in year.itertuples(index=False):
        row = pd.DataFrame([q._asdict()])
        rule = float(q.list_amount * URGENCY_FACTORS[q.urgency] * SEGMENT_STANCES[q.segment])

        def true_p(prices, q=q):
            return _sigmoid(q.true_base + q.price_coef * (np.asarray(prices, float) / q.list_amount - 1))

        tic = time.perf_counter()
        model_p = learned.price_curve(row)  # the quote's features once; each grid of prices one model call
        try:
            chosen = optimal_price(q.cost, rule, model_p, floor_margin=FLOOR_MARGIN, max_change=MAX_CHANGE,
                                   grid=61).price
        except ValueError:  # the floor above the rule price's range: quote the floor
            chosen = q.cost * (1 + FLOOR_MARGIN)
        seconds += time.perf_counter() - tic
        try:
            best = optimal_price(q.cost, rule, true_p, floor_margin=FLOOR_MARGIN, max_change=MAX_CHANGE,
                                 grid=241).price
        except ValueError:
            best = q.cost * (1 + FLOOR_MARGIN)
        for name, price in (("rule", rule), ("optimised", chosen), ("oracle", best)):
            p = float(true_p(np.array([price]))[0])
            totals[name]["profit"] += p * (price - q.cost)
            totals[name]["win"] += p
    n = len(year)
    return {
        "rule_profit": round(totals["rule"]["profit"], 2),
        "optimised_profit": round(totals["optimised"]["profit"], 2),
        "oracle_profit": round(totals["oracle"]["profit"], 2),
        "elasticity_error": round(elasticity_error, 4),
        "rule_win_rate": round(totals["rule"]["win"] / n, 4),
        "optimised_win_rate": round(totals["optimised"]["win"] / n, 4),
        "oracle_win_rate": round(totals["oracle"]["win"] / n, 4),
        "optimised_vs_oracle": round(totals["optimised"]["profit"] / totals["oracle"]["profit"], 4),
        "quotes": n,
        "quotes_priced_per_second": round(n / seconds, 1) if seconds else None,
        "quotes_by_job_type": {str(k): int(v) for k, v in year["job_type"].value_counts().sort_index().items()},
        "cost_share_of_list": {f"{line}/{kind}": round(float(v), 3) for (line, kind), v in share.items()},
        "elasticity": recovered[["n_quotes", "true", "coef", "std_error"]].round(3).reset_index().to_dict("records"),
        "win_model_intercept_urgent_confidence": {k: v for k, v in WIN_COEF.items()},
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="price only the first N quotes of the year")
    args = parser.parse_args(argv)
    company = generate_company(load_profile(PROFILES / f"{args.company}.yaml"), seed=args.seed, scale=args.scale)
    result = run(company, args.limit)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: v for k, v in result.items() if k not in ("elasticity", "cost_share_of_list")}, indent=2))


if __name__ == "__main__":
    main()
