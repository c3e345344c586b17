"""The read API on a real HTTP server (uvicorn on 127.0.0.1, a free port) over the demo warehouse."""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import time

import duckdb
import httpx
import numpy as np
import pandas as pd
import pytest

from quantlib.api import ApiSettings, GoldSource, create_app
from quantlib.data.opstore import OpsStore
from quantlib.kpi import REGISTRY, Filters, kpi_summary
from quantlib.monitor import PREDICTION_COLUMNS
from quantlib.schedule.history import RunHistory, RunStatus
from tests.api.helpers import serving

TOKEN = "api-test-token"  # nosec B105 (a test's own token)


@pytest.fixture(scope="module")
def served(demo_lake, tmp_path_factory):
    """The API with a token over a copy of gold, an operational store with a forecast and an alert,
    and a run history with one run; yields (client, source, gold path); the server stops after."""
    root = tmp_path_factory.mktemp("api")
    gold = root / "gold.duckdb"
    shutil.copy(demo_lake.gold, gold)
    store = OpsStore(root / "ops.sqlite")
    for run_id, value in (("r-old", 1000.0), ("r-new", 2000.0)):
        rows = [{c: np.nan for c in PREDICTION_COLUMNS} | {
            "run_id": run_id, "model": "revenue_forecast", "version": "1", "params_hash": "h",
            "as_of": dt.date(2024, 6, 30), "quantity": "revenue", "subject": subject,
            "target_start": dt.date(2024, 7, 1), "target_end": dt.date(2024, 7, 30), "value": value,
            "lo_80": 0.8 * value, "hi_80": 1.2 * value} for subject in ("all", "north")]
        store.record_predictions(pd.DataFrame(rows))
    with store.transaction() as con:
        for rule, level, state in (("dso_high", "warning", "open"), ("cash_low", "critical", "open"),
                                   ("old_one", "warning", "resolved")):
            con.execute("INSERT INTO alerts (rule, subject, category, level, state, value, message, first_seen, "
                        "last_seen) VALUES (?, 'all', 'finance', ?, ?, 1.5, 'm', '2024-06-30', '2024-06-30')",
                        (rule, level, state))
    reports = root / "reports"
    reports.mkdir()
    history = RunHistory(reports / ".history.sqlite")
    row = history.start(run_id="run-1", job="weekly_operations", company="mixed_trades", parameters_hash="p",
                        scheduled_for=dt.datetime(2024, 6, 30, 6))
    history.finish(row, RunStatus.SUCCESS, outputs={"html": "weekly.html"})

    source = GoldSource(gold)
    app = create_app(ApiSettings(gold=gold, reports=reports, ops_store=root / "ops.sqlite", token=TOKEN,
                                 warm_days=3), source)
    with serving(app) as url:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        try:
            yield client, source, gold
        finally:
            client.close()
    source.close()


def same(a, b):
    return (a is None and (b is None or (isinstance(b, float) and math.isnan(b)))) or a == pytest.approx(b)


def test_every_kpi_equals_the_kpi_module(served, demo_lake):
    client, _, gold = served
    body = client.get("/kpis").json()
    expected = kpi_summary(gold)
    assert [k["name"] for k in body] == list(expected["kpi"])
    for got, row in zip(body, expected.itertuples(index=False)):
        assert set(got) >= {"name", "value", "unit", "target", "status"}
        assert same(got["value"], row.value) and same(got["target"], row.target)
        assert (got["unit"], got["status"], got["as_of"]) == (row.unit, row.status, str(row.as_of))
    # Another date and a filter, named as in the CLI.
    day = (pd.Timestamp(expected["as_of"].iloc[0]) - pd.Timedelta(days=60)).date()
    region = duckdb.connect(str(gold), read_only=True).execute("SELECT min(region) FROM job_facts").fetchone()[0]
    body = client.get("/kpis", params={"as_of": str(day), "region": region}).json()
    expected = kpi_summary(gold, day, filters=Filters(region=region))
    assert all(same(g["value"], v) for g, v in zip(body, expected["value"]))
    one = client.get(f"/kpis/{body[0]['name']}", params={"as_of": str(day), "region": region}).json()
    assert same(one["value"], expected["value"].iloc[0]) and one["definition"] == REGISTRY[one["name"]].definition


def test_bad_requests_get_a_4xx_that_says_why(served):
    client, _, _ = served
    answer = client.get("/kpis/no_such_kpi")
    assert answer.status_code == 404 and "unknown KPI 'no_such_kpi'" in answer.json()["detail"]
    answer = client.get("/kpis", params={"as_of": "2024-13-45"})
    assert answer.status_code == 400 and answer.json()["detail"].startswith("as_of: '2024-13-45' is not a date")
    answer = client.get("/marts/job_facts", params={"no_such_column": "x"})
    assert answer.status_code == 400 and "no column(s) no_such_column" in answer.json()["detail"]
    answer = client.get("/marts/job_facts", params={"revenue": "lots"})
    assert answer.status_code == 400 and "does not fit its column" in answer.json()["detail"]
    assert client.get("/marts/secrets").status_code == 404
    assert client.get("/marts/job_facts", params={"limit": 0}).status_code == 422
    assert client.get("/forecasts/weather").status_code == 404
    assert client.get("/alerts", params={"state": "maybe"}).status_code == 422


def test_the_token_is_required_except_for_health_and_the_schema(served):
    client, _, _ = served
    bare = httpx.Client(base_url=str(client.base_url), timeout=30)
    for path in ("/kpis", "/marts", "/runs", "/alerts", "/forecasts/revenue"):
        answer = bare.get(path)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert bare.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert bare.get("/health").json()["status"] == "ok"
    schema = bare.get("/openapi.json").json()
    assert {"/kpis", "/kpis/{name}", "/marts/{name}", "/forecasts/{kind}", "/runs", "/alerts"} <= set(schema["paths"])
    assert bare.get("/docs").status_code == 404  # its page would load scripts from a CDN


def test_marts_page_and_filter_in_duckdb(served):
    client, _, gold = served
    con = duckdb.connect(str(gold), read_only=True)
    listed = {m["name"]: m["rows"] for m in client.get("/marts").json()}
    assert listed["job_facts"] == con.execute("SELECT count(*) FROM job_facts").fetchone()[0]
    region = con.execute("SELECT min(region) FROM job_facts").fetchone()[0]
    want = con.execute("SELECT * FROM job_facts WHERE region = ? AND is_completed ORDER BY ALL", [region]).df()
    pages = [client.get("/marts/job_facts", params={"region": region, "is_completed": "true", "limit": 250,
                                                    "offset": offset}).json() for offset in range(0, len(want), 250)]
    assert {p["total"] for p in pages} == {len(want)}
    ids = [r["job_id"] for p in pages for r in p["rows"]]
    assert ids == list(want["job_id"])
    first = pages[0]["rows"][0]
    assert first["revenue"] == pytest.approx(float(want["revenue"].iloc[0]))
    assert [c["name"] for c in pages[0]["columns"]] == list(want.columns)


def test_answers_are_cached_until_the_warehouse_is_rebuilt(served):
    client, source, gold = served
    first = client.get("/kpis/dso")
    again = client.get("/kpis/dso")
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert first.json() == again.json()
    before = client.get("/health").json()["data_version"]
    # A rebuild replaces the file (a new inode), as the warehouse build does.
    copy = gold.with_suffix(".new")
    shutil.copy(gold, copy)
    os.replace(copy, gold)
    assert client.get("/health").json()["data_version"] != before
    fresh = client.get("/kpis/dso")
    assert fresh.headers["x-cache"] == "miss" and fresh.json() == first.json()


def test_forecasts_runs_and_alerts_come_from_the_stores(served):
    client, _, _ = served
    revenue = client.get("/forecasts/revenue").json()
    assert revenue["run_id"] == "r-new" and revenue["as_of"] == "2024-06-30"
    assert [(r["subject"], r["value"], r["hi_80"]) for r in revenue["rows"]] == [("all", 2000.0, 2400.0),
                                                                                  ("north", 2000.0, 2400.0)]
    assert [r["subject"] for r in client.get("/forecasts/revenue", params={"subject": "north"}).json()["rows"]] \
        == ["north"]
    missing = client.get("/forecasts/demand")
    assert missing.status_code == 404 and "no demand forecast recorded yet" in missing.json()["detail"]
    runs = client.get("/runs").json()
    assert [(r["run_id"], r["job"], r["status"], r["outputs"]) for r in runs] == [
        ("run-1", "weekly_operations", "success", {"html": "weekly.html"})]
    assert [a["rule"] for a in client.get("/alerts").json()] == ["cash_low", "dso_high"]
    assert [a["rule"] for a in client.get("/alerts", params={"state": "resolved"}).json()] == ["old_one"]
    assert [a["rule"] for a in client.get("/alerts", params={"level": "warning", "state": "all"}).json()] \
        == ["old_one", "dso_high"]  # worst first, then newest first


def test_the_month_end_summaries_are_ready_before_anyone_asks(served):
    client, source, gold = served
    deadline = time.monotonic() + 60
    while not client.get("/health").json()["warm"] and time.monotonic() < deadline:
        time.sleep(0.1)
    built = kpi_summary(gold)["as_of"].iloc[0]
    month_end = (pd.Timestamp(built) - pd.offsets.MonthEnd(1)).date()  # the last one before the build date
    yesterday = (pd.Timestamp(built) - pd.Timedelta(days=1)).date()
    for params in ({}, {"as_of": str(month_end)}, {"as_of": str(yesterday)}):
        assert client.get("/kpis", params=params).headers["x-cache"] == "hit"


def test_annotations_are_read_by_target(served, tmp_path):
    from quantlib.data.annotations import AnnotationStore

    client, _, gold = served
    store = AnnotationStore(gold.parent / "reports" / ".annotations.sqlite")
    first = store.add("dashboard:executive_dashboard", "Margins thin", "ana")
    store.add("chart:executive_dashboard/daily_revenue", "Storm", "ben", point_x="2024-12-03")
    store.resolve(first.id, by="cy")
    assert [a["text"] for a in client.get("/annotations").json()] == ["Storm"]
    everything = client.get("/annotations", params={"state": "all", "target": "chart:executive"}).json()
    assert [(a["text"], a["point_x"]) for a in everything] == [("Storm", "2024-12-03")]
    assert [a["resolved_by"] for a in client.get("/annotations", params={"state": "all"}).json()] == ["cy", None]


def test_the_maintenance_plan_is_served_worst_health_first(served, tmp_path):
    client, _, gold = served
    store = OpsStore(gold.parent / "ops.sqlite")
    with store.transaction() as con:
        for unit, health, status in (("E1", 0.4, "open"), ("E2", 0.1, "open"), ("E3", 0.2, "closed")):
            con.execute("INSERT INTO work_orders (equipment_id, status, opened_on, health, reason, evidence, "
                        "window_start, window_end, created_at, planned_date, planned_technician) VALUES "
                        "(?, ?, '2024-12-01', ?, 'vibration', '{}', '2024-12-02', '2024-12-20', '2024-12-01', "
                        "'2024-12-05', 'T1')", (unit, status, health))
    orders = client.get("/plans/maintenance").json()
    assert [(o["equipment_id"], o["planned_date"], o["planned_technician"]) for o in orders] == [
        ("E2", "2024-12-05", "T1"), ("E1", "2024-12-05", "T1")]
    assert [o["equipment_id"] for o in client.get("/plans/maintenance", params={"status": "all"}).json()] == [
        "E2", "E3", "E1"]
    assert client.get("/plans/maintenance", params={"status": "later"}).status_code == 422
