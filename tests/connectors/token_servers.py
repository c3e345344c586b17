"""A local OAuth 2.0 token endpoint answering like each vendor's (RFC 6749 section 5 shapes).

The request is a form POST: ``grant_type=refresh_token&refresh_token=...`` or
``grant_type=client_credentials``, the client authenticated by HTTP Basic (Intuit, Xero) or by
``client_id``/``client_secret`` form fields (Salesforce, HubSpot). The answers are the documented ones:

* Intuit (QuickBooks): ``{"token_type": "bearer", "expires_in": 3600, "refresh_token": ...,
  "x_refresh_token_expires_in": 8726400, "access_token": ...}``; refresh tokens rotate.
* Xero: ``{"access_token": ..., "expires_in": 1800, "token_type": "Bearer", "refresh_token": ...,
  "scope": ...}``; refresh tokens rotate (every answer a new one).
* HubSpot: ``{"token_type": "bearer", "refresh_token": ..., "access_token": ..., "expires_in": 1800}``.
* Salesforce: ``{"access_token": ..., "signature": ..., "scope": ..., "instance_url": ..., "id": ...,
  "token_type": "Bearer", "issued_at": ...}`` (no ``expires_in``; no refresh token unless rotation).

Errors as ``{"error": "invalid_grant" | "invalid_client", "error_description": ...}`` (400 and 401).
Once a refresh token has been rotated the old one is refused (the strictest reading of a grace
period). ``issue`` is the list of access tokens handed out, in order; ``delay`` seconds are spent
before answering, so concurrent requests overlap. Every request is kept (form and headers).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from tests.schedule.servers import LocalHttpServer, reply_json

SHAPES = {
    "quickbooks": {"basic": True, "rotate": True, "client_credentials": False},
    "xero": {"basic": True, "rotate": True, "client_credentials": True},
    "hubspot": {"basic": False, "rotate": False, "client_credentials": False},
    "salesforce": {"basic": False, "rotate": False, "client_credentials": True},
}


class TokenServer(LocalHttpServer):
    """The token endpoint of ``vendor`` at ``path`` for one OAuth app and one refresh token.

    Parameters
    ----------
    vendor : str
        ``quickbooks``, ``xero``, ``hubspot`` or ``salesforce`` (the answer's shape).
    client_id, client_secret : str
        The app's credentials.
    refresh_token : str
        The valid refresh token (rotated on every refresh where the vendor rotates).
    issue : list of str
        Access tokens to hand out, in order (then ``access-<n>``).
    tls_dir : Path, optional
        Serve HTTPS with a trustme authority written to ``tls_dir / "token-ca.pem"``.
    """

    def __init__(self, vendor: str, client_id: str, client_secret: str, refresh_token: str, issue: list[str],
                 path: str = "/token", expires_in: int = 3600, delay: float = 0.0, tls_dir=None):
        self.vendor, self.shape = vendor, SHAPES[vendor]
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_token = refresh_token
        self.issue = list(issue)
        self.expires_in, self.delay, self.path = expires_in, delay, path
        self.requests: list[dict] = []
        self.issued: list[str] = []
        self.refuse_next: list[tuple[int, dict]] = []
        self._lock = threading.Lock()
        self._rotations = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0) or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                seen = {"path": self.path, "form": form, "headers": dict(self.headers.items())}
                outer.requests.append(seen)
                if outer.delay:
                    time.sleep(outer.delay)
                status, payload = outer.answer(seen)
                reply_json(self, status, payload)

        self._listen(Handler)
        if tls_dir is not None:
            import trustme

            ca = trustme.CA()
            self.ca_file = tls_dir / "token-ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_file))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(context)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.url = self.url.replace("http://", "https://")

    @property
    def token_url(self) -> str:
        return self.url + self.path

    def _client_ok(self, seen) -> bool:
        if self.shape["basic"]:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            return seen["headers"].get("Authorization") == f"Basic {expected}"
        form = seen["form"]
        return form.get("client_id") == self.client_id and form.get("client_secret") == self.client_secret

    def answer(self, seen) -> tuple[int, dict]:
        with self._lock:
            if seen["path"] != self.path:
                return 404, {"error": "not_found"}
            if self.refuse_next:
                return self.refuse_next.pop(0)
            if not self._client_ok(seen):
                return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
            grant = seen["form"].get("grant_type")
            refresh = None
            if grant == "refresh_token":
                if seen["form"].get("refresh_token") != self.refresh_token:
                    return 400, {"error": "invalid_grant", "error_description": "Incorrect or invalid refresh token"}
                if self.shape["rotate"]:
                    self._rotations += 1
                    self.refresh_token = f"{self.vendor}-rt-rotated-{self._rotations}"
                refresh = self.refresh_token
            elif not (grant == "client_credentials" and self.shape["client_credentials"]):
                return 400, {"error": "unsupported_grant_type", "error_description": f"grant type {grant}"}
            access = self.issue.pop(0) if self.issue else f"{self.vendor}-access-{len(self.issued) + 1}"
            self.issued.append(access)
            return 200, self._shaped(access, refresh)

    def _shaped(self, access: str, refresh: str | None) -> dict:
        if self.vendor == "quickbooks":
            return {"token_type": "bearer", "expires_in": self.expires_in, "refresh_token": refresh,
                    "x_refresh_token_expires_in": 8726400, "access_token": access}
        if self.vendor == "xero":
            answer = {"access_token": access, "expires_in": self.expires_in, "token_type": "Bearer",
                      "scope": "offline_access accounting.transactions accounting.contacts"}
            return {**answer, "refresh_token": refresh} if refresh else answer
        if self.vendor == "hubspot":
            return {"token_type": "bearer", "refresh_token": refresh, "access_token": access,
                    "expires_in": self.expires_in}
        answer = {"access_token": access, "signature": "c2lnbmF0dXJl", "scope": "api refresh_token",
                  "instance_url": self.url, "id": f"{self.url}/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
                  "token_type": "Bearer", "issued_at": str(int(time.time() * 1000))}
        return {**answer, "refresh_token": refresh} if refresh and self.shape["rotate"] else answer


def stored(path) -> dict:
    """The token store's entries (``{key: entry}``)."""
    return json.loads(path.read_text(encoding="utf-8"))["tokens"]
