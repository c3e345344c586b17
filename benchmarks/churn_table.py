"""Churn on a table: fit on one CSV, score another; the Telco evaluation; scoring speed at 100k.

Fit and score (any tabular churn data)::

    python -m benchmarks.churn_table --train TRAIN.csv --score SCORE.csv --target COLUMN \\
        --positive VALUE --out OUT.csv

fits :class:`quantlib.customers.churn.TabularChurnClassifier` on TRAIN (``COLUMN == VALUE``
is churn) and writes OUT.csv with one column ``score`` (the churn probability), one row per
row of SCORE, in order. SCORE may lack the target column. Column handling is generic:
ID-like columns (every value distinct, text or whole numbers) are dropped; text columns whose
non-blank values are all numbers (Telco's ``TotalCharges`` has blanks) become numeric with
blanks missing; other text columns are categorical; numbers and booleans are numeric.

The recorded evaluation (IBM Telco, ../shared/data/churn/telco_wa_churn.csv)::

    python -m benchmarks.churn_table --evaluate [--data FILE] [--seed 0] [--seeds 5] [--settings JSON]

splits the table ``--seeds`` times (stratified, 30 % held out, seeds ``--seed`` onwards), writes
the two CSVs, runs the command above on them and computes AUC and Brier score on the held-out
rows, per split and on average, next to a logistic regression (one-hot + standardised, same
columns) and gradient boosting with default settings fitted in the same run. ``--settings``
overrides the model's settings (how the rejected alternatives in benchmarks/README.md were
measured). ``--generated [--scale 2]`` fits the table model on a generated company's past
snapshots and tests it on the latest window, against the previous settings.

Scoring speed::

    python -m benchmarks.churn_table --speed [--scale 21] [--repeats 3]
    python -m benchmarks.churn_table --speed --lake data/demo/mixed_trades/lake --replicate-to 100000

generates mixed_trades at ``--scale`` (21: about 100k customers), ingests it and builds gold
in a temporary folder (or takes ``--lake``, optionally copying its customers under new ids
up to ``--replicate-to`` rows), fits the learned model with ``fit_time_split``, then times
(median of ``--repeats``, wall and CPU seconds) the as-of customer snapshot, the rule score
with reasons, and the learned model's probability with and without reasons, against the
baseline of the bare gradient-boosting ``predict_proba`` on the same rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from quantlib.customers.churn import TabularChurnClassifier

ROOT = Path(__file__).resolve().parents[1]
#: The shared data folder sits next to the checkout (or, from a git worktree, further up).
TELCO = next((p / "shared" / "data" / "churn" / "telco_wa_churn.csv" for p in ROOT.parents
              if (p / "shared" / "data" / "churn" / "telco_wa_churn.csv").exists()),
             ROOT.parent / "shared" / "data" / "churn" / "telco_wa_churn.csv")
#: The benchmark's model: boosting of 3 or 15 leaves a tree (chosen by cross-validation on the
#: training rows, as are its iterations up to 1000 and the logistic model's blend weight),
#: the logistic part with pairwise ratio features. Figures and rejected alternatives:
#: benchmarks/README.md (issue 12).
MODEL_SETTINGS = dict(learning_rate=0.02, max_iter=1000, max_leaf_nodes=(3, 15), min_samples_leaf=100,
                      l2_regularization=5.0, blend_logistic="cv", early_stopping=True, ratios=True)
#: The settings before issue 12 (a fixed 30 % blend, 500 iterations, no ratio features): 0.8516 mean AUC.
PREVIOUS_SETTINGS = dict(learning_rate=0.02, max_iter=500, max_leaf_nodes=3, min_samples_leaf=100,
                         l2_regularization=5.0, blend_logistic=0.3, early_stopping=False, ratios=False)
#: A text column is numeric when at least this share of its non-blank values parse as numbers.
NUMERIC_SHARE = 0.98


def prepare_columns(train: pd.DataFrame, target: str | None) -> tuple[list[str], list[str], list[str]]:
    """``(numeric, categorical, dropped)`` columns of ``train`` (the target excluded)."""
    numeric, categorical, dropped = [], [], []
    for column in train.columns:
        if column == target:
            continue
        values = train[column]
        non_blank = values.dropna()
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            non_blank = non_blank.astype(str).str.strip()
            non_blank = non_blank[non_blank != ""]
        unique_all = len(non_blank) == len(values) and non_blank.nunique() == len(values) and len(values) > 1
        if pd.api.types.is_bool_dtype(values):
            numeric.append(column)
        elif pd.api.types.is_numeric_dtype(values):
            whole = pd.api.types.is_integer_dtype(values) or bool(np.all(np.mod(non_blank, 1) == 0))
            (dropped if unique_all and whole else numeric).append(column)
        else:
            parsed = pd.to_numeric(non_blank, errors="coerce")
            if len(non_blank) and parsed.notna().mean() >= NUMERIC_SHARE:
                numeric.append(column)
            elif unique_all:
                dropped.append(column)
            else:
                categorical.append(column)
    return numeric, categorical, dropped


def to_design(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The model's input: numeric columns coerced (blanks and junk -> NaN), categoricals as text."""
    out = pd.DataFrame(index=frame.index)
    for column in numeric:
        values = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            values = values.astype(str).str.strip().replace("", np.nan)
        out[column] = pd.to_numeric(values, errors="coerce").astype(float)
    for column in categorical:
        values = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        out[column] = values.astype(object).where(values.notna(), np.nan).map(
            lambda v: v if isinstance(v, float) else str(v).strip())
    return out


def fit_and_score(train_csv: Path, score_csv: Path, target: str, positive: str, out_csv: Path,
                  settings: dict | None = None) -> pd.DataFrame:
    """Fit on TRAIN, write ``score`` for every row of SCORE to OUT; return the scores."""
    return _fit_and_score(train_csv, score_csv, target, positive, out_csv, settings)[0]


def _fit_and_score(train_csv: Path, score_csv: Path, target: str, positive: str, out_csv: Path,
                   settings: dict | None = None) -> tuple[pd.DataFrame, TabularChurnClassifier]:
    train = pd.read_csv(train_csv, keep_default_na=True)
    score = pd.read_csv(score_csv, keep_default_na=True)
    if target not in train:
        raise SystemExit(f"churn_table: target column {target!r} is not in {train_csv} "
                         f"(columns: {', '.join(map(str, train.columns))})")
    labels = train[target].astype(str).str.strip()
    if positive not in set(labels):
        raise SystemExit(f"churn_table: no row of {train_csv} has {target} == {positive!r} "
                         f"(values: {', '.join(sorted(set(labels))[:10])})")
    y = (labels == positive).astype(int).to_numpy()
    numeric, categorical, dropped = prepare_columns(train, target)
    model = TabularChurnClassifier(numeric, categorical, **(MODEL_SETTINGS if settings is None else settings))
    with threadpool_limits(1):
        model.fit(to_design(train, numeric, categorical), y)
        p = model.predict_proba(to_design(score, numeric, categorical))[:, 1]
    result = pd.DataFrame({"score": p})
    result.to_csv(out_csv, index=False)
    print(f"fitted on {len(train):,} rows ({y.mean():.1%} positive), {len(numeric)} numeric, "
          f"{len(categorical)} categorical, dropped {dropped or 'none'}; logistic weight {model.blend_weight_:.2f}, "
          f"{model.n_iter_} boosting iterations; scored {len(score):,} rows -> {out_csv}", file=sys.stderr)
    return result, model


# --------------------------------------------------------------------------- evaluation

def _split(table: pd.DataFrame, target: str, positive: str, seed: int):
    from sklearn.model_selection import train_test_split

    y = (table[target].astype(str) == positive).astype(int)
    return train_test_split(table, test_size=0.3, stratify=y, random_state=seed)


#: The same-run baselines: the logistic regression alone (one-hot + standardised, the product's
#: logistic part without ratio features) and gradient boosting with default settings.
BASELINES = {"lr": {"blend_logistic": 1.0, "early_stopping": False, "ratios": False},
             "gb_default": {"blend_logistic": 0.0, "early_stopping": False, "ratios": False}}


def evaluate(data: Path, seeds: list[int], target: str = "churn", positive: str = "Yes",
             settings: dict | None = None) -> pd.DataFrame:
    """Per split: AUC and Brier of the product model and the baselines on 30 % held out; print and return."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    table = pd.read_csv(data)
    rows = []
    for s in seeds:
        train, test = _split(table, target, positive, s)
        y = (test[target].astype(str).str.strip() == positive).astype(int).to_numpy()
        row = {"seed": s, "test_rows": len(y)}
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            train.to_csv(tmp / "train.csv", index=False)
            test.drop(columns=[target]).to_csv(tmp / "score.csv", index=False)
            for name, chosen in [("ours", {**MODEL_SETTINGS, **(settings or {})}), *BASELINES.items()]:
                started = time.perf_counter()
                _, model = _fit_and_score(tmp / "train.csv", tmp / "score.csv", target, positive,
                                          tmp / f"{name}.csv", chosen)
                seconds = time.perf_counter() - started
                p = pd.read_csv(tmp / f"{name}.csv")["score"].to_numpy()  # what the command wrote
                assert len(p) == len(test)
                prefix = "" if name == "ours" else f"{name}_"
                row.update({f"{prefix}auc": roc_auc_score(y, p), f"{prefix}brier": brier_score_loss(y, p),
                            f"{prefix}seconds": seconds})
                if name == "ours":
                    row.update({"weight": model.blend_weight_, "n_iter": model.n_iter_,
                                "leaves": model.max_leaf_nodes_})
        rows.append(row)
        print(f"seed {s}: ours AUC {row['auc']:.4f} Brier {row['brier']:.4f} (logistic weight {row['weight']:.2f}, "
              f"{row['n_iter']} iterations of {row['leaves']} leaves, {row['seconds']:.1f} s) | "
              f"logistic AUC {row['lr_auc']:.4f} "
              f"Brier {row['lr_brier']:.4f} | GB defaults AUC {row['gb_default_auc']:.4f}", file=sys.stderr, flush=True)
    frame = pd.DataFrame(rows)
    pd.set_option("display.width", 220)
    print(frame.round(4).to_string(index=False))
    wins = int((frame.auc > frame.lr_auc).sum())
    print(f"\nseeds {', '.join(map(str, frame.seed))} (stratified, 30 % held out): "
          f"ours AUC mean {frame.auc.mean():.4f} "
          f"(range {frame.auc.min():.4f}-{frame.auc.max():.4f}), Brier {frame.brier.mean():.4f}, "
          f"fit+score {frame.seconds.mean():.1f} s | logistic AUC {frame.lr_auc.mean():.4f}, Brier "
          f"{frame.lr_brier.mean():.4f}, {frame.lr_seconds.mean():.1f} s | GB defaults AUC "
          f"{frame.gb_default_auc.mean():.4f}, Brier {frame.gb_default_brier.mean():.4f}\n"
          f"ours above logistic on {wins} of {len(frame)} splits (AUC), Brier below on "
          f"{int((frame.brier < frame.lr_brier).sum())} of {len(frame)}")
    return frame


def evaluate_generated(scale: float, seed: int, horizon_days: int = 180) -> pd.DataFrame:
    """The table model on a generated company: trained on past snapshots, tested on the latest window.

    The windows of :func:`~quantlib.customers.churn.fit_time_split` (training snapshots and the
    calibration snapshot both train the table model here; the test window is the same), labels
    the observable lapse. Compares the product settings with the previous ones (fixed 30 % blend,
    500 iterations, no ratios), the logistic regression and the product's ``LearnedChurnModel``.
    """
    import datetime as dt

    from sklearn.metrics import brier_score_loss, roc_auc_score

    from quantlib.customers.churn import fit_time_split
    from quantlib.customers.features import MODEL_FEATURES, churn_labels, customer_snapshot
    from quantlib.data.gold import gold_as_of, open_gold

    with tempfile.TemporaryDirectory() as tmp:
        lake = _build_lake(Path(tmp), scale, seed)
        with open_gold(lake) as con:
            _, report = fit_time_split(con, horizon_days=horizon_days)
            h = dt.timedelta(days=horizon_days)
            t_test = gold_as_of(con) - h
            dates = [report["calibration_date"], *report["train_dates"]]

            def labelled(day):
                snap = customer_snapshot(con, day, active_only=True)
                snap = snap.merge(churn_labels(con, day, horizon_days), on="customer_id", how="inner")
                return snap[snap["frequency_lifetime"] > 0]

            train = pd.concat([labelled(d) for d in dates], ignore_index=True)
            test = labelled(t_test)
    numeric, categorical = [c for c in MODEL_FEATURES if pd.api.types.is_numeric_dtype(train[c])], \
        [c for c in MODEL_FEATURES if not pd.api.types.is_numeric_dtype(train[c])]
    y, y_test = train["churned"].astype(int).to_numpy(), test["churned"].astype(int).to_numpy()
    candidates = {"ours": MODEL_SETTINGS, "previous": PREVIOUS_SETTINGS, **BASELINES}
    rows = []
    for name, settings in candidates.items():
        started = time.perf_counter()
        with threadpool_limits(1):
            model = TabularChurnClassifier(numeric, categorical, **settings).fit(train[numeric + categorical], y)
            p = model.predict_proba(test[numeric + categorical])[:, 1]
        rows.append({"model": name, "auc": roc_auc_score(y_test, p), "brier": brier_score_loss(y_test, p),
                     "weight": model.blend_weight_, "n_iter": model.n_iter_, "leaves": model.max_leaf_nodes_,
                     "seconds": time.perf_counter() - started})
    rows.append({"model": "LearnedChurnModel (fit_time_split)", "auc": report["test_auc"],
                 "brier": report["test_brier"]})
    frame = pd.DataFrame(rows)
    print(f"generated mixed_trades scale {scale} seed {seed}: {len(train):,} training rows "
          f"({', '.join(map(str, dates))}), {len(test):,} test rows at {t_test} ({y_test.mean():.1%} lapsed)")
    print(frame.round(4).to_string(index=False))
    return frame


# --------------------------------------------------------------------------- speed

def _median_time(fn, repeats: int):
    """(result, median wall seconds, median CPU seconds of this process) over ``repeats`` runs."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return result, statistics.median(walls), statistics.median(cpus)


def _build_lake(tmp: Path, scale: float, seed: int):
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.profile import load_profile
    from quantlib.data.warehouse import build_warehouse

    started = time.perf_counter()
    company = generate_company(load_profile(ROOT / "parameters" / "companies" / "mixed_trades.yaml"),
                               seed=seed, scale=scale)
    write_company(company, tmp / "raw")
    lake = Lake(tmp / "lake")
    ingest(tmp / "raw", lake)
    build_warehouse(lake, company=company.profile.name)
    print(f"generated and built scale {scale} in {time.perf_counter() - started:.1f} s: "
          f"{len(company.tables['customers']):,} customers, {len(company.tables['jobs']):,} jobs", flush=True)
    return lake


def speed(scale: float, repeats: int, seed: int, lake_root: Path | None, replicate_to: int | None) -> None:
    import duckdb

    from quantlib.customers.churn import RuleChurnScorer, fit_time_split
    from quantlib.customers.features import customer_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        gold = (Path(lake_root) / "gold.duckdb") if lake_root else _build_lake(Path(tmp), scale, seed).gold
        con = duckdb.connect(str(gold), read_only=True)
        everyone, t_snap, c_snap = _median_time(lambda: customer_snapshot(con), repeats)
        snap = everyone[everyone["is_active"]].reset_index(drop=True)  # who gets scored
        print(f"snapshot of {len(everyone):,} customers ({len(snap):,} active, scored)", flush=True)
        started, cpu = time.perf_counter(), time.process_time()
        model, report = fit_time_split(con)
        t_fit, c_fit = time.perf_counter() - started, time.process_time() - cpu
        con.close()
    if replicate_to:
        # The company's active customers copied (new ids) until there are replicate_to rows.
        copies = -(-replicate_to // len(snap))
        snap = pd.concat([snap.assign(customer_id=snap["customer_id"] + f"-{k}") for k in range(copies)],
                         ignore_index=True).head(replicate_to)
        print(f"replicated to {len(snap):,} rows", flush=True)
    rule = RuleChurnScorer().fit(snap)
    design = snap[model.numeric_ + model.categorical_]

    def bare():
        with threadpool_limits(1):
            return model.classifier_.gb_.predict_proba(design.astype({c: object for c in model.categorical_}))[:, 1]

    timings = [("rule score + bands + reasons", lambda: rule.score_frame(snap)),
               ("learned probability (calibrated)", lambda: model.probability(snap)),
               ("learned + bands + reasons for medium/high only", lambda: model.score_frame(snap, "at_risk")),
               ("learned + bands + reasons for everyone (occlusion)", lambda: model.score_frame(snap)),
               ("baseline: bare HGB predict_proba", bare)]
    results = [(label, *_median_time(fn, repeats)[1:]) for label, fn in timings]
    base_cpu = results[-1][2]
    n = len(snap)
    print(f"\n{n:,} customers, median of {repeats} (wall s / CPU s of this process, ratio to baseline CPU):")
    print(f"  {f'as-of snapshot of all {len(everyone):,} customers (DuckDB)':56s} {t_snap:7.2f} / {c_snap:7.2f}")
    for label, wall, cpu in results:
        print(f"  {label:56s} {wall:7.2f} / {cpu:7.2f}  ({cpu / base_cpu:5.1f}x)")
    print(f"  fit_time_split (5 snapshots + fit + calibration, {report['train_rows']:,} training rows): "
          f"{t_fit:.1f} s wall / {c_fit:.1f} s CPU; test AUC {report['test_auc']:.3f}, Brier "
          f"{report['test_brier']:.4f} vs base rate {report['test_brier_base_rate']:.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.churn_table", description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--score", type=Path)
    parser.add_argument("--target")
    parser.add_argument("--positive")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--evaluate", action="store_true", help="the recorded Telco evaluation")
    parser.add_argument("--data", type=Path, default=TELCO)
    parser.add_argument("--generated", action="store_true",
                        help="the table model on a generated company (--scale, --seed), against the previous settings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None, help="--speed: timing repeats")
    parser.add_argument("--seeds", type=int, default=5, help="--evaluate: splits, seeds SEED .. SEED+N-1")
    parser.add_argument("--settings", type=json.loads, default=None,
                        help="--evaluate: JSON overriding the model settings, e.g. '{\"ratios\": false}'")
    parser.add_argument("--speed", action="store_true", help="scoring speed on a generated company")
    parser.add_argument("--scale", type=float, default=21.0)
    parser.add_argument("--lake", type=Path, default=None, help="--speed on this lake instead of generating one")
    parser.add_argument("--replicate-to", type=int, default=None,
                        help="--speed: copy the lake's customers (new ids) up to this many rows")
    args = parser.parse_args(argv)
    if args.evaluate:
        evaluate(args.data, list(range(args.seed, args.seed + args.seeds)), args.target or "churn",
                 args.positive or "Yes", args.settings)
    elif args.generated:
        evaluate_generated(args.scale if args.scale != 21.0 else 2.0, args.seed or 7)
    elif args.speed:
        speed(args.scale, 3 if args.repeats is None else args.repeats, seed=args.seed or 7, lake_root=args.lake,
              replicate_to=args.replicate_to)
    else:
        missing = [f"--{name}" for name in ("train", "score", "target", "positive", "out")
                   if getattr(args, name) is None]
        if missing:
            parser.error(f"missing {', '.join(missing)} (or use --evaluate / --speed)")
        fit_and_score(args.train, args.score, args.target, args.positive, args.out)


if __name__ == "__main__":
    main()
