"""OAuth tokens refreshed by Quant (quantlib.connectors.tokens) against local token endpoints answering
in each vendor's documented shape, with the vendors' clients reading local APIs that answer 401 to an
expired token: the sync refreshes once and lands its pages; the rotated refresh token is stored
(mode 0600, outside the lake) and used by the next run, which refreshes before expiry; two refreshes
at once spend the refresh token once; a refused refresh names the variable to fix and shows no secret."""

from __future__ import annotations

import json
import stat
import threading
import time

import pytest

from quantlib.connectors.base import SyncError, sync
from quantlib.connectors.hubspot import HubSpotConnector
from quantlib.connectors.quickbooks import QuickBooksConnector
from quantlib.connectors.salesforce import SalesforceConnector
from quantlib.connectors.tokens import VENDORS, TokenError, Tokens, missing_credentials
from quantlib.connectors.xero import XeroConnector
from quantlib.data.lake import Lake
from tests.connectors.accounting_servers import QuickBooksServer, XeroServer
from tests.connectors.crm_servers import HS_TOKEN, SF_TOKEN, HubSpotServer
from tests.connectors.test_accounting_sync import QB_TOKEN, XERO_TOKEN, _no_secret_in, _qb_entities, _xero_objects
from tests.connectors.test_hubspot import _crm
from tests.connectors.test_salesforce import _server as _salesforce_org
from tests.connectors.token_servers import TokenServer, stored

CLIENT_ID, CLIENT_SECRET = "app-client-id-1", "app-client-S3CRET-value"
EXPIRED = "expired-access-t0ken-SECRET"
INITIAL_RT = "initial-refresh-t0ken-SECRET"


def _oauth_env(prefix: str, token_url: str, store, **extra) -> dict[str, str]:
    return {f"{prefix}_CLIENT_ID": CLIENT_ID, f"{prefix}_CLIENT_SECRET": CLIENT_SECRET,
            f"{prefix}_REFRESH_TOKEN": INITIAL_RT, f"{prefix}_TOKEN_URL": token_url, "QUANT_TOKEN_STORE": str(store),
            **extra}


def _entry(store) -> dict:
    [entry] = stored(store).values()
    return entry


def _age(store, seconds_left: float) -> None:
    """Make the stored access token expire in ``seconds_left`` (as if the next run came an hour later)."""
    data = json.loads(store.read_text())
    for entry in data["tokens"].values():
        entry["expires_at"] = time.time() + seconds_left
    store.write_text(json.dumps(data))


def test_quickbooks_expired_token_refreshed_once_rotated_token_stored_and_used_next_run(tmp_path, caplog):
    caplog.set_level("DEBUG")
    lake, store = Lake(tmp_path / "lake"), tmp_path / "home" / ".config" / "quant" / "tokens.json"
    with TokenServer("quickbooks", CLIENT_ID, CLIENT_SECRET, INITIAL_RT, issue=[QB_TOKEN, QB_TOKEN]) as intuit, \
            QuickBooksServer(_qb_entities()) as qbo:
        env = _oauth_env("QUICKBOOKS", intuit.token_url, store, QUICKBOOKS_ACCESS_TOKEN=EXPIRED,
                         QUICKBOOKS_REALM_ID="9130", QUICKBOOKS_API_URL=qbo.api_url)
        report = sync(lake, "quickbooks", env=env, objects=["Invoice"],
                      connector=QuickBooksConnector(sleep=pytest.fail))
        assert report.rows == {"Invoice": 3}
        # The expired token got a 401, the same query went again with the new token: one refresh in all.
        assert [r["headers"]["Authorization"] for r in qbo.requests] == [f"Bearer {EXPIRED}", f"Bearer {QB_TOKEN}"]
        [asked] = intuit.requests
        assert asked["form"] == {"grant_type": "refresh_token", "refresh_token": INITIAL_RT}
        assert asked["headers"]["Authorization"].startswith("Basic ")  # Intuit: client id and secret as Basic
        # The rotated refresh token is in the store, mode 0600 in a 0700 folder, outside the lake.
        assert stat.S_IMODE(store.stat().st_mode) == 0o600 and stat.S_IMODE(store.parent.stat().st_mode) == 0o700
        entry = _entry(store)
        assert entry["refresh_token"] == intuit.refresh_token == "quickbooks-rt-rotated-1"
        assert entry["access_token"] == QB_TOKEN and entry["expires_at"] > time.time() + 3000

        # The next run uses the stored token while it lasts: no token request, no 401.
        qbo.requests.clear()
        sync(lake, "quickbooks", env=env, since="1970-01-01T00:00:00+00:00", objects=["Invoice"],
             connector=QuickBooksConnector(sleep=pytest.fail))
        assert len(intuit.requests) == 1 and {r["headers"]["Authorization"] for r in qbo.requests} == {
            f"Bearer {QB_TOKEN}"}
        # An hour later (the token about to expire): refreshed before any call, with the rotated refresh
        # token (the environment's was spent and Intuit refuses it now).
        _age(store, 30)
        qbo.requests.clear()
        sync(lake, "quickbooks", env=env, since="1970-01-01T00:00:00+00:00", objects=["Invoice"],
             connector=QuickBooksConnector(sleep=pytest.fail))
        assert intuit.requests[-1]["form"]["refresh_token"] == "quickbooks-rt-rotated-1" and len(intuit.requests) == 2
        assert {r["headers"]["Authorization"] for r in qbo.requests} == {f"Bearer {QB_TOKEN}"}
        assert _entry(store)["refresh_token"] == intuit.refresh_token == "quickbooks-rt-rotated-2"
    _no_secret_in(lake, EXPIRED, INITIAL_RT, CLIENT_SECRET, QB_TOKEN, "rt-rotated")
    assert "quickbooks: new access token from the token endpoint (refresh token rotated)" in caplog.text
    assert not any(s in caplog.text for s in (EXPIRED, INITIAL_RT, CLIENT_SECRET, QB_TOKEN, "rt-rotated"))


def test_xero_refresh_after_401_rotation_and_custom_connection(tmp_path):
    lake, store = Lake(tmp_path / "lake"), tmp_path / "tokens.json"
    with TokenServer("xero", CLIENT_ID, CLIENT_SECRET, INITIAL_RT, issue=[XERO_TOKEN], expires_in=1800) as identity, \
            XeroServer(_xero_objects()) as api:
        env = _oauth_env("XERO", identity.token_url, store, XERO_ACCESS_TOKEN=EXPIRED, XERO_TENANT_ID="tenant-1",
                         XERO_API_URL=api.api_url)
        report = sync(lake, "xero", env=env, objects=["Contacts"], connector=XeroConnector(sleep=pytest.fail))
        assert report.rows == {"Contacts": 1}
        assert [r["headers"]["Authorization"] for r in api.requests] == [f"Bearer {EXPIRED}", f"Bearer {XERO_TOKEN}"]
        [asked] = identity.requests
        assert asked["form"] == {"grant_type": "refresh_token", "refresh_token": INITIAL_RT}
        assert _entry(store)["refresh_token"] == identity.refresh_token == "xero-rt-rotated-1"
        assert stat.S_IMODE(store.stat().st_mode) == 0o600

    # A Custom Connection: client id and secret only, the client credentials grant from the start.
    with TokenServer("xero", CLIENT_ID, CLIENT_SECRET, "unused", issue=[XERO_TOKEN]) as identity, \
            XeroServer(_xero_objects()) as api:
        env = {"XERO_CLIENT_ID": CLIENT_ID, "XERO_CLIENT_SECRET": CLIENT_SECRET, "XERO_TOKEN_URL": identity.token_url,
               "XERO_TENANT_ID": "tenant-1", "XERO_API_URL": api.api_url,
               "QUANT_TOKEN_STORE": str(tmp_path / "cc.json")}
        assert XeroConnector().missing(env) is None
        sync(tmp_path / "lake2", "xero", env=env, objects=["Contacts"], connector=XeroConnector(sleep=pytest.fail))
        assert [r["form"] for r in identity.requests] == [{"grant_type": "client_credentials"}]
        assert {r["headers"]["Authorization"] for r in api.requests} == {f"Bearer {XERO_TOKEN}"}
    _no_secret_in(lake, EXPIRED, INITIAL_RT, CLIENT_SECRET, XERO_TOKEN)


def test_hubspot_oauth_app_refresh_and_private_app_token_unchanged(tmp_path):
    records, companies_of, properties = _crm()
    store = tmp_path / "tokens.json"
    with TokenServer("hubspot", CLIENT_ID, CLIENT_SECRET, INITIAL_RT, issue=[HS_TOKEN], path="/oauth/v1/token",
                     expires_in=1800) as oauth, HubSpotServer(records, companies_of, properties) as crm:
        env = _oauth_env("HUBSPOT", oauth.token_url, store, HUBSPOT_ACCESS_TOKEN=EXPIRED,
                         QUANT_HUBSPOT_BASE_URL=crm.url)
        report = sync(tmp_path / "lake", "hubspot", env=env, objects=["companies"], connector=HubSpotConnector())
        assert report.rows == {"companies": 3}
        [asked] = oauth.requests  # HubSpot: the client id and secret in the form
        assert asked["form"] == {"grant_type": "refresh_token", "refresh_token": INITIAL_RT, "client_id": CLIENT_ID,
                                 "client_secret": CLIENT_SECRET}
        assert [r[1].split("?")[0] for r in crm.requests[:2]] == ["/crm/v3/properties/companies"] * 2  # 401, again
        assert _entry(store)["refresh_token"] == INITIAL_RT  # HubSpot does not rotate it
        # A private app's token (no refresh settings): used as it is, no token endpoint, no store.
        private = {**crm.env(), "QUANT_TOKEN_STORE": str(tmp_path / "private.json")}
        sync(tmp_path / "lake", "hubspot", env=private, objects=["companies"], connector=HubSpotConnector())
        assert len(oauth.requests) == 1 and not (tmp_path / "private.json").exists()
    assert VENDORS["hubspot"].token_url({}) == "https://api.hubapi.com/oauth/v1/token"


def test_salesforce_refresh_token_and_client_credentials_over_tls(tmp_path):
    with _salesforce_org(tmp_path) as org, \
            TokenServer("salesforce", CLIENT_ID, CLIENT_SECRET, INITIAL_RT, issue=[SF_TOKEN, SF_TOKEN],
                        path="/services/oauth2/token", tls_dir=tmp_path) as login:
        bundle = tmp_path / "cas.pem"  # the org's and the token server's authorities
        bundle.write_text(org.ca_file.read_text() + login.ca_file.read_text())
        session = org.session
        session.verify = str(bundle)
        env = {**_oauth_env("SALESFORCE", login.token_url, tmp_path / "tokens.json"),
               "SALESFORCE_INSTANCE_URL": org.url, "SALESFORCE_ACCESS_TOKEN": EXPIRED}
        report = sync(tmp_path / "lake", "salesforce", env=env, objects=["Account"],
                      connector=SalesforceConnector(session))
        assert report.rows == {"Account": 3}
        [asked] = login.requests
        assert asked["form"] == {"grant_type": "refresh_token", "refresh_token": INITIAL_RT, "client_id": CLIENT_ID,
                                 "client_secret": CLIENT_SECRET}
        assert [m for m, q, _ in org.requests][:2] == ["GET", "GET"] and "describe" in org.requests[1][1]
        assert _entry(tmp_path / "tokens.json")["expires_at"] is None  # Salesforce tells no expiry: until a 401

        # The client credentials flow: the connected app's key and secret only.
        cc = {"SALESFORCE_CLIENT_ID": CLIENT_ID, "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
              "SALESFORCE_TOKEN_URL": login.token_url, "SALESFORCE_INSTANCE_URL": org.url,
              "QUANT_TOKEN_STORE": str(tmp_path / "cc.json")}
        sync(tmp_path / "lake", "salesforce", env=cc, objects=["Account"], connector=SalesforceConnector(session))
        assert login.requests[-1]["form"] == {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                              "client_secret": CLIENT_SECRET}
    assert VENDORS["salesforce"].token_url({"SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com/"}) == \
        "https://acme.my.salesforce.com/services/oauth2/token"


def test_concurrent_refreshes_spend_the_rotating_refresh_token_once(tmp_path):
    store = tmp_path / "tokens.json"
    with TokenServer("xero", CLIENT_ID, CLIENT_SECRET, INITIAL_RT, issue=[], delay=0.3) as identity:
        env = _oauth_env("XERO", identity.token_url, store, XERO_TENANT_ID="tenant-1")
        start, got, failed = threading.Barrier(4), [], []

        def run():
            tokens = Tokens("xero", env)
            start.wait()
            try:
                got.append(tokens.refresh(stale=EXPIRED))
            except TokenError as exc:  # a second spend of the rotated refresh token: invalid_grant
                failed.append(str(exc))

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert failed == [] and got == ["xero-access-1"] * 4
        assert len(identity.requests) == 1
        assert _entry(store)["refresh_token"] == identity.refresh_token  # the stored one is the valid one
        # ... and it works: a forced refresh spends it and stores the next.
        Tokens("xero", env).refresh(stale="xero-access-1")
        assert _entry(store)["refresh_token"] == identity.refresh_token == "xero-rt-rotated-2"


def _refresh_in_a_process(env, results):
    try:
        results.put(Tokens("quickbooks", env).refresh(stale=EXPIRED))
    except TokenError as exc:
        results.put(f"refused: {exc}")


def test_concurrent_refreshes_in_processes_share_the_store(tmp_path):
    import multiprocessing

    store = tmp_path / "tokens.json"
    with TokenServer("quickbooks", CLIENT_ID, CLIENT_SECRET, INITIAL_RT, issue=[], delay=0.3) as intuit:
        env = _oauth_env("QUICKBOOKS", intuit.token_url, store, QUICKBOOKS_REALM_ID="9130")
        context = multiprocessing.get_context("fork")  # the children start with the modules loaded
        results = context.Queue()
        workers = [context.Process(target=_refresh_in_a_process, args=(env, results)) for _ in range(3)]
        for w in workers:
            w.start()
        got = sorted(results.get(timeout=20) for _ in workers)
        for w in workers:
            w.join(10)
        assert got == ["quickbooks-access-1"] * 3 and len(intuit.requests) == 1
        assert _entry(store)["refresh_token"] == intuit.refresh_token == "quickbooks-rt-rotated-1"
        assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_refused_refresh_names_the_variable_and_shows_no_secret(tmp_path):
    from typer.testing import CliRunner

    from quantlib.cli import app

    with TokenServer("quickbooks", CLIENT_ID, CLIENT_SECRET, "another-valid-refresh-token", issue=[]) as intuit, \
            QuickBooksServer(_qb_entities()) as qbo:
        env = _oauth_env("QUICKBOOKS", intuit.token_url, tmp_path / "tokens.json", QUICKBOOKS_ACCESS_TOKEN=EXPIRED,
                         QUICKBOOKS_REALM_ID="9130", QUICKBOOKS_API_URL=qbo.api_url)
        done = CliRunner().invoke(app, ["sync", "quickbooks", "--object", "Invoice", "--lake",
                                        str(tmp_path / "lake")], env=env)
        assert done.exit_code == 1
        assert "token endpoint refused the refresh request (HTTP 400: invalid_grant" in done.output
        assert "set QUICKBOOKS_REFRESH_TOKEN to the new refresh token" in done.output
        for secret in (EXPIRED, INITIAL_RT, CLIENT_SECRET):
            assert secret not in done.output
        assert len(intuit.requests) == 1  # one refresh, not retried
        # The app's keys wrong: the client id and secret are named.
        with pytest.raises(TokenError, match="check QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET") as wrong:
            Tokens("quickbooks", {**env, "QUICKBOOKS_CLIENT_SECRET": "wrong-S3CRET"}).refresh(stale=EXPIRED)
        assert "wrong-S3CRET" not in str(wrong.value) and INITIAL_RT not in str(wrong.value)
        # A token the API refuses even fresh from the endpoint: one refresh, then the API's refusal.
        intuit.refresh_token = INITIAL_RT
        intuit.issue = ["also-refused-by-the-api"]
        with pytest.raises(SyncError, match="quickbooks Invoice") as refused:
            sync(tmp_path / "lake", "quickbooks", env={**env, "QUANT_TOKEN_STORE": str(tmp_path / "t2.json")},
                 objects=["Invoice"], connector=QuickBooksConnector(sleep=pytest.fail))
        assert len(intuit.requests) == 3 and "also-refused" not in str(refused.value)


def test_missing_settings_are_named():
    qb = QuickBooksConnector()
    assert qb.missing({"QUICKBOOKS_REALM_ID": "1"}) == (
        "quickbooks: set QUICKBOOKS_ACCESS_TOKEN (or QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET and "
        "QUICKBOOKS_REFRESH_TOKEN, for Quant to refresh tokens) to sync through the API")
    partial = {"QUICKBOOKS_REALM_ID": "1", "QUICKBOOKS_CLIENT_ID": "x", "QUICKBOOKS_REFRESH_TOKEN": "y"}
    assert "QUICKBOOKS_ACCESS_TOKEN or all of" in qb.missing(partial)
    assert qb.missing({**partial, "QUICKBOOKS_CLIENT_SECRET": "z"}) is None
    # Salesforce and Xero: the client credentials flow needs no refresh token.
    assert missing_credentials(XeroConnector(), {"XERO_CLIENT_ID": "x", "XERO_CLIENT_SECRET": "z"}) == (
        "xero: set XERO_TENANT_ID to sync through the API")
    assert SalesforceConnector().missing({"SALESFORCE_CLIENT_ID": "x", "SALESFORCE_CLIENT_SECRET": "z"}) == (
        "salesforce: set SALESFORCE_INSTANCE_URL to sync through the API")
    assert HubSpotConnector().missing({"HUBSPOT_CLIENT_ID": "x", "HUBSPOT_CLIENT_SECRET": "z"}) is not None


def test_an_unreadable_store_is_named_and_a_loose_one_is_tightened(tmp_path):
    store = tmp_path / "tokens.json"
    store.write_text("not json")
    env = {"QUICKBOOKS_CLIENT_ID": CLIENT_ID, "QUICKBOOKS_CLIENT_SECRET": CLIENT_SECRET,
           "QUICKBOOKS_REFRESH_TOKEN": INITIAL_RT, "QUICKBOOKS_REALM_ID": "9130", "QUANT_TOKEN_STORE": str(store)}
    with pytest.raises(TokenError, match="token store .* is not JSON.*QUANT_TOKEN_STORE"):
        Tokens("quickbooks", env).current()
    # A store someone left readable by others is replaced by a 0600 file at the next refresh.
    store.write_text(json.dumps({"version": 1, "tokens": {}}))
    store.chmod(0o644)
    with TokenServer("quickbooks", CLIENT_ID, CLIENT_SECRET, INITIAL_RT, issue=["fresh-access"]) as intuit:
        assert Tokens("quickbooks", {**env, "QUICKBOOKS_TOKEN_URL": intuit.token_url}).current() == "fresh-access"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
