"""``quant monitor`` on the generated company: predictions recorded at an earlier as-of, scored as they arrive."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.data.gold import gold_as_of
from quantlib.data.opstore import OpsStore
from quantlib.forecast import RevenueModel, warehouse_snapshot
from quantlib.monitor import PREDICTION_COLUMNS, revenue_prediction_rows

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["monitor", *map(str, args)], env={"QUANT_OPS_DSN": ""})


@pytest.fixture(scope="module")
def gold_facts(demo_lake):
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        built = gold_as_of(con)
        jobs = con.execute("SELECT service_line, completed_date, revenue FROM job_facts WHERE is_completed").df()
    jobs["completed_date"] = pd.to_datetime(jobs["completed_date"]).dt.date
    return built, jobs


@pytest.fixture(scope="module")
def forecast_rows(demo_lake, gold_facts):
    built, _ = gold_facts
    model = RevenueModel(horizons=(30, 90)).fit(warehouse_snapshot(demo_lake.gold, built - dt.timedelta(days=95)))
    return revenue_prediction_rows(model, run_id="cli-1")


def _revenue(jobs, start, end, line=None):
    j = jobs[(jobs["completed_date"] >= start) & (jobs["completed_date"] <= end)]
    return float((j if line is None else j[j["service_line"] == line])["revenue"].sum())


def test_nothing_recorded_is_said_in_one_line(demo_lake, tmp_path):
    done = _run("--lake", demo_lake.root, "--store", tmp_path / "ops.sqlite")
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines() == [done.output.strip()]
    assert "nothing to score" in done.output and "0 prediction(s) recorded" in done.output
    data = json.loads(_run("--lake", demo_lake.root, "--store", tmp_path / "ops.sqlite", "--json").output)
    assert data["runs"] == [] and data["predictions"] == 0


def test_recorded_forecasts_are_scored_and_a_bad_model_decays(demo_lake, gold_facts, forecast_rows, tmp_path):
    built, jobs = gold_facts
    store = OpsStore(tmp_path / "ops.sqlite")
    store.record_predictions(forecast_rows)
    # A crafted service-line model that predicted twice what happened: accuracy 0, far below its target.
    line = jobs["service_line"].dropna().iloc[0]
    start, end = built - dt.timedelta(days=59), built - dt.timedelta(days=30)
    crafted = {c: np.nan for c in PREDICTION_COLUMNS} | {
        "run_id": "crafted", "model": "line_forecast", "version": "0", "params_hash": "h",
        "as_of": start - dt.timedelta(days=1), "quantity": "revenue", "subject": line, "target_start": start,
        "target_end": end, "value": 2 * _revenue(jobs, start, end, line)}
    store.record_predictions(pd.DataFrame([crafted]))

    done = _run("--lake", demo_lake.root, "--store", store.path, "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["as_of"] == str(built) and data["predictions"] == 3 and data["scored"] == 3
    runs = {(r["model"], r["horizon_days"]): r for r in data["runs"]}
    assert set(runs) == {("revenue_forecast", 30), ("revenue_forecast", 90), ("line_forecast", 30)}
    for horizon in (30, 90):
        row = forecast_rows[[(e - a).days == horizon for a, e in zip(forecast_rows["as_of"],
                                                                       forecast_rows["target_end"])]].iloc[0]
        actual = _revenue(jobs, row["target_start"], row["target_end"])
        r = runs[("revenue_forecast", horizon)]
        assert r["metrics"]["accuracy"] == pytest.approx(1 - abs(row["value"] - actual) / actual)
        assert r["metrics"]["wape"] == pytest.approx(abs(row["value"] - actual) / actual)
        assert r["target"] == {30: 0.92, 90: 0.87}[horizon] and r["met"] == (r["value"] >= r["target"])
        assert r["decayed"] == (None if r["met"] else "below target")
    bad = runs[("line_forecast", 30)]
    assert bad["value"] == pytest.approx(0.0) and bad["met"] is False and bad["decayed"] == "below target"
    assert {(r["model"], r["horizon_days"]) for r in data["decayed"]} >= {("line_forecast", 30)}

    table = _run("--lake", demo_lake.root, "--store", store.path)
    assert table.exit_code == 0, table.output
    assert "line_forecast" in table.output and "below target" in table.output
    assert "3 run(s) scored from 3 prediction(s)" in table.output


def test_as_of_scores_only_the_periods_ended_by_then(demo_lake, gold_facts, forecast_rows, tmp_path):
    store = OpsStore(tmp_path / "ops.sqlite")
    store.record_predictions(forecast_rows)
    ends = sorted(forecast_rows["target_end"])
    data = json.loads(_run("--lake", demo_lake.root, "--store", store.path, "--json", "--as-of", ends[0]).output)
    assert data["due"] == 1 and [r["horizon_days"] for r in data["runs"]] == [30]
    before = _run("--lake", demo_lake.root, "--store", store.path, "--as-of", ends[0] - dt.timedelta(days=1))
    assert before.exit_code == 0 and "nothing to score" in before.output and "2 prediction(s) recorded" in before.output


def test_usage_errors_exit_2(demo_lake, tmp_path):
    bad_date = _run("--lake", demo_lake.root, "--store", tmp_path / "o.sqlite", "--as-of", "June")
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    no_lake = _run("--lake", tmp_path / "nolake", "--store", tmp_path / "o.sqlite")
    assert no_lake.exit_code == 2 and "quant warehouse build" in no_lake.output
