"""OAuth 2.0 access tokens for the connectors: from the environment, or refreshed and kept in a token store.

A connector asks :class:`Tokens` for the current access token (:meth:`Tokens.current`) and, when
the vendor answers 401 to it, for a new one (:meth:`Tokens.refresh`, once per refused call).

Two ways of giving Quant its access, per source (``P`` = ``SALESFORCE``, ``HUBSPOT``,
``QUICKBOOKS``, ``XERO``):

* an access token, ``P_ACCESS_TOKEN``, used as it is (as before; a HubSpot private app's token
  never expires, the others do and then a sync fails with 401);
* refresh settings, ``P_CLIENT_ID`` and ``P_CLIENT_SECRET`` (the OAuth app's) plus
  ``P_REFRESH_TOKEN`` (the refresh token its authorization gave), or, for Salesforce and Xero
  (client credentials flow, Xero Custom Connections), the client id and secret alone. Quant then
  asks the vendor's token endpoint for access tokens itself, before the stored one expires
  (``expires_in`` of the answer, less :data:`EXPIRY_MARGIN`) and when the API refuses one.

Token endpoints (RFC 6749 section 6 and 4.4, each vendor's documented request and answer
``{"access_token", "refresh_token", "expires_in", "token_type", ...}``; ``P_TOKEN_URL``
replaces the default):

==========  ====================================================  ==================  ===================
source      default token endpoint                                client auth         grants
==========  ====================================================  ==================  ===================
salesforce  ``<SALESFORCE_INSTANCE_URL>/services/oauth2/token``   form fields         refresh_token,
                                                                                      client_credentials
hubspot     ``<QUANT_HUBSPOT_BASE_URL or api.hubapi.com>``        form fields         refresh_token
            ``/oauth/v1/token``
quickbooks  ``https://oauth.platform.intuit.com/oauth2/v1/``      HTTP Basic          refresh_token
            ``tokens/bearer``
xero        ``https://identity.xero.com/connect/token``           HTTP Basic          refresh_token,
                                                                                      client_credentials
==========  ====================================================  ==================  ===================

The token store. QuickBooks and Xero rotate refresh tokens (an answer carries a new one and the
old one stops working, at once or after a grace period), so the newest must outlive the run: it
is kept, with the current access token and its expiry, in a JSON file **outside** the lake,
reports, logs and run history: ``$QUANT_TOKEN_STORE``, default ``~/.config/quant/tokens.json``.
The file is created with mode 0600 (its folder 0700) and replaced atomically; every refresh
happens under a file lock beside it (``tokens.json.lock``), and re-reads the store first, so of
two syncs refreshing at once the second uses the first one's token instead of spending the
rotated refresh token again. An entry is per source, OAuth app, account (instance, realm or
tenant) and initial refresh token: a new ``P_REFRESH_TOKEN`` (the app authorized again) starts
afresh, and the environment's value is used only until the store has a newer one.

No secret (token, client secret) is ever put in an error, a log line or the command's output;
a refused refresh is a :class:`TokenError` naming the variable to fix.

The vendors' clients have their own token code, not used here: simple-salesforce's client
credentials login posts to ``https://<domain>.salesforce.com`` only and has no refresh-token
grant; intuitlib's ``AuthClient`` fetches Intuit's discovery document on every construction;
xero-python's ``TokenApi`` has its token URL fixed in the class and raises a bare ``Exception``.
One implementation of the documented token request serves all four, with one store and lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from quantlib.connectors.base import RetryableError, SyncError, call_with_retries, retry_after, scrub

__all__ = ["EXPIRY_MARGIN", "VENDORS", "OAuthVendor", "TokenError", "TokenStore", "Tokens", "missing_credentials",
           "token_store_path"]

log = logging.getLogger(__name__)

#: Seconds before its expiry that an access token is replaced.
EXPIRY_MARGIN = 120.0
#: Seconds a run waits for another one's refresh (the lock) before giving up.
LOCK_TIMEOUT = 120.0


class TokenError(SyncError):
    """The vendor refused a token request, or the refresh settings or the token store are unusable.

    The message names the environment variable (or file) to fix and holds no secret.
    """


@dataclass(frozen=True)
class OAuthVendor:
    """How one vendor issues access tokens.

    Attributes
    ----------
    source : str
        The connector's name.
    prefix : str
        Its environment variables' prefix (``QUICKBOOKS`` for ``QUICKBOOKS_CLIENT_ID`` ...).
    default_url : callable
        The token endpoint for an environment (when ``<prefix>_TOKEN_URL`` is unset).
    basic_auth : bool
        Client id and secret as HTTP Basic authentication (else as form fields).
    client_credentials : bool
        Whether the vendor has the client credentials grant (access without a refresh token).
    account : str or None
        The variable naming the account (instance, realm, tenant) the tokens are for.
    """

    source: str
    prefix: str
    default_url: Callable[[Mapping[str, str]], str]
    basic_auth: bool
    client_credentials: bool
    account: str | None

    def var(self, name: str) -> str:
        """The environment variable ``<prefix>_<name>`` (``var("CLIENT_ID")`` -> ``XERO_CLIENT_ID``)."""
        return f"{self.prefix}_{name}"

    def token_url(self, env: Mapping[str, str]) -> str:
        """The token endpoint: ``<prefix>_TOKEN_URL`` when set, else the vendor's documented one."""
        return (env.get(self.var("TOKEN_URL")) or self.default_url(env)).strip()

    def configured(self, env: Mapping[str, str]) -> bool:
        """Whether ``env`` has the refresh settings (client id and secret, and a refresh token unless
        the vendor has the client credentials grant)."""
        if not (env.get(self.var("CLIENT_ID")) and env.get(self.var("CLIENT_SECRET"))):
            return False
        return bool(env.get(self.var("REFRESH_TOKEN"))) or self.client_credentials

    def settings(self) -> str:
        """The refresh settings, as a phrase for a message."""
        refresh = self.var("REFRESH_TOKEN")
        core = f"{self.var('CLIENT_ID')} and {self.var('CLIENT_SECRET')}"
        return f"{core} (and {refresh})" if self.client_credentials else f"{core} and {refresh}"


def _salesforce_url(env: Mapping[str, str]) -> str:
    return (env.get("SALESFORCE_INSTANCE_URL") or "").rstrip("/") + "/services/oauth2/token"


def _hubspot_url(env: Mapping[str, str]) -> str:
    return (env.get("QUANT_HUBSPOT_BASE_URL") or "https://api.hubapi.com").rstrip("/") + "/oauth/v1/token"


#: The vendors whose tokens Quant can refresh, by source.
VENDORS: dict[str, OAuthVendor] = {
    "salesforce": OAuthVendor("salesforce", "SALESFORCE", _salesforce_url, basic_auth=False, client_credentials=True,
                              account="SALESFORCE_INSTANCE_URL"),
    "hubspot": OAuthVendor("hubspot", "HUBSPOT", _hubspot_url, basic_auth=False, client_credentials=False,
                           account=None),
    "quickbooks": OAuthVendor("quickbooks", "QUICKBOOKS",
                              lambda env: "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
                              basic_auth=True, client_credentials=False, account="QUICKBOOKS_REALM_ID"),
    "xero": OAuthVendor("xero", "XERO", lambda env: "https://identity.xero.com/connect/token", basic_auth=True,
                        client_credentials=True, account="XERO_TENANT_ID"),
}


def missing_credentials(connector, env: Mapping[str, str]) -> str | None:
    """Like :meth:`Connector.missing <quantlib.connectors.base.Connector.missing>`, but the access token
    may be replaced by the vendor's refresh settings (see the module); None when the API can be called."""
    vendor = VENDORS[connector.name]
    access = vendor.var("ACCESS_TOKEN")
    unset = []
    for name in connector.credentials:
        if env.get(name):
            continue
        if name == access:
            if vendor.configured(env):
                continue
            partial = [v for v in (vendor.var("CLIENT_ID"), vendor.var("CLIENT_SECRET")) if env.get(v)]
            if partial or env.get(vendor.var("REFRESH_TOKEN")):
                unset.append(f"{access} or all of {vendor.settings()}")
                continue
            unset.append(f"{access} (or {vendor.settings()}, for Quant to refresh tokens)")
        else:
            unset.append(name)
    return f"{connector.name}: set {', '.join(unset)} to sync through the API" if unset else None


def token_store_path(env: Mapping[str, str] | None = None) -> Path:
    """The token store: ``$QUANT_TOKEN_STORE``, else ``~/.config/quant/tokens.json``."""
    env = os.environ if env is None else env
    if env.get("QUANT_TOKEN_STORE"):
        return Path(env["QUANT_TOKEN_STORE"]).expanduser()
    return Path("~/.config/quant/tokens.json").expanduser()


class TokenStore:
    """The JSON file of tokens (mode 0600), replaced atomically, refreshed under its lock file.

    Parameters
    ----------
    path : Path
        The file (:func:`token_store_path`).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def lock(self):
        """The lock every refresh holds (a ``filelock.FileLock`` beside the file, mode 0600)."""
        from filelock import FileLock

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT, mode=0o600)

    def read(self) -> dict[str, dict]:
        """The entries by key (empty when there is no file yet)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenError(f"the token store {self.path} cannot be read ({type(exc).__name__}); fix its "
                             "permissions or set QUANT_TOKEN_STORE to another file") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise TokenError(f"the token store {self.path} is not JSON; remove it (the refresh tokens in the "
                             "environment are used again) or set QUANT_TOKEN_STORE to another file") from None
        entries = data.get("tokens") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> dict | None:
        """The entry of ``key`` (access token, its expiry, refresh token), None when there is none."""
        return self.read().get(key)

    def put(self, key: str, entry: dict) -> None:
        """Set one entry and replace the file atomically (a 0600 temporary file renamed over it).

        Call under :meth:`lock`: the file is read, changed and written back.
        """
        entries = self.read()
        entries[key] = entry
        data = json.dumps({"version": 1, "tokens": entries}, indent=1, sort_keys=True)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=self.path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


class Tokens:
    """The access tokens of one source: from the environment, or from the token endpoint through the store.

    Parameters
    ----------
    source : str
        ``salesforce``, ``hubspot``, ``quickbooks`` or ``xero``.
    env : mapping
        The settings (see the module).
    session : requests.Session, optional
        How the token endpoint is called (e.g. one trusting a private certificate authority).
    clock : callable
        Seconds since the epoch (default ``time.time``).
    sleep : callable, optional
        How retries of a 429 or 5xx from the token endpoint wait (default ``time.sleep``).
    """

    def __init__(self, source: str, env: Mapping[str, str], session=None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.vendor = VENDORS[source]
        self.source = source
        self.env = env
        self.session = session
        self.clock = clock
        self.sleep = sleep
        self.store = TokenStore(token_store_path(env))
        v = self.vendor
        self._seed = env.get(v.var("REFRESH_TOKEN")) or ""
        account = env.get(v.account, "") if v.account else ""
        self.key = f"{source}:{_digest(env.get(v.var('CLIENT_ID'), ''), account, self._seed)}"
        self._seen: set[str] = set()

    @property
    def refreshable(self) -> bool:
        """Whether Quant can get new access tokens (the refresh settings are set)."""
        return self.vendor.configured(self.env)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret this source's tokens involve, for scrubbing messages."""
        v = self.vendor
        known = [self.env.get(v.var(n), "") for n in ("ACCESS_TOKEN", "CLIENT_SECRET", "REFRESH_TOKEN")]
        return tuple(s for s in [*known, *self._seen] if s)

    def _fresh(self, entry: dict | None) -> bool:
        if not entry or not entry.get("access_token"):
            return False
        expires = entry.get("expires_at")
        return expires is None or self.clock() < float(expires) - EXPIRY_MARGIN

    def current(self) -> str:
        """The access token to send now.

        Without refresh settings, ``P_ACCESS_TOKEN``. With them: the stored token while it is not
        about to expire; else ``P_ACCESS_TOKEN`` if set and nothing is stored yet; else a new one.
        """
        access = self.env.get(self.vendor.var("ACCESS_TOKEN"), "")
        if not self.refreshable:
            if not access:
                raise TokenError(f"{self.source}: set {self.vendor.var('ACCESS_TOKEN')} "
                                 f"(or {self.vendor.settings()})")
            return access
        entry = self.store.get(self.key)
        if self._fresh(entry):
            self._seen.add(entry["access_token"])
            return entry["access_token"]
        if entry is None and access:
            return access
        return self.refresh(stale=(entry or {}).get("access_token"))

    def refresh(self, stale: str | None = None) -> str:
        """A new access token, replacing ``stale`` (the one the API refused or that expired).

        Under the store's lock the store is read again: if another run has already replaced
        ``stale`` with a token still valid, that one is returned and nothing is asked. Else the
        token endpoint is asked (refresh token grant with the stored refresh token, else the
        environment's; client credentials without one) and its answer stored, a rotated refresh
        token replacing the old one.

        Raises
        ------
        TokenError
            No refresh settings, the endpoint refused (naming the variable to fix), or its answer
            is not in the documented shape.
        """
        if not self.refreshable:
            raise TokenError(f"{self.source}: the access token was refused and Quant cannot get a new one; "
                             f"set {self.vendor.settings()} for Quant to refresh it, or a new "
                             f"{self.vendor.var('ACCESS_TOKEN')}")
        from filelock import Timeout

        try:
            with self.store.lock():
                entry = self.store.get(self.key)
                if self._fresh(entry) and entry["access_token"] != stale:
                    self._seen.add(entry["access_token"])
                    return entry["access_token"]  # another run refreshed meanwhile
                refresh_token = (entry or {}).get("refresh_token") or self._seed
                answer = self._request(refresh_token)
                now = self.clock()
                expires_in = answer.get("expires_in")
                new_entry = {
                    "source": self.source,
                    "access_token": answer["access_token"],
                    "expires_at": now + float(expires_in) if expires_in not in (None, "") else None,
                    "refresh_token": answer.get("refresh_token") or refresh_token or None,
                    "refreshed_at": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
                }
                self.store.put(self.key, new_entry)
        except Timeout:
            raise TokenError(f"{self.source}: another run held the token store's lock ({self.store.path}.lock) "
                             f"for over {LOCK_TIMEOUT:.0f} s; no token was refreshed") from None
        self._seen.update(s for s in (new_entry["access_token"], new_entry["refresh_token"]) if s)
        rotated = " (refresh token rotated)" if new_entry["refresh_token"] != refresh_token else ""
        log.info("%s: new access token from the token endpoint%s, stored in %s", self.source, rotated,
                 self.store.path)
        return new_entry["access_token"]

    # ------------------------------------------------------------------ the token request

    def _request(self, refresh_token: str) -> dict:
        """POST the token request; the answer's JSON (with an ``access_token``)."""
        import requests

        v, env = self.vendor, self.env
        client_id, secret = env[v.var("CLIENT_ID")], env[v.var("CLIENT_SECRET")]
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token} if refresh_token \
            else {"grant_type": "client_credentials"}
        if self.source == "xero" and not refresh_token and env.get("XERO_SCOPES"):
            form["scope"] = env["XERO_SCOPES"]
        if not v.basic_auth:
            form.update(client_id=client_id, client_secret=secret)
        url = v.token_url(env)
        if not url.startswith(("https://", "http://")):
            raise TokenError(f"{self.source}: the token endpoint {url!r} is not an http(s) URL; "
                             f"set {v.var('TOKEN_URL')} or {v.account or 'it'}")
        secrets = (*self.secrets, refresh_token)
        http = self.session or requests

        def once():
            try:
                response = http.post(url, data=form, auth=(client_id, secret) if v.basic_auth else None,
                                     headers={"Accept": "application/json"}, timeout=30)
            except requests.RequestException as exc:
                raise RetryableError(f"{self.source}: the token endpoint {url} could not be reached "
                                     f"({type(exc).__name__})") from None
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableError(f"{self.source}: the token endpoint answered {response.status_code}")
            return response

        kwargs = {"attempts": 3} if self.sleep is None else {"attempts": 3, "sleep": self.sleep}
        try:
            response = call_with_retries(once, **kwargs)
        except SyncError as exc:
            raise TokenError(str(exc)) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            raise TokenError(self._refusal(response.status_code, body, bool(refresh_token), secrets))
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
            raise TokenError(f"{self.source}: the token endpoint's answer has no access_token (not the documented "
                             f"shape); check {v.var('TOKEN_URL')}")
        return body

    def _refusal(self, status: int, body, refreshing: bool, secrets) -> str:
        """The message of a refused token request: the vendor's error and the variable to fix."""
        v = self.vendor
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        described = str(body.get("error_description") or body.get("message") or "") if isinstance(body, dict) else ""
        said = scrub(" ".join(p for p in (error, described[:200]) if p) or "no error given", secrets)
        head = f"{self.source}: the token endpoint refused the {'refresh' if refreshing else 'client credentials'} " \
               f"request (HTTP {status}: {said})"
        if error in ("invalid_client", "unauthorized_client") or status == 401:
            return f"{head}; check {v.var('CLIENT_ID')} and {v.var('CLIENT_SECRET')} (the OAuth app's)"
        if refreshing and error == "invalid_grant":
            return (f"{head}; the refresh token has expired or been revoked (or was spent by a run that keeps "
                    f"another token store): connect the app again and set {v.var('REFRESH_TOKEN')} to the new "
                    f"refresh token (the token store {self.store.path} then starts from it)")
        if refreshing:
            return f"{head}; check {v.var('REFRESH_TOKEN')}, {v.var('CLIENT_ID')} and {v.var('CLIENT_SECRET')}"
        return f"{head}; check {v.var('CLIENT_ID')}, {v.var('CLIENT_SECRET')} and the app's client credentials setup"


@dataclass(frozen=True)
class Refusal:
    """A vendor's error answer, as :func:`call_vendor` needs it.

    ``message`` replaces the usual ``HTTP <status> <detail>`` text of a refusal that is not retried.
    """

    status: int
    detail: str = ""
    headers: Mapping | None = None
    message: str | None = None


def call_vendor(vendor: str, what: str, call: Callable, *, tokens: Tokens, renew: Callable[[], None],
                refusal: Callable[[BaseException], Refusal | None], unreachable: tuple = (OSError,),
                sleep: Callable[[float], None] | None = None):
    """``call()`` under the connectors' one policy for vendor answers.

    A 401 gets one new access token (``renew()``, when ``tokens`` can refresh) and the call is made
    again; 429 and 5xx are retried after the vendor's ``Retry-After`` (:func:`call_with_retries`),
    and so is a vendor that cannot be reached (``unreachable`` exceptions: networks blip); any other
    refusal is a :class:`SyncError`. Messages name the vendor and ``what`` was asked and never hold a
    token. ``refusal(exc)`` reads the vendor client's exception, or returns None for an exception that
    is not a vendor's answer (raised as it is).
    """
    renewed = False

    def once():
        nonlocal renewed
        try:
            return call()
        except unreachable as exc:
            raise RetryableError(f"{vendor} {what}: the API could not be reached ({type(exc).__name__})") from None
        except Exception as exc:
            answer = refusal(exc)
            if answer is None:
                raise
            if answer.status == 401 and tokens.refreshable and not renewed:
                renewed = True
                renew()
                return once()
            text = scrub(f"{vendor} {what}: HTTP {answer.status} {answer.detail}".rstrip(), tokens.secrets)
            if answer.status == 429 or answer.status >= 500:
                raise RetryableError(text, retry_after=retry_after(answer.headers)) from None
            raise SyncError(scrub(answer.message, tokens.secrets) if answer.message else text) from None

    return call_with_retries(once, **({} if sleep is None else {"sleep": sleep}))
