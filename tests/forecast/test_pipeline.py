"""Quote conversion model: recovery of the generator's price effect, calibration on a later
period, timing on hand-made quotes, no leakage, clear errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from quantlib.forecast.pipeline import QuoteConversionModel, time_split, warehouse_snapshot


def _quotes(n=200, seed=0, decision_days=3, start="2024-01-01"):
    """Synthetic decided quotes: cheaper (price ratio < 1) quotes are won more often."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    ratio = rng.uniform(0.8, 1.2, n)
    won = rng.random(n) < 1 / (1 + np.exp(-(0.5 - 6 * (ratio - 1))))
    return pd.DataFrame({
        "quote_id": [f"Q{i}" for i in range(n)], "service_line": rng.choice(["hvac", "plumbing"], n),
        "urgency": rng.choice(["routine", "urgent"], n), "created_at": created,
        "amount": 1000 * ratio, "list_amount": 1000.0,
        "status": np.where(won, "won", "lost"),
        "decided_at": created + pd.Timedelta(days=decision_days),
    })


@pytest.fixture(scope="module")
def snapshot(demo_lake):
    return warehouse_snapshot(demo_lake.gold)


def test_price_effect_negative_and_calibrated_on_later_quotes(snapshot):
    cutoff = "2024-01-31"
    known, held_out = time_split(snapshot["quotes"], cutoff)
    model = QuoteConversionModel().fit(known, as_of=cutoff, jobs=snapshot["jobs"],
                                       economic=snapshot["economic_indicators"])
    # The generator: logit = 0.6 - 5 (price_ratio - 1) + ...
    assert model.coef_["price_ratio"] < 0
    assert model.price_effect_ < -0.03
    assert len(held_out) > 150
    s = model.calibration_report(held_out).iloc[0]
    assert abs(s["mean_predicted"] - s["actual_win_rate"]) < 0.05
    assert s["brier"] < s["brier_base_rate"]
    # Only quotes decided by the cutoff were used.
    assert model.n_train_ == int((known["status"] != "open").sum())


def test_fit_ignores_outcomes_after_as_of():
    q = _quotes()
    cutoff = pd.Timestamp("2024-03-01")
    a = QuoteConversionModel().fit(q, as_of=cutoff)
    changed = q.copy()
    later = changed["decided_at"] > cutoff
    changed.loc[later, "status"] = np.where(changed.loc[later, "status"] == "won", "lost", "won")
    changed.loc[later, "amount"] *= 3
    b = QuoteConversionModel().fit(changed, as_of=cutoff)
    pd.testing.assert_series_equal(a.coef_, b.coef_)
    assert a.n_train_ == b.n_train_ == int((q["decided_at"] <= cutoff).sum())


def test_schedule_follows_fixed_decision_time_and_job_lag():
    q = _quotes(decision_days=3)
    jobs = q[q["status"] == "won"][["quote_id"]].assign(
        completed_at=q.loc[q["status"] == "won", "decided_at"] + pd.Timedelta(days=2))
    model = QuoteConversionModel().fit(q, jobs=jobs)
    as_of = pd.Timestamp("2024-06-01")
    new = q.iloc[:1].assign(created_at=as_of, status="open", decided_at=pd.NaT, amount=900.0)
    sched = model.pipeline_schedule(new, days=10, as_of=as_of)
    p = model.win_probability(new, as_of=as_of).iloc[0]
    # Decided 3 days after creation, completed 2 days after the decision: all on day 5.
    day5 = sched.loc[sched["ds"] == as_of + pd.Timedelta(days=5), "expected_revenue"].iloc[0]
    assert day5 == pytest.approx(900 * p)
    assert sched["expected_revenue"].sum() == pytest.approx(900 * p)
    exp = model.expected_pipeline(new, as_of=as_of).iloc[0]
    assert exp["expected_decision_date"] == as_of + pd.Timedelta(days=3)
    assert exp["expected_revenue_date"] == as_of + pd.Timedelta(days=5)
    assert exp["expected_value"] == pytest.approx(900 * p)


def test_backlog_of_won_quotes_by_hand():
    q = _quotes(n=200, decision_days=3)
    won = q[q["status"] == "won"].reset_index(drop=True)
    # A quarter of the won quotes never become jobs; the others complete 2 or 6 days after
    # the decision, alternately.
    jobbed = won[won.index % 4 != 3].reset_index(drop=True)
    lag = np.where(jobbed.index % 2 == 0, 2, 6)
    done = jobbed["decided_at"] + pd.to_timedelta(lag, unit="D")
    jobs = pd.DataFrame({"quote_id": jobbed["quote_id"], "completed_at": done,
                         "completed_date": done.dt.normalize(), "is_completed": True})
    as_of = pd.Timestamp("2024-08-01")
    late = q.iloc[:1].assign(quote_id="LATE", created_at=as_of - pd.Timedelta(days=7), status="won",
                             decided_at=as_of - pd.Timedelta(days=4), amount=1000.0)
    quotes = pd.concat([q, late], ignore_index=True)
    model = QuoteConversionModel().fit(quotes, as_of=as_of, jobs=jobs)
    sched = model.backlog_schedule(quotes, jobs, days=10, as_of=as_of)
    share = len(jobbed) / len(won)
    p6 = float(np.mean(lag == 6))
    # Decided 4 days ago without a job: it lands only with lag 6, i.e. on day 2, weighted by
    # the chance that it still becomes a job given that it has not yet.
    expected = 1000 * share * p6 / ((1 - share) + share * p6)
    assert sched.loc[sched["ds"] == as_of + pd.Timedelta(days=2), "expected_revenue"].iloc[0] == pytest.approx(expected)
    assert sched["expected_revenue"].sum() == pytest.approx(expected)
    # Quotes that already became jobs are not backlog: without LATE nothing is expected.
    none = model.backlog_schedule(q, jobs, days=10, as_of=as_of)
    assert none["expected_revenue"].sum() == pytest.approx(0.0)


def test_open_pipeline_from_the_warehouse(demo_lake):
    snap = warehouse_snapshot(demo_lake.gold, as_of="2024-06-30")
    quotes = snap["quotes"]
    open_q = quotes[quotes["status"] == "open"]
    model = QuoteConversionModel().fit(quotes, as_of=snap.as_of, jobs=snap["jobs"])
    pipe = model.expected_pipeline(open_q)
    assert len(pipe) == len(open_q)
    assert pipe["p_win"].between(0.2, 0.95).all()
    assert (pipe["expected_decision_date"] > snap.as_of).all()


def test_bad_input_is_a_clear_error():
    q = _quotes()
    with pytest.raises(ValueError, match="missing column"):
        QuoteConversionModel().fit(q.drop(columns="list_amount"))
    with pytest.raises(ValueError, match="list_amount must be positive"):
        QuoteConversionModel().fit(q.assign(list_amount=0.0))
    with pytest.raises(ValueError, match="at least 30 quotes"):
        QuoteConversionModel().fit(q.head(10))
    with pytest.raises(ValueError, match="won and lost"):
        QuoteConversionModel().fit(q.assign(status="won"))
    with pytest.raises(NotFittedError):
        QuoteConversionModel().predict_proba(q)
    with pytest.raises(ValueError, match="model must be"):
        QuoteConversionModel(model="svm").fit(q)
