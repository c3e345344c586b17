"""Model monitoring: records from real engine fits, actuals from gold, scores and decay flags."""

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.customers.clv import company_clv
from quantlib.data.gold import gold_as_of
from quantlib.forecast import (
    CashFlowSimulator,
    DemandForecaster,
    RevenueModel,
    demand_series,
    external_factors,
    warehouse_snapshot,
)
from quantlib.forecast.models import SeasonalNaive
from quantlib.monitor import (
    PREDICTION_COLUMNS,
    cash_in_prediction_rows,
    churn_prediction_rows,
    clv_prediction_rows,
    decay_flags,
    demand_prediction_rows,
    params_hash,
    realised,
    revenue_prediction_rows,
    score_predictions,
)


@pytest.fixture(scope="module")
def jobs(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        frame = con.execute("SELECT customer_id, contract_id, service_line, is_completed, completed_date, revenue "
                            "FROM job_facts").df()
        built = gold_as_of(con)
    finally:
        con.close()
    frame["completed_date"] = pd.to_datetime(frame["completed_date"]).dt.date
    return frame, built


def _completed_revenue(jobs, start, end, service_line=None):
    j = jobs[jobs["is_completed"] & (jobs["completed_date"] >= start) & (jobs["completed_date"] <= end)]
    if service_line is not None:
        j = j[j["service_line"] == service_line]
    return float(j["revenue"].sum())


def _row(**values):
    base = {c: np.nan for c in PREDICTION_COLUMNS}
    base.update(run_id="t", model="m", version="0", params_hash="h", window_start=dt.date(2020, 1, 1))
    base.update(values)
    return base


def test_params_hash_is_stable_and_order_free():
    assert params_hash({"a": 1, "b": (2, 3)}) == params_hash({"b": (2, 3), "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})


def test_revenue_forecast_scored_against_gold_as_the_spec_defines_accuracy(demo_lake, jobs):
    frame, built = jobs
    as_of = built - dt.timedelta(days=95)
    model = RevenueModel(horizons=(30, 90)).fit(warehouse_snapshot(demo_lake.gold, as_of))
    rows = revenue_prediction_rows(model, run_id="run-1")
    assert list(rows.columns) == PREDICTION_COLUMNS
    assert rows["as_of"].tolist() == [as_of, as_of]
    got = realised(demo_lake.gold, rows)
    assert got["arrived"].all()
    for _, r in got.iterrows():
        assert r["actual"] == pytest.approx(_completed_revenue(frame, r["target_start"], r["target_end"]))
    scores = score_predictions(got)
    assert scores["horizon_days"].tolist() == [30, 90]
    for _, s in scores.iterrows():
        r = got[[(e - as_of).days == s["horizon_days"] for e in got["target_end"]]].iloc[0]
        assert s["accuracy"] == pytest.approx(1 - abs(r["value"] - r["actual"]) / r["actual"])
        assert s["metric"] == "accuracy" and s["target"] == {30: 0.92, 90: 0.87}[s["horizon_days"]]
        assert s["met"] == (s["accuracy"] >= s["target"])


def test_demand_forecast_per_service_line_scored_on_the_jobs_asked_for(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        built = gold_as_of(con)
        requests = con.execute("SELECT service_line, coalesce(requested_date, scheduled_date) AS day FROM job_facts "
                               "WHERE contract_id IS NULL").df()
    finally:
        con.close()
    requests["day"] = pd.to_datetime(requests["day"]).dt.date
    series = demand_series(demo_lake.gold, freq="W", end=built - dt.timedelta(days=70))
    factors = external_factors(demo_lake.gold, "W", as_of=built - dt.timedelta(days=70))
    fc = DemandForecaster(model=SeasonalNaive()).fit(series, factors)
    forecast = fc.predict(6, level=(80,))
    rows = demand_prediction_rows(fc, forecast, series, "run-1", horizons=(4, 13))  # 13 > 6 weeks: left out
    assert list(rows.columns) == PREDICTION_COLUMNS and set(rows["quantity"]) == {"jobs"}
    lines = sorted(series["service_line"].unique())
    assert sorted(rows["subject"]) == lines  # one row per line, the 4-week total
    as_of = rows["as_of"].iloc[0]
    assert as_of.weekday() == 6 and as_of == rows["window_end"].iloc[0]  # the Sunday ending the last full week
    assert (rows["target_end"] - rows["as_of"]).map(lambda d: d.days).tolist() == [28] * len(lines)
    by_line = forecast.assign(service_line=forecast["series_id"].str.split("/").str[0])
    first4 = by_line[by_line["ds"] <= sorted(by_line["ds"].unique())[3]].groupby("service_line")["yhat"].sum()
    assert rows.set_index("subject")["value"].to_dict() == pytest.approx(first4.to_dict())
    got = realised(demo_lake.gold, rows)
    assert got["arrived"].all()
    start, end = got["target_start"].iloc[0], got["target_end"].iloc[0]
    inside = requests[(requests["day"] >= start) & (requests["day"] <= end)]
    assert got.set_index("subject")["actual"].to_dict() == inside.groupby("service_line").size().astype(float).to_dict()
    [score] = score_predictions(got).to_dict("records")
    total_f, total_y = got["value"].sum(), got["actual"].sum()
    assert score["accuracy"] == pytest.approx(1 - abs(total_f - total_y) / total_y)  # of the company total
    assert score["wape"] == pytest.approx((got["value"] - got["actual"]).abs().sum() / total_y)  # across lines
    assert score["horizon_days"] == 28 and score["target"] == 0.85


def test_cash_collections_scored_against_the_payments_received(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        built = gold_as_of(con)
        payments = con.execute("SELECT paid_date::DATE AS day, amount FROM payments").df()
    finally:
        con.close()
    payments["day"] = pd.to_datetime(payments["day"]).dt.date
    origin = built - dt.timedelta(days=70)
    snapshot = warehouse_snapshot(demo_lake.gold, origin)
    fc = CashFlowSimulator(horizon=60, n_sims=100, calibration_origins=0).fit(snapshot)
    rows = cash_in_prediction_rows(fc, "run-1", windows=(30, 60, 90))  # 90 > the horizon: cut to 60, once
    assert rows["as_of"].tolist() == [origin, origin] and set(rows["quantity"]) == {"cash_in"}
    assert [(e - origin).days for e in rows["target_end"]] == [30, 60]
    assert rows["value"].tolist() == pytest.approx(fc.totals((30, 60))["inflow"].tolist())
    got = realised(demo_lake.gold, rows)
    for r in got.itertuples():
        paid = payments[(payments["day"] >= r.target_start) & (payments["day"] <= r.target_end)]["amount"].sum()
        assert r.actual == pytest.approx(paid)
    scores = score_predictions(got)
    assert scores["target"].tolist() == [0.95, 0.88]  # the cash-flow targets per horizon
    for s_row, r in zip(scores.itertuples(), got.itertuples()):
        assert s_row.accuracy == pytest.approx(1 - abs(r.value - r.actual) / r.actual)
        assert s_row.coverage_80 == float(r.lo_80 <= r.actual <= r.hi_80)


def test_periods_not_ended_have_not_arrived_and_service_lines_are_subjects(demo_lake, jobs):
    frame, built = jobs
    line = frame["service_line"].dropna().iloc[0]
    start = built - dt.timedelta(days=29)
    rows = pd.DataFrame([
        _row(quantity="revenue", subject=line, as_of=start - dt.timedelta(days=1), window_end=start,
             target_start=start, target_end=built, value=1.0),
        _row(quantity="revenue", subject="all", as_of=built, window_end=built,
             target_start=built + dt.timedelta(days=1), target_end=built + dt.timedelta(days=30), value=1.0),
    ])
    got = realised(demo_lake.gold, rows)
    assert got["arrived"].tolist() == [True, False]
    assert got["actual"].iloc[0] == pytest.approx(_completed_revenue(frame, start, built, line))
    assert np.isnan(got["actual"].iloc[1])
    assert len(score_predictions(got)) == 1


def test_churn_predictions_get_lapse_labels_and_classification_scores(demo_lake, jobs):
    frame, built = jobs
    as_of = built - dt.timedelta(days=120)
    window = frame[frame["is_completed"] & (frame["completed_date"] > as_of - dt.timedelta(days=365))
                   & (frame["completed_date"] <= as_of)]
    active = sorted(window["customer_id"].unique())[:60]
    after = frame[frame["is_completed"] & (frame["completed_date"] > as_of)
                  & (frame["completed_date"] <= as_of + dt.timedelta(days=90))]
    came_back = set(after["customer_id"])
    scores = pd.DataFrame({"customer_id": active + ["nobody"],
                           "score": [0.1] * len(active) + [np.nan]})
    rows = churn_prediction_rows(scores, "run-c", as_of=as_of, horizon_days=90, params={"model": "rule"})
    assert len(rows) == len(active)  # the unscored customer is no prediction
    got = realised(demo_lake.gold, rows).set_index("subject")
    # A customer with a completed job in the window did not lapse (independent of churn_labels).
    for customer in set(active) & came_back:
        assert got.loc[customer, "actual"] == 0.0
    scored = score_predictions(got.reset_index())
    assert scored["metric"].iloc[0] == "classification_accuracy" and scored["target"].iloc[0] == 0.80
    # Every score is below the threshold: exactly the non-churners are classified right.
    assert scored["classification_accuracy"].iloc[0] == pytest.approx(1 - got["actual"].mean())


def test_churn_metrics_on_crafted_outcomes():
    day = dt.date(2024, 1, 1)
    probs = [0.9, 0.8, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25]
    outcome = [1, 1, 0, 0, 1, 0, 0, 0]
    rows = pd.DataFrame([_row(quantity="churn", subject=str(i), as_of=day, window_end=day,
                              target_start=day + dt.timedelta(days=1), target_end=day + dt.timedelta(days=90),
                              value=p) for i, p in enumerate(probs)])
    rows["arrived"], rows["actual"] = True, np.array(outcome, float)
    s = score_predictions(rows, churn_threshold=0.7).iloc[0]
    assert s["n"] == 8 and s["positive_rate"] == pytest.approx(3 / 8)
    assert s["classification_accuracy"] == pytest.approx(7 / 8)  # the 0.25 churner is missed
    assert s["brier"] == pytest.approx(np.mean((np.array(probs) - np.array(outcome)) ** 2))
    # Bins: 0.9 (1 vs 0.9), 0.8 (1 vs 0.8), 0.2 (0 vs 0.2), 0.1 (0 vs 0.1), 0.25 x4 (0.25 vs 0.25).
    assert s["calibration_error"] == pytest.approx((0.1 + 0.2 + 0.2 + 0.1 + 0) / 8)
    # 0.9 and 0.8 outrank all 5 negatives; the 0.25 churner beats 0.2 and 0.1 and ties three.
    assert s["auc"] == pytest.approx((5 + 5 + 2 + 3 * 0.5) / 15)


def test_clv_rows_are_checked_against_purchases_in_the_next_90_days(demo_lake, jobs):
    frame, built = jobs
    as_of = built - dt.timedelta(days=100)
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        result = company_clv(con, as_of)
    finally:
        con.close()
    rows = clv_prediction_rows(result, "run-v")
    got = realised(demo_lake.gold, rows).set_index("subject")
    end = as_of + dt.timedelta(days=90)
    bought = frame[frame["is_completed"] & (frame["revenue"] > 0) & frame["contract_id"].isna()
                   & (frame["completed_date"] > as_of) & (frame["completed_date"] <= end)]
    spent = bought.groupby("customer_id")["revenue"].sum()
    expected = spent.reindex(got.index).fillna(0.0)
    np.testing.assert_allclose(got["actual"].to_numpy(), expected.to_numpy(), rtol=1e-9)
    s = score_predictions(got.reset_index()).iloc[0]
    assert s["metric"] == "wape" and np.isnan(s["target"]) and s["met"] is None
    assert s["wape"] == pytest.approx(np.abs(got["value"] - got["actual"]).sum() / got["actual"].sum())


def _scores(values, horizon=30):
    days = [dt.date(2024, m, 1) for m in range(1, len(values) + 1)]
    return pd.DataFrame({"model": "revenue_forecast", "quantity": "revenue", "as_of": days, "horizon_days": horizon,
                         "n": 1, "metric": "accuracy", "value": values, "target": 0.92,
                         "met": [v >= 0.92 for v in values]})


def test_decay_flags_the_latest_run_below_target_or_its_own_baseline():
    assert decay_flags(_scores([0.95, 0.94, 0.96, 0.93])).empty
    both = decay_flags(_scores([0.95, 0.94, 0.96, 0.85]))
    assert both["reason"].tolist() == ["below target and below its own baseline"]
    assert both["baseline"].iloc[0] == pytest.approx(0.95)
    only_baseline = decay_flags(_scores([0.99, 0.99, 0.99, 0.93]), tolerance=0.05)
    assert only_baseline["reason"].tolist() == ["below its own baseline"]
    # An older bad run is history, not an alert: only the latest run is judged.
    assert decay_flags(_scores([0.80, 0.95, 0.95, 0.95])).empty


def test_unknown_quantity_and_missing_columns_are_refused(demo_lake):
    with pytest.raises(ValueError, match="missing column"):
        realised(demo_lake.gold, pd.DataFrame({"model": ["m"]}))
    rows = pd.DataFrame([_row(quantity="weather", subject="all", as_of=dt.date(2024, 1, 1),
                              window_end=dt.date(2024, 1, 1), target_start=dt.date(2024, 1, 2),
                              target_end=dt.date(2024, 1, 3), value=1.0)])
    with pytest.raises(ValueError, match="no realiser for quantity"):
        realised(demo_lake.gold, rows)


def test_churn_run_rows_and_recording_into_the_store(demo_lake, jobs, tmp_path):
    from quantlib.customers.views.churn import score_customers
    from quantlib.data.opstore import OpsStore
    from quantlib.monitor import churn_run_rows, record_predictions, run_label

    _, built = jobs
    as_of = built - dt.timedelta(days=200)
    run = score_customers(demo_lake, as_of, scorer="rule", segments=False)
    rows = churn_run_rows(run, run_label("churn_risk", dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)),
                          horizon_days=90)
    assert rows["run_id"].unique().tolist() == ["churn_risk@2026-01-02T03:04:05.000006Z"]
    assert len(rows) == run.scored["score"].notna().sum()
    assert (rows["target_end"] == as_of + dt.timedelta(days=90)).all() and (rows["window_start"] == as_of).all()
    store = OpsStore(tmp_path / "ops.sqlite")
    assert record_predictions(rows, store=store) == len(rows)
    back = store.prediction_frame()
    pd.testing.assert_frame_equal(back[PREDICTION_COLUMNS], rows.reset_index(drop=True), check_dtype=False)
    # What the store returns scores exactly like the rows that went in.
    pd.testing.assert_frame_equal(score_predictions(realised(demo_lake.gold, back[PREDICTION_COLUMNS])),
                                  score_predictions(realised(demo_lake.gold, rows)))
