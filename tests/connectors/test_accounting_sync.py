"""QuickBooks Online and Xero synced through their vendors' clients against local servers answering in
the documented shapes: incremental reads send the cursor, pages are followed, a 429 is waited out,
bad records are rejected naming file, row and field, QuickBooks is never written to, Xero only in
the field Quant owns (audited), and the tokens appear in no error and no lake file."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.connectors.base import SyncError, WriteBackRefused, read_audit, read_cursors, record_writes, sync
from quantlib.connectors.quickbooks import QuickBooksConnector
from quantlib.connectors.xero import XeroConnector
from quantlib.data.lake import Lake
from tests.connectors.accounting_servers import QuickBooksServer, XeroServer, xero_date

QB_TOKEN, XERO_TOKEN = "qb-t0ken-SECRET", "xero-t0ken-SECRET"


def _no_secret_in(lake: Lake, *secrets: str) -> None:
    for path in lake.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path


def _qb_meta(updated: str) -> dict:
    return {"CreateTime": "2024-01-15T10:30:00-07:00", "LastUpdatedTime": updated}


def _qb_invoice(number: int, updated: str, job: str | None = "J-1", balance: float = 0.0) -> dict:
    custom = [{"DefinitionId": "1", "Name": "Job", "Type": "StringType", "StringValue": job}] if job else []
    return {"Id": str(number), "DocNumber": str(1000 + number), "TxnDate": "2024-05-01", "DueDate": "2024-05-31",
            "TotalAmt": 250.0, "Balance": balance, "CustomerRef": {"value": "58", "name": "Maria Gomez"},
            "CustomField": custom, "Line": [{"Amount": 250.0, "DetailType": "SalesItemLineDetail"}],
            "SyncToken": "0", "MetaData": _qb_meta(updated)}


def _qb_entities() -> dict[str, list[dict]]:
    return {
        "Customer": [
            {"Id": "58", "DisplayName": "Maria Gomez", "PrimaryEmailAddr": {"Address": "maria@example.com"},
             "BillAddr": {"Id": "2", "Line1": "1 Elm St", "City": "Springfield", "PostalCode": "62701",
                          "Lat": "39.799", "Long": "-89.644"}, "Active": True, "Balance": 0,
             "MetaData": _qb_meta("2024-05-01T09:00:00-07:00")},
            {"Id": "59", "DisplayName": "No Geocode LLC", "BillAddr": {"Id": "3", "City": "Decatur",
                                                                        "PostalCode": "62521"},
             "Active": True, "Balance": 0, "MetaData": _qb_meta("2024-05-01T09:30:00-07:00")},
        ],
        "Invoice": [_qb_invoice(130, "2024-05-02T10:00:00-07:00"),
                    _qb_invoice(131, "2024-05-03T10:00:00-07:00", job="J-2", balance=250.0),
                    _qb_invoice(132, "2024-05-04T10:00:00-07:00", job=None)],
        "Payment": [{"Id": "201", "TxnDate": "2024-05-20", "TotalAmt": 250.0,
                     "CustomerRef": {"value": "58", "name": "Maria Gomez"},
                     "PaymentMethodRef": {"value": "3", "name": "Check"},
                     "Line": [{"Amount": 250.0, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}],
                     "MetaData": _qb_meta("2024-05-20T10:00:00-07:00")}],
        "Purchase": [{"Id": "180", "TxnDate": "2024-05-06", "TotalAmt": 500.0, "PaymentType": "CreditCard",
                      "AccountRef": {"value": "41", "name": "Visa"}, "Credit": False,
                      "Line": [{"Id": "1", "Amount": 100.0, "DetailType": "AccountBasedExpenseLineDetail",
                                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "7", "name": "Advertising"}}},
                               {"Id": "2", "Amount": 400.0, "DetailType": "AccountBasedExpenseLineDetail",
                                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "9",
                                                                                 "name": "Job Supplies"}}}],
                      "MetaData": _qb_meta("2024-05-06T10:00:00-07:00")}],
    }


def test_quickbooks_sync_pages_resumes_and_never_writes(tmp_path):
    lake, waits = Lake(tmp_path / "lake"), []
    with QuickBooksServer(_qb_entities(), fail_first=1, retry_after="3") as server:
        env = {"QUICKBOOKS_ACCESS_TOKEN": QB_TOKEN, "QUICKBOOKS_REALM_ID": "9130",
               "QUICKBOOKS_API_URL": server.api_url, "QUICKBOOKS_PAGE_SIZE": "2"}
        report = sync(lake, "quickbooks", env=env, connector=QuickBooksConnector(sleep=waits.append))
        assert waits == [3.0]  # the 429's Retry-After, then the same query again
        assert report.rows == {"Customer": 2, "Invoice": 3, "Payment": 1, "Purchase": 2}
        assert report.pages == {"Customer": 1, "Invoice": 2, "Payment": 1, "Purchase": 1}
        invoice_queries = [r["body"] for r in server.requests if "FROM Invoice" in r["body"]]
        assert [q.split("STARTPOSITION")[1] for q in invoice_queries] == [" 1 MAXRESULTS 2", " 3 MAXRESULTS 2"]
        assert all(r["headers"]["Authorization"] == f"Bearer {QB_TOKEN}" for r in server.requests)
        assert all(r["query"]["minorversion"] == "75" for r in server.requests)

        customers = pd.read_parquet(lake.silver_table("customers"))
        assert customers["customer_id"].tolist() == ["58"] and customers["zip"].tolist() == ["62701"]
        invoices = pd.read_parquet(lake.silver_table("invoices")).set_index("invoice_id")
        assert invoices["status"].to_dict() == {"130": "paid", "131": "open"}
        assert invoices["job_id"].to_dict() == {"130": "J-1", "131": "J-2"}
        payments = pd.read_parquet(lake.silver_table("payments"))
        assert payments[["payment_id", "invoice_id", "method"]].values.tolist() == [["201 130", "130", "check"]]
        rejects = pd.read_parquet(lake.rejects)
        assert {(f, r, fld) for f, r, fld in rejects[["file", "row", "field"]].itertuples(index=False)} == {
            ("Customer.csv", 3, "lat"), ("Customer.csv", 3, "lon"), ("Invoice.csv", 4, "job_id"),
            ("Purchase.csv", 3, "kind")}  # a direct job cost is not overhead; the two invoice pages land as one file
        expenses = pd.read_parquet(lake.silver_table("expenses"))
        assert expenses[["expense_id", "kind", "amount"]].values.tolist() == [["180 1", "variable", 100.0]]
        assert read_cursors(lake)["quickbooks"] == {"Customer": "2024-05-01T09:30:00-07:00",
                                                    "Invoice": "2024-05-04T10:00:00-07:00",
                                                    "Payment": "2024-05-20T10:00:00-07:00",
                                                    "Purchase": "2024-05-06T10:00:00-07:00"}

        # An invoice changed later: the next sync asks from the cursor and lands only it.
        server.entities["Invoice"].append(_qb_invoice(133, "2024-05-25T08:00:00-07:00", job="J-3"))
        server.requests.clear()
        again = sync(lake, "quickbooks", env=env, connector=QuickBooksConnector(sleep=waits.append))
        assert again.rows == {"Customer": 0, "Invoice": 1, "Payment": 0, "Purchase": 0}
        [invoice_query] = [r["body"] for r in server.requests if "FROM Invoice" in r["body"]]
        assert "WHERE MetaData.LastUpdatedTime > '2024-05-04T10:00:00-07:00'" in invoice_query
        assert "133" in set(pd.read_parquet(lake.silver_table("invoices"))["invoice_id"])

        # Quant never writes to QuickBooks, and a bad token fails without showing the token.
        asked = len(server.requests)
        with pytest.raises(WriteBackRefused, match="never writes"):
            QuickBooksConnector().write_back("Invoice", pd.DataFrame({"record_id": ["130"], "PrivateNote": ["x"]}),
                                             env)
        assert len(server.requests) == asked
        with pytest.raises(SyncError) as failed:
            sync(lake, "quickbooks", since="1970-01-01", env={**env, "QUICKBOOKS_ACCESS_TOKEN": "wrong-SECRET"},
                 connector=QuickBooksConnector(sleep=waits.append))
        assert "wrong-SECRET" not in str(failed.value) and "quickbooks Customer" in str(failed.value)
    _no_secret_in(lake, QB_TOKEN, "wrong-SECRET")


def _xero_invoice(number: int, updated: str, reference: str | None = None) -> dict:
    return {"Type": "ACCREC", "InvoiceID": f"inv-{number}", "InvoiceNumber": f"INV-{number:04d}",
            "Reference": reference if reference is not None else f"J-{number}",
            "Contact": {"ContactID": "c-1", "Name": "Maria Gomez"}, "Date": xero_date("2024-05-01T00:00:00"),
            "DateString": "2024-05-01T00:00:00", "DueDate": xero_date("2024-05-31T00:00:00"),
            "Status": "PAID" if number == 1 else "AUTHORISED", "LineAmountTypes": "Exclusive", "SubTotal": 100.0,
            "TotalTax": 0.0, "Total": 100.0, "AmountDue": 0.0 if number == 1 else 100.0,
            "AmountPaid": 100.0 if number == 1 else 0.0, "CurrencyCode": "USD",
            "UpdatedDateUTC": xero_date(updated)}


def _xero_objects() -> dict[str, list[dict]]:
    invoices = [_xero_invoice(n, f"2024-05-02T08:{n // 60:02d}:{n % 60:02d}") for n in range(1, 102)]
    invoices.append(_xero_invoice(102, "2024-05-02T09:00:00", reference=""))
    # Xero leaves empty fields out of its JSON (no ContactNumber yet).
    return {
        "Contacts": [{"ContactID": "c-1", "AccountNumber": "C-1", "ContactStatus": "ACTIVE",
                      "Name": "Maria Gomez", "FirstName": "Maria", "LastName": "Gomez",
                      "EmailAddress": "maria@example.com",
                      "Addresses": [{"AddressType": "STREET", "AddressLine1": "1 Elm St", "City": "Springfield",
                                     "PostalCode": "62701"}, {"AddressType": "POBOX"}],
                      "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "555 0100"}], "IsCustomer": True,
                      "UpdatedDateUTC": xero_date("2024-05-01T12:00:00")}],
        "Invoices": invoices,
        "Payments": [{"PaymentID": "pay-1", "Date": xero_date("2024-05-20T00:00:00"), "Amount": 100.0,
                      "Reference": "", "Status": "AUTHORISED", "PaymentType": "ACCRECPAYMENT",
                      "Invoice": {"InvoiceID": "inv-1", "InvoiceNumber": "INV-0001", "Type": "ACCREC",
                                  "Contact": {"ContactID": "c-1", "Name": "Maria Gomez"}},
                      "UpdatedDateUTC": xero_date("2024-05-20T10:00:00")}],
    }


def test_xero_sync_pages_resumes_and_writes_back_only_its_field(tmp_path):
    lake, waits = Lake(tmp_path / "lake"), []
    with XeroServer(_xero_objects(), fail_first=1, retry_after="4") as server:
        env = {"XERO_ACCESS_TOKEN": XERO_TOKEN, "XERO_TENANT_ID": "tenant-1", "XERO_API_URL": server.api_url}
        report = sync(lake, "xero", env=env, connector=XeroConnector(sleep=waits.append))
        assert waits == [4.0]
        assert report.rows == {"Contacts": 1, "Invoices": 102, "Payments": 1}
        assert report.pages == {"Contacts": 1, "Invoices": 2, "Payments": 1}
        pages = [r["query"]["page"] for r in server.requests if r["path"].endswith("/Invoices")]
        assert pages == ["1", "2"]
        assert {r["query"].get("where") for r in server.requests if r["path"].endswith("/Invoices")} == {
            'Type=="ACCREC"'}
        assert all(r["headers"]["Authorization"] == f"Bearer {XERO_TOKEN}" for r in server.requests)

        invoices = pd.read_parquet(lake.silver_table("invoices")).set_index("invoice_id")
        assert len(invoices) == 101 and invoices.loc["INV-0001", "status"] == "paid"
        assert invoices.loc["INV-0002", ["job_id", "customer_id", "status"]].tolist() == [
            "J-2", "Maria Gomez", "open"]
        assert invoices.loc["INV-0002", "issued_date"] == pd.Timestamp("2024-05-01")
        payments = pd.read_parquet(lake.silver_table("payments"))
        assert payments[["payment_id", "invoice_id", "amount"]].values.tolist() == [["pay-1", "INV-0001", 100.0]]
        rejects = pd.read_parquet(lake.rejects)
        by_file = rejects.groupby(["file", "row"])["field"].apply(set).to_dict()
        assert by_file == {("Contacts.csv", 2): {"lat", "lon", "created_date"},  # Xero holds none of them
                           ("Invoices.csv", 103): {"job_id"}}  # the second page's 2nd row (the pages land as
        # one file: 100 + 2): no Reference
        assert read_cursors(lake)["xero"]["Invoices"] == "2024-05-02T09:00:00+00:00"

        server.requests.clear()
        again = sync(lake, "xero", env=env, objects=["Invoices"], connector=XeroConnector(sleep=waits.append))
        assert [r["headers"].get("If-Modified-Since") for r in server.requests] == ["2024-05-02T09:00:00"]
        assert again.rows == {"Invoices": 1}  # Xero's If-Modified-Since includes the stamp itself

        # Write-back: a contact's ContactNumber only, audited; any other field refused before a call.
        xero = XeroConnector(sleep=waits.append)
        server.requests.clear()
        for field in ("Name", "EmailAddress"):
            with pytest.raises(WriteBackRefused, match=f"{field} belong to xero"):
                xero.write_back("Contacts", pd.DataFrame({"record_id": ["c-1"], field: ["x"]}), env)
        with pytest.raises(WriteBackRefused, match="Quant writes only nothing"):
            xero.write_back("Invoices", pd.DataFrame({"record_id": ["inv-1"], "Total": [1.0]}), env)
        assert server.requests == []
        written = xero.write_back("Contacts", pd.DataFrame({"record_id": ["c-1"], "ContactNumber": ["Q-58"]}), env)
        [update] = server.updates  # the contact's id and its new ContactNumber; besides them only the two
        read_only = {"HasAttachments", "HasValidationErrors"}  # read-only flags xero-python's model always sends
        assert update["ContactNumber"] == "Q-58" and set(update) - read_only == {"ContactID", "ContactNumber"}
        record_writes(lake, "xero", written)
        again = xero.write_back("Contacts", pd.DataFrame({"record_id": ["c-1"], "ContactNumber": ["Q-58"]}), env)
        assert again.empty and len(server.updates) == 1  # unchanged: not written, not audited
        audit = read_audit(lake)
        assert audit[["source", "object", "record_id", "field", "after"]].values.tolist() == [
            ["xero", "Contacts", "c-1", "ContactNumber", "Q-58"]] and audit["before"].isna().all()
    _no_secret_in(lake, XERO_TOKEN)


def test_quant_sync_finds_the_accounting_connectors(tmp_path):
    from typer.testing import CliRunner

    from quantlib.cli import app

    lake = tmp_path / "lake"
    with QuickBooksServer(_qb_entities()) as server:
        env = {"QUICKBOOKS_ACCESS_TOKEN": QB_TOKEN, "QUICKBOOKS_REALM_ID": "9130", "QUICKBOOKS_API_URL": server.api_url}
        done = CliRunner().invoke(app, ["sync", "quickbooks", "--object", "Invoice", "--lake", str(lake)], env=env)
        assert done.exit_code == 0, done.output
        assert "quickbooks Invoice: 1 page, 3 records, cursor 2024-05-04T10:00:00-07:00" in done.output
        assert "Invoice.csv: line 4, field job_id" in done.output and QB_TOKEN not in done.output
        refused = CliRunner().invoke(app, ["sync", "quickbooks", "--push", "--lake", str(lake)], env=env)
        assert refused.exit_code == 2 and "never writes" in refused.output
