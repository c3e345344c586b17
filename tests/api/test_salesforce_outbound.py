"""Salesforce outbound messages on ``quant webhooks serve``: the SOAP ``notifications`` of the outbound
messaging WSDL, authenticated by the organisation id and the endpoint URL's key (no signature exists),
acknowledged with ``notificationsResponse``/``Ack``; a verified one is recorded and the named records
synced from their SystemModstamp against the local Salesforce org (TLS, trustme); anything else gets a
SOAP fault and changes nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # nosec B405 - parses this test's own server answers

import pandas as pd
from fastapi.testclient import TestClient

from quantlib.api.webhooks import create_webhook_app
from quantlib.connectors.events import read_events, read_webhook_syncs
from quantlib.data.lake import Lake
from tests.connectors.crm_servers import SF_TOKEN
from tests.connectors.test_salesforce import _server

ORG, KEY = "00D5e000000AbCdEAA", "outbound-KEY-s3cret"


def envelope(org: str, *notifications: tuple[str, str, dict]) -> bytes:
    """A notifications() message as Salesforce sends it: (notification id, sObject type, fields) each."""
    items = "".join(
        f"<Notification><Id>{nid}</Id><sObject xsi:type=\"sf:{kind}\" "
        "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
        + "".join(f"<sf:{k}>{v}</sf:{k}>" for k, v in fields.items()) + "</sObject></Notification>"
        for nid, kind, fields in notifications)
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope "
            "xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
            "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
            "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
            f"<OrganizationId>{org}</OrganizationId><ActionId>04k5e000000Abc1AAA</ActionId>"
            "<SessionId xsi:nil=\"true\"/>"
            "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0/00D5e000000AbCd</EnterpriseUrl>"
            "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/00D5e000000AbCd</PartnerUrl>"
            f"{items}</notifications></soapenv:Body></soapenv:Envelope>").encode()


def _soap_body(text: str):
    return ET.fromstring(text).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]  # nosec B314


def test_an_outbound_message_is_authenticated_acknowledged_recorded_and_synced(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    with _server(tmp_path) as org:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(org.ca_file))  # the receiver's own sync trusts the test CA
        env = {**org.env(), "SALESFORCE_ORG_ID": ORG[:15], "SALESFORCE_OUTBOUND_SECRET": KEY}
        client = TestClient(create_webhook_app(env=env, lake=lake.root))
        org.records["Account"][1].update(Name="Prairie Offices Inc", SystemModstamp="2024-06-01T00:00:00.000+0000")
        body = envelope(ORG, ("04l5e000000Aa1AAA", "Account", {"Id": "001A00000000002AAA",
                                                               "Name": "Prairie Offices Inc",
                                                               "SystemModstamp": "2024-06-01T00:00:00.000Z"}),
                        ("04l5e000000Aa2AAA", "Case", {"Id": "500A00000000001AAA"}))
        url = f"/salesforce/outbound?key={KEY}"

        refused = [client.post("/salesforce/outbound", content=body),  # no key
                   client.post("/salesforce/outbound?key=guess", content=body),
                   client.post(url, content=body.replace(ORG.encode(), b"00D000000000666AAA")),  # another org
                   client.post(url, content=b"<notifications>"),
                   client.post(url, content=b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>"),
                   client.post(url, content=envelope(ORG).replace(b"OrganizationId", b"OrgId"))]
        assert [r.status_code for r in refused] == [401, 401, 401, 400, 400, 400]
        for answer in refused:
            fault = _soap_body(answer.text)
            assert fault.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Fault" and KEY not in answer.text
        assert "not XML" in refused[3].text and "document type" in refused[4].text
        assert "no OrganizationId" in refused[5].text
        assert not (lake.root / "sync").exists() and org.requests == []  # nothing recorded, nothing synced

        answer = client.post(url, content=body, headers={"Content-Type": "text/xml; charset=utf-8",
                                                         "SOAPAction": '""'})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
        ack = _soap_body(answer.text)
        assert ack.tag == "{http://soap.sforce.com/2005/09/outbound}notificationsResponse"
        assert ack.findtext("{http://soap.sforce.com/2005/09/outbound}Ack") == "true"
        events = read_events(lake)
        assert events[["source", "object", "record_id", "event_time", "tenant", "synced"]].values.tolist() == [
            ["salesforce", "Account", "001A00000000002AAA", "2024-06-01T00:00:00.000Z", ORG, True],
            ["salesforce", "Case", "500A00000000001AAA", "", ORG, False]]  # Quant reads no cases
        queries = [q for m, q, _ in org.requests if "query/?q=" in q]
        assert len(queries) == 1 and queries[0].endswith(  # the named object only, from its change
            "FROM Account WHERE SystemModstamp >= 2024-06-01T00:00:00.000Z ORDER BY SystemModstamp ASC")
        assert pd.read_parquet(lake.silver_table("customers"))[["customer_id", "name"]].values.tolist() == [
            ["001A00000000002AAA", "Prairie Offices Inc"]]
        [outcome] = read_webhook_syncs(lake).to_dict("records")
        assert (outcome["source"], outcome["status"], outcome["objects"], outcome["rows"]) == (
            "salesforce", "synced", "Account", 1)
    text = b"".join(p.read_bytes() for p in lake.root.rglob("*") if p.is_file())
    assert KEY.encode() not in text and SF_TOKEN.encode() not in text
    unset = TestClient(create_webhook_app(env={}, lake=lake.root)).post("/salesforce/outbound", content=body)
    assert unset.status_code == 503 and "SALESFORCE_ORG_ID is not set" in unset.text


def test_without_a_key_configured_the_organisation_decides(tmp_path):
    lake = Lake(tmp_path / "lake")
    client = TestClient(create_webhook_app(env={"SALESFORCE_ORG_ID": ORG}, lake=lake.root))
    opportunity = ("04l5e000000Aa3AAA", "Opportunity", {"Id": "006A00000000001AAA"})  # no stamp sent
    assert client.post("/salesforce/outbound", content=envelope("00D000000000666AAA", opportunity)).status_code == 401
    assert not (lake.root / "sync").exists()
    answer = client.post("/salesforce/outbound", content=envelope(ORG, opportunity))
    assert answer.status_code == 200 and "<Ack>true</Ack>" in answer.text
    assert read_events(lake)[["object", "event_time", "synced"]].values.tolist() == [["Opportunity", "", True]]
    # No instance URL or token here: the notification stays recorded, the failed sync says what to set.
    [outcome] = read_webhook_syncs(lake).to_dict("records")
    assert outcome["status"] == "failed" and "set SALESFORCE_INSTANCE_URL" in outcome["error"]
    assert outcome["since"] is None  # no SystemModstamp sent: the sync reads from the stored cursor
