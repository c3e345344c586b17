"""The success scorecard against figures computed independently from the generated company."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from quantlib.risk.scorecard import (
    METRICS,
    SCORECARD_COLUMNS,
    ScorecardError,
    load_scorecard_parameters,
    success_scorecard,
)


@pytest.fixture(scope="module")
def card(demo_lake):
    return success_scorecard(demo_lake, 2023).set_index("metric")


def _period(series, start, end):
    day = pd.to_datetime(series).dt.normalize()
    return (day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))


def test_periods_are_the_baseline_year_and_the_year_to_as_of(card, as_of):
    assert card.attrs["baseline"] == (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    start, end = card.attrs["current"]
    assert end == as_of and start == (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date() + dt.timedelta(days=1)
    assert list(card.reset_index().columns) == SCORECARD_COLUMNS
    assert list(card.index) == list(METRICS)


def test_revenue_growth_and_completion_time(card, silver):
    jobs = silver("jobs")
    done = jobs[jobs["status"] == "completed"]
    start, end = card.attrs["current"]
    base = done[_period(done["completed_at"], "2023-01-01", "2023-12-31")]
    now = done[_period(done["completed_at"], start, end)]
    row = card.loc["revenue_growth"]
    assert row["baseline"] == pytest.approx(base["revenue"].sum())
    assert row["current"] == pytest.approx(now["revenue"].sum())
    assert row["change"] == pytest.approx(now["revenue"].sum() / base["revenue"].sum() - 1)
    assert row["met"] == (row["change"] >= 0.20)
    time = card.loc["job_completion_time"]
    assert time["current"] == pytest.approx(now["labor_hours"].mean())
    assert time["met"] == (time["change"] <= -0.20)


def test_satisfaction_is_on_the_five_point_scale(card, silver):
    jobs = silver("jobs")
    start, end = card.attrs["current"]
    rated = jobs[(jobs["status"] == "completed") & jobs["rating"].notna() & (jobs["revenue"] > 0)
                 & _period(jobs["completed_at"], start, end)]
    weighted = (rated["rating"] * rated["revenue"]).sum() / rated["revenue"].sum()
    row = card.loc["satisfaction"]
    assert row["current"] == pytest.approx(weighted / 2)
    assert row["target"] == 4.5 and row["kind"] == "level"
    assert row["met"] == (weighted >= 9.0)
    assert row["change"] == pytest.approx(row["current"] - row["baseline"])


def test_operational_costs_and_downtime(card, silver):
    start, end = card.attrs["current"]
    jobs = silver("jobs")
    done = jobs[(jobs["status"] == "completed") & _period(jobs["completed_at"], start, end)]
    direct = (done["labor_cost"] + done["material_cost"] + done["equipment_cost"]).sum()
    expenses = silver("expenses")
    day = pd.to_datetime(expenses["date"])
    variable = expenses[(expenses["kind"] != "fixed") & _period(expenses["date"], start, end)]["amount"].sum()
    fixed = 0.0
    for amount, when in zip(expenses.loc[expenses["kind"] == "fixed", "amount"], day[expenses["kind"] == "fixed"]):
        month = pd.date_range(when.replace(day=1), when + pd.offsets.MonthEnd(0), freq="D")
        fixed += amount * ((month >= pd.Timestamp(start)) & (month <= pd.Timestamp(end))).sum() / len(month)
    assert card.loc["operational_costs", "current"] == pytest.approx(direct + variable + fixed)
    events = silver("maintenance_events")
    downtime = events[_period(events["scheduled_date"], start, end)]["downtime_hours"].sum()
    assert card.loc["equipment_downtime", "current"] == pytest.approx(downtime)


def test_churn_accuracy_is_the_rule_at_the_threshold_over_the_realised_window(card, demo_lake):
    from sklearn.metrics import roc_auc_score

    from quantlib.customers.churn import RuleChurnScorer
    from quantlib.customers.features import churn_labels, customer_snapshot

    origin = card.attrs["current"][1] - dt.timedelta(days=90)
    labels = churn_labels(demo_lake.gold, origin, 90)
    snap = customer_snapshot(demo_lake.gold, origin)
    scored = RuleChurnScorer().fit(snap).score_frame(snap)
    frame = labels.merge(scored[["customer_id", "score"]], on="customer_id", how="left")
    accuracy = np.mean((frame["score"].fillna(0) >= 0.7) == frame["churned"])
    assert card.loc["churn_prediction_accuracy", "current"] == pytest.approx(accuracy)
    assert card.loc["churn_prediction_auc", "current"] == pytest.approx(
        roc_auc_score(frame["churned"], frame["score"].fillna(0).round(9)))
    assert math.isnan(card.loc["churn_prediction_auc", "target"]) and card.loc["churn_prediction_auc", "met"] is None


def test_unmeasurable_metrics_say_why_and_carry_no_number(card):
    for name in ("demand_forecast_accuracy", "revenue_forecast_accuracy_30d", "administrative_overhead"):
        row = card.loc[name]
        assert math.isnan(row["baseline"]) and math.isnan(row["current"]) and row["met"] is None
        assert row["note"]


def test_administrative_categories_make_overhead_measurable(demo_lake, silver):
    params = load_scorecard_parameters().model_copy(update={"administrative_categories": ["office_salaries"]})
    row = success_scorecard(demo_lake, 2023, params=params).set_index("metric").loc["administrative_overhead"]
    expenses = silver("expenses")
    salaries = expenses[(expenses["category"] == "office_salaries") & _period(expenses["date"], "2023-01-01",
                                                                              "2023-12-31")]
    # Fixed monthly charges dated inside 2023 accrue wholly inside it.
    assert row["baseline"] == pytest.approx(salaries["amount"].sum())
    assert np.isfinite(row["change"]) and row["met"] in (True, False)


def test_met_follows_the_target_side():
    from quantlib.risk.scorecard import _met

    assert _met("relative", "higher", 0.20, 0, 0.20) and not _met("relative", "higher", 0.19, 0, 0.20)
    assert _met("relative", "lower", -0.20, 0, -0.20) and not _met("relative", "lower", -0.19, 0, -0.20)
    assert _met("points", "higher", 0.05, 0, 0.05)
    assert _met("level", "higher", 0, 4.5, 4.5) and not _met("level", "higher", 0, 4.49, 4.5)


@pytest.mark.parametrize("year, message", [(2024, "overlaps"), (2020, "before the data")])
def test_baseline_year_must_fit(demo_lake, year, message):
    with pytest.raises(ScorecardError, match=message):
        success_scorecard(demo_lake, year)


def test_forecast_accuracies_come_from_recorded_runs_as_their_periods_ended(demo_lake, as_of, tmp_path):
    import duckdb

    from quantlib.data.opstore import OpsStore
    from quantlib.forecast import RevenueModel, warehouse_snapshot
    from quantlib.monitor import revenue_prediction_rows

    store = OpsStore(tmp_path / "ops.sqlite")
    card = success_scorecard(demo_lake, 2023, store=store).set_index("metric")
    assert "no revenue_forecast prediction recorded" in card.loc["revenue_forecast_accuracy_30d", "note"]
    # Two monthly runs whose 30-day periods end inside the current year, one whose period ends after as_of.
    origins = [as_of - dt.timedelta(days=d) for d in (95, 65, 10)]
    for origin in origins:
        model = RevenueModel(horizons=(30,)).fit(warehouse_snapshot(demo_lake.gold, origin))
        store.record_predictions(revenue_prediction_rows(model, run_id=f"run-{origin}"))
    recorded = store.prediction_frame(model="revenue_forecast")
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        actual = [con.execute("SELECT sum(revenue) FROM job_facts WHERE is_completed AND completed_date "
                              "BETWEEN ? AND ?", [r.target_start, r.target_end]).fetchone()[0]
                  for r in recorded.itertuples()]
    accuracy = [1 - abs(f - y) / y for f, y in zip(recorded["value"], actual)]
    row = success_scorecard(demo_lake, 2023, store=store).set_index("metric").loc["revenue_forecast_accuracy_30d"]
    assert row["current"] == pytest.approx(np.mean(accuracy[:2]))  # the third has not happened yet
    assert row["met"] == (row["current"] >= 0.90) and "mean of 2 recorded runs" in row["note"]
    assert math.isnan(row["baseline"]) and "baseline: no recorded revenue_forecast run" in row["note"]



def test_the_environments_store_is_read_and_never_created(demo_lake, monkeypatch, tmp_path):
    path = tmp_path / "absent" / "ops.sqlite"
    monkeypatch.setenv("QUANT_OPS_DB", str(path))
    row = success_scorecard(demo_lake, 2023).set_index("metric").loc["demand_forecast_accuracy"]
    assert math.isnan(row["current"]) and "no demand_forecast prediction recorded" in row["note"]
    assert not path.exists() and not path.parent.exists()
