"""``quant alerts`` on the generated company: check (dry run, JSON, lines), list, ack, snooze, resolve."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.config import project_root

runner = CliRunner()
QUIET_ENV = {k: "" for k in ("QUANT_SMTP_HOST", "QUANT_SLACK_WEBHOOK_ALERTS", "TWILIO_ACCOUNT_SID",
                             "QUANT_OPS_DSN")}


def _run(*args):
    return runner.invoke(app, ["alerts", *map(str, args)], env=QUIET_ENV)


@pytest.fixture
def store(tmp_path):
    return tmp_path / "ops.sqlite"


def test_dry_run_prints_what_would_be_sent_and_stores_nothing(demo_lake, store):
    done = _run("check", "--lake", demo_lake.root, "--store", store, "--dry-run", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["dry_run"] and {r["error"] for r in data["rules"]} == {None}
    assert {r["rule"] for r in data["rules"]} >= {"cash_flow_runway", "high_value_churn_risk",
                                                   "satisfaction_below_target", "daily_revenue_shortfall"}
    assert {d["kind"] for d in data["deliveries"]} <= {"alert", "digest"}
    listed = _run("list", "--store", store, "--json")
    assert json.loads(listed.output) == []


def test_check_list_ack_snooze_resolve(demo_lake, store):
    done = _run("check", "--lake", demo_lake.root, "--store", store)
    assert done.exit_code == 0, done.output
    assert "rule(s) checked" in done.output
    alerts = json.loads(_run("list", "--open", "--json", "--store", store).output)
    assert alerts, "the generated company breaches at least one shipped rule"
    for a in alerts:  # one line per alert: level, rule, subject, value
        assert any(a["level"] in line and a["rule"] in line and a["subject"] in line and "value=" in line
                   for line in done.output.splitlines())
    first = alerts[-1]["id"]
    assert "acknowledged #" in _run("ack", first, "--store", store).output
    assert "until" in _run("snooze", first, "--for", "2h", "--store", store).output
    assert _run("snooze", first, "--for", "2 hours", "--store", store).exit_code == 2
    assert "resolved #" in _run("resolve", first, "--store", store).output
    assert _run("resolve", first, "--store", store).exit_code == 2
    assert _run("ack", 99999, "--store", store).exit_code == 2
    # A second check updates the same alerts instead of repeating them.
    again = _run("check", "--lake", demo_lake.root, "--store", store, "--json")
    rows = json.loads(_run("list", "--json", "--store", store).output)
    keys = [(a["rule"], a["subject"]) for a in rows if a["state"] != "resolved"]
    assert len(keys) == len(set(keys))
    # Only the alert resolved by hand (still breaching) opens again, as a new id; the others are not re-sent.
    resent = {i for d in json.loads(again.output)["deliveries"] if d["kind"] == "alert" for i in d["alert_ids"]}
    assert resent.isdisjoint({a["id"] for a in alerts})


def test_check_without_a_warehouse_or_with_bad_rules_is_a_usage_error(tmp_path, store):
    done = _run("check", "--lake", tmp_path / "nolake", "--store", store)
    assert done.exit_code == 2 and "quant warehouse build" in done.output
    rules = tmp_path / "rules"
    shutil.copytree(project_root() / "parameters" / "alerts", rules)
    (rules / "bad.yaml").write_text("rules:\n  - name: x\n    title: t\n    metric: kpi:dso\n    category: weather\n")
    done = _run("check", "--lake", tmp_path / "nolake", "--store", store, "--rules", rules)
    assert done.exit_code == 2 and "bad.yaml: rules.0" in done.output and "category" in done.output


def test_only_and_skip_choose_rules(demo_lake, store):
    done = _run("check", "--lake", demo_lake.root, "--store", store, "--dry-run", "--json",
                "--skip", "cash_flow_runway", "--skip", "high_value_churn_risk")
    assert done.exit_code == 0, done.output
    assert {r["rule"] for r in json.loads(done.output)["rules"]} == {
        "satisfaction_below_target", "daily_revenue_shortfall", "dso_variance", "efficiency_drop",
        "capacity_threshold", "quality_variance", "model_decay", "demand_drop", "price_erosion", "equipment_at_risk",
        # the stream processors' live rules (unavailable until a processor has applied events)
        "live_capacity_threshold", "live_efficiency_drop", "quality_degradation", "rating_degradation",
        "performance_outlier", "equipment_anomaly", "complaint_spike", "revenue_out_of_control"}
    done = _run("check", "--lake", demo_lake.root, "--store", store, "--dry-run", "--json", "--only", "dso_variance")
    assert [r["rule"] for r in json.loads(done.output)["rules"]] == ["dso_variance"]
    assert _run("check", "--lake", demo_lake.root, "--store", store, "--only", "nope").exit_code == 2


def test_an_unreachable_postgres_store_is_a_usage_error_naming_it_without_the_password():
    env = {**QUIET_ENV, "QUANT_OPS_DSN": "postgresql://quant:s3cret-pw@127.0.0.1:9/opsdb?connect_timeout=2"}
    done = runner.invoke(app, ["alerts", "list", "--json"], env=env)
    assert done.exit_code == 2, done.output
    assert "postgresql://quant@127.0.0.1:9/opsdb" in done.output and "s3cret-pw" not in done.output
