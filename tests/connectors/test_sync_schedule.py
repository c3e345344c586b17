"""Scheduled syncs: parameters/sync.yaml over the connectors' defaults, what is due at fixed clocks, quant sync due
(a source without credentials skipped in one line, a failing source not stopping the others, every run recorded
without secrets, the exit status) and quant sync status."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.connectors.base import CONNECTORS, Connector, SyncError, SyncSettings, record_writes
from quantlib.connectors.quickbooks import QuickBooksConnector
from quantlib.connectors.salesforce import SalesforceConnector
from quantlib.data.lake import Lake
from quantlib.schedule.locks import open_lock
from quantlib.schedule.syncs import (
    SyncScheduleError,
    _lock_folder,
    _lock_name,
    due_syncs,
    load_sync_schedule,
    read_runs,
    run_due,
    sync_status,
)
from tests.connectors.accounting_servers import QuickBooksServer
from tests.connectors.test_accounting_sync import QB_TOKEN, _no_secret_in, _qb_entities, _qb_invoice

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def _config(tmp_path, text: str):
    path = tmp_path / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_come_from_the_connectors_and_the_file_overrides_them(tmp_path):
    plans = load_sync_schedule(_config(tmp_path, "sources: {}\n"))
    assert {k: (p.enabled, p.cron, p.frequency) for k, p in plans.items()} == {
        "hubspot": (True, "0 * * * *", "hourly"), "quickbooks": (True, "0 3 * * *", "daily"),
        "salesforce": (True, "*/5 * * * *", "real-time"), "xero": (True, "*/5 * * * *", "real-time")}
    plans = load_sync_schedule(_config(tmp_path, "timezone: America/Chicago\nsources:\n  hubspot: {enabled: false}\n"
                                                 "  quickbooks: {cron: '30 2 * * *'}\n"))
    assert not plans["hubspot"].enabled and plans["quickbooks"].cron == "30 2 * * *" and plans["quickbooks"].configured
    # The cron is read in the file's time zone: 02:30 in Chicago in December is 08:30 UTC.
    assert plans["quickbooks"].previous_slot(at("2026-12-07T09:00")).astimezone(UTC) == at("2026-12-07T08:30")
    with pytest.raises(SyncScheduleError, match="no connector 'pipedrive'; known: hubspot, quickbooks"):
        load_sync_schedule(_config(tmp_path, "sources: {pipedrive: {}}\n"))
    with pytest.raises(SyncScheduleError, match="sources.xero.cron.*not a valid 5-field cron"):
        load_sync_schedule(_config(tmp_path, "sources: {xero: {cron: 'every five minutes'}}\n"))
    with pytest.raises(SyncScheduleError, match="file not found"):
        load_sync_schedule(tmp_path / "missing.yaml")


def test_what_is_due_at_fixed_clocks(tmp_path):
    plans = load_sync_schedule(_config(tmp_path, "sources: {hubspot: {enabled: false}}\n"))

    def due(runs, now):
        return {d.schedule.source: d.slot.astimezone(UTC) for d in due_syncs(plans, runs, at(now))}

    # Never run: every enabled source is due for its latest slot; the disabled one never.
    assert due([], "2026-12-07T10:07") == {"quickbooks": at("2026-12-07T03:00"), "salesforce": at("2026-12-07T10:05"),
                                           "xero": at("2026-12-07T10:05")}
    runs = [{"source": s, "slot": slot.isoformat(), "outcome": "success"} for s, slot in
            due([], "2026-12-07T10:07").items()]
    assert due(runs, "2026-12-07T10:09") == {}  # the same slots: nothing
    assert due(runs, "2026-12-07T10:10") == {"salesforce": at("2026-12-07T10:10"), "xero": at("2026-12-07T10:10")}
    assert due(runs, "2026-12-08T02:59").keys() == {"salesforce", "xero"}
    assert due(runs, "2026-12-08T03:00")["quickbooks"] == at("2026-12-08T03:00")
    # A failed run counts for its slot (reported once, retried at the next slot); a manual run has no slot.
    runs[0] = {**runs[0], "outcome": "failed"}
    runs.append({"source": "quickbooks", "slot": None, "outcome": "success"})
    assert "quickbooks" not in due(runs, "2026-12-07T12:00")


class Broken(Connector):
    """A vendor that refuses every read, echoing the token it was sent (as a careless API might)."""

    name = "broken"
    objects = ("Thing",)
    settings = SyncSettings("hourly", "inbound")
    credentials = ("BROKEN_TOKEN",)

    def read(self, obj, since, env):
        raise SyncError(f"broken Thing: 500 from the vendor for token {env['BROKEN_TOKEN']}")
        yield  # pragma: no cover


def _few_entities() -> dict[str, list[dict]]:
    entities = _qb_entities()
    return {"Customer": entities["Customer"], "Invoice": entities["Invoice"]}


def test_due_skips_without_credentials_and_one_failure_does_not_stop_the_others(tmp_path):
    lake = Lake(tmp_path / "lake")
    connectors = {"broken": Broken, "quickbooks": QuickBooksConnector, "salesforce": SalesforceConnector}
    plans = load_sync_schedule(_config(tmp_path, "sources: {}\n"), connectors=connectors)
    with QuickBooksServer(_few_entities()) as server:
        env = {"QUICKBOOKS_ACCESS_TOKEN": QB_TOKEN, "QUICKBOOKS_REALM_ID": "9130",
               "QUICKBOOKS_API_URL": server.api_url, "BROKEN_TOKEN": "br0ken-SECRET"}
        seen = []
        outcomes = run_due(lake, at("2026-12-07T03:02"), schedules=plans, env=env, connectors=connectors,
                           on_outcome=seen.append)
    assert seen == outcomes
    assert [(o.source, o.status) for o in outcomes] == [("broken", "failed"), ("quickbooks", "success"),
                                                         ("salesforce", "skipped")]
    assert outcomes[2].line.startswith("salesforce: set SALESFORCE_INSTANCE_URL")
    assert "***" in outcomes[0].line and "br0ken-SECRET" not in outcomes[0].line
    assert outcomes[1].line == "quickbooks: synced 2 pages, 3 rows accepted, 2 rejected"
    assert sorted(pd.read_parquet(lake.silver_table("invoices"))["invoice_id"]) == ["130", "131"]

    failed, done = read_runs(lake)  # the skipped source ran nothing, so recorded nothing
    assert (failed["source"], failed["outcome"], failed["trigger"], failed["slot"]) == (
        "broken", "failed", "due", "2026-12-07T03:00:00+00:00")
    assert failed["error"] == "SyncError: broken Thing: 500 from the vendor for token ***"
    assert done["outcome"] == "success" and done["error"] == ""
    assert done["pages"] == {"Customer": 1, "Invoice": 1, "Payment": 0, "Purchase": 0}
    assert done["rows"] == {"Customer": 2, "Invoice": 3, "Payment": 0, "Purchase": 0}
    assert (done["accepted"], done["rejected"]) == (3, 2)
    assert done["cursors"]["Invoice"] == "2024-05-04T10:00:00-07:00" and done["started"] <= done["finished"]
    _no_secret_in(lake, QB_TOKEN, "br0ken-SECRET")

    # Within the same slots nothing runs again; a dry run at the next day's slot runs and records nothing.
    assert run_due(lake, at("2026-12-07T03:50"), schedules=plans, env=env, connectors=connectors) == [
        o for o in outcomes if o.status == "skipped"]
    later = run_due(lake, at("2026-12-08T03:00"), schedules=plans, env=env, connectors=connectors, dry_run=True)
    assert [(o.source, o.status) for o in later] == [("broken", "due"), ("quickbooks", "due"),
                                                      ("salesforce", "skipped")]
    assert len(read_runs(lake)) == 2
    # A source whose previous sync still holds its lock (a slow run overlapping the next call) is left to it.
    with open_lock(_lock_name(lake, "quickbooks"), _lock_folder(lake), env={}):
        busy = run_due(lake, at("2026-12-08T03:00"), schedules=plans, env=env, connectors=connectors,
                       sources=["quickbooks"])
    assert [(o.source, o.status, o.record) for o in busy] == [("quickbooks", "busy", None)]
    assert "still running" in busy[0].line and len(read_runs(lake)) == 2


def test_quant_sync_due_and_status_from_the_command_line(tmp_path):
    lake = tmp_path / "lake"
    config = _config(tmp_path, "sources: {hubspot: {enabled: false}, xero: {cron: '*/15 * * * *'}}\n")
    runner = CliRunner()
    with QuickBooksServer(_few_entities()) as server:
        env = {"QUICKBOOKS_ACCESS_TOKEN": QB_TOKEN, "QUICKBOOKS_REALM_ID": "9130",
               "QUICKBOOKS_API_URL": server.api_url, "SALESFORCE_ACCESS_TOKEN": "", "SALESFORCE_INSTANCE_URL": "",
               "XERO_ACCESS_TOKEN": "", "XERO_TENANT_ID": "", "QUANT_OPS_DSN": ""}
        args = ["--lake", str(lake), "--config", str(config)]
        done = runner.invoke(app, ["sync", "due", "--now", "2026-12-07T03:01", *args], env=env)
        assert done.exit_code == 0, done.output
        lines = done.output.splitlines()
        assert lines[0] == " success quickbooks: synced 2 pages, 3 rows accepted, 2 rejected"
        assert [line.split()[:2] for line in lines[1:]] == [["skipped", "salesforce:"], ["skipped", "xero:"]]

        # The next day's slot with a token QuickBooks refuses: the failure is the exit status, the token nowhere.
        failing = {**env, "QUICKBOOKS_ACCESS_TOKEN": "wrong-SECRET"}
        failed = runner.invoke(app, ["sync", "due", "--now", "2026-12-08T03:00", *args], env=failing)
        assert failed.exit_code == 1 and " failed quickbooks: SyncError: quickbooks Customer" in failed.output
        assert "wrong-SECRET" not in failed.output
        # By hand (quant sync SOURCE is quant sync run SOURCE): recorded too, without a slot.
        server.entities["Invoice"].append(_qb_invoice(133, "2024-05-25T08:00:00-07:00", job=None))
        by_hand = runner.invoke(app, ["sync", "quickbooks", "--object", "Invoice", "--lake", str(lake)], env=env)
        assert by_hand.exit_code == 0, by_hand.output
    record_writes(lake, "xero", pd.DataFrame({"object": ["Contacts"], "record_id": ["c-1"], "field": ["ContactNumber"],
                                              "before": [None], "after": ["Q-58"]}))

    status = runner.invoke(app, ["sync", "status", "--now", "2026-12-08T03:05", *args], env=env)
    assert status.exit_code == 0, status.output
    blocks = {b.split(":")[0]: b for b in status.output.split("\n\n")[1:]}
    assert blocks["hubspot"].startswith("hubspot: disabled, hourly (0 * * * * UTC)")
    assert "next due     disabled" in blocks["hubspot"]
    quickbooks = blocks["quickbooks"]
    assert quickbooks.startswith("quickbooks: enabled, daily (0 3 * * * UTC), inbound")
    assert "credentials  set" in quickbooks and "success (manual; 0 accepted, 1 rejected)" in quickbooks
    assert "next due     2026-12-09T03:00:00Z" in quickbooks  # today's slot was run (and failed)
    assert "cursors      Customer 2024-05-01T09:30:00-07:00, Invoice 2024-05-25T08:00:00-07:00" in quickbooks
    assert "rejected     1 rows in the last run" in quickbooks and "write-back" not in quickbooks
    assert "credentials  xero: set XERO_ACCESS_TOKEN" in blocks["xero"] and "next due     now" in blocks["xero"]
    assert "(*/15 * * * * UTC)" in blocks["xero"] and "on 1 records (audited)" in blocks["xero"]
    assert "write-back   never" in blocks["salesforce"]
    runs = [json.loads(line) for line in (lake / "sync" / "runs.jsonl").read_text().splitlines()]
    assert [(r["trigger"], r["outcome"]) for r in runs] == [("due", "success"), ("due", "failed"),
                                                             ("manual", "success")]
    _no_secret_in(Lake(lake), QB_TOKEN, "wrong-SECRET")
    assert set(CONNECTORS) >= {"hubspot", "quickbooks", "salesforce", "xero"}
    rows = sync_status(lake, at("2026-12-08T03:05"), schedules=load_sync_schedule(config), env={})
    assert [r["rejected_last_run"] for r in rows] == [None, 1, None, None]
