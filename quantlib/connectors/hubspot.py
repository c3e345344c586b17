"""HubSpot through its CRM v3 API (``hubspot-api-client``): companies, deals and tickets in, scores out.

Settings (environment variables only; the token never appears in an error, a log line or the lake):

==============================  ===========================================================
``HUBSPOT_ACCESS_TOKEN``        a private app's access token (scopes: crm.objects.companies
                                read and write, crm.objects.deals.read, tickets); it does
                                not expire. Or, for a public (OAuth) app:
``HUBSPOT_CLIENT_ID``           the app's client id and secret and the refresh token of
``HUBSPOT_CLIENT_SECRET``       the account's install: Quant gets 30-minute access tokens
``HUBSPOT_REFRESH_TOKEN``       itself (``POST /oauth/v1/token``, before they expire and
                                after a 401, once; :mod:`quantlib.connectors.tokens`;
                                optional ``HUBSPOT_TOKEN_URL``)
``QUANT_HUBSPOT_BASE_URL``      optional: another API root than ``https://api.hubapi.com``
==============================  ===========================================================

Reading. Per object, the CRM search endpoint (``POST /crm/v3/objects/{object}/search``) with
``hs_lastmodifieddate`` GTE the cursor, sorted by it ascending, 100 records a request, paged by
``paging.next.after``. Search answers at most 10,000 records per query, so after that many a new
query starts from the newest modification read. The properties asked for are the columns the
shipped mapping reads, found by their label among the account's property definitions
(``GET /crm/v3/properties/{object}``; :data:`LABELS` holds HubSpot's default ones), so a page has
the export's columns and a company's custom property ("Service line") is found whatever its
internal name; a column the account has no property for (the custom Latitude before it is
created) stays empty, and the mapping's default or a rejection naming the field applies.
A deal's and a ticket's company ("Associated Company IDs (Primary)") is read from the v4
associations batch endpoint: the primary company, else the only one. The cursor is inclusive
(records stamped in the last millisecond landed are read again, never missed).

Deletions: after the live records, the object's archived records (``GET /crm/v3/objects/{object}
?archived=true``, HubSpot's deleted records, restorable for 90 days) archived since the cursor are
taken out of silver (:mod:`quantlib.connectors.deletions`, recorded in
``<lake>/sync/deletions.parquet``).

Writing back (bidirectional): company properties Quant owns, custom properties the account
creates (Settings > Properties > Company): ``quant_churn_risk`` and ``quant_lifetime_value``
(numbers). HubSpot is the system of record for every other property. Current values are read
first (batch read; the audit's ``before``), unchanged ones are not sent, the rest go in batch
updates of up to 100 companies.

Limits: HTTP 429 (HubSpot's ten-second and search limits) and 5xx are retried, ``Retry-After``
honoured when sent, else waiting 1, 2, 4 ... seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pandas as pd

from quantlib.connectors.base import (
    Batch,
    Connector,
    SyncError,
    SyncSettings,
    register,
)
from quantlib.connectors.crm import MEASURES, changed, mapping_columns
from quantlib.connectors.tokens import Refusal, Tokens, call_vendor, missing_credentials

__all__ = ["LABELS", "HubSpotConnector"]

HUBSPOT_API = "https://api.hubapi.com"
RECORD_ID = "Record ID"
#: The column of an archived record's deletion time (the list endpoint's ``archivedAt``).
ARCHIVED_AT = "Archived At"
COMPANY_IDS = "Associated Company IDs (Primary)"
MODIFIED = "hs_lastmodifieddate"
#: Per object, internal property name -> the label its export column has.
LABELS: dict[str, dict[str, str]] = {
    "companies": {"name": "Company name", "domain": "Company Domain Name", "city": "City", "zip": "Postal Code",
                  "latitude": "Latitude", "longitude": "Longitude", "createdate": "Create Date",
                  "hs_analytics_source": "Original Source Type", "hs_is_target_account": "Target Account",
                  MODIFIED: "Last Modified Date"},
    "deals": {"dealname": "Deal Name", "dealstage": "Deal Stage", "amount": "Amount", "closedate": "Close Date",
              "createdate": "Create Date", "pipeline": "Pipeline", "hs_analytics_source": "Original Source Type",
              "service_line": "Service line", MODIFIED: "Last Modified Date"},
    "tickets": {"subject": "Ticket name", "hs_pipeline_stage": "Ticket status", "hs_pipeline": "Pipeline",
                "hs_ticket_priority": "Priority", "source_type": "Source", "hs_ticket_category": "Category",
                "createdate": "Create date", MODIFIED: "Last Modified Date"},
}
#: Association type ids of the primary company (deal to company 5, ticket to company 339).
PRIMARY_COMPANY = {"deals": 5, "tickets": 339}
PAGE_SIZE = 100
BATCH_SIZE = 100


@register
class HubSpotConnector(Connector):
    """HubSpot: ``companies`` (customers), ``deals`` (leads and quotes), ``tickets`` (interactions); hourly,
    bidirectional.

    Parameters
    ----------
    sleep : callable, optional
        How retries wait (default ``time.sleep``).
    search_cap : int
        Records one search query may page through (HubSpot's limit: 10,000).
    """

    name = "hubspot"
    objects = ("companies", "deals", "tickets")
    settings = SyncSettings("hourly", "bidirectional")
    credentials = ("HUBSPOT_ACCESS_TOKEN",)
    owned_fields = {"companies": ("quant_churn_risk", "quant_lifetime_value")}
    stamp_column = ARCHIVED_AT
    #: Per object, each owned property and the Quant measure it holds (quantlib.connectors.crm.MEASURES).
    write_fields = {"companies": {"quant_churn_risk": "churn_risk", "quant_lifetime_value": "lifetime_value"}}

    def __init__(self, sleep=None, search_cap: int = 10_000):
        self.sleep = sleep
        self.search_cap = search_cap
        self.failures: list[str] = []
        self.unchanged = 0

    def missing(self, env: Mapping[str, str]) -> str | None:
        return missing_credentials(self, env)

    def _client(self, env: Mapping[str, str]):
        from hubspot import HubSpot

        self._tokens = Tokens(self.name, env, sleep=self.sleep)
        token = self._tokens.current()
        self._hubspot = HubSpot(access_token=token, host=(env.get("QUANT_HUBSPOT_BASE_URL") or HUBSPOT_API).rstrip("/"))
        return self._hubspot

    def _call(self, what: str, call):
        """``call()`` under the connectors' policy (:func:`~quantlib.connectors.tokens.call_vendor`):
        one new access token after a 401 (API objects made after it send the new one), 429 / 5xx
        retried, the rest a :class:`SyncError`."""
        import urllib3

        def renew():
            self._hubspot.access_token = self._tokens.refresh(stale=self._hubspot.access_token)

        def refusal(exc):
            # each hubspot API package has its own ApiException class: read them by their fields
            status = getattr(exc, "status", None)
            if status is None or not hasattr(exc, "body"):
                return None
            return Refusal(status, _detail(exc.body), exc.headers)

        return call_vendor(self.name, what, call, tokens=self._tokens, renew=renew, refusal=refusal,
                           unreachable=(OSError, urllib3.exceptions.HTTPError), sleep=self.sleep)

    # ------------------------------------------------------------------ reading

    def properties(self, client, obj: str) -> dict[str, str | None]:
        """Export label -> internal property name, for every column the mapping reads from ``obj``.

        Names come from the account's own property definitions (``GET /crm/v3/properties/{obj}``,
        so a custom property is found by its label), else from :data:`LABELS`; a label the account
        has no property for maps to None (its column stays empty, so the mapping's default or a
        rejection naming the field applies).
        """
        answer = self._call(f"{obj} properties", lambda: client.crm.properties.core_api.get_all(obj))
        by_label = {str(p.label).strip().lower(): p.name for p in answer.results or []}
        known = {label.lower(): name for name, label in LABELS[obj].items()}
        found: dict[str, str | None] = {}
        for column in mapping_columns(self.name, f"{obj}.csv"):
            if column in (RECORD_ID, COMPANY_IDS):
                continue
            name = by_label.get(column.strip().lower()) or known.get(column.strip().lower())
            found[column] = name if name is None or name in by_label.values() else None
        found[LABELS[obj][MODIFIED]] = MODIFIED
        return found

    def read(self, obj: str, since: str | None, env: Mapping[str, str]) -> Iterator[Batch]:
        client = self._client(env)
        yield from self._live(client, obj, since)
        yield from self._archived(client, obj, since)

    def _archived(self, client, obj: str, since: str | None) -> Iterator[Batch]:
        """Records archived (deleted) since ``since``: ``GET /crm/v3/objects/{object}?archived=true``, by page.

        The list has no filter by time: the pages are read whole and records archived before
        ``since`` left out. A batch lands nothing and moves no cursor.
        """
        floor = pd.Timestamp(_epoch_ms(since), unit="ms", tz="UTC") if since else None
        after = None
        while True:
            answer = self._call(f"{obj} archived", lambda: client.crm.objects.basic_api.get_page(
                obj, limit=PAGE_SIZE, after=after, archived=True))
            gone = []
            for record in answer.results or []:
                when = pd.Timestamp(record.archived_at) if getattr(record, "archived_at", None) else None
                if when is not None and when.tzinfo is None:
                    when = when.tz_localize("UTC")
                if floor is None or when is None or when >= floor:
                    gone.append({RECORD_ID: record.id, ARCHIVED_AT: _iso(when) if when is not None else None})
            if gone:
                frame = pd.DataFrame(gone, columns=[RECORD_ID, ARCHIVED_AT])
                yield Batch(obj, f"{obj}.csv", frame.iloc[:0], None, deleted=frame)
            after = answer.paging.next.after if answer.paging and answer.paging.next else None
            if after is None:
                return

    def _live(self, client, obj: str, since: str | None) -> Iterator[Batch]:
        """The records modified since ``since``, through the search endpoint (see the module)."""
        named = self.properties(client, obj)
        props = sorted({p for p in named.values() if p})
        columns = [RECORD_ID, *named] + ([COMPANY_IDS] if obj in PRIMARY_COMPANY else [])
        modified = LABELS[obj][MODIFIED]
        cursor = _epoch_ms(since) if since else None
        newest, at_newest = None, set()  # the newest stamp read and the records stamped so
        while True:  # one search query per 10,000 records
            after, seen = None, 0
            while True:
                body = {"limit": PAGE_SIZE, "properties": props,
                        "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}]}
                if cursor is not None:
                    body["filterGroups"] = [{"filters": [{"propertyName": MODIFIED, "operator": "GTE",
                                                          "value": str(cursor)}]}]
                if after is not None:
                    body["after"] = after
                answer = self._call(f"{obj} search", lambda: client.crm.objects.search_api.do_search(obj, body))
                results = answer.results or []
                seen += len(results)
                rows = pd.DataFrame([{RECORD_ID: r.id, **{label: (r.properties or {}).get(p) if p else None
                                                          for label, p in named.items()}} for r in results],
                                    columns=columns)
                stamps = pd.to_datetime(rows[modified], utc=True, errors="coerce")
                # A restarted query reads the records at its starting stamp again: they are landed already.
                fresh = ~(rows[RECORD_ID].isin(at_newest) & (stamps == newest))
                rows, stamps = rows[fresh].reset_index(drop=True), stamps[fresh].reset_index(drop=True)
                if len(rows):
                    if obj in PRIMARY_COMPANY:
                        companies = self._companies(client, obj, list(rows[RECORD_ID]))
                        rows[COMPANY_IDS] = rows[RECORD_ID].map(companies)
                    if stamps.notna().any():
                        top = stamps.max()
                        at_newest = (at_newest if top == newest else set()) | set(rows.loc[stamps == top, RECORD_ID])
                        newest = top
                    yield Batch(obj, f"{obj}.csv", rows.reindex(columns=columns),
                                _iso(newest) if newest is not None else None)
                nxt = answer.paging.next.after if answer.paging and answer.paging.next else None
                if nxt is None:
                    return
                if seen + PAGE_SIZE > self.search_cap:
                    break  # the search limit: start a new query from the newest stamp read
                after = nxt
            if newest is None:
                return
            restart = _epoch_ms(_iso(newest))
            if cursor is not None and restart <= cursor:
                raise SyncError(f"hubspot {obj}: more than {self.search_cap} records share one modification time; "
                                "the search API cannot page past them")
            cursor = restart

    def _companies(self, client, obj: str, ids: list[str]) -> dict[str, str | None]:
        """Record id -> its primary company's id (else its only company), from the v4 associations batch read."""
        body = {"inputs": [{"id": i} for i in ids]}
        answer = self._call(f"{obj} companies", lambda: client.crm.associations.v4.batch_api.get_page(
            obj, "companies", batch_input_public_fetch_associations_batch_request=body))
        found: dict[str, str | None] = {}
        for result in answer.results or []:
            targets = result.to or []
            primary = [t.to_object_id for t in targets
                       if any(a.type_id == PRIMARY_COMPANY[obj] or (a.label or "").lower() == "primary"
                              for a in t.association_types or [])]
            chosen = primary[:1] or ([t.to_object_id for t in targets] if len(targets) == 1 else [])
            found[str(result._from.id)] = str(chosen[0]) if chosen else None
        return found

    # ------------------------------------------------------------------ writing back

    def write_back(self, obj: str, updates: pd.DataFrame, env: Mapping[str, str]) -> pd.DataFrame:
        """Write the owned properties in ``updates`` (``record_id`` + properties) that differ from HubSpot's.

        Returns the fields written (object, record_id, field, before, after); records HubSpot does
        not have are in :attr:`failures`, values already equal counted in :attr:`unchanged`.
        """
        self.check_owned(obj, updates.columns)
        self.failures, self.unchanged = [], 0
        columns = ["object", "record_id", "field", "before", "after"]
        props = [c for c in updates.columns if c != "record_id"]
        bad = [r for r in updates["record_id"].astype(str) if not r.isdigit()]
        self.failures.extend(f"{obj} {r}: not a HubSpot record id; not written" for r in bad)
        updates = updates[~updates["record_id"].astype(str).isin(bad)]
        if updates.empty or not props:
            return pd.DataFrame(columns=columns)
        client = self._client(env)
        decimals = {f: MEASURES[m][1] for f, m in self.write_fields.get(obj, {}).items()}
        written = []
        for start in range(0, len(updates), BATCH_SIZE):
            chunk = updates.iloc[start:start + BATCH_SIZE]
            body = {"properties": props, "inputs": [{"id": str(r)} for r in chunk["record_id"]]}
            answer = self._call(f"{obj} read", lambda: getattr(client.crm, obj).batch_api.read(body))
            current = {str(r.id): r.properties or {} for r in answer.results or []}
            inputs, changes = [], []
            for row in chunk.itertuples(index=False):
                record_id = str(row.record_id)
                if record_id not in current:
                    self.failures.append(f"{obj} {record_id}: not found in HubSpot; not written")
                    continue
                values = {}
                for p in props:
                    after = getattr(row, p)
                    before = current[record_id].get(p)
                    if changed(before, after, decimals.get(p, 2)):
                        values[p] = "" if pd.isna(after) else str(after)
                        changes.append((obj, record_id, p, before, values[p] or None))
                    else:
                        self.unchanged += 1
                if values:
                    inputs.append({"id": record_id, "properties": values})
            if inputs:
                self._call(f"{obj} update", lambda: getattr(client.crm, obj).batch_api.update({"inputs": inputs}))
                written += changes
        return pd.DataFrame(written, columns=columns)


def _epoch_ms(value) -> int:
    """A date or time (``--since``, a cursor) as HubSpot's filter value: milliseconds since the epoch, UTC."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SyncError(f"hubspot: {value!r} is not a date or time") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _detail(body) -> str:
    """HubSpot's error category and message (its error body: {status, message, category, ...})."""
    import json

    try:
        data = json.loads(body) if isinstance(body, (bytes, str)) else {}
    except ValueError:
        return str(body)[:200]
    if isinstance(data, dict):
        return " ".join(str(data[k]) for k in ("category", "message") if data.get(k))
    return str(data)[:200]
