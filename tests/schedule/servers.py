"""Real local servers for distribution tests: SMTP (aiosmtpd) and a Slack-like webhook.

Both bind 127.0.0.1 on a free port and are stopped by the fixture that starts them.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "reports@quant.test"
SMTP_PASSWORD = "s3cr3t-Smtp-Passw0rd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def attachments(self) -> dict[str, bytes]:
        return {
            part.get_filename(): part.get_payload(decode=True)
            for part in self.message.iter_attachments()
        }

    @property
    def body(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


@dataclass
class Mailbox:
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


def make_cert(directory: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 (``None`` when openssl is missing)."""
    if shutil.which("openssl") is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


class SmtpServer:
    """aiosmtpd on 127.0.0.1; ``mode`` is none (no TLS, no AUTH), starttls or ssl (both with AUTH)."""

    def __init__(self, mode: str = "none", cert: tuple[Path, Path] | None = None):
        self.mode = mode
        self.mailbox = Mailbox()
        self.port = free_port()
        kwargs = {}
        if mode != "none":
            assert cert is not None
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
            kwargs.update(authenticator=self._auth, auth_require_tls=True)
            if mode == "starttls":
                kwargs.update(tls_context=ctx, require_starttls=True)
            else:
                # aiosmtpd only counts STARTTLS as "TLS" for auth_require_tls; with implicit TLS
                # the whole connection is encrypted anyway.
                kwargs.update(ssl_context=ctx, auth_require_tls=False)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER \
            and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            self.mailbox.logins.append(auth_data.login.decode())
        # handled=False makes aiosmtpd answer 535 itself (handled=True would leave the client hanging).
        return AuthResult(success=ok, handled=False)

    def env(self, cafile: Path | None = None) -> dict[str, str]:
        env = {"QUANT_SMTP_HOST": "127.0.0.1", "QUANT_SMTP_PORT": str(self.port), "QUANT_SMTP_TLS": self.mode,
               "QUANT_SMTP_FROM": "quant@quant.test"}
        if self.mode != "none":
            env.update(QUANT_SMTP_USER=SMTP_USER, QUANT_SMTP_PASSWORD=SMTP_PASSWORD, QUANT_SMTP_CAFILE=str(cafile))
        return env

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class LocalHttpServer:
    """A threaded HTTP server on a free 127.0.0.1 port, started and stopped as a context manager.

    Subclasses build their request handler class and call :meth:`_listen` with it.
    """

    def _listen(self, handler, path: str = "") -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def reply_json(handler: BaseHTTPRequestHandler, status: int, payload) -> None:
    """Answer a request with ``payload`` as JSON (status, content type and length)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class WebhookServer(LocalHttpServer):
    """An HTTP server that records JSON POST bodies, like a Slack incoming webhook."""

    def __init__(self, status: int = 200):
        self.payloads: list[dict] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.payloads.append(json.loads(body))
                outer.paths.append(self.path)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # keep test output quiet
                pass

        self._listen(Handler, "/services/T000/B000/XXXXsecretXXXX")
