"""Xero: contacts (customers), sales invoices and their payments, in real time; one field written back.

The connector reads through ``xero-python``'s ``AccountingApi`` (``get_contacts``,
``get_invoices`` with ``Type=="ACCREC"``, ``get_payments`` with ``PaymentType=="ACCRECPAYMENT"``),
asking for records modified since the cursor (``If-Modified-Since``) in ``UpdatedDateUTC`` order,
page by page (``page=1, 2 ...``, 100 records a page), and turns each record into one row in the
columns of Xero's own export files (``ContactName``, ``InvoiceNumber``, ``Reference``,
``InvoiceDate``, ``DueDate``, ``Total`` ...; see ``parameters/mappings/xero.yaml``), so the shipped
mapping reads both. Webhooks (``quant webhooks serve``: ``POST /xero/webhook``) make it real-time:
an event triggers a sync of the object it names from the event's time. An invoice or payment read
with the status DELETED or VOIDED is not landed but taken out of silver
(:mod:`quantlib.connectors.deletions`, recorded in ``<lake>/sync/deletions.parquet``); an archived
contact stays (archiving is not deleting: its invoices still name it).

Direction: **bidirectional, system of record per field.** Xero is the system of record for the
ledger and for everything a contact holds but one field: Quant writes only a contact's
``ContactNumber``, the field Xero keeps for an external system's identifier (read-only in Xero's
screens, writable through the API), to hold the Quant customer id the contact is. No invoice,
payment, amount, date or status is ever written; a write of any other field is refused
(:class:`~quantlib.connectors.base.WriteBackRefused`) and every field written is audited
(:func:`~quantlib.connectors.base.record_writes`). Since nobody edits ``ContactNumber`` in Xero,
Quant's write and a person's edit never meet.

Settings (environment variables; the token is never written to an error, a log or the lake):

``XERO_ACCESS_TOKEN``
    An OAuth 2.0 access token (it lasts 30 minutes), or:
``XERO_CLIENT_ID``, ``XERO_CLIENT_SECRET`` (and ``XERO_REFRESH_TOKEN``)
    The app's keys and the refresh token its connection gave (without one: a Custom Connection's
    client credentials, optional ``XERO_SCOPES``): Quant then gets access tokens from Xero's
    identity server itself before they expire and after a 401 (once), keeping the rotated
    refresh token in the token store (:mod:`quantlib.connectors.tokens`; optional
    ``XERO_TOKEN_URL``).
``XERO_TENANT_ID``
    The organisation's tenant id (the ``xero-tenant-id`` header).
``XERO_API_URL``
    Another API root (default the client's: ``https://api.xero.com/api.xro/2.0``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from quantlib.connectors.base import (
    Batch,
    Connector,
    SyncError,
    SyncSettings,
    register,
)
from quantlib.connectors.tokens import Refusal, Tokens, call_vendor, missing_credentials

__all__ = ["COLUMNS", "PAGE_SIZE", "XeroConnector"]

#: Xero's page size for contacts, invoices and payments.
PAGE_SIZE = 100

#: Per object: the export file's columns (ContactID, InvoiceID, UpdatedDateUTC: the API's, kept in bronze).
COLUMNS: dict[str, tuple[str, ...]] = {
    "Contacts": ("ContactName", "AccountNumber", "ContactNumber", "EmailAddress", "FirstName", "LastName",
                 "POAddressLine1", "POCity", "PORegion", "POPostalCode", "POCountry", "SAAddressLine1", "SACity",
                 "SARegion", "SAPostalCode", "SACountry", "PhoneNumber", "ContactID", "UpdatedDateUTC"),
    "Invoices": ("ContactName", "EmailAddress", "InvoiceNumber", "Reference", "InvoiceDate", "DueDate", "Total",
                 "TaxTotal", "InvoiceAmountPaid", "InvoiceAmountDue", "Currency", "Type", "Status", "InvoiceID",
                 "UpdatedDateUTC"),
    "Payments": ("PaymentID", "Date", "Amount", "Reference", "InvoiceNumber", "ContactName", "PaymentType", "Status",
                 "UpdatedDateUTC"),
}
FILES = {"Contacts": "Contacts.csv", "Invoices": "Invoices.csv", "Payments": "Payments.csv"}
#: Statuses of an invoice or payment that no longer stands (read with If-Modified-Since, as Xero returns them).
GONE = ("DELETED", "VOIDED")


def _text(value):
    """An API value as the export writes it: dates ISO, enums by value, None kept."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return stamp.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return getattr(value, "value", value)


def _address(contact, kind: str) -> dict:
    for address in contact.addresses or []:
        if _text(address.address_type) == kind:
            return address
    return None


def contact_row(contact) -> dict:
    """A ``xero_python`` ``Contact`` as a row of Xero's contact export."""
    row = {"ContactName": contact.name, "AccountNumber": contact.account_number,
           "ContactNumber": contact.contact_number, "EmailAddress": contact.email_address,
           "FirstName": contact.first_name, "LastName": contact.last_name, "ContactID": contact.contact_id,
           "UpdatedDateUTC": _text(contact.updated_date_utc)}
    for prefix, kind in (("PO", "POBOX"), ("SA", "STREET")):
        address = _address(contact, kind)
        if address is not None:
            row.update({f"{prefix}AddressLine1": address.address_line1, f"{prefix}City": address.city,
                        f"{prefix}Region": address.region, f"{prefix}PostalCode": address.postal_code,
                        f"{prefix}Country": address.country})
    for phone in contact.phones or []:
        if _text(phone.phone_type) == "DEFAULT" and phone.phone_number:
            row["PhoneNumber"] = " ".join(p for p in (phone.phone_country_code, phone.phone_area_code,
                                                       phone.phone_number) if p)
    return row


def invoice_row(invoice) -> dict:
    """A ``xero_python`` ``Invoice`` as a row of Xero's invoice export (one row an invoice)."""
    contact = invoice.contact
    return {"ContactName": contact.name if contact else None,
            "EmailAddress": contact.email_address if contact else None,
            "InvoiceNumber": invoice.invoice_number, "Reference": invoice.reference,
            "InvoiceDate": _text(invoice.date), "DueDate": _text(invoice.due_date), "Total": invoice.total,
            "TaxTotal": invoice.total_tax, "InvoiceAmountPaid": invoice.amount_paid,
            "InvoiceAmountDue": invoice.amount_due, "Currency": _text(invoice.currency_code),
            "Type": _text(invoice.type), "Status": _text(invoice.status), "InvoiceID": invoice.invoice_id,
            "UpdatedDateUTC": _text(invoice.updated_date_utc)}


def payment_row(payment) -> dict:
    """A ``xero_python`` ``Payment`` as a row (its invoice by number, the contact by name)."""
    invoice = payment.invoice
    contact = invoice.contact if invoice is not None else None
    return {"PaymentID": payment.payment_id, "Date": _text(payment.date), "Amount": payment.amount,
            "Reference": payment.reference, "InvoiceNumber": invoice.invoice_number if invoice else None,
            "ContactName": contact.name if contact else None, "PaymentType": _text(payment.payment_type),
            "Status": _text(payment.status), "UpdatedDateUTC": _text(payment.updated_date_utc)}


_READ = {
    # object: (AccountingApi method, answer attribute, row builder, where filter)
    "Contacts": ("get_contacts", "contacts", contact_row, "IsCustomer==true"),
    "Invoices": ("get_invoices", "invoices", invoice_row, 'Type=="ACCREC"'),
    "Payments": ("get_payments", "payments", payment_row, 'PaymentType=="ACCRECPAYMENT"'),
}


@register
class XeroConnector(Connector):
    """Xero through ``xero-python``; bidirectional for one field (see the module)."""

    name = "xero"
    objects = ("Contacts", "Invoices", "Payments")
    settings = SyncSettings("real-time", "bidirectional")
    credentials = ("XERO_ACCESS_TOKEN", "XERO_TENANT_ID")
    owned_fields = {"Contacts": ("ContactNumber",)}
    stamp_column = "UpdatedDateUTC"

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sleep = sleep

    def missing(self, env: Mapping[str, str]) -> str | None:
        return missing_credentials(self, env)

    def api(self, env: Mapping[str, str]):
        """An ``AccountingApi`` for ``env``'s token (and API root, when set)."""
        from xero_python.accounting import AccountingApi
        from xero_python.api_client import ApiClient, Configuration
        from xero_python.api_client.oauth2 import OAuth2Token

        scheme = "Bearer"
        self._tokens = Tokens(self.name, env, sleep=self.sleep)
        token = {"access_token": self._tokens.current(), "token_type": scheme, "scope": None, "expires_in": None}
        self._token = token  # a 401 puts a new access token in it (_call)
        client = ApiClient(Configuration(oauth2_token=OAuth2Token()), oauth2_token_getter=lambda: token,
                           oauth2_token_saver=lambda _token: None)
        # One retry policy, call_with_retries (Retry-After capped, waits seen by the caller): the
        # transport's own retries (urllib3 honours a 429's Retry-After uncapped) are turned off.
        client.rest_client.pool_manager.connection_pool_kw["retries"] = False
        return AccountingApi(client, base_url=(env.get("XERO_API_URL") or "").rstrip("/") or None)

    def _call(self, what: str, call):
        """``call()`` under the connectors' policy (:func:`~quantlib.connectors.tokens.call_vendor`)."""
        import urllib3
        from xero_python.exceptions import ApiException

        def renew():
            self._token["access_token"] = self._tokens.refresh(stale=self._token["access_token"])

        def refusal(exc):
            if not isinstance(exc, ApiException):
                return None
            return Refusal(exc.status or 0, exc.reason or "", getattr(exc, "headers", None))

        return call_vendor(self.name, what, call, tokens=self._tokens, renew=renew, refusal=refusal,
                           unreachable=(OSError, urllib3.exceptions.HTTPError), sleep=self.sleep)

    def read(self, obj: str, since: str | None, env: Mapping[str, str]) -> Iterator[Batch]:
        """Pages of ``obj`` modified since ``since`` (``If-Modified-Since``), oldest first."""
        api = self.api(env)
        method, attribute, build, where = _READ[obj]
        kwargs = {"order": "UpdatedDateUTC ASC"}
        if where:
            kwargs["where"] = where
        if since:
            try:
                stamp = pd.Timestamp(since)
            except (ValueError, TypeError):
                raise SyncError(f"xero: {since!r} is not a date or time") from None
            # Xero reads If-Modified-Since as UTC.
            kwargs["if_modified_since"] = (stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo
                                           else stamp).to_pydatetime()
        page = 1
        while True:
            answer = self._call(obj, lambda: getattr(api, method)(env["XERO_TENANT_ID"], page=page, **kwargs))
            records = getattr(answer, attribute, None) or []
            if not records:
                return
            frame = pd.DataFrame([build(r) for r in records]).reindex(columns=list(COLUMNS[obj]))
            stamps = [s for s in frame["UpdatedDateUTC"] if isinstance(s, str)]
            # A deleted or voided invoice or payment no longer stands: out of silver, not a reject.
            gone = frame["Status"].astype("string").str.upper().isin(GONE).to_numpy() if "Status" in frame \
                else np.zeros(len(frame), dtype=bool)
            yield Batch(obj, FILES[obj], frame[~gone].reset_index(drop=True), max(stamps) if stamps else None,
                        deleted=frame[gone].reset_index(drop=True) if gone.any() else None)
            if len(records) < PAGE_SIZE:
                return
            page += 1

    def write_back(self, obj: str, updates: pd.DataFrame, env: Mapping[str, str]) -> pd.DataFrame:
        """Write contacts' ``ContactNumber`` (``updates``: ``record_id`` = ContactID, ``ContactNumber``).

        A value equal to Xero's is not written. Returns the fields written (object, record_id,
        field, before, after) for :func:`~quantlib.connectors.base.record_writes`.
        """
        from xero_python.accounting import Contact, Contacts

        self.check_owned(obj, updates.columns)
        reason = self.missing(env)
        if reason:
            raise SyncError(reason)
        api = self.api(env)
        tenant = env["XERO_TENANT_ID"]
        written = []
        for row in updates.to_dict("records"):
            record_id = str(row["record_id"])
            current = self._call(obj, lambda: api.get_contact(tenant, record_id))
            before = current.contacts[0].contact_number if current and current.contacts else None
            after = None if pd.isna(row["ContactNumber"]) else str(row["ContactNumber"])
            if before == after:
                continue
            change = Contacts(contacts=[Contact(contact_id=record_id, contact_number=after)])
            self._call(obj, lambda: api.update_contact(tenant, record_id, change))
            written.append({"object": obj, "record_id": record_id, "field": "ContactNumber", "before": before,
                            "after": after})
        return pd.DataFrame(written, columns=["object", "record_id", "field", "before", "after"])
