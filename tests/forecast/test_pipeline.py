"""Quote conversion model: recovery of the generator's price effect, calibration on a later
period, timing on hand-made quotes, no leakage, clear errors."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from quantlib.data.price_segments import QUOTE_SEGMENTS, quote_segments
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
    # The generator: logit = 0.6 + b (price_ratio - 1) + ..., b about -4.2 on average.
    assert model.coef_["price_ratio"] < 0
    assert model.price_effect_ < -0.03
    assert len(held_out) > 150
    s = model.calibration_report(held_out).iloc[0]
    # Part of the gap cannot be known at the cutoff: consumer confidence (0.04 a point on the
    # logit) falls through the held-out year below its last value published by then, which the
    # model carries forward. On the demo company (scale 0.4, 790 held-out quotes with repairs
    # quoted) the generator's own win model with that carried-forward confidence averages 0.729
    # against 0.697 won, so about 0.03 of the gap is that drift; 0.06 leaves the model 0.03.
    assert abs(s["mean_predicted"] - s["actual_win_rate"]) < 0.06
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


# -- price slopes by segment -------------------------------------------------------------------

def _segmented(company) -> pd.DataFrame:
    t = company.tables
    return t["quotes"].assign(segment=quote_segments(t["quotes"], t["customers"], t["contracts"]))


@pytest.fixture(scope="module")
def segment_model(mixed_company):
    quotes = _segmented(mixed_company)
    model = QuoteConversionModel(price_terms="segment").fit(
        quotes, economic=mixed_company.tables["economic_indicators"])
    return model, quotes


def test_segment_price_slopes_recover_the_generator(segment_model, mixed_company):
    model, quotes = segment_model
    e = model.elasticity_
    # The truth: each quote's slope (segment + service line + urgency), averaged over the same
    # decided quotes the model averages its slopes over.
    decided = quotes[quotes["status"] != "open"]
    truth = mixed_company.truth_tables["quotes"].set_index("quote_id").loc[decided["quote_id"]]
    true = truth.groupby("segment")["price_coef"].mean()
    assert list(e.index) == list(QUOTE_SEGMENTS)
    assert e["n_quotes"].sum() == len(decided) and (e["n_quotes"] >= 200).all()
    # Tolerance 3 standard errors per segment (1.3 % false alarms over five segments if the errors
    # are right; over seeds 1-20 the z-scores had mean -0.17, sd 1.05 and the 95 % intervals covered
    # 95 of 100 slopes: python -m benchmarks.quote_elasticity --seeds 1 ... 20). The errors must be
    # small enough for that to mean something: below 1.6 on slopes from -2 to -9.
    assert (e["std_error"] < 1.6).all()
    z = (e["coef"] - true.reindex(e.index)) / e["std_error"]
    assert (z.abs() < 3).all(), z
    # The least and the most price-sensitive segments are told apart.
    assert e.loc["premium_loyal", "lower"] > e.loc["price_sensitive", "upper"]
    # Urgent quotes are less price sensitive by 2.0 in the generator.
    urgent = model.price_coef_.loc["urgent"]
    assert abs(urgent["coef"] - 2.0) < 3 * urgent["std_error"]
    assert e["lower"].lt(e["coef"]).all() and e["upper"].gt(e["coef"]).all()


def test_segment_terms_predict_far_off_list_prices_closer_to_the_truth(mixed_company):
    # Where the price is far from list the slope matters most: one pooled slope misses there.
    quotes = _segmented(mixed_company)
    cutoff = pd.Timestamp("2024-02-01")
    known, held_out = time_split(quotes, cutoff)
    truth = mixed_company.truth_tables["quotes"].set_index("quote_id")["p_win"]
    far = (held_out["amount"] / held_out["list_amount"] - 1).abs() > 0.15
    assert far.sum() > 100
    error = {}
    for terms in (None, "segment"):
        model = QuoteConversionModel(price_terms=terms).fit(
            known, as_of=cutoff, economic=mixed_company.tables["economic_indicators"])
        p = model.win_probability(held_out[far]).to_numpy()
        error[terms] = float(np.mean(np.abs(p - truth.loc[held_out.loc[far, "quote_id"]].to_numpy())))
    assert error["segment"] < 0.8 * error[None]


@pytest.mark.parametrize("kind", ["plain", "boosting", "segment"])
def test_price_curve_is_win_probability_over_a_grid_of_prices(kind, segment_model):
    if kind == "segment":
        model, quotes = segment_model
    else:
        quotes = _quotes(n=300)
        model = QuoteConversionModel(model="logistic" if kind == "plain" else "boosting").fit(quotes)
    prices = np.linspace(600.0, 1500.0, 37)
    for i in (0, 5):
        quote = quotes.iloc[i]
        for as_of in (None, quote["created_at"] + pd.Timedelta(days=4)):
            frame = pd.DataFrame([quote] * len(prices)).reset_index(drop=True).assign(amount=prices)
            expected = model.win_probability(frame, as_of=as_of).to_numpy()
            curve = model.price_curve(quote, as_of=as_of)
            assert curve(prices) == pytest.approx(expected, abs=1e-12)
            assert curve(prices[3]) == pytest.approx(expected[[3]], abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        curve([0.0, 10.0])


def test_segment_terms_default_off_and_clear_errors():
    q = _quotes(n=300)
    plain = QuoteConversionModel().fit(q)
    assert plain.elasticity_ is None and plain.price_coef_ is None
    assert "price_ratio" in plain.coef_.index
    with pytest.raises(ValueError, match="quote_segments"):
        QuoteConversionModel(price_terms="segment").fit(q)
    with pytest.raises(ValueError, match="needs model='logistic' or 'bayes'"):
        QuoteConversionModel(model="boosting", price_terms="segment").fit(q.assign(segment="new"))
    with pytest.raises(ValueError, match="needs price_terms='segment'"):
        QuoteConversionModel(model="bayes").fit(q)
    with pytest.raises(ValueError, match="price_terms must be"):
        QuoteConversionModel(price_terms="line").fit(q)
    segmented = q.assign(segment=np.where(np.arange(len(q)) % 2, "new", "standard"))
    model = QuoteConversionModel(price_terms="segment").fit(segmented)
    assert list(model.elasticity_.index) == ["new", "standard"]
    with pytest.raises(ValueError, match="not seen in fit"):
        model.win_probability(segmented.assign(segment="volume"))
    with pytest.raises(ValueError, match="quote_segments"):
        model.win_probability(q)


@pytest.mark.slow  # ~30 s on 2 cores, half of it compiling the model
def test_bayesian_segment_slopes_recover_the_generator_with_partial_pooling(segment_model, mixed_company):
    logistic, quotes = segment_model
    bayes = QuoteConversionModel(model="bayes", price_terms="segment").fit(
        quotes, economic=mixed_company.tables["economic_indicators"])
    decided = quotes[quotes["status"] != "open"]
    truth = mixed_company.truth_tables["quotes"].set_index("quote_id").loc[decided["quote_id"]]
    true = truth.groupby("segment")["price_coef"].mean()
    e = bayes.elasticity_
    assert list(e.index) == list(QUOTE_SEGMENTS)
    # The same tolerance as the regularised fit: 3 posterior standard deviations per segment.
    assert (e["std_error"] < 1.6).all()
    assert (((e["coef"] - true.reindex(e.index)) / e["std_error"]).abs() < 3).all()
    assert ((e["lower"] < e["coef"]) & (e["coef"] < e["upper"])).all()
    # The chains agree on the slopes.
    assert float(az.rhat(bayes.idata_, var_names=["slope"])["slope"].max()) < 1.05
    # Partial pooling draws the segments' slopes towards their common mean: less spread than
    # the separate slopes of the regularised fit (whose ridge on standardised terms is negligible).
    base = [f"segment:{s}" for s in QUOTE_SEGMENTS]
    assert bayes.price_coef_.loc[base, "coef"].std() < logistic.price_coef_.loc[base, "coef"].std()
    # Probabilities from the posterior are probabilities, close to the regularised fit's.
    p_bayes = bayes.win_probability(decided).to_numpy()
    p_logistic = logistic.win_probability(decided).to_numpy()
    assert ((p_bayes > 0) & (p_bayes < 1)).all()
    assert np.mean(np.abs(p_bayes - p_logistic)) < 0.02
