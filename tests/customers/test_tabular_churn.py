"""TabularChurnClassifier's choices: made on the training rows only, reproducible, general in its input."""

import numpy as np
import pandas as pd
import pytest

from quantlib.customers.churn import NATIVE_MAX_CATEGORIES, TabularChurnClassifier

FAST = dict(learning_rate=0.1, max_iter=60, max_leaf_nodes=3, min_samples_leaf=20)


def _table(n=800, seed=0, interaction=False):
    """tenure, charges, a contract and a high-noise region; churn linear in them or an XOR of two."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n).astype(float)
    monthly = rng.uniform(20, 110, n)
    contract = rng.choice(["month", "year", "two years"], n)
    region = rng.choice(list("abcdef"), n)
    if interaction:  # risk only where exactly one of two conditions holds: trees see it, a line cannot
        risk = np.where((tenure < 36) ^ (monthly > 65), 2.0, -2.0)
    else:
        risk = 1.2 * (contract == "month") - 0.05 * tenure + 0.02 * (monthly - 65)
    churn = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(int)
    X = pd.DataFrame({"tenure": tenure, "monthly": monthly, "total": np.round(tenure * monthly, 2),
                      "contract": contract, "region": region})
    return X, churn


def _auc(y, p):
    from sklearn.metrics import roc_auc_score
    return roc_auc_score(y, p)


def test_blend_weight_and_iterations_are_chosen_on_the_training_rows_only():
    X, y = _table()
    model = TabularChurnClassifier(**FAST).fit(X.iloc[:600], y[:600])
    results = model.cv_results_
    assert list(results.columns) == ["weight", "log_loss", "auc"] and len(results) == 21
    assert model.blend_weight_ == results.loc[results["log_loss"].idxmin(), "weight"]
    assert 1 <= model.n_iter_ <= FAST["max_iter"] and model.gb_.named_steps["gb"].n_iter_ == model.n_iter_
    # the held-out rows play no part: the same training rows give the same model whatever is scored
    again = TabularChurnClassifier(**FAST).fit(X.iloc[:600], y[:600])
    assert again.blend_weight_ == model.blend_weight_ and again.n_iter_ == model.n_iter_
    assert again.predict_proba(X.iloc[600:])[:, 1] == pytest.approx(model.predict_proba(X.iloc[600:])[:, 1])
    # several tree sizes: the one with the lowest out-of-fold log-loss is the final model's
    sized = TabularChurnClassifier(**{**FAST, "max_leaf_nodes": (3, 7)}).fit(X.iloc[:600], y[:600])
    assert sized.max_leaf_nodes_ in (3, 7)
    assert sized.gb_.named_steps["gb"].max_leaf_nodes == sized.max_leaf_nodes_
    # a fixed weight is used as given, with no cross-validation of the blend
    fixed = TabularChurnClassifier(blend_logistic=0.3, early_stopping=False, **FAST).fit(X, y)
    assert fixed.blend_weight_ == 0.3 and fixed.cv_results_ is None and fixed.n_iter_ == FAST["max_iter"]


def test_the_blend_leans_on_the_model_that_fits_the_data():
    linear = TabularChurnClassifier(**FAST).fit(*_table(seed=1))
    xor = TabularChurnClassifier(**FAST).fit(*_table(seed=1, interaction=True))
    assert linear.blend_weight_ >= 0.5  # churn is linear in the columns: the logistic model carries it
    assert xor.blend_weight_ <= 0.2  # an interaction: the trees carry it
    X, y = _table(seed=2, interaction=True)
    assert _auc(y, xor.predict_proba(X)[:, 1]) > 0.75


def test_scores_are_deterministic_for_a_seed():
    X, y = _table()
    a = TabularChurnClassifier(**FAST, random_state=3).fit(X, y).predict_proba(X)
    b = TabularChurnClassifier(**FAST, random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_ratio_features_are_chosen_from_the_data_not_the_names():
    X, y = _table()
    X["flag"] = (X["region"] == "a").astype(int)  # two values: not a ratio candidate
    model = TabularChurnClassifier(**FAST).fit(X, y)
    assert {a for a, _ in model.ratio_pairs_} == {"tenure", "monthly", "total"}
    assert len(model.ratio_pairs_) == 6
    renamed = X.rename(columns={"tenure": "c1", "monthly": "c2", "total": "c3", "contract": "c4", "region": "c5"})
    other = TabularChurnClassifier(**FAST).fit(renamed, y)
    assert other.predict_proba(renamed)[:, 1] == pytest.approx(model.predict_proba(X)[:, 1])
    off = TabularChurnClassifier(ratios=False, **FAST).fit(X, y)
    assert off.ratio_pairs_ == []


@pytest.mark.parametrize("columns", [["tenure", "monthly", "total"], ["contract", "region"]])
def test_purely_numeric_or_purely_categorical_tables(columns):
    X, y = _table()
    model = TabularChurnClassifier(**FAST).fit(X[columns].iloc[:600], y[:600])
    p = model.predict_proba(X[columns].iloc[600:])[:, 1]
    assert p.shape == (200,) and np.isfinite(p).all() and _auc(y[600:], p) > 0.6


def test_missing_values_and_unseen_categories_are_scored():
    X, y = _table()
    X = X.astype({"contract": object})
    holes = np.random.default_rng(4).random(X.shape) < 0.1
    X = X.mask(holes)
    model = TabularChurnClassifier(**FAST).fit(X.iloc[:600], y[:600])
    test = X.iloc[600:].copy()
    test.iloc[:5, test.columns.get_loc("contract")] = "never seen"
    p = model.predict_proba(test)[:, 1]
    assert np.isfinite(p).all() and _auc(y[600:], p) > 0.6


def test_a_category_per_customer_is_target_encoded_not_split_natively():
    X, y = _table(n=1200)
    X["city"] = [f"city {i % 400}" for i in range(len(X))]  # more categories than HGB splits natively
    model = TabularChurnClassifier(**FAST).fit(X, y)
    assert 400 > NATIVE_MAX_CATEGORIES and model.target_encoded_ == ["city"]
    assert np.isfinite(model.predict_proba(X)[:, 1]).all()


def test_a_class_too_small_to_fold_falls_back_to_fixed_choices():
    X, y = _table(n=60)
    y = np.zeros(60, dtype=int)
    y[:1] = 1  # one churner: no stratified fold can hold it out
    model = TabularChurnClassifier(**FAST).fit(X, y)
    assert model.cv_results_ is None and model.blend_weight_ == 0.5 and model.n_iter_ == FAST["max_iter"]
    with pytest.raises(ValueError, match="blend_logistic"):
        TabularChurnClassifier(blend_logistic="auto").fit(X, y)
