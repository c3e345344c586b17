"""CLV on a transaction log (CDNOW): BG/NBD or MBG/NBD + Gamma-Gamma holdout predictions, accuracy and speed.

Make the transaction file from the CDNOW master (same-day rows summed)::

    python -m benchmarks.clv --cdnow ../shared/data/clv/CDNOW_master.txt --write-transactions FILE.csv

Predict (fits on the calibration period only; holdout transactions are never read)::

    python -m benchmarks.clv --transactions FILE.csv --calibration-end 1997-09-30 \\
        --holdout-end 1998-06-30 --out OUT.csv

writes ``customer_id, expected_purchases_holdout, expected_avg_value, p_alive`` for every
customer seen in calibration, from BG/NBD (``--model bgnbd``, the default) or MBG/NBD
(``--model mbgnbd``). Add ``--evaluate`` to print (markdown) the holdout accuracy of
repeat purchases of both models, fitted in the same run, next to the naive baseline
(calibration rate x holdout length), the P(alive) of one-time customers, the fitted
parameters next to the published ones, the spread of the fit over 1/10 sub-samples, and fit
times; ``--bayes`` adds the Bayesian BG/NBD (nutpie) fit time and intervals; ``--speed N``
times fitting CLV on N customers simulated from the fitted parameters.

The same on a generated (or loaded) company, transactions read from its gold ``job_facts``::

    python -m benchmarks.clv --company-lake data/demo/mixed_trades/lake --calibration-end 2023-12-31 \
        --holdout-end 2024-12-31 --out OUT.csv --evaluate

Time is in weeks (``--unit-days 7``), as in the published CDNOW fits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS",
                      "base_compiledir=" + str(Path(__file__).resolve().parents[1] / ".cache" / "pytensor"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from quantlib.customers.clv import (  # noqa: E402
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    customer_lifetime_value,
    rfm_summary,
    simulate_bgnbd,
    simulate_gamma_gamma,
)

#: Fader, Hardie & Lee (2005), BG/NBD on the CDNOW 1/10 sample (2,357 customers), weeks.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
#: Fader & Hardie (2013), Gamma-Gamma on the same sample's 946 repeat buyers.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


def cdnow_transactions(master: str | Path) -> pd.DataFrame:
    """The CDNOW master file as ``customer_id, date, amount``, same-day transactions summed."""
    raw = pd.read_csv(master, sep=r"\s+", dtype={"customer_id": str, "date": str})
    need = {"customer_id", "date", "dollar_value"}
    if not need <= set(raw.columns):
        raise SystemExit(f"{master}: expected columns {sorted(need)}, found {list(raw.columns)}")
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    out = raw.groupby(["customer_id", "date"], as_index=False)["dollar_value"].sum()
    return out.rename(columns={"dollar_value": "amount"})


def read_transactions(path) -> pd.DataFrame:
    tx = pd.read_csv(path, dtype={"customer_id": str})
    missing = {"customer_id", "date", "amount"} - set(tx.columns)
    if missing:
        raise SystemExit(f"{path}: missing column(s) {sorted(missing)}; need customer_id, date, amount")
    return tx


MODELS = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel}


def predict(tx: pd.DataFrame, calibration_end, holdout_end, unit_days: float = 7.0, model: str = "bgnbd"):
    """Fit on transactions up to ``calibration_end``; predict the holdout per calibration customer."""
    cal_end = pd.Timestamp(calibration_end)
    holdout = (pd.Timestamp(holdout_end) - cal_end).days / unit_days
    tx = tx.assign(date=pd.to_datetime(tx["date"]))
    rfm = rfm_summary(tx[tx["date"] <= cal_end], cal_end, unit_days=unit_days)
    t0 = time.perf_counter()
    bg = MODELS[model]().fit(rfm)
    gg = GammaGammaModel().fit(rfm)
    seconds = time.perf_counter() - t0
    pred = bg.predict(rfm, holdout)
    out = pd.DataFrame({"customer_id": rfm.index,
                        "expected_purchases_holdout": pred["expected_purchases"].to_numpy(),
                        "expected_avg_value": gg.predict(rfm)["expected_avg_value"].to_numpy(),
                        "p_alive": pred["p_alive"].to_numpy()})
    return out, rfm, bg, gg, seconds


def holdout_actuals(tx: pd.DataFrame, customers, calibration_end, holdout_end) -> pd.DataFrame:
    """Purchase days and mean spend per customer in ``(calibration_end, holdout_end]``."""
    d = pd.to_datetime(tx["date"])
    h = tx[(d > pd.Timestamp(calibration_end)) & (d <= pd.Timestamp(holdout_end))]
    days = h.assign(date=pd.to_datetime(h["date"])).groupby(["customer_id", "date"])["amount"].sum().reset_index()
    g = days.groupby("customer_id")
    return pd.DataFrame({"purchases": g.size().reindex(customers).fillna(0).to_numpy(),
                         "avg_value": g["amount"].mean().reindex(customers).to_numpy()}, index=customers)


def errors(actual, predicted) -> dict:
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    return {"total predicted": p.sum(), "total actual": a.sum(), "aggregate error": p.sum() / a.sum() - 1,
            "MAE": np.mean(np.abs(p - a)), "RMSE": np.sqrt(np.mean((p - a) ** 2)),
            "correlation": np.corrcoef(a, p)[0, 1]}


def _median_seconds(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _table(rows: list[dict], floats: str = "{:.3f}") -> str:
    cols = list(rows[0])
    fmt = lambda v: floats.format(v) if isinstance(v, (float, np.floating)) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(cols))) + "|"]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def evaluate(tx, out, rfm, fitted, gg, calibration_end, holdout_end, unit_days: float, published: bool = True) -> str:
    holdout = (pd.Timestamp(holdout_end) - pd.Timestamp(calibration_end)).days / unit_days
    act = holdout_actuals(tx, rfm.index, calibration_end, holdout_end)
    # Both purchase models in the same run, whichever one wrote the output file.
    bg = fitted if type(fitted) is BetaGeoModel else BetaGeoModel().fit(rfm)
    mbg = fitted if type(fitted) is ModifiedBetaGeoModel else ModifiedBetaGeoModel().fit(rfm)
    bg_pred = bg.predict(rfm, holdout)
    mbg_pred = mbg.predict(rfm, holdout)
    naive_seconds = _median_seconds(
        lambda: np.where(rfm["T"] > 0, rfm["frequency"] / rfm["T"].where(rfm["T"] > 0, 1), 0))
    naive = np.where(rfm["T"] > 0, rfm["frequency"] / rfm["T"].where(rfm["T"] > 0, 1), 0.0) * holdout
    bg_seconds = _median_seconds(lambda: BetaGeoModel().fit(rfm))
    mbg_seconds = _median_seconds(lambda: ModifiedBetaGeoModel().fit(rfm))
    gg_seconds = _median_seconds(lambda: GammaGammaModel().fit(rfm))
    report = [f"customers in calibration: {len(rfm):,}; with a repeat purchase: {int((rfm['frequency'] > 0).sum()):,}; "
              f"calibration to {calibration_end}, holdout {holdout:.2f} weeks to {holdout_end}", "",
              # In-sample check: the model's expected calibration repeats E[X(T)] against the actual count.
              f"calibration repeat purchases: actual {int(rfm['frequency'].sum()):,}, "
              f"BG/NBD expected {bg.expected_purchases_new(rfm['T'].to_numpy()).sum():,.0f}, "
              f"MBG/NBD expected {mbg.expected_purchases_new(rfm['T'].to_numpy()).sum():,.0f}", ""]

    models = [("BG/NBD", bg_pred["expected_purchases"].to_numpy()),
              ("MBG/NBD", mbg_pred["expected_purchases"].to_numpy())]
    if published:  # the published parameters on the same customers: is a gap the fit's or the data's?
        at_published = BetaGeoModel.from_params(**PUBLISHED_BGNBD).predict(rfm, holdout)["expected_purchases"]
        models.append(("BG/NBD at the published parameters", at_published.to_numpy()))
    models.append(("naive: calibration rate x holdout", naive))
    rows = [{"model": name, **errors(act["purchases"], pred)} for name, pred in models]
    report += ["### Holdout repeat purchases per customer", "", _table(rows), ""]

    # Conditional expectations by calibration frequency (FHL 2005, figure 4).
    by = pd.DataFrame({"x": rfm["frequency"].clip(upper=7).to_numpy(), "actual": act["purchases"].to_numpy(),
                       "bgnbd": bg_pred["expected_purchases"].to_numpy(),
                       "mbgnbd": mbg_pred["expected_purchases"].to_numpy(), "naive": naive,
                       "bg_alive": bg_pred["p_alive"].to_numpy(), "mbg_alive": mbg_pred["p_alive"].to_numpy(),
                       "bought": act["purchases"].to_numpy() > 0})
    g = by.groupby("x").agg(customers=("actual", "size"), actual=("actual", "mean"), bgnbd=("bgnbd", "mean"),
                            mbgnbd=("mbgnbd", "mean"), naive=("naive", "mean")).reset_index()
    g["x"] = g["x"].map(lambda v: f"{v}+" if v == 7 else str(v))
    report += ["### Mean holdout purchases by calibration repeat purchases", "",
               _table(g.rename(columns={"x": "calibration repeats", "bgnbd": "BG/NBD",
                                        "mbgnbd": "MBG/NBD"}).to_dict("records")), ""]
    # P(alive) of one-time customers: BG/NBD says 1 for all; MBG/NBD ranks them. Whether they
    # bought again in the holdout is the observable check (AUC of P(alive) for "bought again").
    from sklearn.metrics import roc_auc_score

    one = by[by["x"] == 0]
    if one["bought"].nunique() == 2:
        rows = [{"model": name, "mean P(alive)": one[col].mean(),
                 "share P(alive) >= 0.5": (one[col] >= 0.5).mean(),
                 "AUC for buying again": roc_auc_score(one["bought"], one[col])}
                for name, col in (("BG/NBD", "bg_alive"), ("MBG/NBD", "mbg_alive"))]
        report += [f"### One-time customers ({len(one):,}; {one['bought'].mean():.1%} bought in the holdout)", "",
                   _table(rows), ""]

    rows = [{"parameter": k, "fitted": bg.params_[k], "published (1/10 sample)": v} for k, v in PUBLISHED_BGNBD.items()]
    rows += [{"parameter": f"MBG/NBD {k}", "fitted": mbg.params_[k], "published (1/10 sample)": "–"}
             for k in PUBLISHED_BGNBD]
    rows += [{"parameter": f"Gamma-Gamma {k}", "fitted": gg.params_[k], "published (1/10 sample)": v}
             for k, v in PUBLISHED_GAMMA_GAMMA.items()]
    if not published:  # not CDNOW: the published values do not apply
        rows = [{k: v for k, v in r.items() if k != "published (1/10 sample)"} for r in rows]
    report += ["### Parameters", "", _table(rows), "",
               f"BG/NBD log-likelihood {bg.log_likelihood_:,.1f}, MBG/NBD {mbg.log_likelihood_:,.1f}, "
               f"on {bg.n_customers_:,} customers; "
               f"Gamma-Gamma on {gg.n_customers_:,} repeat buyers ({gg.n_excluded_:,} excluded), "
               f"frequency-spend correlation {gg.frequency_spend_correlation_:.3f}", ""]

    # The published sample is 1/10 of the master: the spread of fits over ten disjoint tenths
    # (customer id mod 10) shows how far a different tenth lands from the published values.
    ids = pd.to_numeric(rfm.index, errors="coerce")
    if published and not np.isnan(ids).any() and len(rfm) >= 1000:
        fits = []
        for k in range(10):
            part = rfm[np.asarray(ids) % 10 == k]
            m = BetaGeoModel().fit(part)
            fits.append({"tenth (id mod 10)": k, "customers": len(part),
                         "repeaters": int((part["frequency"] > 0).sum()),
                         **{p: m.params_[p] for p in PUBLISHED_BGNBD}, "log-likelihood": m.log_likelihood_})
        f = pd.DataFrame(fits)
        report += ["### BG/NBD on ten disjoint 1/10 sub-samples", "", _table(fits), "",
                   "range: " + ", ".join(f"{p} {f[p].min():.3f}–{f[p].max():.3f}" for p in PUBLISHED_BGNBD), ""]

    spend = act["avg_value"].notna().to_numpy()
    own = np.where(rfm["frequency"] > 0, rfm["monetary_value"], gg.population_mean_)
    rows = [{"model": "Gamma-Gamma",
             **{k: v for k, v in errors(act["avg_value"][spend], out["expected_avg_value"][spend]).items()
                if k in ("MAE", "correlation")}},
            {"model": "baseline: own calibration mean (population mean if none)",
             **{k: v for k, v in errors(act["avg_value"][spend], own[spend]).items() if k in ("MAE", "correlation")}}]
    report += [f"### Holdout average spend ({int(spend.sum()):,} customers who bought in the holdout)", "",
               _table(rows), ""]

    report += ["### Fit time (median of 3)", "", _table([
        {"step": "BG/NBD maximum likelihood", "seconds": bg_seconds},
        {"step": "MBG/NBD maximum likelihood", "seconds": mbg_seconds},
        {"step": "Gamma-Gamma maximum likelihood", "seconds": gg_seconds},
        {"step": "naive baseline", "seconds": naive_seconds}], floats="{:.4f}"), ""]
    return "\n".join(report)


def bayes_report(rfm, bg, draws: int, tune: int) -> str:
    t0 = time.perf_counter()
    import nutpie  # noqa: F401  (imported here so its import time is reported apart from the fit)
    import pymc  # noqa: F401

    from quantlib.customers.clv import BayesianBetaGeoModel

    import_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = BayesianBetaGeoModel(draws=draws, tune=tune, chains=2).fit(rfm)
    total = time.perf_counter() - t0
    s = model.summary(level=0.9)
    s["MLE"] = [bg.params_[p] for p in s["param"]]
    s["published"] = [PUBLISHED_BGNBD[p] for p in s["param"]]
    t0 = time.perf_counter()
    model.predict(rfm, 39)
    predict_seconds = time.perf_counter() - t0
    return "\n".join([f"### Bayesian BG/NBD on {len(rfm):,} customers (PyMC, nutpie; 2 chains x {draws} draws, "
                       f"{tune} tuning)", "",
                      _table(s.rename(columns={"lo": "5 %", "hi": "95 %"}).to_dict("records")), "",
                      _table([{"step": "import PyMC and nutpie (once per process)", "seconds": import_seconds},
                              {"step": "compile", "seconds": model.compile_seconds_},
                              {"step": "sampling", "seconds": model.sampling_seconds_},
                              {"step": "fit total (build, compile, sample)", "seconds": total},
                              {"step": f"per-customer intervals ({len(rfm):,} customers, {model.n_posterior} draws)",
                               "seconds": predict_seconds},
                              {"step": "baseline: BG/NBD maximum likelihood", "seconds": bg.fit_seconds_}],
                             floats="{:.2f}"), ""])


def summary_speed(tx: pd.DataFrame, n: int, calibration_end, unit_days: float, repeat: int = 3) -> str:
    """Time the RFM summary on the transaction log replicated (new ids) to at least ``n`` customers."""
    copies = int(np.ceil(n / tx["customer_id"].nunique()))
    big = pd.concat([tx.assign(customer_id=tx["customer_id"] + f"_{k}") for k in range(copies)], ignore_index=True)
    big["date"] = pd.to_datetime(big["date"])
    seconds = _median_seconds(lambda: rfm_summary(big, calibration_end, unit_days=unit_days), repeat)
    return (f"RFM summary of the transaction log copied {copies} times ({big['customer_id'].nunique():,} customers, "
            f"{len(big):,} customer-days): {seconds:.2f} s (median of {repeat})\n")


def speed_report(bg, gg, n: int, repeat: int = 3, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    # Tenure as in CDNOW: first purchases spread over the first 12 weeks of a 39-week calibration.
    sim = simulate_bgnbd(n, T=rng.uniform(27, 39, n), seed=seed, **bg.params_)
    sim["monetary_value"] = simulate_gamma_gamma(sim["frequency"], seed=seed, **gg.params_)["monetary_value"].to_numpy()
    rfm = sim[["frequency", "recency", "T", "monetary_value"]]
    timings = {"BG/NBD fit": [], "Gamma-Gamma fit": [], "12-month CLV of every customer": [], "fit + CLV": [],
               "baseline: naive rate x 52 weeks": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        b = BetaGeoModel().fit(rfm)
        t1 = time.perf_counter()
        g = GammaGammaModel().fit(rfm)
        t2 = time.perf_counter()
        customer_lifetime_value(b, g, rfm, horizon_months=12, discount_rate=0.01)
        t3 = time.perf_counter()
        _ = rfm["frequency"] / rfm["T"] * 52 * rfm["monetary_value"]
        t4 = time.perf_counter()
        for k, v in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t3 - t0, t4 - t3)):
            timings[k].append(v)
    rows = [{"step": k, "median seconds": statistics.median(v)} for k, v in timings.items()]
    rec = {k: b.params_[k] / bg.params_[k] - 1 for k in bg.params_}
    return "\n".join([f"### Speed: {n:,} customers simulated from the fitted CDNOW parameters (median of {repeat})", "",
                      _table(rows, floats="{:.3f}"), "",
                      "parameter recovery on the simulated customers (relative error): "
                      + ", ".join(f"{k} {v:+.1%}" for k, v in rec.items()), ""])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cdnow", help="CDNOW master file (whitespace-separated) to convert")
    ap.add_argument("--write-transactions", help="with --cdnow: write customer_id, date, amount here and stop")
    ap.add_argument("--transactions", help="CSV with customer_id, date, amount")
    ap.add_argument("--company-lake", help="instead of --transactions: a lake whose gold job_facts give the "
                                            "transactions (completed jobs' revenue per customer and day)")
    ap.add_argument("--calibration-end", help="last day of the calibration period (inclusive)")
    ap.add_argument("--holdout-end", help="last day of the holdout period (inclusive)")
    ap.add_argument("--out", help="output CSV")
    ap.add_argument("--model", choices=sorted(MODELS), default="bgnbd",
                    help="purchase model whose predictions go to --out (default bgnbd; --evaluate reports both)")
    ap.add_argument("--unit-days", type=float, default=7.0, help="days per model time unit (default 7: weeks)")
    ap.add_argument("--evaluate", action="store_true", help="print holdout accuracy, parameters and fit time")
    ap.add_argument("--bayes", action="store_true", help="also fit the Bayesian BG/NBD and report its time")
    ap.add_argument("--bayes-every", type=int, default=1, metavar="K",
                    help="fit the Bayesian model on every K-th calibration customer (default all)")
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--speed", type=int, default=0, metavar="N", help="time CLV fitting on N simulated customers")
    args = ap.parse_args(argv)

    if args.cdnow:
        if not args.write_transactions:
            ap.error("--cdnow needs --write-transactions FILE.csv")
        tx = cdnow_transactions(args.cdnow)
        tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d")).to_csv(args.write_transactions, index=False)
        print(f"wrote {len(tx):,} customer-days of {tx['customer_id'].nunique():,} customers "
              f"to {args.write_transactions}")
        return
    missing = [f"--{n.replace('_', '-')}" for n in ("calibration_end", "holdout_end", "out")
               if getattr(args, n) is None]
    if not (args.transactions or args.company_lake):
        missing.insert(0, "--transactions (or --company-lake)")
    if missing:
        ap.error("missing " + ", ".join(missing))
    if args.company_lake:
        import duckdb

        from quantlib.customers.clv import company_transactions

        with duckdb.connect(str(Path(args.company_lake) / "gold.duckdb"), read_only=True) as con:
            tx = company_transactions(con, args.holdout_end)
    else:
        tx = read_transactions(args.transactions)
    out, rfm, bg, gg, seconds = predict(tx, args.calibration_end, args.holdout_end, args.unit_days, args.model)
    out.to_csv(args.out, index=False)
    print(f"wrote {len(out):,} customers to {args.out} (fit {seconds:.2f} s)", file=sys.stderr)
    if args.evaluate:
        print(evaluate(tx, out, rfm, bg, gg, args.calibration_end, args.holdout_end, args.unit_days,
                       published=not args.company_lake))
    if type(bg) is not BetaGeoModel:  # the Bayesian and speed reports are about BG/NBD
        bg = BetaGeoModel().fit(rfm)
    if args.bayes:
        part = rfm.iloc[:: args.bayes_every]
        print(bayes_report(part, bg if args.bayes_every == 1 else BetaGeoModel().fit(part), args.draws, args.tune))
    if args.speed:
        print(speed_report(bg, gg, args.speed))
        print(summary_speed(tx, args.speed, args.calibration_end, args.unit_days))


if __name__ == "__main__":
    main()
