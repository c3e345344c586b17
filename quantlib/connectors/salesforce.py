"""Salesforce through its REST API (``simple-salesforce``): accounts, opportunities and contacts in, scores out.

Settings (environment variables only; the token never appears in an error, a log line or the lake):

==============================  ===========================================================
``SALESFORCE_INSTANCE_URL``     the org's URL, e.g. ``https://acme.my.salesforce.com``
``SALESFORCE_ACCESS_TOKEN``     an OAuth access token (a connected app's; sent as Bearer), or:
``SALESFORCE_CLIENT_ID``        the connected app's consumer key and secret, for Quant to get
``SALESFORCE_CLIENT_SECRET``    access tokens itself (client credentials flow, or with
``SALESFORCE_REFRESH_TOKEN``    a refresh token the refresh-token flow; see
                                :mod:`quantlib.connectors.tokens`); optional
                                ``SALESFORCE_TOKEN_URL``
``SALESFORCE_API_VERSION``      optional, default simple-salesforce's (``59.0``)
==============================  ===========================================================

An access token the org refuses (401 ``INVALID_SESSION_ID``: expired) is replaced once, when the
refresh settings are set, and the call made again.

Reading. Per object, one SOQL query of the fields the shipped mapping reads
(:func:`~quantlib.connectors.crm.mapping_columns`; those the org does not have, by its
``describe``, are left out and the mapping's defaults or rejections apply) plus ``SystemModstamp``,
``WHERE SystemModstamp >= cursor ORDER BY SystemModstamp``; every batch of the answer (the query
resource's ``records``, then ``query_more`` on ``nextRecordsUrl`` until ``done``) is one page in
the export's columns (``Account.csv``: API field names), its newest ``SystemModstamp`` the cursor.
The cursor is inclusive: records stamped in the same millisecond as the last one landed are read
again rather than missed (landing a record twice changes nothing).

Deletions: after the live records, ``queryAll`` of ``SELECT Id, SystemModstamp FROM obj WHERE
IsDeleted = true AND SystemModstamp >= cursor`` (the recycle bin: Salesforce keeps deleted records
there 15 days) gives the records deleted since; each batch is a :class:`Batch` whose ``deleted``
rows :func:`~quantlib.connectors.deletions.apply_deletions` takes out of silver (recorded in
``<lake>/sync/deletions.parquet``). A record purged from the recycle bin before a sync is not seen.

Writing back (bidirectional): the Account fields Quant owns, custom fields the org creates
(Setup > Object Manager > Account): ``Quant_Churn_Risk__c`` (number, 3 decimals) and
``Quant_Lifetime_Value__c`` (currency). Salesforce is the system of record for every other
field. The current values are read first (the audit's ``before``), unchanged ones are not sent,
the rest go in sObject Collections updates of up to 200 records (``allOrNone`` false: a record
Salesforce refuses is reported, the others are written).

Limits: HTTP 429 and 5xx are retried (``Retry-After`` honoured); ``REQUEST_LIMIT_EXCEEDED``
(the org's 24-hour API allowance, HTTP 403) stops the sync with that reason, since waiting minutes
does not help.
"""

from __future__ import annotations

import re
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

__all__ = ["SalesforceConnector", "soql_datetime"]

_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
#: Records per sObject Collections request (the API's maximum).
COLLECTION_SIZE = 200


def soql_datetime(value: str) -> str:
    """A cursor or ``--since`` value as a SOQL datetime literal (UTC, ``2024-05-01T00:00:00.000Z``).

    Raises
    ------
    SyncError
        ``value`` is not a date or time (nothing else is ever put into a query).
    """
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SyncError(f"salesforce: {value!r} is not a date or time") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@register
class SalesforceConnector(Connector):
    """Salesforce: ``Account`` (customers), ``Opportunity`` (leads and quotes), ``Contact`` (its account's
    preferred channel); real-time, bidirectional.

    Parameters
    ----------
    session : requests.Session, optional
        The HTTP session simple-salesforce uses (e.g. one trusting a private certificate
        authority); default a new one.
    sleep : callable, optional
        How retries wait (default ``time.sleep``).
    """

    name = "salesforce"
    #: Contacts last: they set their accounts' preferred channel (the mapping's update contact_channels).
    objects = ("Account", "Opportunity", "Contact")
    settings = SyncSettings("real-time", "bidirectional")
    credentials = ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN")
    stamp_column = "SystemModstamp"
    owned_fields = {"Account": ("Quant_Churn_Risk__c", "Quant_Lifetime_Value__c")}
    #: Per object, each owned field and the Quant measure it holds (quantlib.connectors.crm.MEASURES).
    write_fields = {"Account": {"Quant_Churn_Risk__c": "churn_risk", "Quant_Lifetime_Value__c": "lifetime_value"}}

    def __init__(self, session=None, sleep=None):
        self.session = session
        self.sleep = sleep
        self.failures: list[str] = []
        self.unchanged = 0

    # ------------------------------------------------------------------ the client and its calls

    def missing(self, env: Mapping[str, str]) -> str | None:
        return missing_credentials(self, env)

    def _client(self, env: Mapping[str, str]):
        from simple_salesforce import Salesforce
        from simple_salesforce.api import DEFAULT_API_VERSION

        self._tokens = Tokens(self.name, env, session=self.session, sleep=self.sleep)
        token = self._tokens.current()
        self._sf = Salesforce(instance_url=env["SALESFORCE_INSTANCE_URL"], session_id=token,
                              version=env.get("SALESFORCE_API_VERSION") or DEFAULT_API_VERSION, session=self.session)
        return self._sf

    def _renew(self) -> None:
        """Give the client a new access token in place of the one the org refused."""
        self._sf.session_id = self._tokens.refresh(stale=self._sf.session_id)
        self._sf._generate_headers()

    def _call(self, what: str, call):
        """``call()`` under the connectors' policy (:func:`~quantlib.connectors.tokens.call_vendor`):
        one new access token after a 401, 429 / 5xx retried, the rest a :class:`SyncError`."""
        from simple_salesforce.exceptions import SalesforceError

        def refusal(exc):
            if not isinstance(exc, SalesforceError):
                return None
            detail = _detail(exc.content)
            limit = (f"salesforce {what}: the org's API request limit is used up (REQUEST_LIMIT_EXCEEDED); it "
                     "frees up over 24 hours") if "REQUEST_LIMIT_EXCEEDED" in detail else None
            return Refusal(exc.status, detail, self._last_headers(), message=limit)

        return call_vendor(self.name, what, call, tokens=self._tokens, renew=self._renew, refusal=refusal,
                           sleep=self.sleep)

    def _last_headers(self):
        return getattr(getattr(self, "_last_response", None), "headers", None)

    def _on_response(self, response, *args, **kwargs):
        self._last_response = response  # its Retry-After, when simple-salesforce raises for its status

    def _remember_responses(self, client) -> None:
        if self._on_response not in client.session.hooks["response"]:
            client.session.hooks["response"].append(self._on_response)

    # ------------------------------------------------------------------ reading

    def fields(self, client, obj: str) -> list[str]:
        """The fields queried for ``obj``: those the mapping reads that the org has, and SystemModstamp."""
        described = self._call(f"{obj} describe", lambda: getattr(client, obj).describe())
        have = {f["name"].lower(): f["name"] for f in described.get("fields", [])}
        wanted = ["Id", *mapping_columns(self.name, f"{obj}.csv"), "SystemModstamp"]
        chosen = []
        for name in wanted:
            real = have.get(name.lower())
            if real and real not in chosen:
                chosen.append(real)
        return chosen

    def read(self, obj: str, since: str | None, env: Mapping[str, str]) -> Iterator[Batch]:
        client = self._client(env)
        self._remember_responses(client)
        fields = self.fields(client, obj)
        since_soql = soql_datetime(since) if since else None
        where = f" WHERE SystemModstamp >= {since_soql}" if since else ""
        soql = f"SELECT {', '.join(fields)} FROM {obj}{where} ORDER BY SystemModstamp ASC"
        for records in self._pages(client, obj, soql, deleted=False):
            rows = pd.DataFrame([{f: r.get(f) for f in fields} for r in records], columns=fields)
            stamps = rows["SystemModstamp"].dropna()
            yield Batch(obj, f"{obj}.csv", rows, str(stamps.max()) if len(stamps) else None)
        # Then the records deleted since (the recycle bin, through queryAll), after the live ones: a deletion
        # made while they were read has a later stamp and is caught here. They move no cursor.
        where = "IsDeleted = true" + (f" AND SystemModstamp >= {since_soql}" if since else "")
        soql = f"SELECT Id, SystemModstamp FROM {obj} WHERE {where} ORDER BY SystemModstamp ASC"
        for records in self._pages(client, obj, soql, deleted=True):
            gone = pd.DataFrame([{f: r.get(f) for f in ("Id", "SystemModstamp")} for r in records],
                                columns=["Id", "SystemModstamp"])
            yield Batch(obj, f"{obj}.csv", gone.iloc[:0], None, deleted=gone)

    def _pages(self, client, obj: str, soql: str, deleted: bool) -> Iterator[list[dict]]:
        """The records of ``soql`` batch by batch (``query`` or, for deleted records, ``queryAll``)."""
        what = f"{obj} {'queryAll' if deleted else 'query'}"
        answer = self._call(what, lambda: client.query(soql, include_deleted=deleted))
        while True:
            for key in ("records", "done"):
                if key not in answer:
                    raise SyncError(f"salesforce {what}: the answer has no {key!r} (not the query resource's shape)")
            if answer["records"]:
                yield answer["records"]
            if answer["done"] or not answer.get("nextRecordsUrl"):
                return
            next_url = answer["nextRecordsUrl"]
            answer = self._call(f"{what} more", lambda: client.query_more(next_url, identifier_is_url=True))

    # ------------------------------------------------------------------ writing back

    def write_back(self, obj: str, updates: pd.DataFrame, env: Mapping[str, str]) -> pd.DataFrame:
        """Write the owned fields in ``updates`` (``record_id`` + fields) that differ from Salesforce's.

        Returns the fields written (object, record_id, field, before, after); records Salesforce
        refused are in :attr:`failures`, fields already equal counted in :attr:`unchanged`.
        """
        self.check_owned(obj, updates.columns)
        self.failures, self.unchanged = [], 0
        columns = ["object", "record_id", "field", "before", "after"]
        fields = [c for c in updates.columns if c != "record_id"]
        bad = [r for r in updates["record_id"].astype(str) if not _ID.match(r)]
        self.failures.extend(f"{obj} {r}: not a Salesforce record id; not written" for r in bad)
        updates = updates[~updates["record_id"].astype(str).isin(bad)]
        if updates.empty or not fields:
            return pd.DataFrame(columns=columns)
        client = self._client(env)
        self._remember_responses(client)
        decimals = {f: MEASURES[m][1] for f, m in self.write_fields.get(obj, {}).items()}
        written = []
        for start in range(0, len(updates), COLLECTION_SIZE):
            chunk = updates.iloc[start:start + COLLECTION_SIZE]
            ids = ", ".join(f"'{r}'" for r in chunk["record_id"])  # checked against _ID above
            soql = f"SELECT Id, {', '.join(fields)} FROM {obj} WHERE Id IN ({ids})"
            current = {r["Id"][:15]: r for r in self._call(f"{obj} read", lambda: client.query_all(soql))["records"]}
            records, changes = [], []
            for row in chunk.itertuples(index=False):
                record_id = str(row.record_id)
                now = current.get(record_id[:15])
                if now is None:
                    self.failures.append(f"{obj} {record_id}: not found in Salesforce; not written")
                    continue
                values = {}
                for f in fields:
                    after = getattr(row, f)
                    if changed(now.get(f), after, decimals.get(f, 2)):
                        values[f] = None if pd.isna(after) else after
                        changes.append((record_id, f, now.get(f), values[f]))
                    else:
                        self.unchanged += 1
                if values:
                    records.append({"attributes": {"type": obj}, "id": record_id, **values})
            if not records:
                continue
            results = self._call(f"{obj} update", lambda: client.restful(
                "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}))
            refused = {}
            for record, result in zip(records, results or []):
                if not result.get("success"):
                    errors = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in result.get("errors", []))
                    refused[record["id"]] = errors
                    self.failures.append(f"{obj} {record['id']}: refused by Salesforce ({errors})")
            written += [(obj, r, f, _text(b), _text(a)) for r, f, b, a in changes if r not in refused]
        return pd.DataFrame(written, columns=columns)


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _detail(content) -> str:
    """The error code and message of a Salesforce error body (a list of {errorCode, message})."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return "; ".join(f"{e.get('errorCode', '')}: {e.get('message', '')}" for e in content)
    return str(content)[:200]
