"""Accounting webhooks: verify a vendor's change notification, record it in the lake, sync what changed.

QuickBooks Online and Xero notify a URL when records change (``quant webhooks serve``:
``POST /quickbooks/webhook``, ``POST /xero/webhook``). Both sign the raw body: the header
(``intuit-signature``, ``x-xero-signature``) is the base64 HMAC-SHA256 of the body under a
secret the vendor's developer portal shows (QuickBooks' *verifier token*, Xero's *webhook key*).
:func:`verify_signature` checks it in constant time; a request that fails is refused and
changes nothing.

A notification names records, not their contents, so a verified one is

1. recorded, one row per changed record, in ``<lake>/sync/events.jsonl`` (appended and flushed to
   disk before the vendor is answered: a notification is never lost, even if the sync then
   fails), and
2. synced (:func:`sync_events`, run after the answer: Xero wants one within 5 seconds): the
   connector's ordinary :func:`~quantlib.connectors.base.sync` of the objects the records belong
   to, from the earliest change time, so the changed records land through the ingest like any
   other page. The outcome (objects, since, rows, or the error) is appended to
   ``<lake>/sync/webhook_syncs.jsonl``.

Payload shapes (the vendors' webhook references):

* QuickBooks: ``{"eventNotifications": [{"realmId": ..., "dataChangeEvent": {"entities": [{"name":
  "Invoice", "id": "130", "operation": "Update", "lastUpdated": "2024-05-25T15:00:00.000Z"}]}}]}``.
* Xero: ``{"events": [{"resourceUrl": ..., "resourceId": ..., "eventDateUtc": ..., "eventType":
  "UPDATE", "eventCategory": "INVOICE", "tenantId": ..., "tenantType": "ORGANISATION"}],
  "firstEventSequence": n, "lastEventSequence": m, "entropy": ...}``; its "intent to receive"
  check sends ``events: []`` correctly and incorrectly signed, and expects 200 and 401.
* Salesforce outbound messages (the outbound messaging WSDL): a SOAP 1.1 envelope whose body is a
  ``notifications`` element (namespace ``http://soap.sforce.com/2005/09/outbound``) holding
  ``OrganizationId``, ``ActionId``, ``SessionId`` (nillable), ``EnterpriseUrl``, ``PartnerUrl`` and
  up to 100 ``Notification`` elements, each an ``Id`` (the notification's) and an ``sObject`` of
  ``xsi:type`` ``sf:Account`` (``sf:Opportunity`` ...) whose children (namespace
  ``urn:sobject.enterprise.soap.sforce.com``) are the fields the outbound message sends; parsed by
  :func:`salesforce_notification`. They carry no signature: the receiver checks the organisation.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import xml.etree.ElementTree as ET  # nosec B405 - a DTD is refused before parsing (see salesforce_notification)
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from quantlib.connectors.base import CONNECTORS, Connector, SyncError, _sync_dir, sync
from quantlib.errors import QuantError

__all__ = ["EVENT_COLUMNS", "NotificationError", "quickbooks_events", "read_events", "read_webhook_syncs",
           "record_events", "salesforce_notification", "sync_events", "verify_signature", "xero_events"]

class NotificationError(QuantError, ValueError):
    """A signed notification whose body is not in the vendor's documented shape."""


#: One row per changed record a notification named.
EVENT_COLUMNS = ("received_at", "source", "object", "record_id", "operation", "event_time", "tenant", "synced")

#: Xero's event categories -> the objects to sync (a payment changes its invoice: both are read).
XERO_CATEGORIES = {"INVOICE": ("Invoices", "Payments"), "CONTACT": ("Contacts",)}


def verify_signature(body: bytes, signature: str | None, key: str) -> bool:
    """Whether ``signature`` is the base64 HMAC-SHA256 of ``body`` under ``key`` (constant-time compare)."""
    if not signature or not key:
        return False
    expected = base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")
    return hmac.compare_digest(expected, signature.strip())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def quickbooks_events(payload: dict, realm: str | None = None) -> list[dict]:
    """The changed records of a QuickBooks notification (``synced`` False for another company or object).

    Raises
    ------
    NotificationError
        The payload is not in the documented shape.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("eventNotifications"), list):
        raise NotificationError("not a QuickBooks notification: no eventNotifications list")
    objects = CONNECTORS["quickbooks"].objects
    received, events = _now(), []
    for note in payload["eventNotifications"]:
        entities = ((note or {}).get("dataChangeEvent") or {}).get("entities")
        if not isinstance(entities, list):
            raise NotificationError("not a QuickBooks notification: an eventNotification has no "
                                    "dataChangeEvent.entities")
        tenant = str(note.get("realmId") or "")
        for entity in entities:
            name = str(entity.get("name") or "")
            events.append({"received_at": received, "source": "quickbooks", "object": name,
                           "record_id": str(entity.get("id") or ""), "operation": str(entity.get("operation") or ""),
                           "event_time": str(entity.get("lastUpdated") or ""), "tenant": tenant,
                           "synced": name in objects and (not realm or tenant == realm)})
    return events


def xero_events(payload: dict, tenant: str | None = None) -> list[dict]:
    """The changed records of a Xero notification (one row per object an event makes Quant read).

    Raises
    ------
    NotificationError
        The payload is not in the documented shape.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise NotificationError("not a Xero notification: no events list")
    received, events = _now(), []
    for event in payload["events"]:
        category, owner = str(event.get("eventCategory") or ""), str(event.get("tenantId") or "")
        ours = not tenant or owner == tenant
        for obj in XERO_CATEGORIES.get(category, (category,)):
            events.append({"received_at": received, "source": "xero", "object": obj,
                           "record_id": str(event.get("resourceId") or ""),
                           "operation": str(event.get("eventType") or ""),
                           "event_time": str(event.get("eventDateUtc") or ""), "tenant": owner,
                           "synced": ours and category in XERO_CATEGORIES})
    return events


_SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
_OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"
_SOBJECT = "{urn:sobject.enterprise.soap.sforce.com}"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
#: The fields of an outbound message's sObject that date its change, most precise first.
STAMP_FIELDS = ("SystemModstamp", "LastModifiedDate")


def salesforce_notification(body: bytes) -> tuple[str, list[dict]]:
    """The organisation and the changed records of a Salesforce outbound message (a SOAP ``notifications``).

    One row per ``Notification``: ``object`` the sObject's type without its prefix (``Account``),
    ``record_id`` its ``Id``, ``operation`` ``"outbound message"``, ``event_time`` its
    ``SystemModstamp`` (else ``LastModifiedDate``; blank when the message sends neither), ``tenant``
    the organisation, ``synced`` whether the Salesforce connector reads that object. The
    organisation is not checked here (the receiver compares it with the configured one).

    Raises
    ------
    NotificationError
        The body is not XML, holds a document type declaration, or is not a ``notifications``
        envelope (no OrganizationId, a Notification without an Id or an sObject type).
    """
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:  # Salesforce sends none; entities are an XML attack
        raise NotificationError("not a Salesforce outbound message: a document type declaration")
    try:
        root = ET.fromstring(body)  # nosec B314 - no DTD (refused above), so no entity expansion
    except ET.ParseError:
        raise NotificationError("not a Salesforce outbound message: the body is not XML") from None
    note = root.find(f"{_SOAP}Body/{_OUTBOUND}notifications")
    if root.tag != f"{_SOAP}Envelope" or note is None:
        raise NotificationError("not a Salesforce outbound message: no SOAP Body/notifications element")
    org = (note.findtext(f"{_OUTBOUND}OrganizationId") or "").strip()
    if not org:
        raise NotificationError("not a Salesforce outbound message: no OrganizationId")
    objects = CONNECTORS["salesforce"].objects
    received, events = _now(), []
    for item in note.findall(f"{_OUTBOUND}Notification"):
        record = item.find(f"{_OUTBOUND}sObject")
        kind = record.get(_XSI_TYPE, "") if record is not None else ""
        if not (item.findtext(f"{_OUTBOUND}Id") or "").strip() or not kind:
            raise NotificationError("not a Salesforce outbound message: a Notification without an Id or an "
                                    "sObject type")
        obj = kind.rsplit(":", 1)[-1]
        fields = {child.tag.replace(_SOBJECT, ""): (child.text or "").strip() for child in record}
        stamp = next((fields[f] for f in STAMP_FIELDS if fields.get(f)), "")
        events.append({"received_at": received, "source": "salesforce", "object": obj,
                       "record_id": fields.get("Id", ""), "operation": "outbound message", "event_time": stamp,
                       "tenant": org, "synced": obj in objects})
    return org, events


def _append(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())


def _read(path: Path, columns) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=list(columns))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=list(columns))


def record_events(lake, events: list[dict]) -> None:
    """Append ``events`` to ``<lake>/sync/events.jsonl``, on disk before returning."""
    if events:
        _append(_sync_dir(lake) / "events.jsonl", [{c: e.get(c) for c in EVENT_COLUMNS} for e in events])


def read_events(lake) -> pd.DataFrame:
    """Every recorded notification row (:data:`EVENT_COLUMNS`), oldest first."""
    return _read(_sync_dir(lake) / "events.jsonl", EVENT_COLUMNS)


SYNC_COLUMNS = ("at", "source", "objects", "since", "status", "rows", "rejected", "error")


def read_webhook_syncs(lake) -> pd.DataFrame:
    """The outcome of every sync a notification started (:data:`SYNC_COLUMNS`)."""
    return _read(_sync_dir(lake) / "webhook_syncs.jsonl", SYNC_COLUMNS)


def _since(source: str, stamps: list[str]) -> str | None:
    times = []
    for stamp in stamps:
        try:
            when = pd.Timestamp(stamp)
        except (ValueError, TypeError):
            continue
        if pd.isna(when):  # a blank stamp is NaT, not an error
            continue
        times.append(when.tz_convert("UTC") if when.tzinfo else when.tz_localize("UTC"))
    if not times:
        return None
    earliest = min(times)
    if source == "quickbooks":  # its query asks for changes after the cursor: step back past the event
        earliest -= pd.Timedelta(seconds=1)
    return earliest.isoformat()


def sync_events(lake, source: str, events: list[dict], env: Mapping[str, str] | None = None,
                connector: Connector | None = None) -> dict | None:
    """Sync the objects ``events`` name from their earliest change; record and return the outcome.

    Nothing is synced (None) when no event is for this company and a synced object. A failure
    (:class:`~quantlib.connectors.base.SyncError`, e.g. a missing token) is recorded with its
    message, which never holds a credential, and not raised: the notification is already recorded.
    """
    connector = connector or CONNECTORS[source]()
    wanted = [e for e in events if e.get("synced") and e.get("source") == source]
    objects = [o for o in connector.objects if any(e["object"] == o for e in wanted)]
    if not objects:
        return None
    since = _since(source, [e["event_time"] for e in wanted])
    outcome = {"at": _now(), "source": source, "objects": ",".join(objects), "since": since}
    try:
        report = sync(lake, source, since=since, env=env, objects=objects, connector=connector)
    except SyncError as exc:
        outcome.update(status="failed", rows=0, rejected=0, error=str(exc))
    else:
        outcome.update(status="synced", rows=sum(report.rows.values()), rejected=report.rows_rejected, error="")
    _append(_sync_dir(lake) / "webhook_syncs.jsonl", [outcome])
    return outcome
