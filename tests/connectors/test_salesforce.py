"""The Salesforce connector against a local org over TLS (a trustme authority; simple-salesforce is
https-only): SOQL pages in the export's columns land through the shipped mapping, the second sync
asks from the cursor, a 429 is waited out, bad records are rejected naming file, row and field;
write-back sends only Quant's owned fields, audits them, refuses others; the token never shows."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.connectors.base import SyncError, WriteBackRefused, read_audit, read_cursors, sync
from quantlib.connectors.crm import push
from quantlib.connectors.salesforce import SalesforceConnector, soql_datetime
from quantlib.data.lake import Lake
from tests.connectors.crm_servers import SF_TOKEN, SalesforceServer

ACCOUNT_FIELDS = ["Id", "Name", "IsPersonAccount", "BillingCity", "BillingPostalCode", "BillingLatitude",
                  "BillingLongitude", "AccountSource", "CreatedDate", "SystemModstamp", "Phone",
                  "Quant_Churn_Risk__c", "Quant_Lifetime_Value__c"]  # no Rating: this org removed it
OPPORTUNITY_FIELDS = ["Id", "AccountId", "Name", "StageName", "Amount", "CloseDate", "CreatedDate", "LeadSource",
                      "Service_Line__c", "SystemModstamp"]
CONTACT_FIELDS = ["Id", "AccountId", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "HasOptedOutOfEmail",
                  "DoNotCall", "HasOptedOutOfFax", "SystemModstamp"]


def _contact(number: int, account: str, stamp: str, **fields) -> dict:
    return {"Id": f"003A0000000000{number}AAA", "AccountId": account, "FirstName": "Pat", "LastName": f"C{number}",
            "Email": None, "Phone": None, "MobilePhone": None, "HasOptedOutOfEmail": False, "DoNotCall": False,
            "HasOptedOutOfFax": True, "SystemModstamp": stamp, **fields}


def _org():
    accounts = [
        {"Id": "001A00000000001AAA", "Name": "Maria Gomez", "IsPersonAccount": True, "BillingCity": "Springfield",
         "BillingPostalCode": "62701", "BillingLatitude": 39.799, "BillingLongitude": -89.644, "AccountSource": "Web",
         "CreatedDate": "2024-01-15T10:30:00.000+0000", "SystemModstamp": "2024-05-01T00:00:00.000+0000",
         "Quant_Churn_Risk__c": 0.42, "Quant_Lifetime_Value__c": None},
        {"Id": "001A00000000002AAA", "Name": "Prairie Offices", "IsPersonAccount": False, "BillingCity": "Decatur",
         "BillingPostalCode": "62521", "BillingLatitude": 39.84, "BillingLongitude": -88.955,
         "AccountSource": "Phone Inquiry", "CreatedDate": "2023-06-01T08:00:00.000+0000",
         "SystemModstamp": "2024-05-02T00:00:00.000+0000", "Quant_Churn_Risk__c": None,
         "Quant_Lifetime_Value__c": None},
        {"Id": "001A00000000003AAA", "Name": "No Geocode LLC", "IsPersonAccount": False, "BillingCity": "Decatur",
         "BillingPostalCode": "62522", "BillingLatitude": None, "BillingLongitude": None, "AccountSource": "Other",
         "CreatedDate": "2024-03-01T08:00:00.000+0000", "SystemModstamp": "2024-05-03T00:00:00.000+0000"},
    ]
    opportunities = [
        {"Id": "006A00000000001AAA", "AccountId": "001A00000000001AAA", "Name": "AC install",
         "StageName": "Proposal/Price Quote", "Amount": 8400.0, "CloseDate": "2024-06-15",
         "CreatedDate": "2024-02-03T09:00:00.000+0000", "LeadSource": "Web", "Service_Line__c": "HVAC",
         "SystemModstamp": "2024-05-04T00:00:00.000+0000"},
        {"Id": "006A00000000002AAA", "AccountId": "001A00000000002AAA", "Name": "Repipe", "StageName": "Closed Won",
         "Amount": 12500.0, "CloseDate": "2024-03-20", "CreatedDate": "2024-02-05T09:00:00.000+0000",
         "LeadSource": None, "Service_Line__c": "Plumbing", "SystemModstamp": "2024-05-05T00:00:00.000+0000"},
        {"Id": "006A00000000003AAA", "AccountId": "001A00000000002AAA", "Name": "Pool heater",
         "StageName": "Prospecting", "Amount": None, "CloseDate": "2024-07-01",
         "CreatedDate": "2024-02-06T09:00:00.000+0000", "LeadSource": "Other", "Service_Line__c": "Pools",
         "SystemModstamp": "2024-05-06T00:00:00.000+0000"},
    ]
    contacts = [
        # Prairie Offices' older contact, who may be called; its newer one gave only a mobile: text it.
        _contact(3, "001A00000000002AAA", "2024-05-01T00:00:00.000+0000", Phone="(217) 555-0103"),
        # The account rejected for its geocodes: its contact is rejected naming customer_id.
        _contact(4, "001A00000000003AAA", "2024-05-06T00:00:00.000+0000", Phone="(217) 555-0104"),
        # Maria (a Person Account's contact) may not be called, nor texted: e-mail.
        _contact(1, "001A00000000001AAA", "2024-05-07T00:00:00.000+0000", DoNotCall=True,
                 MobilePhone="(217) 555-0101", Email="maria@example.com"),
        _contact(2, "001A00000000002AAA", "2024-05-08T00:00:00.000+0000", MobilePhone="(217) 555-0102",
                 Email="ops@prairie.example.com", HasOptedOutOfEmail=True),
    ]
    return {"Account": accounts, "Opportunity": opportunities, "Contact": contacts}


def _server(tmp_path):
    return SalesforceServer(tmp_path, _org(), {"Account": ACCOUNT_FIELDS, "Opportunity": OPPORTUNITY_FIELDS,
                                               "Contact": CONTACT_FIELDS})


def _lake_text(lake: Lake) -> str:
    """Everything the lake holds, as text (Parquet and JSON included), to look for secrets."""
    return "".join(p.read_bytes().decode("latin-1") for p in lake.root.rglob("*") if p.is_file())


def test_sync_pages_cursor_retry_and_rejects(tmp_path):
    lake = Lake(tmp_path / "lake")
    waits: list[float] = []
    with _server(tmp_path) as org:
        # The Opportunity query's second page (after Account's query and queryAll): 429 once.
        org.throttle.append(("GET", r"/query/01g00002-2", 3))
        report = sync(lake, "salesforce", env=org.env(), connector=SalesforceConnector(org.session, waits.append))
        first = [q for m, q, _ in org.requests if "query/?q=" in q]
        cursors = read_cursors(lake)["salesforce"]
        # The second sync asks from the cursors; one account changed meanwhile.
        org.records["Account"][1].update(Name="Prairie Offices Inc", SystemModstamp="2024-06-01T00:00:00.000+0000")
        again = sync(lake, "salesforce", env=org.env(), connector=SalesforceConnector(org.session, waits.append))
        second = [q for m, q, _ in org.requests if "query/?q=" in q][len(first):]
    # Two pages of accounts (the org answers two records a batch, the rest through nextRecordsUrl).
    assert report.pages == {"Account": 2, "Opportunity": 2, "Contact": 2}
    assert report.rows == {"Account": 3, "Opportunity": 3, "Contact": 4}
    assert waits == [3.0]  # the 429's Retry-After, waited out
    # Only fields the mapping reads and the org has: Rating is mapped but absent, Phone present but unmapped.
    assert first[0].endswith("?q=SELECT Id, Name, IsPersonAccount, BillingCity, BillingPostalCode, BillingLatitude, "
                             "BillingLongitude, AccountSource, CreatedDate, SystemModstamp FROM Account "
                             "ORDER BY SystemModstamp ASC")
    assert "WHERE" not in first[1] and "Service_Line__c" in first[1]
    assert cursors == {"Account": "2024-05-03T00:00:00.000+0000", "Opportunity": "2024-05-06T00:00:00.000+0000",
                       "Contact": "2024-05-08T00:00:00.000+0000"}
    # A contact's query asks for what decides its account's channel, and the stamp that orders contacts.
    assert first[2].endswith("?q=SELECT Id, AccountId, DoNotCall, Phone, MobilePhone, HasOptedOutOfEmail, Email, "
                             "SystemModstamp FROM Contact ORDER BY SystemModstamp ASC")
    assert "WHERE SystemModstamp >= 2024-05-03T00:00:00.000Z ORDER BY" in second[0]
    assert "WHERE SystemModstamp >= 2024-05-06T00:00:00.000Z ORDER BY" in second[1]
    assert again.rows == {"Account": 2, "Opportunity": 1, "Contact": 1}  # the changed account, the last ones again
    customers = pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")
    assert customers["name"].to_dict() == {"001A00000000001AAA": "Maria Gomez",
                                           "001A00000000002AAA": "Prairie Offices Inc"}
    assert customers["is_priority"].eq(False).all()  # no Rating in this org: the mapping's default
    assert customers["preferred_channel"].to_dict() == {"001A00000000001AAA": "email",  # DoNotCall
                                                        "001A00000000002AAA": "sms"}  # the newest contact
    assert customers["customer_type"].to_dict() == {"001A00000000001AAA": "residential",  # a Person Account
                                                    "001A00000000002AAA": "commercial"}
    quotes = pd.read_parquet(lake.silver_table("quotes")).set_index("quote_id")
    assert quotes["status"].to_dict() == {"006A00000000001AAA": "open", "006A00000000002AAA": "won"}
    rejects = pd.read_parquet(lake.rejects).drop_duplicates(["file", "table", "row", "field"])
    # The first sync lands each object's two pages as one file (the bad account is its row 4); the
    # second reads it again from the inclusive cursor, alone with the changed account (row 2).
    assert sorted(map(tuple, rejects[["file", "table", "row", "field"]].values.tolist())) == [
        ("Account.csv", "customers", 2, "lat"), ("Account.csv", "customers", 2, "lon"),
        ("Account.csv", "customers", 4, "lat"), ("Account.csv", "customers", 4, "lon"),
        ("Contact.csv", "customers", 3, "customer_id"), ("Opportunity.csv", "leads", 2, "service_line"),
        ("Opportunity.csv", "leads", 4, "service_line")]
    assert SF_TOKEN not in _lake_text(lake)


def test_refusals_are_clear_and_never_show_the_token(tmp_path):
    with _server(tmp_path) as org:
        bad = {**org.env(), "SALESFORCE_ACCESS_TOKEN": "wrong-" + SF_TOKEN[:8]}
        with pytest.raises(SyncError, match="HTTP 401 INVALID_SESSION_ID") as refused:
            sync(tmp_path / "lake", "salesforce", env=bad, connector=SalesforceConnector(org.session))
        org.throttle.extend([("GET", "describe", 0)] * 5)  # rate limited on every attempt
        with pytest.raises(SyncError, match="HTTP 429 .*gave up after 5 attempts"):
            list(SalesforceConnector(org.session, sleep=lambda s: None).read("Account", None, org.env()))
        # The org's daily API allowance is spent: no retrying, the reason named.
        org.throttle.append(("GET", "describe", 0, 403, [{"message": "TotalRequests Limit exceeded.",
                                                          "errorCode": "REQUEST_LIMIT_EXCEEDED"}]))
        with pytest.raises(SyncError, match="API request limit is used up .REQUEST_LIMIT_EXCEEDED."):
            list(SalesforceConnector(org.session, sleep=pytest.fail).read("Account", None, org.env()))
    assert SF_TOKEN[:8] not in str(refused.value)
    with pytest.raises(SyncError, match="not a date"):
        soql_datetime("2024-05-01; DELETE")


def test_write_back_owned_fields_only_audited(tmp_path):
    lake = Lake(tmp_path / "lake")
    with _server(tmp_path) as org:
        connector = SalesforceConnector(org.session)
        sync(lake, "salesforce", env=org.env(), objects=["Account"], connector=connector)
        # A customer from another system is in gold too: never written to Salesforce.
        other = tmp_path / "other"
        other.mkdir()
        (other / "customers.csv").write_text("customer_id,name,customer_type,region,zip,lat,lon,acquisition_channel,"
                                             "preferred_channel,created_date,is_priority\n"
                                             "C-9,Elsewhere,commercial,north,62701,39.8,-89.6,web,phone,2024-01-01,"
                                             "false\n")
        from quantlib.data.ingest import ingest

        ingest(other, lake)
        gold = duckdb.connect(str(lake.gold))
        gold.execute("CREATE TABLE customer_features AS SELECT * FROM (VALUES ('001A00000000001AAA', 0.42, 1250.0), "
                     "('001A00000000002AAA', 0.8123, 300.5), ('C-9', 0.9, 10.0)) "
                     "t(customer_id, churn_score, monetary_lifetime)")
        gold.close()
        before = len(org.requests)
        report = push(lake.root, "salesforce", env=org.env(), connector=connector)
        patches = [body for method, _, body in org.requests[before:] if method == "PATCH"]
        with pytest.raises(WriteBackRefused, match="Name belong to salesforce"):
            connector.write_back("Account", pd.DataFrame({"record_id": ["001A00000000001AAA"], "Name": ["x"]}),
                                 org.env())
        again = push(lake.root, "salesforce", env=org.env(), connector=connector)
        after_again = [m for m, _, _ in org.requests[before:] if m == "PATCH"]
        stored = {r["Id"]: r for r in org.records["Account"]}
    # One collections request, only the owned fields that changed (Maria's risk was already 0.42).
    assert patches == [{"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "id": "001A00000000001AAA", "Quant_Lifetime_Value__c": 1250.0},
        {"attributes": {"type": "Account"}, "id": "001A00000000002AAA", "Quant_Churn_Risk__c": 0.812,
         "Quant_Lifetime_Value__c": 300.5}]}]
    assert (stored["001A00000000002AAA"]["Quant_Churn_Risk__c"], stored["001A00000000002AAA"]["Name"]) == (
        0.812, "Prairie Offices")
    assert report.not_from_source == 1 and report.unchanged == 1 and report.failures == []
    audit = read_audit(lake)
    assert audit[["record_id", "field", "before", "after"]].fillna("-").values.tolist() == [
        ["001A00000000001AAA", "Quant_Lifetime_Value__c", "-", "1250.0"],
        ["001A00000000002AAA", "Quant_Churn_Risk__c", "-", "0.812"],
        ["001A00000000002AAA", "Quant_Lifetime_Value__c", "-", "300.5"]]
    # Nothing changed since: the second push reads, sends nothing, audits nothing.
    assert len(after_again) == 1 and len(again.written) == 0 and again.unchanged == 4
    assert len(read_audit(lake)) == 3


def test_cli_sync_and_push(tmp_path, monkeypatch):
    from quantlib.cli import app

    lake = tmp_path / "lake"
    runner = CliRunner()
    for name in ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    missing = runner.invoke(app, ["sync", "salesforce", "--lake", str(lake)])
    assert missing.exit_code == 2 and "set SALESFORCE_INSTANCE_URL, SALESFORCE_ACCESS_TOKEN" in missing.output
    with _server(tmp_path) as org:
        for name, value in org.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(org.ca_file))  # the CLI's own session trusts the test CA
        done = runner.invoke(app, ["sync", "salesforce", "--object", "Account", "--lake", str(lake)])
        nope = runner.invoke(app, ["sync", "salesforce", "--object", "Case", "--lake", str(lake)])
        no_gold = runner.invoke(app, ["sync", "salesforce", "--push", "--lake", str(lake)])
    assert done.exit_code == 0, done.output
    assert "salesforce Account: 2 pages, 3 records, cursor 2024-05-03T00:00:00.000+0000" in done.output
    # the two pages landed as one file: the bad account is its line 4
    assert "Account.csv: line 4, field lat" in done.output and "2 accepted, 1 rejected" in done.output
    assert nope.exit_code == 2 and "no object Case; it syncs Account, Opportunity, Contact" in nope.output
    assert no_gold.exit_code == 1 and "quant warehouse build" in no_gold.output
    for result in (missing, done, nope, no_gold):
        assert SF_TOKEN not in result.output
