"""The connector interface's sync engine: pages land through the ordinary ingest with the shipped
mapping, cursors advance only after a page landed, retries wait out rate limits, write-backs obey
the system-of-record rule and are audited."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.connectors.base import (
    Batch,
    Connector,
    RetryableError,
    SyncError,
    SyncSettings,
    WriteBackRefused,
    call_with_retries,
    read_audit,
    read_cursors,
    record_writes,
    retry_after,
    sync,
)
from quantlib.connectors.tokens import Refusal
from quantlib.data.lake import Lake

ACCOUNT_COLUMNS = ["Id", "Name", "IsPersonAccount", "BillingCity", "BillingPostalCode", "BillingLatitude",
                   "BillingLongitude", "AccountSource", "Rating", "CreatedDate", "LastModifiedDate"]


def _accounts(*rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(ACCOUNT_COLUMNS, r)) for r in rows], columns=ACCOUNT_COLUMNS)


PAGES = [
    _accounts(("001A", "Maria Gomez", "true", "Springfield", "62701", 39.79, -89.64, "Web", "Hot",
               "2024-01-15T10:30:00.000Z", "2024-05-01T00:00:00.000Z"),
              ("001B", "Prairie Offices", "false", "Decatur", "62521", 39.84, -88.95, "Phone Inquiry", "Warm",
               "2023-06-01T08:00:00.000Z", "2024-05-02T00:00:00.000Z")),
    _accounts(("001C", "No Geocode LLC", "false", "Decatur", "62522", None, None, "Other", "Cold",
               "2024-03-01T08:00:00.000Z", "2024-05-03T00:00:00.000Z")),
]


class PagedAccounts(Connector):
    """Serves :data:`PAGES` as a CRM would: modified after the cursor, oldest first; may fail mid-way."""

    name = "salesforce"  # the shipped Salesforce mapping reads these columns
    objects = ("Account",)
    settings = SyncSettings("real-time", "bidirectional")
    credentials = ("TEST_CRM_TOKEN",)
    owned_fields = {"Account": ("Quant_Churn_Risk__c",)}

    def __init__(self, fail_on_page: int | None = None):
        self.fail_on_page = fail_on_page
        self.asked: list[str | None] = []

    def read(self, obj, since, env):
        self.asked.append(since)
        for number, page in enumerate(PAGES):
            newer = page[page["LastModifiedDate"] > since] if since else page
            if newer.empty:
                continue
            if number == self.fail_on_page:
                raise SyncError("the CRM went away")
            yield Batch(obj, "Account.csv", newer, newer["LastModifiedDate"].max())


ENV = {"TEST_CRM_TOKEN": "t0ken"}


def test_pages_land_through_the_mapping_and_the_cursor_resumes(tmp_path):
    lake = Lake(tmp_path / "lake")
    with pytest.raises(SyncError, match="went away"):
        sync(lake, "salesforce", env=ENV, connector=PagedAccounts(fail_on_page=1))
    # The first page landed and its cursor was kept; the failed one left nothing.
    assert read_cursors(lake) == {"salesforce": {"Account": "2024-05-02T00:00:00.000Z"}}
    assert sorted(pd.read_parquet(lake.silver_table("customers"))["customer_id"]) == ["001A", "001B"]

    again = PagedAccounts()
    report = sync(lake, "salesforce", env=ENV, connector=again)
    assert again.asked == ["2024-05-02T00:00:00.000Z"]  # resumed from the cursor, not from the start
    assert report.pages == {"Account": 1} and report.rows == {"Account": 1}
    assert report.rows_rejected == 1  # no geocodes: rejected with its reason, like any ingest
    rejects = pd.read_parquet(lake.rejects)
    assert set(rejects["field"]) == {"lat", "lon"} and (rejects["file"] == "Account.csv").all()
    assert read_cursors(lake)["salesforce"]["Account"] == "2024-05-03T00:00:00.000Z"

    # A full re-read lands nothing twice (bronze knows the pages, silver keeps one row a key).
    sync(lake, "salesforce", since="1970-01-01", env=ENV, connector=PagedAccounts())
    assert len(pd.read_parquet(lake.silver_table("customers"))) == 2


def test_a_missing_credential_or_unknown_object_is_a_clear_error(tmp_path):
    with pytest.raises(SyncError, match="set TEST_CRM_TOKEN"):
        sync(tmp_path / "lake", "salesforce", env={}, connector=PagedAccounts())
    with pytest.raises(SyncError, match="no object Contact"):
        sync(tmp_path / "lake", "salesforce", env=ENV, objects=["Contact"], connector=PagedAccounts())
    with pytest.raises(SyncError, match="unknown source 'nope'"):
        sync(tmp_path / "lake", "nope", env=ENV)


def test_retries_wait_out_rate_limits_and_give_up_with_a_clear_error():
    waits, answers = [], iter([RetryableError("429", retry_after=7), RetryableError("503"), "done"])

    def call():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(call, sleep=waits.append, base_delay=2) == "done"
    assert waits == [7, 4]  # the vendor's Retry-After, then exponential (2, 4, ...)
    with pytest.raises(SyncError, match="gave up after 3 attempts"):
        call_with_retries(lambda: (_ for _ in ()).throw(RetryableError("429")), attempts=3, sleep=waits.append)
    assert retry_after({"Retry-After": "7"}) == 7.0
    # The HTTP-date form, garbage and no header at all: not said, so the wait is exponential.
    assert [retry_after(h) for h in ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, {}, None, object())] == [
        None] * 4
    with pytest.raises(KeyError):  # anything else fails at once
        call_with_retries(lambda: {}["x"], sleep=waits.append)


def test_write_back_only_owned_fields_and_every_write_is_audited(tmp_path):
    crm = PagedAccounts()
    crm.check_owned("Account", ["record_id", "Quant_Churn_Risk__c"])
    with pytest.raises(WriteBackRefused, match="Name belong to salesforce"):
        crm.check_owned("Account", ["record_id", "Name"])

    class Inbound(PagedAccounts):
        settings = SyncSettings("daily", "inbound")

    with pytest.raises(WriteBackRefused, match="never writes"):
        Inbound().check_owned("Account", ["record_id", "Quant_Churn_Risk__c"])
    with pytest.raises(WriteBackRefused, match="never writes"):
        Inbound().write_back("Account", pd.DataFrame({"record_id": ["001A"]}), ENV)

    lake = tmp_path / "lake"
    written = pd.DataFrame({"object": ["Account"], "record_id": ["001A"], "field": ["Quant_Churn_Risk__c"],
                            "before": [None], "after": ["0.42"]})
    record_writes(lake, "salesforce", written)
    record_writes(lake, "salesforce", written.assign(before="0.42", after="0.10"))
    audit = read_audit(lake)
    assert list(audit["after"]) == ["0.42", "0.10"] and list(audit["before"].fillna("-")) == ["-", "0.42"]
    assert (audit["source"] == "salesforce").all() and audit["written_at"].notna().all()


# -- the policy for vendor answers (tokens.call_vendor) --------------------------------------------

class _VendorError(Exception):
    def __init__(self, status, body=""):
        super().__init__(f"{status} {body}")
        self.status, self.body = status, body


class _TokenState:
    """What call_vendor reads of a source's tokens: whether it can refresh and which secrets to hide."""

    def __init__(self, refreshable):
        self.refreshable, self.secrets = refreshable, ("tok-old-1234",)


def _read(exc):
    return Refusal(exc.status, exc.body) if isinstance(exc, _VendorError) else None


def test_call_vendor_renews_once_retries_blips_and_hides_tokens():
    from quantlib.connectors.tokens import call_vendor

    answers = iter([ConnectionResetError(), _VendorError(503), _VendorError(401), "rows"])
    renewals, waits = [], []

    def call():
        answer = next(answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    tokens = _TokenState(refreshable=True)
    assert call_vendor("crm", "read", call, tokens=tokens, renew=lambda: renewals.append(1), refusal=_read,
                       sleep=waits.append) == "rows"
    assert renewals == [1] and waits == [1.0, 2.0]  # the blip and the 503 waited for; the 401 did not

    def refused_twice():
        raise _VendorError(401, "token tok-old-1234 expired")

    renewals.clear()
    with pytest.raises(SyncError) as caught:
        call_vendor("crm", "read", refused_twice, tokens=tokens, renew=lambda: renewals.append(1), refusal=_read,
                    sleep=waits.append)
    assert renewals == [1] and "crm read: HTTP 401" in str(caught.value) and "tok-old-1234" not in str(caught.value)

    def not_a_vendor_answer():
        raise KeyError("a bug of ours")

    with pytest.raises(KeyError):  # raised as it is, not dressed as a refusal
        call_vendor("crm", "read", not_a_vendor_answer, tokens=_TokenState(False), renew=lambda: None,
                    refusal=_read, sleep=waits.append)


class RevisedAccounts(PagedAccounts):
    """Three pages; the second holds a newer version of the first page's record (a record edited while
    the vendor paged, or read again at an inclusive cursor)."""

    def read(self, obj, since, env):
        first, second = PAGES[0].iloc[:1].copy(), PAGES[0].copy()
        second.loc[0, ["Name", "LastModifiedDate"]] = ["Maria Gomez-Ruiz", "2024-05-02T12:00:00.000Z"]
        for page in (first, second, PAGES[1]):
            yield Batch(obj, "Account.csv", page, page["LastModifiedDate"].max())


def test_consecutive_pages_land_in_one_ingest_unless_they_share_a_record(tmp_path, monkeypatch):
    lake = Lake(tmp_path / "lake")
    report = sync(lake, "salesforce", env=ENV, connector=RevisedAccounts())
    # The second page repeats 001A, so the first lands alone; the third joins the second.
    assert report.pages == {"Account": 3} and len(report.ingests) == 2
    customers = pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")
    assert customers.loc["001A", "name"] == "Maria Gomez-Ruiz"  # the newer version won, nothing rejected for it
    assert set(pd.read_parquet(lake.rejects)["row"]) == {4}  # 001C: the second landing's header, 001A, 001B, 001C
    assert read_cursors(lake)["salesforce"]["Account"] == "2024-05-03T00:00:00.000Z"

    import quantlib.connectors.base as base

    monkeypatch.setattr(base, "LANDING_ROWS", 1)  # a page at a time
    again = sync(tmp_path / "other", "salesforce", env=ENV, connector=RevisedAccounts())
    assert len(again.ingests) == 3
