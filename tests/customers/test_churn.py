"""Churn risk: the rule score, the calibrated model, reasons, bands, alerts, bad input."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.customers.churn import (
    INTERVENTIONS,
    LearnedChurnModel,
    RuleChurnScorer,
    churn_alerts,
    churn_summary,
    fit_time_split,
    high_value_flags,
    risk_band,
)
from quantlib.customers.features import churn_labels, customer_snapshot
from quantlib.data.gold import gold_as_of
from quantlib.kpi import get_kpi


@pytest.fixture(scope="module")
def gold(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def snapshot(gold):
    return customer_snapshot(gold)


@pytest.fixture(scope="module")
def fitted(gold):
    return fit_time_split(gold, horizon_days=180)


# ----------------------------------------------------------------------------- rule score

def test_rule_score_is_the_warehouse_score_and_reasons_are_the_rules_that_fired(snapshot):
    rule = RuleChurnScorer().fit(snapshot)
    scored = rule.score_frame(snapshot)
    has_jobs = snapshot["frequency_lifetime"] > 0
    assert np.allclose(scored.loc[has_jobs, "score"], snapshot.loc[has_jobs, "churn_score"])
    assert scored.loc[~has_jobs, "score"].isna().all()
    points = rule.contributions(snapshot)
    explained = rule.explain(snapshot)
    fired = explained.groupby("customer_id")["contribution"].sum()
    expected = points.set_index("customer_id").sum(axis=1)
    assert np.allclose(fired, expected.loc[fired.index])
    row = snapshot[has_jobs & (snapshot["late_payment_share"] > 0.3) & (snapshot["disputes"] > 0)].iloc[0]
    text = scored.set_index("customer_id").loc[row["customer_id"], "reasons"]
    assert "paid late" in text and "disputed" in text


def test_scorers_follow_scikit_learns_classifier_interface(snapshot, fitted):
    # predict_proba is (n, 2) by classes_, score is mean accuracy; the table is score_frame's
    model, _ = fitted
    y = (snapshot["churn_score"].to_numpy() >= 0.5).astype(int)
    for scorer in (RuleChurnScorer().fit(snapshot), model):
        proba = scorer.predict_proba(snapshot)
        assert isinstance(proba, np.ndarray) and proba.shape == (len(snapshot), 2)
        assert list(scorer.classes_) == [0, 1]
        frame = scorer.score_frame(snapshot)
        assert np.allclose(proba[:, 1], frame["score"].to_numpy(), equal_nan=True)
        scored = ~np.isnan(proba[:, 1])
        assert np.allclose(proba[scored].sum(axis=1), 1.0)
        pred = scorer.predict(snapshot)
        assert set(np.unique(pred)) <= {0, 1} and (pred[~scored] == 0).all()
        accuracy = scorer.score(snapshot, y)
        assert accuracy == pytest.approx(float(np.mean(pred == y)))
    rule = RuleChurnScorer().fit(snapshot)
    assert rule.score(snapshot, rule.predict(snapshot)) == 1.0


def test_bands_map_to_the_spec_interventions(snapshot):
    scored = RuleChurnScorer().fit(snapshot).score_frame(snapshot)
    for band, intervention in [("high", "immediate outreach"), ("medium", "proactive engagement"),
                               ("low", "quarterly check-in")]:
        rows = scored[scored["band"] == band]
        assert len(rows) and (rows["intervention"] == intervention).all()
    assert (scored.loc[scored["score"] >= 0.7, "band"] == "high").all()
    assert (scored.loc[(scored["score"] >= 0.4) & (scored["score"] < 0.7), "band"] == "medium").all()
    assert list(risk_band([0.69, 0.7, 0.39, 0.4, np.nan])) == ["medium", "high", "low", "medium", "no history"]


def test_summary_risk_share_is_the_kpi(gold):
    summary = churn_summary(gold)
    kpi = get_kpi("churn_risk_share").compute(gold, gold_as_of(gold))
    assert summary["risk_share"] == pytest.approx(kpi)
    top = summary["top_accounts"]
    assert summary["high_value_at_risk"] >= len(top)
    assert (top["score"] > 0.7).all() and top["reasons"].str.len().gt(0).all()


def test_alerts_are_high_value_customers_above_0_7(snapshot):
    active = snapshot[snapshot["is_active"]].reset_index(drop=True)
    scored = RuleChurnScorer().fit(active).score_frame(active)
    alerts = churn_alerts(scored, active)
    high_value = set(active.loc[high_value_flags(active), "customer_id"])
    expected = set(scored.loc[scored["score"] > 0.7, "customer_id"]) & high_value
    assert set(alerts["customer_id"]) == expected and len(expected) > 0
    cut = active.loc[active["monetary_365d"] > 0, "monetary_365d"].quantile(0.8)
    assert (alerts["value_365d"] >= cut).all()
    assert alerts["message"].str.startswith("Churn alert: high-value customer").all()


# ----------------------------------------------------------------------------- bad input

def _odd_customers(snapshot: pd.DataFrame) -> pd.DataFrame:
    base = snapshot[snapshot["is_active"]].iloc[0].copy()
    no_jobs = snapshot[snapshot["frequency_lifetime"] == 0].iloc[0].copy()
    one_day = base.copy()
    one_day.update({"customer_id": "ONE_DAY", "tenure_days": 1, "frequency_lifetime": 1, "frequency_365d": 1,
                    "jobs_last_180d": 1, "jobs_prev_180d": 0, "frequency_trend": np.nan, "spend_trend": np.nan,
                    "recency_days": 0.0, "last_contact_days": 0.0})
    zero_spend = base.copy()
    zero_spend.update({"customer_id": "ZERO_SPEND", "monetary_365d": 0.0, "monetary_lifetime": 0.0,
                       "avg_ticket": 0.0, "revenue_last_180d": 0.0, "revenue_prev_180d": 0.0,
                       "spend_trend": np.nan})
    return pd.DataFrame([no_jobs, one_day, zero_spend]).reset_index(drop=True)


def test_no_jobs_one_day_tenure_and_zero_spend_get_a_clear_outcome(snapshot, fitted):
    odd = _odd_customers(snapshot)
    model, _ = fitted
    for scorer in (RuleChurnScorer().fit(snapshot), model):
        scored = scorer.score_frame(odd).set_index("customer_id")
        no_jobs = scored.iloc[0]
        assert np.isnan(no_jobs["score"]) and no_jobs["band"] == "no history"
        assert no_jobs["reasons"] == "no completed job yet: nothing to score"
        assert no_jobs["intervention"] == INTERVENTIONS["no history"]
        for cid in ("ONE_DAY", "ZERO_SPEND"):
            assert 0.0 <= scored.loc[cid, "score"] <= 1.0
            assert scored.loc[cid, "band"] in ("low", "medium", "high")
    assert not high_value_flags(odd.assign(is_active=True)).iloc[2]  # zero spend is never high-value


def test_malformed_input_is_refused_with_the_field_named(snapshot, fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match="late_payment_share"):
        RuleChurnScorer().fit(snapshot.drop(columns=["late_payment_share"]))
    with pytest.raises(ValueError, match="avg_rating"):
        model.score_frame(snapshot.drop(columns=["avg_rating"]))
    twice = pd.concat([snapshot.head(2), snapshot.head(1)])
    with pytest.raises(ValueError, match="more than once"):
        RuleChurnScorer().fit(twice)
    with pytest.raises(ValueError, match="one class only"):
        LearnedChurnModel().fit(snapshot.head(50), np.zeros(50))
    with pytest.raises(TypeError, match="DataFrame"):
        RuleChurnScorer().fit(snapshot.to_numpy())


# ----------------------------------------------------------------------------- learned model

def test_time_split_uses_no_label_after_the_test_date(fitted, gold):
    _, report = fitted
    end = gold_as_of(gold)
    h = dt.timedelta(days=report["horizon_days"])
    assert report["test_date"] == end - h and report["calibration_date"] == end - 2 * h
    assert all(d + h <= report["calibration_date"] for d in report["train_dates"])


def test_probabilities_are_calibrated_on_held_out_data(fitted, gold):
    """On the held-out test window: better Brier than the base rate, reliable by quintile.

    The calibration window (the half-year before) has its own base rate: lapsing is
    seasonal. So the mean probability may miss the test window's rate by that drift, but
    not by more, and the spread between quintiles (the calibration slope) must hold.
    """
    model, report = fitted
    assert report["test_brier"] < 0.93 * report["test_brier_base_rate"]
    assert report["test_auc"] > report["rule_auc"] + 0.05 and report["test_auc"] > 0.65
    test = customer_snapshot(gold, report["test_date"], active_only=True).merge(
        churn_labels(gold, report["test_date"], report["horizon_days"]), on="customer_id")
    p = model.probability(test)
    y = test["churned"].to_numpy(dtype=float)
    drift = abs(report["calibration_base_rate"] - report["test_base_rate"])
    assert abs(p.mean() - y.mean()) <= drift + 0.02
    bins = pd.qcut(pd.Series(p).rank(method="first"), 5, labels=False)
    table = pd.DataFrame({"p": p - p.mean(), "y": y - y.mean(), "bin": bins}).groupby("bin").mean()
    assert (table["p"] - table["y"]).abs().max() < 0.08, table
    # Observed rates rise by quintile: no step down by more than its sampling error
    # (one standard error of the difference of two neighbouring quintiles' rates).
    counts = pd.Series(bins).value_counts().sort_index().to_numpy()
    rate = table["y"].to_numpy() + y.mean()
    se = np.sqrt(rate * (1 - rate) / counts)
    step_se = np.sqrt(se[1:] ** 2 + se[:-1] ** 2)
    assert (np.diff(rate) > -step_se).all(), table
    assert rate[-1] - rate[0] > 0.3


def test_reasons_are_factors_that_raise_the_probability(fitted, gold):
    model, report = fitted
    snap = customer_snapshot(gold, active_only=True)
    scored = model.score_frame(snap)
    explained = model.explain(snap)
    assert (explained["contribution"] > 0).all()
    top = explained.groupby("customer_id").head(1).set_index("customer_id")
    some = top.index[0]
    first_reason = scored.set_index("customer_id").loc[some, "reasons"].split("; ")[0]
    assert first_reason == top.loc[some, "reason"]
    # Occlusion: the top factor at its reference value lowers the raw probability by that much.
    row = snap[snap["customer_id"] == some].copy()
    factor = top.loc[some, "factor"]
    cols = model.numeric_ + model.categorical_
    base = model.classifier_.predict_proba(row[cols])[0, 1]
    row[factor] = model.reference_[factor].iloc[0]
    assert base - model.classifier_.predict_proba(row[cols])[0, 1] == pytest.approx(top.loc[some, "contribution"])
    assert not explained["factor"].isin(["season_sin", "season_cos"]).any()


def test_monotone_factors_never_lower_the_risk(fitted, gold):
    model, _ = fitted
    snap = customer_snapshot(gold, active_only=True).head(300)
    worse = snap.assign(late_payment_share=snap["late_payment_share"].fillna(0) + 0.5,
                        avg_rating=snap["avg_rating"].fillna(8) - 2,
                        last_contact_days=snap["last_contact_days"] + 60)
    better = snap.assign(late_payment_share=snap["late_payment_share"].fillna(0),
                         avg_rating=snap["avg_rating"].fillna(8))
    assert (model.probability(worse) >= model.probability(better) - 1e-12).all()


# ----------------------------------------------------------------------------- driver recovery

@pytest.fixture(scope="module")
def large_lake(tmp_path_factory):
    """mixed_trades at scale 2 (about 10k customers): enough true churners to rank drivers."""
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile
    from tests.conftest import PROFILES, build_lake

    company = generate_company(load_profile(PROFILES / "mixed_trades.yaml"), seed=11, scale=2.0)
    root = tmp_path_factory.mktemp("churn_large")
    return build_lake(company, root), root / "raw" / "_truth" / "customers.parquet"


#: Snapshot columns that the generator's churn drivers move: late paying, disputing, low
#: satisfaction, no contract, and the 180-day decline before churning.
DRIVER_FEATURES = {
    "avg_days_to_pay", "late_payment_share", "late_payments", "disputes", "avg_rating", "last_rating",
    "has_contract", "frequency_trend", "jobs_last_180d", "recency_days", "last_contact_days", "spend_trend",
}
#: Columns with no part in the generator's churn hazard.
NOISE_FEATURES = {"region", "acquisition_channel", "primary_service_line", "is_priority"}


@pytest.mark.slow  # ~45 s on 2 cores: a 10k-customer lake is generated and built
def test_learned_model_ranks_the_generators_churn_drivers_first(large_lake):
    lake, truth_path = large_lake
    truth = pd.read_parquet(truth_path)[["customer_id", "churn_date"]]

    def true_churn(con, T, horizon):
        # The generator's churn dates, for the customers churn_labels would label.
        active = churn_labels(con, T, horizon)[["customer_id"]].merge(truth, on="customer_id")
        start = pd.Timestamp(T)
        active["churned"] = ((active["churn_date"] > start)
                             & (active["churn_date"] <= start + pd.Timedelta(days=horizon)))
        return active[["customer_id", "churned"]]

    model, report = fit_time_split(lake, horizon_days=180, labels=true_churn, n_train_snapshots=4, step_days=60,
                                   model=LearnedChurnModel(min_samples_leaf=100, max_leaf_nodes=7, max_iter=100))
    con = duckdb.connect(str(lake.gold), read_only=True)
    try:
        test = customer_snapshot(con, report["test_date"], active_only=True).merge(
            true_churn(con, report["test_date"], 180), on="customer_id")
    finally:
        con.close()
    importance = model.permutation_importance(test, test["churned"], n_repeats=3).set_index("feature")["importance"]
    ranked = list(importance.index)
    assert set(ranked[:4]) <= DRIVER_FEATURES, importance.head(8)
    # the payment and satisfaction drivers are both found (in the top 6 of the snapshot's
    # features: on the workforce-realistic company, contact recency and contracts rank above
    # payment), and noise stays near zero
    assert {"avg_days_to_pay", "late_payment_share"} & set(ranked[:6])
    assert {"avg_rating", "last_rating"} & set(ranked[:6])
    assert importance[list(NOISE_FEATURES)].max() < 0.25 * importance.iloc[0]
    assert report["test_brier"] < report["test_brier_base_rate"]


# ----------------------------------------------------------------------------- table model (benchmark command)

def test_table_command_infers_columns_and_scores_every_row_in_order(tmp_path):
    from benchmarks.churn_table import fit_and_score, prepare_columns

    rng = np.random.default_rng(0)
    n = 600
    tenure = rng.integers(1, 72, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    risk = 1.5 * (contract == "Month-to-month") - 0.04 * tenure
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-risk)), "Yes", "No")
    charges = np.round(rng.uniform(20, 110, n) * tenure, 2).astype(str)
    charges[:5] = " "  # Telco's TotalCharges has blanks
    table = pd.DataFrame({"customerID": [f"{i:04d}-XYZ" for i in range(n)], "tenure": tenure,
                          "Contract": contract, "TotalCharges": charges, "Churn": churn})
    numeric, categorical, dropped = prepare_columns(table, "Churn")
    assert dropped == ["customerID"] and set(numeric) == {"tenure", "TotalCharges"} and categorical == ["Contract"]
    table.iloc[:400].to_csv(tmp_path / "train.csv", index=False)
    table.iloc[400:].drop(columns=["Churn"]).to_csv(tmp_path / "score.csv", index=False)  # no target
    fit_and_score(tmp_path / "train.csv", tmp_path / "score.csv", "Churn", "Yes", tmp_path / "out.csv")
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["score"] and len(out) == 200 and out["score"].between(0, 1).all()
    from sklearn.metrics import roc_auc_score
    # as good as the generator's own risk (AUC 0.70 on these 200 rows), within the noise of 200 rows
    held_out = table["Churn"].iloc[400:] == "Yes"
    assert roc_auc_score(held_out, out["score"]) > roc_auc_score(held_out, risk[400:]) - 0.03
    # one score per row, in order: reversing SCORE reverses OUT
    table.iloc[400:][::-1].drop(columns=["Churn"]).to_csv(tmp_path / "reversed.csv", index=False)
    fit_and_score(tmp_path / "train.csv", tmp_path / "reversed.csv", "Churn", "Yes", tmp_path / "out2.csv")
    assert pd.read_csv(tmp_path / "out2.csv")["score"].to_numpy() == pytest.approx(out["score"].to_numpy()[::-1])
    with pytest.raises(SystemExit, match="no row"):
        fit_and_score(tmp_path / "train.csv", tmp_path / "score.csv", "Churn", "yes", tmp_path / "bad.csv")
