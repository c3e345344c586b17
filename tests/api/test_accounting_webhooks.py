"""The accounting webhooks of ``quant webhooks serve``: QuickBooks' and Xero's signatures checked (Xero's
intent-to-receive answered 200 / 401), a verified notification recorded in the lake and the changed
records synced from the event's time against local vendor servers; a forged one changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pandas as pd
from fastapi.testclient import TestClient

from quantlib.api.webhooks import create_webhook_app
from quantlib.connectors.events import read_events, read_webhook_syncs
from quantlib.data.lake import Lake
from tests.connectors.accounting_servers import QuickBooksServer, XeroServer, xero_date
from tests.connectors.test_accounting_sync import QB_TOKEN, XERO_TOKEN, _qb_invoice, _xero_invoice

VERIFIER, XERO_KEY = "intuit-VERIFIER-secret", "xero-WEBHOOK-key-secret"


def _sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _lake_text(lake: Lake) -> bytes:
    return b"".join(p.read_bytes() for p in lake.root.rglob("*") if p.is_file())


def test_quickbooks_notification_is_verified_recorded_and_synced(tmp_path):
    lake = Lake(tmp_path / "lake")
    invoices = [_qb_invoice(130, "2024-05-02T10:00:00-07:00"), _qb_invoice(140, "2024-05-25T08:00:00-07:00",
                                                                          job="J-9")]
    with QuickBooksServer({"Invoice": invoices}) as server:
        env = {"QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN": VERIFIER, "QUICKBOOKS_ACCESS_TOKEN": QB_TOKEN,
               "QUICKBOOKS_REALM_ID": "9130", "QUICKBOOKS_API_URL": server.api_url}
        client = TestClient(create_webhook_app(env=env, lake=lake.root))
        body = json.dumps({"eventNotifications": [{"realmId": "9130", "dataChangeEvent": {"entities": [
            {"name": "Invoice", "id": "140", "operation": "Update", "lastUpdated": "2024-05-25T15:00:00.000Z"},
            {"name": "Vendor", "id": "7", "operation": "Create", "lastUpdated": "2024-05-25T15:00:01.000Z"}]}}]}
        ).encode()

        for forged in ({}, {"intuit-signature": _sign(body, "not-the-token")}, {"intuit-signature": "!!"}):
            answer = client.post("/quickbooks/webhook", content=body, headers=forged)
            assert answer.status_code == 401 and VERIFIER not in answer.text
        assert server.requests == [] and not (lake.root / "sync").exists()  # nothing changed

        answer = client.post("/quickbooks/webhook", content=body, headers={"intuit-signature": _sign(body, VERIFIER)})
        assert answer.status_code == 200
        events = read_events(lake)
        assert events[["object", "record_id", "operation", "synced"]].values.tolist() == [
            ["Invoice", "140", "Update", True], ["Vendor", "7", "Create", False]]  # Quant reads no vendors
        # The changed object only, from just before the event (then its deletions, from Change Data Capture).
        [query] = [r["body"] for r in server.requests if r["method"] == "POST"]
        assert "FROM Invoice WHERE MetaData.LastUpdatedTime > '2024-05-25T14:59:59+00:00'" in query
        assert pd.read_parquet(lake.silver_table("invoices"))["invoice_id"].tolist() == ["140"]
        [outcome] = read_webhook_syncs(lake).to_dict("records")
        assert (outcome["status"], outcome["objects"], outcome["rows"]) == ("synced", "Invoice", 1)

        # A missing token: the notification is still recorded, the failed sync says what to set.
        client = TestClient(create_webhook_app(env={**env, "QUICKBOOKS_ACCESS_TOKEN": ""}, lake=lake.root))
        assert client.post("/quickbooks/webhook", content=body,
                           headers={"intuit-signature": _sign(body, VERIFIER)}).status_code == 200
        assert len(read_events(lake)) == 4
        assert "set QUICKBOOKS_ACCESS_TOKEN" in read_webhook_syncs(lake)["error"].iloc[-1]
    assert VERIFIER.encode() not in _lake_text(lake) and QB_TOKEN.encode() not in _lake_text(lake)
    unset = TestClient(create_webhook_app(env={}, lake=lake.root)).post("/quickbooks/webhook", content=body)
    assert unset.status_code == 503 and "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN is not set" in unset.text


def test_xero_intent_to_receive_and_an_invoice_event(tmp_path):
    lake = Lake(tmp_path / "lake")
    with XeroServer({"Invoices": [_xero_invoice(7, "2024-05-25T15:00:00")], "Payments": []}) as server:
        env = {"XERO_WEBHOOK_KEY": XERO_KEY, "XERO_ACCESS_TOKEN": XERO_TOKEN, "XERO_TENANT_ID": "tenant-1",
               "XERO_API_URL": server.api_url}
        client = TestClient(create_webhook_app(env=env, lake=lake.root))
        # Xero's intent-to-receive: the same empty batch, signed correctly and incorrectly.
        check = json.dumps({"events": [], "lastEventSequence": 0, "firstEventSequence": 0,
                            "entropy": "S0m3r4Nd0mt3xt"}).encode()
        good = client.post("/xero/webhook", content=check, headers={"x-xero-signature": _sign(check, XERO_KEY)})
        assert good.status_code == 200 and good.content == b""  # no body, as Xero requires
        bad = client.post("/xero/webhook", content=check, headers={"x-xero-signature": _sign(check, "other")})
        assert bad.status_code == 401 and bad.content == b""
        assert server.requests == [] and not (lake.root / "sync").exists()

        event = {"resourceUrl": f"{server.api_url}/Invoices/inv-7", "resourceId": "inv-7",
                 "eventDateUtc": "2024-05-25T15:00:00.000", "eventType": "UPDATE", "eventCategory": "INVOICE",
                 "tenantId": "tenant-1", "tenantType": "ORGANISATION"}
        other_org = {**event, "tenantId": "tenant-2", "resourceId": "inv-99"}
        body = json.dumps({"events": [event, other_org], "firstEventSequence": 1, "lastEventSequence": 2,
                           "entropy": "xyz"}).encode()
        tampered = body.replace(b"inv-7", b"inv-8")
        assert client.post("/xero/webhook", content=tampered,
                           headers={"x-xero-signature": _sign(body, XERO_KEY)}).status_code == 401
        assert not (lake.root / "sync").exists()

        assert client.post("/xero/webhook", content=body,
                           headers={"x-xero-signature": _sign(body, XERO_KEY)}).status_code == 200
        events = read_events(lake)
        assert events[["object", "record_id", "synced"]].values.tolist() == [
            ["Invoices", "inv-7", True], ["Payments", "inv-7", True],  # a payment changes its invoice
            ["Invoices", "inv-99", False], ["Payments", "inv-99", False]]  # another organisation's
        asked = {r["path"].rsplit("/", 1)[1]: r["headers"].get("If-Modified-Since") for r in server.requests}
        assert asked == {"Invoices": "2024-05-25T15:00:00", "Payments": "2024-05-25T15:00:00"}
        assert pd.read_parquet(lake.silver_table("invoices"))["invoice_id"].tolist() == ["INV-0007"]
        assert read_webhook_syncs(lake)["status"].tolist() == ["synced"]
    text = _lake_text(lake)
    assert XERO_KEY.encode() not in text and XERO_TOKEN.encode() not in text
    assert xero_date("2024-05-25T15:00:00") not in text.decode("utf-8", "replace")  # stamps stored as ISO


def test_a_signed_body_not_in_the_documented_shape_is_refused(tmp_path):
    lake = Lake(tmp_path / "lake")
    client = TestClient(create_webhook_app(env={"XERO_WEBHOOK_KEY": XERO_KEY,
                                                "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN": VERIFIER}, lake=lake.root))
    for path, header, key, body, said in (
            ("/xero/webhook", "x-xero-signature", XERO_KEY, b'{"evts": []}', "not a Xero notification"),
            ("/quickbooks/webhook", "intuit-signature", VERIFIER, b"not json", "not JSON")):
        answer = client.post(path, content=body, headers={header: _sign(body, key)})
        assert answer.status_code == 400 and said in answer.text
    assert not (lake.root / "sync").exists()
