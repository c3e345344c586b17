"""How high can a model go on the churn benchmark's splits? An upper bound chosen on the test rows.

    python -m benchmarks.churn_ceiling [--data FILE] [--target churn] [--positive Yes] [--seeds 5]

On the same splits as ``benchmarks.churn_table --evaluate`` (stratified, 30 % held out, seeds
0 .. N-1) it fits a pool of models on the training rows: logistic regressions (one-hot +
standardised, three strengths), logistic regressions on every pairwise interaction (three
strengths) and gradient boosting (3, 7 and 15 leaves x learning rates 0.02 and 0.05 x 200, 400
and 800 iterations, no early stopping), 24 in all, plus the product model
(:class:`~quantlib.customers.churn.TabularChurnClassifier` with the benchmark's settings). It then
reports, per split, the best single model **chosen on the held-out rows** and the best
rank-average of any two, also chosen on them. Choosing on the test rows is cheating by
construction: these figures are not a method, they bound what picking among such models (and
their pairwise blends) could ever reach on these splits, next to the product's honest score.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from threadpoolctl import threadpool_limits

from benchmarks.churn_table import MODEL_SETTINGS, TELCO, _split, prepare_columns, to_design
from quantlib.customers.churn import TabularChurnClassifier


def _pool():
    """(name, estimator) of the models fitted on one-hot + numeric columns."""
    for strength in (0.01, 0.1, 1.0):
        yield f"logistic C={strength}", make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=3000))
    for strength in (0.001, 0.003, 0.01):
        yield f"logistic pairs C={strength}", make_pipeline(
            StandardScaler(), PolynomialFeatures(2, interaction_only=True, include_bias=False), StandardScaler(),
            LogisticRegression(C=strength, max_iter=3000))
    for leaves, rate, steps in itertools.product((3, 7, 15), (0.02, 0.05), (200, 400, 800)):
        yield f"boosting {leaves} leaves lr {rate} x{steps}", HistGradientBoostingClassifier(
            max_leaf_nodes=leaves, learning_rate=rate, max_iter=steps, early_stopping=False, l2_regularization=1.0,
            random_state=0)


def ceiling(data: Path, target: str, positive: str, seeds: list[int]) -> pd.DataFrame:
    table = pd.read_csv(data)
    rows = []
    for seed in seeds:
        train, test = _split(table, target, positive, seed)
        y_train = (train[target].astype(str).str.strip() == positive).astype(int).to_numpy()
        y_test = (test[target].astype(str).str.strip() == positive).astype(int).to_numpy()
        numeric, categorical, _ = prepare_columns(train, target)
        design_train, design_test = to_design(train, numeric, categorical), to_design(test, numeric, categorical)
        x_train = pd.get_dummies(design_train, columns=categorical, dtype=float)
        fill = x_train.median()
        x_train = x_train.fillna(fill)
        x_test = pd.get_dummies(design_test, columns=categorical, dtype=float).reindex(
            columns=x_train.columns, fill_value=0.0).fillna(fill)
        scores = {}
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, model in _pool():
                scores[name] = model.fit(x_train, y_train).predict_proba(x_test)[:, 1]
            product = TabularChurnClassifier(numeric, categorical, **MODEL_SETTINGS).fit(design_train, y_train)
            scores["product"] = product.predict_proba(design_test)[:, 1]
        auc = {name: roc_auc_score(y_test, p) for name, p in scores.items()}
        ranks = {name: rankdata(p) for name, p in scores.items()}
        pairs = {(a, b): roc_auc_score(y_test, ranks[a] + ranks[b]) for a, b in itertools.combinations(scores, 2)}
        best, best_pair = max(auc, key=auc.get), max(pairs, key=pairs.get)
        rows.append({"seed": seed, "product": auc["product"], "logistic C=1": auc["logistic C=1.0"],
                     "best single (on test)": auc[best], "which": best,
                     "best pair (on test)": pairs[best_pair], "pair": " + ".join(best_pair)})
        print(f"seed {seed}: product {auc['product']:.4f}, best single on test {auc[best]:.4f} ({best}), "
              f"best pair on test {pairs[best_pair]:.4f}", file=sys.stderr, flush=True)
    frame = pd.DataFrame(rows)
    pd.set_option("display.width", 220)
    print(frame.round(4).to_string(index=False))
    print(f"\nmean AUC over {len(frame)} splits: product {frame['product'].mean():.4f} | logistic "
          f"{frame['logistic C=1'].mean():.4f} | best single chosen on the test rows "
          f"{frame['best single (on test)'].mean():.4f} | best pair chosen on the test rows "
          f"{frame['best pair (on test)'].mean():.4f}")
    return frame


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=TELCO)
    parser.add_argument("--target", default="churn")
    parser.add_argument("--positive", default="Yes")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    np.seterr(all="ignore")
    ceiling(args.data, args.target, args.positive, list(range(args.seeds)))


if __name__ == "__main__":
    main()
