"""Records deleted in the vendor leave silver: Salesforce's recycle bin (queryAll, IsDeleted) against the
local org over TLS, HubSpot's archived records (archived=true) against the local CRM, Xero's voided and
deleted invoices and payments against the local Xero, QuickBooks' Change Data Capture (status Deleted)
against the local QuickBooks; the raw pages stay in bronze, every removal is a row of
<lake>/sync/deletions.parquet, recorded once."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.connectors.base import sync
from quantlib.connectors.deletions import read_deletions
from quantlib.connectors.hubspot import HubSpotConnector
from quantlib.connectors.quickbooks import QuickBooksConnector
from quantlib.connectors.salesforce import SalesforceConnector
from quantlib.connectors.xero import XeroConnector
from quantlib.data.lake import Lake
from tests.connectors.accounting_servers import QuickBooksServer, XeroServer, xero_date
from tests.connectors.crm_servers import HubSpotServer
from tests.connectors.test_accounting_sync import QB_TOKEN, XERO_TOKEN, _qb_entities, _xero_invoice
from tests.connectors.test_hubspot import _crm
from tests.connectors.test_salesforce import _server

PRAIRIE = "001A00000000002AAA"


def _silver(lake: Lake, table: str, key: str) -> list[str]:
    return sorted(pd.read_parquet(lake.silver_table(table))[key])


def test_salesforce_deletions_leave_silver_and_are_recorded(tmp_path):
    lake = Lake(tmp_path / "lake")
    with _server(tmp_path) as org:
        # Deleted before Quant ever synced: reported by queryAll, never in silver.
        org.records["Opportunity"].append({"Id": "006A00000000009AAA", "AccountId": PRAIRIE, "StageName": "Closed Won",
                                           "Amount": 10.0, "CloseDate": "2024-01-01", "IsDeleted": True,
                                           "CreatedDate": "2024-01-01T00:00:00.000+0000",
                                           "SystemModstamp": "2024-04-01T00:00:00.000+0000"})
        first = sync(lake, "salesforce", env=org.env(), connector=SalesforceConnector(org.session))
        assert _silver(lake, "customers", "customer_id") == ["001A00000000001AAA", PRAIRIE]
        assert _silver(lake, "quotes", "quote_id") == ["006A00000000001AAA", "006A00000000002AAA"]
        # Prairie Offices is deleted: Salesforce deletes its opportunities and contacts with it.
        for obj, gone in (("Account", {PRAIRIE}), ("Opportunity", {"006A00000000002AAA", "006A00000000003AAA"}),
                          ("Contact", {"003A0000000002AAA", "003A0000000003AAA"})):
            for record in org.records[obj]:
                if record["Id"] in gone:
                    record.update(IsDeleted=True, SystemModstamp="2024-06-02T00:00:00.000+0000")
        before = len(org.requests)
        second = sync(lake, "salesforce", env=org.env(), connector=SalesforceConnector(org.session))
        asked = [q for _, q, _ in org.requests[before:] if "queryAll/?q=" in q]
        third = sync(lake, "salesforce", env=org.env(), connector=SalesforceConnector(org.session))
    assert first.deleted == {"Opportunity": 0}  # the opportunity deleted before was never in silver
    assert second.deleted == {"Account": 1, "Opportunity": 2}  # the won opportunity: a lead and a quote
    assert asked[0].endswith("queryAll/?q=SELECT Id, SystemModstamp FROM Account WHERE IsDeleted = true AND "
                             "SystemModstamp >= 2024-05-03T00:00:00.000Z ORDER BY SystemModstamp ASC")
    assert _silver(lake, "customers", "customer_id") == ["001A00000000001AAA"]
    assert _silver(lake, "leads", "lead_id") == ["006A00000000001AAA"]
    assert _silver(lake, "quotes", "quote_id") == ["006A00000000001AAA"]
    deletions = read_deletions(lake)
    assert deletions[["object", "table", "key", "removed"]].values.tolist() == [
        ["Opportunity", "leads", "006A00000000009AAA", False], ["Opportunity", "quotes", "006A00000000009AAA", False],
        ["Account", "customers", PRAIRIE, True],
        ["Opportunity", "leads", "006A00000000002AAA", True],
        ["Opportunity", "leads", "006A00000000003AAA", False],  # rejected when landed (a trade Quant lacks)
        ["Opportunity", "quotes", "006A00000000002AAA", True],
        ["Opportunity", "quotes", "006A00000000003AAA", False]]  # never priced: no quote
    assert deletions["deleted_at"].iloc[2] == "2024-06-02T00:00:00.000+0000"
    # The deleted records come again from queryAll on the next sync: recorded once, nothing else changes.
    assert third.deleted == {"Account": 0, "Opportunity": 0} and len(read_deletions(lake)) == 7
    # The raw pages that landed Prairie Offices are still in bronze.
    assert any(b"Prairie Offices" in p.read_bytes() for p in (lake.bronze / "customers").iterdir())


def test_xero_voided_and_deleted_leave_silver_without_rejects(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    invoices = [_xero_invoice(1, "2024-05-02T08:00:00"), _xero_invoice(2, "2024-05-02T08:01:00")]
    payment = {"PaymentID": "pay-1", "Date": xero_date("2024-05-20T00:00:00"), "Amount": 100.0, "Reference": "",
               "Status": "AUTHORISED", "PaymentType": "ACCRECPAYMENT",
               "Invoice": {"InvoiceID": "inv-1", "InvoiceNumber": "INV-0001", "Type": "ACCREC",
                           "Contact": {"ContactID": "c-1", "Name": "Maria Gomez"}},
               "UpdatedDateUTC": xero_date("2024-05-20T10:00:00")}
    with XeroServer({"Contacts": [], "Invoices": invoices, "Payments": [payment]}) as server:
        env = {"XERO_ACCESS_TOKEN": XERO_TOKEN, "XERO_TENANT_ID": "tenant-1", "XERO_API_URL": server.api_url}
        sync(lake, "xero", env=env, connector=XeroConnector(sleep=lambda s: None))
        assert _silver(lake, "invoices", "invoice_id") == ["INV-0001", "INV-0002"]
        invoices[1].update(Status="VOIDED", UpdatedDateUTC=xero_date("2024-06-01T09:00:00"))
        payment.update(Status="DELETED", UpdatedDateUTC=xero_date("2024-06-01T09:30:00"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        done = CliRunner().invoke(app, ["sync", "xero", "--lake", str(lake.root)])
    assert done.exit_code == 0, done.output
    assert "xero Invoices: 0 pages, 0 records" in done.output  # the voided invoice landed nothing
    assert "1 row deleted in xero taken out of silver" in done.output
    assert _silver(lake, "invoices", "invoice_id") == ["INV-0001"]
    assert pd.read_parquet(lake.silver_table("payments")).empty
    assert not lake.rejects.exists()  # a voided invoice is a deletion, not a bad record
    assert read_deletions(lake)[["object", "table", "key", "removed", "deleted_at"]].values.tolist() == [
        ["Invoices", "invoices", "INV-0002", True, "2024-06-01T09:00:00+00:00"],
        ["Payments", "payments", "pay-1", True, "2024-06-01T09:30:00+00:00"]]


def test_quickbooks_change_data_capture_deletions(tmp_path):
    lake = Lake(tmp_path / "lake")
    with QuickBooksServer(_qb_entities()) as server:
        env = {"QUICKBOOKS_ACCESS_TOKEN": QB_TOKEN, "QUICKBOOKS_REALM_ID": "9130", "QUICKBOOKS_API_URL": server.api_url}
        first = sync(lake, "quickbooks", env=env, connector=QuickBooksConnector(sleep=lambda s: None))
        assert not [r for r in server.requests if r["path"].endswith("/cdc")]  # no cursor yet: nothing to delete
        assert _silver(lake, "invoices", "invoice_id") == ["130", "131"]
        assert _silver(lake, "payments", "payment_id") == ["201 130"] and _silver(lake, "expenses", "expense_id") \
            == ["180 1"]
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        when = (now - dt.timedelta(hours=1)).isoformat()
        server.delete("Invoice", "131", when)
        server.delete("Payment", "201", when)  # one row per invoice paid: found by the Id its key starts with
        server.delete("Purchase", "180", when)
        server.requests.clear()
        second = sync(lake, "quickbooks", env=env, connector=QuickBooksConnector(sleep=lambda s: None))
        asked = [r["query"] for r in server.requests if r["path"].endswith("/cdc")]
    assert first.deleted == {}
    assert second.deleted == {"Invoice": 1, "Payment": 1, "Purchase": 1}
    assert [q["entities"] for q in asked] == ["Customer", "Invoice", "Payment", "Purchase"]
    # The cursors are from 2024; Change Data Capture answers for 30 days back at most.
    since = dt.datetime.fromisoformat(asked[0]["changedSince"])
    assert dt.timedelta(days=29) < now - since <= dt.timedelta(days=30)
    assert _silver(lake, "invoices", "invoice_id") == ["130"]
    assert pd.read_parquet(lake.silver_table("payments")).empty and pd.read_parquet(
        lake.silver_table("expenses")).empty
    assert read_deletions(lake)[["object", "table", "key", "removed", "deleted_at"]].values.tolist() == [
        ["Invoice", "invoices", "131", True, when], ["Payment", "payments", "201 130", True, when],
        ["Purchase", "expenses", "180 1", True, when]]


def test_hubspot_archived_records_leave_silver(tmp_path):
    lake = Lake(tmp_path / "lake")
    records, companies_of, properties = _crm()
    # Archived before Quant's first sync, and long ago: reported (never in silver), not again later.
    records["tickets"].append({**records["tickets"][0], "id": "7009", "archived": True,
                               "archivedAt": "2024-01-01T00:00:00.000Z"})
    with HubSpotServer(records, companies_of, properties) as crm:
        first = sync(lake, "hubspot", env=crm.env(), connector=HubSpotConnector(lambda s: None))
        assert _silver(lake, "leads", "lead_id") == ["9001", "9002"]  # 9003 has no company: rejected
        crm.records["deals"][1].update(archived=True, archivedAt="2024-06-03T00:00:00.000Z")  # the won deal
        second = sync(lake, "hubspot", env=crm.env(), connector=HubSpotConnector(lambda s: None))
        listed = [path for method, path, _ in crm.requests if method == "GET" and "archived=" in path]
    assert first.deleted == {"tickets": 0} and second.deleted == {"deals": 2}  # its lead and its quote
    assert "/crm/v3/objects/deals?limit=100&archived=True" in listed
    assert _silver(lake, "leads", "lead_id") == ["9001"] and _silver(lake, "quotes", "quote_id") == ["9001"]
    assert read_deletions(lake)[["object", "table", "key", "removed", "deleted_at"]].values.tolist() == [
        ["tickets", "interactions", "7009", False, "2024-01-01T00:00:00.000Z"],
        ["deals", "leads", "9002", True, "2024-06-03T00:00:00.000Z"],
        ["deals", "quotes", "9002", True, "2024-06-03T00:00:00.000Z"]]
