"""Local servers answering like QuickBooks Online's query endpoint and Xero's Accounting API.

Both bind 127.0.0.1 on a free port (:class:`tests.schedule.servers.LocalHttpServer`), keep every
request they were sent (path, query, headers, body) and answer in the documented shapes:

* QuickBooks: ``POST /v3/company/<realm>/query`` with the query text as the body, answered
  ``{"QueryResponse": {"<Entity>": [...], "startPosition": n, "maxResults": m}, "time": ...}``;
  records filtered by ``MetaData.LastUpdatedTime > '...'`` and paged by STARTPOSITION / MAXRESULTS;
  ``GET /v3/company/<realm>/cdc?entities=...&changedSince=...`` (Change Data Capture) answered
  ``{"CDCResponse": [{"QueryResponse": [{"<Entity>": [...]}]}], "time": ...}``, a deleted record as
  ``{"domain": "QBO", "status": "Deleted", "Id": ..., "MetaData": {"LastUpdatedTime": ...}}``.
* Xero: ``GET /api.xro/2.0/{Contacts,Invoices,Payments}?page=n`` (100 a page, filtered by the
  ``If-Modified-Since`` header), answered ``{"Id": ..., "Status": "OK", "<Object>": [...]}`` with
  dates in Xero's ``/Date(ms+0000)/`` form; ``GET``/``POST /Contacts/<id>`` read and update one.

``fail_first`` makes the first answers 429 with a ``Retry-After``, as both vendors rate-limit.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import urllib.parse
from http.server import BaseHTTPRequestHandler

from tests.schedule.servers import LocalHttpServer, reply_json


class _Recording(LocalHttpServer):
    def __init__(self, fail_first: int = 0, retry_after: str = "2"):
        self.requests: list[dict] = []
        self.fail_first = fail_first
        self.retry_after = retry_after
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length", 0) or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urllib.parse.urlsplit(self.path)
                seen = {"method": self.command, "path": url.path, "query": dict(urllib.parse.parse_qsl(url.query)),
                        "headers": dict(self.headers.items()), "body": body}
                outer.requests.append(seen)
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    data = b'{"message": "rate limit exceeded"}'
                    self.send_response(429)
                    self.send_header("Retry-After", outer.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                status, payload = outer.answer(seen)
                reply_json(self, status, payload)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self._listen(Handler)


class QuickBooksServer(_Recording):
    """QuickBooks Online's query endpoint over ``entities`` ({"Invoice": [records]}), and Change Data
    Capture over them and ``deleted`` ({"Invoice": [{"Id", "MetaData": {"LastUpdatedTime"}}]})."""

    def __init__(self, entities: dict[str, list[dict]], realm: str = "9130", **kwargs):
        super().__init__(**kwargs)
        self.entities, self.realm = entities, realm
        self.deleted: dict[str, list[dict]] = {}

    def delete(self, entity: str, record_id: str, when: str) -> None:
        """Delete a record as QuickBooks does: gone from queries, ``status: Deleted`` in CDC."""
        self.entities[entity] = [r for r in self.entities[entity] if r["Id"] != record_id]
        self.deleted.setdefault(entity, []).append({"domain": "QBO", "status": "Deleted", "Id": record_id,
                                                    "MetaData": {"LastUpdatedTime": when}})

    def cdc(self, seen):
        """``GET /v3/company/<realm>/cdc?entities=A,B&changedSince=T``: changed and deleted records since T."""
        since = dt.datetime.fromisoformat(seen["query"]["changedSince"])
        responses = []
        for entity in seen["query"]["entities"].split(","):
            found = [r for r in self.entities.get(entity, []) + self.deleted.get(entity, [])
                     if dt.datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) >= since]
            responses.append({entity: found, "startPosition": 1, "maxResults": len(found), "totalCount": len(found)})
        return 200, {"CDCResponse": [{"QueryResponse": responses}], "time": "2026-12-07T10:00:00.000-07:00"}

    @property
    def api_url(self) -> str:
        return self.url + "/v3"

    def answer(self, seen):
        cdc = seen["path"] == f"/v3/company/{self.realm}/cdc" and seen["method"] == "GET"
        if not cdc and (seen["path"] != f"/v3/company/{self.realm}/query" or seen["method"] != "POST"):
            return 404, {"Fault": {"Error": [{"Message": "not found", "code": "610"}], "type": "ValidationFault"}}
        if seen["headers"].get("Authorization") != "Bearer qb-t0ken-SECRET":
            return 401, {"Fault": {"Error": [{"Message": "AuthenticationFailed", "code": "3200"}]}}
        if cdc:
            return self.cdc(seen)
        query = seen["body"]
        entity = re.search(r"FROM (\w+)", query, re.I).group(1)
        records = sorted(self.entities.get(entity, []), key=lambda r: r["MetaData"]["LastUpdatedTime"])
        since = re.search(r"LastUpdatedTime > '([^']+)'", query)
        if since:
            cut = dt.datetime.fromisoformat(since.group(1))
            records = [r for r in records if dt.datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) > cut]
        start = int(re.search(r"STARTPOSITION (\d+)", query).group(1))
        size = int(re.search(r"MAXRESULTS (\d+)", query).group(1))
        page = records[start - 1:start - 1 + size]
        response = {"startPosition": start, "maxResults": len(page)}
        if page:
            response[entity] = page
        return 200, {"QueryResponse": response, "time": "2024-06-01T10:00:00.000-07:00"}


def xero_date(stamp: str) -> str:
    """An ISO time as Xero's JSON writes dates: ``/Date(<ms since 1970>+0000)/``."""
    when = dt.datetime.fromisoformat(stamp)
    when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return f"/Date({int(when.timestamp() * 1000)}+0000)/"


class XeroServer(_Recording):
    """Xero's Accounting API over ``objects`` ({"Invoices": [records in the API's JSON]})."""

    def __init__(self, objects: dict[str, list[dict]], tenant: str = "tenant-1", **kwargs):
        super().__init__(**kwargs)
        self.objects, self.tenant = objects, tenant
        self.updates: list[dict] = []

    @property
    def api_url(self) -> str:
        return self.url + "/api.xro/2.0"

    def answer(self, seen):
        headers = {k.lower(): v for k, v in seen["headers"].items()}
        if headers.get("authorization") != "Bearer xero-t0ken-SECRET" or headers.get("xero-tenant-id") != self.tenant:
            return 401, {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"}
        parts = seen["path"].removeprefix("/api.xro/2.0/").split("/")
        name = parts[0]
        if name not in self.objects:
            return 404, {"Message": "not found"}
        records = self.objects[name]
        if len(parts) == 2:  # one contact: read or update
            [found] = [r for r in records if r["ContactID"] == parts[1]]
            if seen["method"] == "POST":
                change = json.loads(seen["body"])["Contacts"][0]
                self.updates.append(change)
                found.update({k: v for k, v in change.items() if k != "ContactID"})
            return 200, {"Id": "x", "Status": "OK", name: [found]}
        records = sorted(records, key=lambda r: r["UpdatedDateUTC"])
        since = headers.get("if-modified-since")
        if since:
            cut = email.utils.parsedate_to_datetime(since) if "," in since else dt.datetime.fromisoformat(since)
            cut = cut if cut.tzinfo else cut.replace(tzinfo=dt.timezone.utc)
            records = [r for r in records if _ms(r["UpdatedDateUTC"]) >= cut]
        page = int(seen["query"].get("page", 1))
        return 200, {"Id": "x", "Status": "OK", "ProviderName": "Quant tests",
                     name: records[(page - 1) * 100:page * 100]}


def _ms(xero: str) -> dt.datetime:
    ms = int(re.search(r"/Date\((-?\d+)", xero).group(1))
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
