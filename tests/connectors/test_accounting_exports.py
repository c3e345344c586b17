"""The shipped QuickBooks Online and Xero mappings read their export files: invoices, payments and
customers land in the contracts, what the vendor does not hold is rejected naming the field."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from quantlib.data.lake import Lake


def _ingest(tmp_path, source: str, files: dict[str, str]) -> Lake:
    from quantlib.cli import app

    exports = tmp_path / "export"
    exports.mkdir()
    for name, text in files.items():
        (exports / name).write_text(text)
    lake = tmp_path / "lake"
    done = CliRunner().invoke(app, ["ingest", str(exports), "--source", source, "--lake", str(lake)])
    assert done.exit_code == 0, done.output  # rejected rows alone do not fail
    return Lake(lake)


def _rejected(lake: Lake) -> dict[tuple[str, int], set[str]]:
    rejects = pd.read_parquet(lake.rejects)
    return {k: set(v) for k, v in rejects.groupby(["file", "row"])["field"]}


# Xero's invoice export columns (its import template, line columns trimmed): one row per invoice
# line, the invoice's own columns repeated on each.
XERO_INVOICES = (
    "ContactName,EmailAddress,POAddressLine1,POCity,POPostalCode,InvoiceNumber,Reference,InvoiceDate,DueDate,"
    "Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue,Description,LineAmount,Currency,Type,Sent,Status\n"
    "Maria Gomez,maria@example.com,1 Elm St,Springfield,62701,INV-0001,J-1042,2024-05-01,2024-05-31,"
    "450.00,0,450.00,0,Labour,300.00,USD,Sales invoice,Sent,Paid\n"
    "Maria Gomez,maria@example.com,1 Elm St,Springfield,62701,INV-0001,J-1042,2024-05-01,2024-05-31,"
    "450.00,0,450.00,0,Parts,150.00,USD,Sales invoice,Sent,Paid\n"
    "Prairie Offices,ap@prairie.example,9 Main St,Decatur,62521,INV-0002,J-1043,2024-05-02,2024-06-01,"
    "1200.00,0,0,1200.00,Repair,1200.00,USD,Sales invoice,Sent,Awaiting Payment\n"
    "Prairie Offices,ap@prairie.example,9 Main St,Decatur,62521,INV-0003,,2024-05-03,2024-06-02,"
    "80.00,0,0,80.00,Visit,80.00,USD,Sales invoice,Sent,Awaiting Payment\n"
    "Lake Apartments,,3 Oak Ave,Springfield,62702,INV-0004,J-1050,2024-05-04,2024-06-03,"
    "99.00,0,0,99.00,Visit,99.00,USD,Sales invoice,,Draft\n"
    "Lake Apartments,,3 Oak Ave,Springfield,62702,INV-0005,J-1051,2024-05-05,,"
    "99.00,0,0,99.00,Visit,99.00,USD,Sales invoice,Sent,Awaiting Payment\n")


def test_a_xero_export(tmp_path):
    lake = _ingest(tmp_path, "xero", {
        "Invoices.csv": XERO_INVOICES,
        "Payments.csv": "PaymentID,Date,Amount,Reference,InvoiceNumber,ContactName,PaymentType,Status,UpdatedDateUTC\n"
                        "p-1,2024-05-20,450.00,,INV-0001,Maria Gomez,ACCRECPAYMENT,AUTHORISED,2024-05-20T10:00:00\n"
                        "p-2,2024-04-01,10.00,,INV-0002,Prairie Offices,ACCRECPAYMENT,AUTHORISED,2024-05-20T10:00:00\n",
        "Contacts.csv": "ContactName,AccountNumber,EmailAddress,FirstName,LastName,SAAddressLine1,SACity,"
                        "SAPostalCode,PhoneNumber\n"
                        "Maria Gomez,C-1,maria@example.com,Maria,Gomez,1 Elm St,Springfield,62701,555 0100\n",
    })
    invoices = pd.read_parquet(lake.silver_table("invoices")).set_index("invoice_id")
    assert sorted(invoices.index) == ["INV-0001", "INV-0002"]
    assert invoices.loc["INV-0001", ["job_id", "customer_id", "status"]].tolist() == ["J-1042", "Maria Gomez", "paid"]
    assert invoices.loc["INV-0002", "status"] == "open" and invoices.loc["INV-0002", "amount"] == 1200.0
    assert invoices.loc["INV-0002", "due_date"] == pd.Timestamp("2024-06-01")
    payments = pd.read_parquet(lake.silver_table("payments"))
    assert payments[["payment_id", "invoice_id", "method"]].values.tolist() == [["p-1", "INV-0001", "ach"]]
    assert invoices.loc["INV-0001", "amount"] == 450.0  # the invoice's total, read once from its first line
    assert _rejected(lake) == {
        ("Invoices.csv", 5): {"job_id"},  # no Reference: no job
        ("Invoices.csv", 6): {"status"},  # a draft is not owed
        ("Invoices.csv", 7): {"due_date"},  # none
        ("Payments.csv", 3): {"paid_date"},  # paid before the invoice was issued
        ("Contacts.csv", 2): {"lat", "lon", "created_date"},  # Xero holds none of them
    }


def test_a_quickbooks_export(tmp_path):
    lake = _ingest(tmp_path, "quickbooks", {
        "Customer.csv": "Id,DisplayName,CompanyName,PrimaryEmailAddr_Address,BillAddr_City,BillAddr_PostalCode,"
                        "BillAddr_Lat,BillAddr_Long,MetaData_CreateTime,MetaData_LastUpdatedTime\n"
                        "58,Maria Gomez,,maria@example.com,Springfield,62701,39.799,-89.644,"
                        "2024-01-15T10:30:00-08:00,2024-05-01T09:00:00-07:00\n"
                        "59,Prairie Offices,Prairie Offices LLC,,Decatur,62521-3301,39.84,-88.95,"
                        "2023-06-01T08:00:00-07:00,2024-05-01T09:00:00-07:00\n",
        "Invoice.csv": "Id,DocNumber,TxnDate,DueDate,TotalAmt,Balance,CustomerRef,CustomerRef_Name,CustomField_Job,"
                       "Status,MetaData_LastUpdatedTime\n"
                       "130,1037,2024-05-01,2024-05-31,450.00,0,58,Maria Gomez,J-1042,Paid,2024-05-20T10:00:00-07:00\n"
                       "131,1038,2024-05-02,2024-06-01,300.00,300.00,58,Maria Gomez,,Open,2024-05-02T10:00:00-07:00\n",
        "Payment.csv": "Id,TxnDate,TotalAmt,CustomerRef,PaymentMethodRef_Name,LinkedTxn_TxnId,Line_Amount,"
                       "MetaData_LastUpdatedTime\n"
                       "201,2024-05-20,450.00,58,Visa,130,450.00,2024-05-20T10:00:00-07:00\n"
                       "202,2024-05-21,20.00,58,Venmo,130,20.00,2024-05-21T10:00:00-07:00\n",
        # One row per purchase line (Expense, Check, Credit Card), the line's expense account beside it.
        "Purchase.csv": "Id,DocNumber,TxnDate,TotalAmt,PaymentType,Credit,AccountRef_Name,EntityRef_Name,Line_Id,"
                        "Line_Amount,Line_DetailType,Line_AccountRef_Name,MetaData_LastUpdatedTime\n"
                        "180,,2024-05-01,2150.00,Check,false,Checking,Landlord LLC,1,2000.00,"
                        "AccountBasedExpenseLineDetail,Rent & Lease,2024-05-01T09:00:00-07:00\n"
                        "180,,2024-05-01,2150.00,Check,false,Checking,Landlord LLC,2,150.00,"
                        "AccountBasedExpenseLineDetail,Utilities,2024-05-01T09:00:00-07:00\n"
                        "181,,2024-05-03,90.00,CreditCard,false,Visa,Shell,1,90.00,"
                        "AccountBasedExpenseLineDetail,Fuel,2024-05-03T09:00:00-07:00\n"
                        "182,,2024-05-04,400.00,CreditCard,false,Visa,Supply House,1,400.00,"
                        "AccountBasedExpenseLineDetail,Job Supplies,2024-05-04T09:00:00-07:00\n"
                        "183,,2024-05-05,90.00,CreditCard,true,Visa,Shell,1,90.00,"
                        "AccountBasedExpenseLineDetail,Fuel,2024-05-05T09:00:00-07:00\n",
    })
    customers = pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")
    assert list(customers.index) == ["58"] and customers.loc["58", "created_date"] == pd.Timestamp("2024-01-15")
    invoices = pd.read_parquet(lake.silver_table("invoices"))
    assert invoices[["invoice_id", "job_id", "customer_id", "status"]].values.tolist() == [
        ["130", "J-1042", "58", "paid"]]
    payments = pd.read_parquet(lake.silver_table("payments"))
    assert payments[["payment_id", "invoice_id", "method", "amount"]].values.tolist() == [
        ["201 130", "130", "card", 450.0]]
    expenses = pd.read_parquet(lake.silver_table("expenses")).set_index("expense_id")
    assert expenses[["category", "kind", "amount"]].to_dict("index") == {
        "180 1": {"category": "Rent & Lease", "kind": "fixed", "amount": 2000.0},
        "180 2": {"category": "Utilities", "kind": "fixed", "amount": 150.0},
        "181 1": {"category": "Fuel", "kind": "variable", "amount": 90.0}}  # the refund (183) is no expense
    assert _rejected(lake) == {
        ("Customer.csv", 3): {"zip"},  # ZIP+4
        ("Invoice.csv", 3): {"job_id"},  # no Job custom field
        ("Payment.csv", 3): {"method"},  # a payment method Quant does not know
        ("Purchase.csv", 5): {"kind"},  # a direct job cost, not a listed overhead account
    }
