"""QuickBooks Online: customers, invoices, payments and expenses, read daily; Quant never writes to it.

The connector reads through ``python-quickbooks`` (its ``QuickBooks`` client's query endpoint,
``POST /v3/company/<realm>/query``) with the Accounting API's query language::

    SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime > '<cursor>'
        ORDERBY MetaData.LastUpdatedTime STARTPOSITION <n> MAXRESULTS <page size>

page by page, oldest change first, and turns each entity into one row in the columns of the
shipped mapping (``parameters/mappings/quickbooks.yaml``): the entity's fields, nested ones joined
by ``_`` (``CustomerRef``, ``CustomerRef_Name``, ``BillAddr_PostalCode``,
``MetaData_LastUpdatedTime``), a custom field as ``CustomField_<its name>``, an invoice's
``Status`` (``Paid`` when its balance is 0, else ``Open``) and one payment row per invoice the
payment is applied to (``LinkedTxn_TxnId``, ``Line_Amount``), one expense row per line of a
purchase (``Line_Id``, ``Line_Amount``, ``Line_AccountRef_Name``: the expense account).

Deletions: after the live records of a sync with a cursor, Change Data Capture
(``GET /v3/company/<realm>/cdc?entities=<Entity>&changedSince=<cursor>``, the last 30 days) names
the records deleted since (``"status": "Deleted"``, an ``Id`` and ``MetaData``); they are taken
out of silver (:mod:`quantlib.connectors.deletions`): a customer or invoice by its Id, a payment's
or purchase's rows (one per invoice paid, per line) by the Id their key starts with.

Direction: **inbound**. QuickBooks is the system of record for the ledger and Quant owns no
field in it: :meth:`~quantlib.connectors.base.Connector.write_back` refuses.

Settings (environment variables; the token is never written to an error, a log or the lake):

``QUICKBOOKS_ACCESS_TOKEN``
    An OAuth 2.0 access token of the company (it lasts an hour), or:
``QUICKBOOKS_CLIENT_ID``, ``QUICKBOOKS_CLIENT_SECRET``, ``QUICKBOOKS_REFRESH_TOKEN``
    The app's keys and the refresh token its connection gave: Quant then gets access tokens from
    Intuit's token endpoint itself before they expire and after a 401 (once), keeping the
    rotated refresh token in the token store (:mod:`quantlib.connectors.tokens`; optional
    ``QUICKBOOKS_TOKEN_URL``).
``QUICKBOOKS_REALM_ID``
    The company's realm id.
``QUICKBOOKS_SANDBOX``
    ``1`` for a sandbox company.
``QUICKBOOKS_API_URL``
    Another API root (default the client's: ``https://quickbooks.api.intuit.com/v3``).
``QUICKBOOKS_PAGE_SIZE``
    Records a page (default 1000, the API's maximum).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

import pandas as pd

from quantlib.connectors.base import (
    Batch,
    Connector,
    RetryableError,
    SyncError,
    SyncSettings,
    call_with_retries,
    register,
    retry_after,
)
from quantlib.connectors.tokens import Tokens, missing_credentials

__all__ = ["COLUMNS", "QuickBooksConnector", "flatten"]

#: The columns each entity's rows carry (the mapping's and then the fields worth keeping in bronze).
COLUMNS: dict[str, tuple[str, ...]] = {
    "Customer": ("Id", "DisplayName", "CompanyName", "GivenName", "FamilyName", "PrimaryEmailAddr_Address",
                 "PrimaryPhone_FreeFormNumber", "BillAddr_Line1", "BillAddr_City", "BillAddr_CountrySubDivisionCode",
                 "BillAddr_PostalCode", "BillAddr_Lat", "BillAddr_Long", "Active", "Balance", "MetaData_CreateTime",
                 "MetaData_LastUpdatedTime"),
    "Invoice": ("Id", "DocNumber", "TxnDate", "DueDate", "TotalAmt", "Balance", "CustomerRef", "CustomerRef_Name",
                "CustomField_Job", "Status", "PrivateNote", "MetaData_CreateTime", "MetaData_LastUpdatedTime"),
    "Payment": ("Id", "TxnDate", "TotalAmt", "CustomerRef", "CustomerRef_Name", "PaymentMethodRef",
                "PaymentMethodRef_Name", "PaymentRefNum", "LinkedTxn_TxnId", "Line_Amount", "MetaData_CreateTime",
                "MetaData_LastUpdatedTime"),
    "Purchase": ("Id", "DocNumber", "TxnDate", "TotalAmt", "PaymentType", "Credit", "AccountRef", "AccountRef_Name",
                 "EntityRef", "EntityRef_Name", "Line_Id", "Line_Amount", "Line_DetailType", "Line_AccountRef",
                 "Line_AccountRef_Name", "Line_Description", "MetaData_CreateTime", "MetaData_LastUpdatedTime"),
}
FILES = {"Customer": "Customer.csv", "Invoice": "Invoice.csv", "Payment": "Payment.csv", "Purchase": "Purchase.csv"}


def _flat(value, prefix: str, out: dict) -> None:
    if isinstance(value, dict):
        if prefix.endswith("Ref") and "value" in value:
            # A reference: its id is the field itself, its name beside it (CustomerRef, CustomerRef_Name).
            out[prefix] = value.get("value")
            if value.get("name") is not None:
                out[f"{prefix}_Name"] = value["name"]
            return
        for key, inner in value.items():
            _flat(inner, f"{prefix}_{key}" if prefix else key, out)
    elif isinstance(value, list):
        if prefix == "CustomField":
            for custom in value:
                if isinstance(custom, dict) and custom.get("Name"):
                    out[f"CustomField_{custom['Name']}"] = custom.get("StringValue")
        # Other lists (invoice lines, linked transactions) are not columns.
    else:
        out[prefix] = value


def flatten(entity: str, record: dict) -> list[dict]:
    """The rows of one QuickBooks ``entity`` record, in the mapping's columns.

    A customer or an invoice is one row; a payment is one row per invoice it is applied to (a
    payment applied to none is one row without ``LinkedTxn_TxnId``, which the ingest rejects); a
    purchase (an expense) is one row per line, with the line's expense account
    (``Line_AccountRef``, ``Line_AccountRef_Name``; blank for an item line).
    """
    row: dict = {}
    _flat(record, "", row)
    if entity == "Invoice" and row.get("Balance") is not None:
        row["Status"] = "Paid" if float(row["Balance"]) == 0 else "Open"
    if entity == "Purchase":
        lines = []
        for line in record.get("Line") or []:
            account = (line.get("AccountBasedExpenseLineDetail") or {}).get("AccountRef") or {}
            lines.append({**row, "Line_Id": line.get("Id"), "Line_Amount": line.get("Amount"),
                          "Line_DetailType": line.get("DetailType"), "Line_Description": line.get("Description"),
                          "Line_AccountRef": account.get("value"), "Line_AccountRef_Name": account.get("name")})
        return lines or [row]
    if entity != "Payment":
        return [row]
    applied = []
    for line in record.get("Line") or []:
        for linked in line.get("LinkedTxn") or []:
            if linked.get("TxnType") == "Invoice":
                applied.append({**row, "LinkedTxn_TxnId": linked.get("TxnId"), "Line_Amount": line.get("Amount")})
    return applied or [row]


def _when(stamp: str) -> pd.Timestamp:
    return pd.Timestamp(stamp).tz_convert("UTC") if pd.Timestamp(stamp).tzinfo else pd.Timestamp(stamp, tz="UTC")


def _query_literal(since: str) -> str:
    """``since`` as a quoted literal of the query language (ISO 8601; quotes refused)."""
    try:
        pd.Timestamp(since)
    except (ValueError, TypeError):
        raise SyncError(f"quickbooks: {since!r} is not a date or time") from None
    return "'" + since.replace("'", "") + "'"


@register
class QuickBooksConnector(Connector):
    """QuickBooks Online through ``python-quickbooks``; inbound only (see the module)."""

    name = "quickbooks"
    objects = ("Customer", "Invoice", "Payment", "Purchase")
    settings = SyncSettings("daily", "inbound")
    credentials = ("QUICKBOOKS_ACCESS_TOKEN", "QUICKBOOKS_REALM_ID")
    owned_fields: dict[str, tuple[str, ...]] = {}
    stamp_column = "MetaData_LastUpdatedTime"

    def __init__(self, sleep: Callable[[float], None] = time.sleep, minorversion: int = 75) -> None:
        self.sleep = sleep
        self.minorversion = minorversion

    def missing(self, env: Mapping[str, str]) -> str | None:
        return missing_credentials(self, env)

    def client(self, env: Mapping[str, str]):
        """A ``quickbooks.QuickBooks`` client for the company of ``env``, its answers checked for 429 and 5xx,
        and a 401 answered by one new access token when the refresh settings are set."""
        import requests
        from quickbooks import QuickBooks

        tokens = Tokens(self.name, env, sleep=self.sleep)

        class _Session(requests.Session):
            """The client's session: it reads the bearer token from ``access_token``."""

            access_token = tokens.current()

        class _Client(QuickBooks):
            def process_request(self, request_type, url, headers="", params="", data=""):
                def send():
                    return super(_Client, self).process_request(request_type, url, headers=headers, params=params,
                                                                data=data)

                try:
                    answer = send()
                    if answer.status_code == 401 and tokens.refreshable:
                        self.session.access_token = tokens.refresh(stale=self.session.access_token)
                        answer = send()
                except requests.RequestException as exc:
                    raise RetryableError(f"quickbooks: the API could not be reached ({type(exc).__name__})") from None
                if answer.status_code == 429 or answer.status_code >= 500:
                    raise RetryableError(f"quickbooks answered {answer.status_code}",
                                         retry_after=retry_after(answer.headers))
                return answer

        qb = _Client(company_id=env["QUICKBOOKS_REALM_ID"], minorversion=self.minorversion)
        qb.sandbox = env.get("QUICKBOOKS_SANDBOX", "") in ("1", "true", "yes")
        if env.get("QUICKBOOKS_API_URL"):
            qb.api_url_v3 = qb.sandbox_api_url_v3 = env["QUICKBOOKS_API_URL"].rstrip("/")
        qb.session = _Session()
        return qb

    def read(self, obj: str, since: str | None, env: Mapping[str, str]) -> Iterator[Batch]:
        """Pages of ``obj`` changed after ``since`` (``MetaData.LastUpdatedTime``), oldest first."""
        from quickbooks.exceptions import QuickbooksException

        qb = self.client(env)
        size = int(env.get("QUICKBOOKS_PAGE_SIZE") or 1000)
        where = f" WHERE MetaData.LastUpdatedTime > {_query_literal(since)}" if since else ""
        start = 1
        while True:
            select = (f"SELECT * FROM {obj}{where} ORDERBY MetaData.LastUpdatedTime "
                      f"STARTPOSITION {start} MAXRESULTS {size}")
            try:
                answer = call_with_retries(lambda: qb.query(select), sleep=self.sleep)
            except QuickbooksException as exc:
                raise SyncError(f"quickbooks {obj}: {exc.message} (code {exc.error_code})") from None
            response = answer.get("QueryResponse") if isinstance(answer, dict) else None
            if not isinstance(response, dict):
                raise SyncError(f"quickbooks {obj}: the answer has no QueryResponse")
            records = response.get(obj) or []
            if not records:
                break
            rows = [row for record in records for row in flatten(obj, record)]
            frame = pd.DataFrame(rows)
            extra = sorted(c for c in frame.columns if c not in COLUMNS[obj] and c.startswith("CustomField_"))
            frame = frame.reindex(columns=list(COLUMNS[obj]) + extra)
            stamps = [r.get("MetaData", {}).get("LastUpdatedTime") for r in records]
            stamps = [s for s in stamps if s]
            cursor = max(stamps, key=_when) if stamps else None
            yield Batch(obj, FILES[obj], frame, cursor)
            if len(records) < size:
                break
            start += len(records)
        if since:
            yield from self._deleted(qb, obj, since)

    def _deleted(self, qb, obj: str, since: str) -> Iterator[Batch]:
        """The records of ``obj`` deleted since ``since``, from Change Data Capture (``status: Deleted``).

        CDC answers for the last 30 days only: an older ``since`` asks from 30 days back (deletions
        before that are not seen). The batch lands nothing and moves no cursor.
        """
        from quickbooks.exceptions import QuickbooksException

        floor = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=30) + pd.Timedelta(minutes=5)
        changed_since = max(_when(since), floor).isoformat()
        try:
            answer = call_with_retries(lambda: qb.change_data_capture(obj, changed_since), sleep=self.sleep)
        except QuickbooksException as exc:
            raise SyncError(f"quickbooks {obj} changes: {exc.message} (code {exc.error_code})") from None
        cdc = answer.get("CDCResponse") if isinstance(answer, dict) else None
        if not isinstance(cdc, list):
            raise SyncError(f"quickbooks {obj} changes: the answer has no CDCResponse")
        gone = [{"Id": str(r.get("Id")), "MetaData_LastUpdatedTime": (r.get("MetaData") or {}).get("LastUpdatedTime")}
                for part in cdc for response in (part or {}).get("QueryResponse") or []
                for r in response.get(obj) or [] if str(r.get("status", "")).lower() == "deleted" and r.get("Id")]
        if gone:
            frame = pd.DataFrame(gone)
            yield Batch(obj, FILES[obj], frame.iloc[:0], None, deleted=frame)
