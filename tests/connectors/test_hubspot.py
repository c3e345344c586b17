"""The HubSpot connector against a local CRM API (hubspot-api-client with its host moved): search
pages by hs_lastmodifieddate land as the export's labelled columns through the shipped mapping, deals'
and tickets' companies from the v4 associations, the second sync filters from the cursor, the 10,000
search limit restarts the query, a 429 is waited out; write-back batches only the owned properties."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from quantlib.connectors.base import SyncError, WriteBackRefused, read_audit, read_cursors, sync
from quantlib.connectors.crm import push
from quantlib.connectors.hubspot import LABELS, HubSpotConnector
from quantlib.data.lake import Lake
from tests.connectors.crm_servers import HS_TOKEN, HubSpotServer


def _company(i, name, lat, modified, **extra):
    return {"id": i, "properties": {"hs_object_id": i, "name": name, "city": "Decatur", "zip": "62521",
                                    "latitude": lat, "longitude": None if lat is None else "-88.95",
                                    "createdate": "2023-06-01T08:00:00.000Z", "hs_analytics_source": "ORGANIC_SEARCH",
                                    "hs_is_target_account": "true", "hs_lastmodifieddate": modified, **extra}}


def _deal(i, stage, amount, modified):
    return {"id": i, "properties": {"hs_object_id": i, "dealname": f"deal {i}", "dealstage": stage, "amount": amount,
                                    "closedate": "2024-05-20T00:00:00.000Z", "createdate": "2024-02-03T09:00:00.000Z",
                                    "pipeline": "default", "trade": "hvac", "hs_lastmodifieddate": modified}}


def _ticket(i, category, source, modified):
    return {"id": i, "properties": {"hs_object_id": i, "subject": "No heat", "hs_pipeline_stage": "1",
                                    "hs_ticket_category": category, "source_type": source,
                                    "createdate": "2024-03-02T07:15:00.000Z", "hs_lastmodifieddate": modified}}


def _crm():
    records = {
        "companies": [_company("5001", "Prairie Offices", "39.84", "2024-05-01T00:00:00.000Z", quant_churn_risk="0.5"),
                      _company("5002", "Lake Apartments", "39.81", "2024-05-02T00:00:00.000Z"),
                      _company("5003", "No Geocode LLC", None, "2024-05-03T00:00:00.000Z")],
        "deals": [_deal("9001", "contractsent", "8400", "2024-05-04T00:00:00.000Z"),
                  _deal("9002", "closedwon", "12500", "2024-05-05T00:00:00.000Z"),
                  _deal("9003", "appointmentscheduled", None, "2024-05-06T00:00:00.000Z")],
        "tickets": [_ticket("7001", "PRODUCT_ISSUE", "PHONE", "2024-05-07T00:00:00.000Z"),
                    _ticket("7002", "GENERAL_INQUIRY", "EMAIL", "2024-05-08T00:00:00.000Z")],
    }
    # Deal 9001: primary company 5001 and another; 9002: only 5002 (no primary label); 9003: none.
    companies_of = {"9001": [("5002", [341]), ("5001", [5, 341])], "9002": [("5002", [341])],
                    "7001": [("5001", [339])], "7002": [("5002", [339])]}
    # The account's properties: HubSpot's defaults, its custom Latitude and Longitude, and the deals'
    # "Service line" under an internal name of its own (found by its label).
    properties = {obj: dict(labels) for obj, labels in LABELS.items()}
    del properties["deals"]["service_line"]
    properties["deals"]["trade"] = "Service line"
    properties["companies"].update(quant_churn_risk="Quant churn risk", quant_lifetime_value="Quant lifetime value")
    return records, companies_of, properties


def test_sync_pages_associations_cursor_and_search_limit(tmp_path):
    lake = Lake(tmp_path / "lake")
    waits: list[float] = []
    with HubSpotServer(*_crm()) as crm:
        crm.throttle.append(("POST", r"/tickets/search", 2))
        # A search may page through 2 records here (10,000 at HubSpot): then it starts again from the newest.
        report = sync(lake, "hubspot", env=crm.env(), connector=HubSpotConnector(waits.append, search_cap=2))
        searches = [(path, body) for _, path, body in crm.requests if path.endswith("/search")]
        deal_search = next(body for path, body in searches if "/deals/" in path)
        cursors = read_cursors(lake)["hubspot"]
        crm.records["deals"][0]["properties"].update(dealstage="closedlost", hs_lastmodifieddate="2024-06-01T00:00:00Z")
        first = len(crm.requests)
        again = sync(lake, "hubspot", env=crm.env(), connector=HubSpotConnector(waits.append))
        later = {path: body for _, path, body in crm.requests[first:] if path.endswith("/search")}
    assert waits == [2.0]
    # each record once: a restarted search's re-read of its starting record is dropped
    assert report.rows == {"companies": 3, "deals": 3, "tickets": 2}
    company_searches = [body for path, body in searches if "/companies/" in path]
    assert "filterGroups" not in company_searches[0] and company_searches[0]["limit"] == 100
    assert company_searches[1]["filterGroups"] == [{"filters": [{"propertyName": "hs_lastmodifieddate",
                                                                 "operator": "GTE", "value": "1714608000000"}]}]
    assert "after" not in company_searches[1]  # a new query, not a page beyond the limit
    assert set(company_searches[0]["properties"]) == {"name", "city", "zip", "latitude", "longitude", "createdate",
                                                      "hs_analytics_source", "hs_is_target_account",
                                                      "hs_lastmodifieddate"}
    assert "trade" in deal_search["properties"]  # the custom property, by its label
    assert cursors == {"companies": "2024-05-03T00:00:00.000Z", "deals": "2024-05-06T00:00:00.000Z",
                       "tickets": "2024-05-08T00:00:00.000Z"}
    deals_filter = later["/crm/v3/objects/deals/search"]["filterGroups"][0]["filters"][0]
    assert deals_filter["value"] == "1714953600000"  # 2024-05-06, the cursor
    assert again.rows["deals"] == 2  # the changed deal and the one stamped at the cursor

    customers = pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")
    assert sorted(customers.index) == ["5001", "5002"] and customers["acquisition_channel"].eq("web").all()
    leads = pd.read_parquet(lake.silver_table("leads")).set_index("lead_id")
    assert leads["customer_id"].to_dict() == {"9001": "5001", "9002": "5002"}  # primary, else the only company
    assert leads.loc["9001", "status"] == "unqualified"  # lost since
    quotes = pd.read_parquet(lake.silver_table("quotes")).set_index("quote_id")
    assert quotes["status"].to_dict() == {"9001": "lost", "9002": "won"}
    interactions = pd.read_parquet(lake.silver_table("interactions")).set_index("interaction_id")
    assert interactions[["customer_id", "kind", "channel"]].values.tolist() == [["5001", "complaint", "phone"],
                                                                               ["5002", "inquiry", "email"]]
    rejects = pd.read_parquet(lake.rejects).drop_duplicates(["file", "table", "row", "field"])
    # The first sync lands each object's pages as one file (the bad rows are its row 4); the second
    # reads them again from the inclusive cursor (row 2).
    assert sorted(map(tuple, rejects[["file", "table", "row", "field"]].values.tolist())) == [
        ("companies.csv", "customers", 2, "lat"), ("companies.csv", "customers", 2, "lon"),
        ("companies.csv", "customers", 4, "lat"), ("companies.csv", "customers", 4, "lon"),
        ("deals.csv", "leads", 2, "customer_id"), ("deals.csv", "leads", 4, "customer_id")]  # a deal without a company
    text = "".join(p.read_bytes().decode("latin-1") for p in lake.root.rglob("*") if p.is_file())
    assert HS_TOKEN not in text


def test_write_back_batches_owned_properties_and_refuses_others(tmp_path):
    lake = Lake(tmp_path / "lake")
    records, companies_of, properties = _crm()
    with HubSpotServer(records, companies_of, properties) as crm:
        connector = HubSpotConnector()
        sync(lake, "hubspot", env=crm.env(), objects=["companies"], connector=connector)
        gold = duckdb.connect(str(lake.gold))
        gold.execute("CREATE TABLE customer_features AS SELECT * FROM (VALUES ('5001', 0.5, 800.0), "
                     "('5002', 0.25, 120.254)) t(customer_id, churn_score, monetary_lifetime)")
        gold.close()
        start = len(crm.requests)
        report = push(lake.root, "hubspot", env=crm.env(), connector=connector)
        sent = [(path, body) for method, path, body in crm.requests[start:] if method == "POST"]
        with pytest.raises(WriteBackRefused, match="name belong to hubspot"):
            connector.write_back("companies", pd.DataFrame({"record_id": ["5001"], "name": ["x"]}), crm.env())
        with pytest.raises(SyncError, match="HTTP 401 INVALID_AUTHENTICATION"):
            push(lake.root, "hubspot", env={**crm.env(), "HUBSPOT_ACCESS_TOKEN": "nope"}, connector=connector)
        stored = {r["id"]: r["properties"] for r in crm.records["companies"]}
    assert sent[0] == ("/crm/v3/objects/companies/batch/read",
                       {"properties": ["quant_churn_risk", "quant_lifetime_value"], "inputs": [{"id": "5001"},
                                                                                              {"id": "5002"}]})
    assert sent[1] == ("/crm/v3/objects/companies/batch/update", {"inputs": [
        {"id": "5001", "properties": {"quant_lifetime_value": "800.0"}},
        {"id": "5002", "properties": {"quant_churn_risk": "0.25", "quant_lifetime_value": "120.25"}}]})
    assert len(sent) == 2 and stored["5002"]["name"] == "Lake Apartments"
    assert (report.unchanged, report.failures) == (1, [])
    assert read_audit(lake)[["record_id", "field", "before", "after"]].fillna("-").values.tolist() == [
        ["5001", "quant_lifetime_value", "-", "800.0"], ["5002", "quant_churn_risk", "-", "0.25"],
        ["5002", "quant_lifetime_value", "-", "120.25"]]
