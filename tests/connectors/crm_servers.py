"""Local stand-ins for Salesforce (HTTPS, a trustme certificate authority) and HubSpot (HTTP), answering
in the shapes of the vendors' API references:

- Salesforce REST: ``GET /services/data/vXX.X/sobjects/{obj}/describe`` ({name, fields: [{name}]}),
  ``GET .../query/?q=SOQL`` and ``GET .../query/{locator}`` ({totalSize, done, nextRecordsUrl,
  records: [{attributes: {type, url}, ...}]}; ``queryAll`` likewise, with the records deleted
  (``IsDeleted``) too), ``PATCH .../composite/sobjects`` (sObject
  Collections: {allOrNone, records} -> [{id, success, errors}]); errors as [{message, errorCode}].
- HubSpot CRM: ``GET /crm/v3/properties/{obj}`` ({results: [{name, label, type, fieldType, ...}]}),
  ``POST /crm/v3/objects/{obj}/search`` ({total, results: [{id, properties, createdAt,
  updatedAt, archived}], paging: {next: {after}}}; archived records never), ``GET
  /crm/v3/objects/{obj}?archived=true`` (the archived ones, with archivedAt),
  ``POST /crm/v4/associations/{obj}/companies/batch/read``
  ({status, results: [{from: {id}, to: [{toObjectId, associationTypes: [{category, typeId, label}]}]}]}),
  ``POST /crm/v3/objects/companies/batch/read`` and ``/batch/update`` ({status, results, startedAt,
  completedAt}); errors as {status, message, category}.

Both page by two records (``page_size``; the real APIs answer up to 2,000 records a Salesforce query
batch and up to 200 a HubSpot search request, 100 as the connector asks: ``benchmarks/sync.py`` uses
those), check the Bearer token, can be told to answer 429 with Retry-After once, and record every
request. Bound to 127.0.0.1 on a free port; stopped by the ``with`` block.
"""

from __future__ import annotations

import functools
import json
import re
import ssl
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pandas as pd

from tests.schedule.servers import LocalHttpServer, reply_json

SF_TOKEN = "00Dxx0000001gPL!AQ4AQsf-s3cret-T0ken"
HS_TOKEN = "pat-na1-11111111-s3cret-hubspot-t0ken"
VERSION = "59.0"
STAMP = "%Y-%m-%dT%H:%M:%S.000+0000"


@functools.lru_cache(maxsize=None)
def _when(text: str) -> pd.Timestamp:
    """A record's stamp, parsed once (a search over many records filters them all on every page)."""
    return pd.Timestamp(text)


class _Recorder(BaseHTTPRequestHandler):
    outer = None

    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length", 0))
        return json.loads(self.rfile.read(length)) if length else None

    def _limited(self) -> bool:
        """Answer 429 with Retry-After (or the rule's own status and body) to the next request matching a rule."""
        for rule in list(self.outer.throttle):
            method, pattern, retry_after, *other = rule  # other: an answer (status, body) instead of 429
            if method == self.command and re.search(pattern, self.path):
                self.outer.throttle.remove(rule)
                status, body = other if other else (429, self.outer.rate_limit_body)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True
        return False


class SalesforceServer(LocalHttpServer):
    """A Salesforce org's REST API over TLS; ``records[obj]`` are dicts with Id and SystemModstamp."""

    rate_limit_body = [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED_TEMPORARILY"}]

    def __init__(self, tmp_path, records: dict[str, list[dict]], fields: dict[str, list[str]], page_size: int = 2):
        import trustme

        self.records, self.fields, self.page_size = records, fields, page_size
        self.requests: list[tuple[str, str, dict | list | None]] = []  # (method, path with query, body)
        self.throttle: list[tuple[str, str, float]] = []
        self.locators: dict[str, list[dict]] = {}
        outer = self

        class Handler(_Recorder):
            outer = self

            def _auth(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {SF_TOKEN}":
                    reply_json(self, 401, [{"message": "Session expired or invalid",
                                            "errorCode": "INVALID_SESSION_ID"}])
                    return False
                return True

            def do_GET(self):
                outer.requests.append(("GET", urllib.parse.unquote_plus(self.path), None))
                if not self._auth() or self._limited():
                    return
                path, _, query = self.path.partition("?")
                base = f"/services/data/v{VERSION}/"
                if path.startswith(base + "sobjects/") and path.endswith("/describe"):
                    obj = path.split("/")[-2]
                    reply_json(self, 200, {"name": obj, "fields": [{"name": f} for f in outer.fields[obj]]})
                elif path in (base + "query/", base + "queryAll/"):
                    reply_json(self, 200, outer.query(dict(urllib.parse.parse_qsl(query))["q"],
                                                      everything=path.endswith("queryAll/")))
                elif path.startswith((base + "query/", base + "queryAll/")):
                    reply_json(self, 200, outer.page(path.rsplit("/", 1)[1], path.split("/")[-2]))
                else:
                    reply_json(self, 404, [{"message": "The requested resource does not exist",
                                            "errorCode": "NOT_FOUND"}])

            def do_PATCH(self):
                body = self._body()
                outer.requests.append(("PATCH", self.path, body))
                if not self._auth() or self._limited():
                    return
                if self.path != f"/services/data/v{VERSION}/composite/sobjects":
                    reply_json(self, 404, [{"message": "not found", "errorCode": "NOT_FOUND"}])
                    return
                results = []
                for record in body["records"]:
                    obj = record["attributes"]["type"]
                    found = next((r for r in outer.records[obj] if r["Id"] == record["id"]), None)
                    if found is None:
                        results.append({"id": record["id"], "success": False, "errors": [
                            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]})
                        continue
                    found.update({k: v for k, v in record.items() if k not in ("attributes", "id")})
                    results.append({"id": record["id"], "success": True, "errors": []})
                reply_json(self, 200, results)

        ca = trustme.CA()
        self.ca_file = tmp_path / "salesforce-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self._listen(Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = self.url.replace("http://", "https://")

    @property
    def session(self):
        """A requests session that trusts the test certificate authority (and nothing else)."""
        import requests

        session = requests.Session()
        session.trust_env = False  # else $REQUESTS_CA_BUNDLE, when set, replaces verify
        session.verify = str(self.ca_file)
        return session

    def env(self) -> dict[str, str]:
        return {"SALESFORCE_INSTANCE_URL": self.url, "SALESFORCE_ACCESS_TOKEN": SF_TOKEN}

    def query(self, soql: str, everything: bool = False) -> dict:
        """The query resource (live records only), or queryAll (``everything``: deleted ones too, IsDeleted set)."""
        match = re.fullmatch(r"SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+?))?"
                             r"(?: ORDER BY SystemModstamp ASC)?", soql)
        assert match, soql
        fields = [f.strip() for f in match["fields"].split(",")]
        obj, where = match["obj"], match["where"]
        unknown = [f for f in fields if f not in self.fields[obj] + ["IsDeleted"]]
        assert not unknown, f"No such column {unknown} on entity {obj}"  # Salesforce: INVALID_FIELD
        rows = [r for r in self.records[obj] if everything or not r.get("IsDeleted")]
        if where and where.startswith("IsDeleted = true"):
            rows = [r for r in rows if r.get("IsDeleted")]
            where = where.removeprefix("IsDeleted = true").removeprefix(" AND ") or None
        if where and where.startswith("SystemModstamp >= "):
            since = pd.Timestamp(where.split(">= ")[1])
            rows = [r for r in rows if _when(r["SystemModstamp"]) >= since]
        elif where and where.startswith("Id IN ("):
            ids = re.findall(r"'([^']+)'", where)
            rows = [r for r in rows if r["Id"] in ids]
        rows.sort(key=lambda r: r.get("SystemModstamp", ""))
        shaped = [{"attributes": {"type": obj, "url": f"/services/data/v{VERSION}/sobjects/{obj}/{r['Id']}"},
                   **{f: r.get(f) for f in fields}} for r in rows]
        locator = f"01g{len(self.locators):05d}"
        self.locators[locator] = shaped
        return self.page(f"{locator}-0", "queryAll" if everything else "query")

    def page(self, identifier: str, resource: str = "query") -> dict:
        locator, offset = identifier.rsplit("-", 1)
        rows, start = self.locators[locator], int(offset)
        end = start + self.page_size
        answer = {"totalSize": len(rows), "done": end >= len(rows), "records": rows[start:end]}
        if not answer["done"]:
            answer["nextRecordsUrl"] = f"/services/data/v{VERSION}/{resource}/{locator}-{end}"
        return answer


class HubSpotServer(LocalHttpServer):
    """HubSpot's CRM API; ``records[obj]`` are {id, properties} with hs_lastmodifieddate, ``companies_of``
    maps a deal or ticket id to its company associations [(company id, [typeIds])], ``properties[obj]``
    the account's property definitions {name: label}."""

    rate_limit_body = {"status": "error", "message": "You have reached your secondly limit.",
                       "category": "RATE_LIMITS"}

    def __init__(self, records: dict[str, list[dict]], companies_of: dict[str, list[tuple[str, list[int]]]],
                 properties: dict[str, dict[str, str]], page_size: int = 2):
        self.records, self.companies_of, self.properties = records, companies_of, properties
        self.page_size = page_size
        self.requests: list[tuple[str, str, dict | None]] = []
        self.throttle: list[tuple[str, str, float]] = []
        outer = self

        class Handler(_Recorder):
            outer = self

            def do_GET(self):
                outer.requests.append(("GET", self.path, None))
                path, _, query = self.path.partition("?")
                listed = re.fullmatch(r"/crm/v3/objects/(\w+)", path)
                if listed and self.headers.get("Authorization") == f"Bearer {HS_TOKEN}":
                    reply_json(self, 200, outer.archived(listed[1], dict(urllib.parse.parse_qsl(query))))
                    return
                m = re.fullmatch(r"/crm/v3/properties/(\w+)", path)
                if self.headers.get("Authorization") != f"Bearer {HS_TOKEN}" or not m:
                    reply_json(self, 401 if m else 404, {"status": "error", "message": "no", "category": "ERROR"})
                    return
                reply_json(self, 200, {"results": [
                    {"name": name, "label": label, "type": "string", "fieldType": "text", "groupName": "info",
                     "description": "", "options": []} for name, label in outer.properties[m[1]].items()]})

            def do_POST(self):
                body = self._body()
                outer.requests.append(("POST", self.path, body))
                if self.headers.get("Authorization") != f"Bearer {HS_TOKEN}":
                    reply_json(self, 401, {"status": "error", "category": "INVALID_AUTHENTICATION",
                                           "message": "Authentication credentials not found."})
                    return
                if self._limited():
                    return
                path = self.path.split("?")[0]
                if m := re.fullmatch(r"/crm/v3/objects/(\w+)/search", path):
                    reply_json(self, 200, outer.search(m[1], body))
                elif m := re.fullmatch(r"/crm/v4/associations/(\w+)/companies/batch/read", path):
                    reply_json(self, 200, outer.batch([{
                        "from": {"id": i["id"]},
                        "to": [{"toObjectId": int(c), "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": t, "label": "Primary" if t in (5, 339) else None}
                            for t in types]} for c, types in outer.companies_of.get(i["id"], [])]}
                        for i in body["inputs"]]))
                elif m := re.fullmatch(r"/crm/v3/objects/(\w+)/batch/read", path):
                    known = {r["id"]: r for r in outer.records[m[1]]}
                    reply_json(self, 200, outer.batch([outer.shaped(known[i["id"]], body["properties"])
                                                       for i in body["inputs"] if i["id"] in known]))
                elif m := re.fullmatch(r"/crm/v3/objects/(\w+)/batch/update", path):
                    known = {r["id"]: r for r in outer.records[m[1]]}
                    for item in body["inputs"]:
                        known[item["id"]]["properties"].update(item["properties"])
                    reply_json(self, 200, outer.batch([outer.shaped(known[i["id"]], list(i["properties"]))
                                                       for i in body["inputs"]]))
                else:
                    reply_json(self, 404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"})

        self._listen(Handler)

    def env(self) -> dict[str, str]:
        return {"HUBSPOT_ACCESS_TOKEN": HS_TOKEN, "QUANT_HUBSPOT_BASE_URL": self.url}

    @staticmethod
    def shaped(record: dict, properties: list[str]) -> dict:
        props = record["properties"]
        return {"id": record["id"], "properties": {p: props.get(p) for p in properties + ["hs_object_id"]},
                "createdAt": props.get("createdate") or "2024-01-01T00:00:00Z",
                "updatedAt": props["hs_lastmodifieddate"], "archived": False}

    @staticmethod
    def batch(results: list) -> dict:
        return {"status": "COMPLETE", "results": results, "startedAt": "2024-06-01T00:00:00Z",
                "completedAt": "2024-06-01T00:00:01Z"}

    def archived(self, obj: str, query: dict) -> dict:
        """``GET /crm/v3/objects/{obj}?archived=true``: the archived records (``archived``, ``archivedAt``), by page."""
        assert query.get("archived", "").lower() == "true", query  # the client sends True
        rows = [r for r in self.records[obj] if r.get("archived")]
        start = int(query.get("after", 0))
        size = min(int(query.get("limit", 10)), self.page_size)
        answer = {"results": [{**self.shaped(r, []), "archived": True, "archivedAt": r["archivedAt"]}
                              for r in rows[start:start + size]]}
        if start + size < len(rows):
            answer["paging"] = {"next": {"after": str(start + size), "link": "?after=" + str(start + size)}}
        return answer

    def search(self, obj: str, body: dict) -> dict:
        rows = [r for r in self.records[obj] if not r.get("archived")]  # search never returns archived records
        for group in body.get("filterGroups", []):
            for f in group["filters"]:
                assert (f["propertyName"], f["operator"]) == ("hs_lastmodifieddate", "GTE"), f
                since = pd.Timestamp(int(f["value"]), unit="ms", tz="UTC")
                rows = [r for r in rows if _when(r["properties"]["hs_lastmodifieddate"]) >= since]
        assert body["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
        rows.sort(key=lambda r: r["properties"]["hs_lastmodifieddate"])
        start = int(body.get("after", 0))
        size = min(body.get("limit", 10), self.page_size)
        answer = {"total": len(rows), "results": [self.shaped(r, body["properties"]) for r in rows[start:start + size]]}
        if start + size < len(rows):
            answer["paging"] = {"next": {"after": str(start + size), "link": "?after=" + str(start + size)}}
        return answer
