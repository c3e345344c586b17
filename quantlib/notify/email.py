"""E-mail over SMTP: settings from the environment, one message with attachments.

=====================  ==========================================================
``QUANT_SMTP_HOST``    SMTP server; e-mail is off when unset
``QUANT_SMTP_PORT``    port (default 25 for ``none``, 587 ``starttls``, 465 ``ssl``)
``QUANT_SMTP_TLS``     ``none`` | ``starttls`` | ``ssl`` (default ``starttls``)
``QUANT_SMTP_USER``    login (no AUTH when unset)
``QUANT_SMTP_PASSWORD``  password
``QUANT_SMTP_FROM``    sender address (default: the user, else ``quant@<host>``)
``QUANT_SMTP_CAFILE``  optional CA bundle for a private certificate authority
=====================  ==========================================================

The password is read from the environment and never written into a message, a log or an error.
"""

from __future__ import annotations

import mimetypes
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Mapping, Sequence

from quantlib.notify.base import DeliveryError

__all__ = ["SmtpSettings", "send_email"]

TlsMode = Literal["none", "starttls", "ssl"]
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}



@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server.

    Attributes
    ----------
    host, port : str, int
    tls : {"none", "starttls", "ssl"}
        ``ssl`` is implicit TLS (usually port 465); ``starttls`` upgrades a plain
        connection (usually 587) and refuses to continue if the server cannot.
    user, password : str or None
        AUTH credentials; no AUTH when ``user`` is ``None``.
    sender : str
        The From address.
    cafile : str or None
        A CA bundle to trust instead of the system's (private CAs, tests).
    """

    host: str
    port: int
    tls: TlsMode = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = ""
    cafile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SmtpSettings | None":
        """Settings from ``QUANT_SMTP_*``; ``None`` when no host is configured.

        Raises
        ------
        DeliveryError
            If a variable is set to something unusable (unknown TLS mode, bad port).
        """
        env = os.environ if env is None else env
        host = env.get("QUANT_SMTP_HOST", "").strip()
        if not host:
            return None
        tls = env.get("QUANT_SMTP_TLS", "starttls").strip().lower() or "starttls"
        if tls not in _DEFAULT_PORTS:
            raise DeliveryError(f"QUANT_SMTP_TLS must be none, starttls or ssl, not {tls!r}")
        port_text = env.get("QUANT_SMTP_PORT", "").strip()
        try:
            port = int(port_text) if port_text else _DEFAULT_PORTS[tls]
        except ValueError:
            raise DeliveryError(f"QUANT_SMTP_PORT is not a number: {port_text!r}") from None
        user = env.get("QUANT_SMTP_USER") or None
        sender = env.get("QUANT_SMTP_FROM") or user or f"quant@{host}"
        return cls(
            host=host,
            port=port,
            tls=tls,  # type: ignore[arg-type]
            user=user,
            password=env.get("QUANT_SMTP_PASSWORD") or None,
            sender=sender,
            cafile=env.get("QUANT_SMTP_CAFILE") or None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying TLS context (system CAs, or ``cafile``)."""
        return ssl.create_default_context(cafile=self.cafile)


def send_email(
    settings: SmtpSettings,
    to: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[Path] = (),
    *,
    html_body: str | None = None,
    timeout: float = 30,
) -> None:
    """Send one e-mail.

    Parameters
    ----------
    settings : SmtpSettings
    to : sequence of str
        Recipients (all in ``To``).
    subject, body : str
        Plain-text body; ``html_body`` adds an HTML alternative.
    attachments : sequence of Path
        Files attached with a MIME type guessed from the name.
    timeout : float
        Socket timeout in seconds.

    Raises
    ------
    DeliveryError
        On any SMTP or network failure; the message names the server, never the password.
    """
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.host)
    msg.set_content(body)
    if html_body is not None:
        msg.add_alternative(html_body, subtype="html")
    for path in attachments:
        ctype, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)

    where = f"{settings.host}:{settings.port} ({settings.tls})"
    try:
        if settings.tls == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=settings.ssl_context()
            )
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with server:
            server.ehlo()
            if settings.tls == "starttls":
                # starttls() raises when the server does not offer it: never fall back to plain
                # text with a password on the line.
                server.starttls(context=settings.ssl_context())
                server.ehlo()
            if settings.user:
                server.login(settings.user, settings.password or "")
            refused = server.send_message(msg, from_addr=settings.sender, to_addrs=list(to))
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP login to {where} as {settings.user!r} refused ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        # str(exc) of smtplib/ssl errors holds server replies and addresses, not credentials.
        raise DeliveryError(f"SMTP to {where} failed: {type(exc).__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"SMTP server {where} refused: {', '.join(sorted(refused))}")
