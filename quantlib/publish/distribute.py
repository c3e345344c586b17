"""Distribution: e-mail a report (PDF attached, HTML linked) and post a Slack summary.

Every secret comes from the environment and nothing here writes one anywhere:

=====================  ==========================================================
``QUANT_SMTP_HOST``    SMTP server; distribution by e-mail is off when unset
``QUANT_SMTP_PORT``    port (default 25 for ``none``, 587 ``starttls``, 465 ``ssl``)
``QUANT_SMTP_TLS``     ``none`` | ``starttls`` | ``ssl`` (default ``starttls``)
``QUANT_SMTP_USER``    login (no AUTH when unset)
``QUANT_SMTP_PASSWORD``  password
``QUANT_SMTP_FROM``    sender address (default: the user, else ``quant@<host>``)
``QUANT_SMTP_CAFILE``  optional CA bundle for a private certificate authority
``QUANT_REPORTS_URL``  optional base URL where ``reports/`` is served; links are
                       ``file://`` paths otherwise
=====================  ==========================================================

The Slack webhook URL lives in an environment variable whose NAME the job spec gives.
A channel is used only where it has both recipients and credentials; otherwise it is
reported as ``skipped`` with the reason.
"""

from __future__ import annotations

import json
import mimetypes
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Mapping, Sequence

__all__ = [
    "Delivery",
    "DistributionError",
    "Notice",
    "SmtpSettings",
    "distribute",
    "post_slack",
    "report_link",
    "send_email",
    "slack_summary",
]

TlsMode = Literal["none", "starttls", "ssl"]
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class DistributionError(RuntimeError):
    """A message could not be delivered (the message never contains a secret)."""


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
        DistributionError
            If a variable is set to something unusable (unknown TLS mode, bad port).
        """
        env = os.environ if env is None else env
        host = env.get("QUANT_SMTP_HOST", "").strip()
        if not host:
            return None
        tls = env.get("QUANT_SMTP_TLS", "starttls").strip().lower() or "starttls"
        if tls not in _DEFAULT_PORTS:
            raise DistributionError(f"QUANT_SMTP_TLS must be none, starttls or ssl, not {tls!r}")
        port_text = env.get("QUANT_SMTP_PORT", "").strip()
        try:
            port = int(port_text) if port_text else _DEFAULT_PORTS[tls]
        except ValueError:
            raise DistributionError(f"QUANT_SMTP_PORT is not a number: {port_text!r}") from None
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
    DistributionError
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
        raise DistributionError(f"SMTP login to {where} as {settings.user!r} refused ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        # str(exc) of smtplib/ssl errors holds server replies and addresses, not credentials.
        raise DistributionError(f"SMTP to {where} failed: {type(exc).__name__}: {exc}") from None
    if refused:
        raise DistributionError(f"SMTP server {where} refused: {', '.join(sorted(refused))}")


def post_slack(webhook_url: str, text: str, *, timeout: float = 15) -> None:
    """Post ``text`` to a Slack incoming webhook.

    Raises
    ------
    DistributionError
        When the post fails; the message never contains the webhook URL (it is the secret).
    """
    data = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        webhook_url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DistributionError(f"Slack webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DistributionError(f"Slack webhook unreachable: {type(exc).__name__}: {reason}".replace(webhook_url, "***")) from None


@dataclass(frozen=True)
class Notice:
    """What a run has to say to its recipients.

    Attributes
    ----------
    job, title, company, period : str
    status : {"success", "failed"}
    link : str or None
        Where the HTML report can be read.
    pdf : Path or None
        Attached to the e-mail when present.
    attachments : tuple of Path
        Further attachments (e.g. the executed notebook).
    error : str or None
        The one-line error of a failed run.
    """

    job: str
    title: str
    company: str
    period: str
    status: Literal["success", "failed"]
    link: str | None = None
    pdf: Path | None = None
    attachments: tuple[Path, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Delivery:
    """The outcome of one channel: ``sent``, ``skipped`` (not configured), ``failed`` or ``dry-run``."""

    channel: Literal["email", "slack"]
    target: str
    status: Literal["sent", "skipped", "failed", "dry-run"]
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.channel} → {self.target}: {self.status}{' (' + self.detail + ')' if self.detail else ''}"


def report_link(html: Path, reports_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """The link to a published HTML report: under ``QUANT_REPORTS_URL`` if set, else ``file://``."""
    env = os.environ if env is None else env
    base = env.get("QUANT_REPORTS_URL", "").strip()
    if base:
        rel = html.resolve().relative_to(reports_dir.resolve()).as_posix()
        return base.rstrip("/") + "/" + rel
    return html.resolve().as_uri()


def slack_summary(notice: Notice) -> str:
    """The one-line Slack message: job, company, period, status and link (or error)."""
    icon = ":white_check_mark:" if notice.status == "success" else ":x:"
    parts = [f"{icon} {notice.title} ({notice.job})", notice.company, notice.period, notice.status.upper()]
    if notice.status == "failed" and notice.error:
        parts.append(notice.error)
    if notice.link:
        parts.append(f"<{notice.link}|report>")
    return " | ".join(parts)


def _email_text(notice: Notice) -> tuple[str, str]:
    if notice.status == "success":
        subject = f"{notice.title}: {notice.company}, {notice.period}"
        lines = [f"The {notice.title.lower()} for {notice.company} ({notice.period}) is ready.", ""]
        if notice.link:
            lines.append(f"Read it online: {notice.link}")
        if notice.pdf:
            lines.append("The PDF is attached.")
    else:
        subject = f"FAILED: {notice.title}: {notice.company}, {notice.period}"
        lines = [
            f"The scheduled run of {notice.job} for {notice.company} ({notice.period}) failed "
            "after its last retry. Nothing was published.",
            "",
            f"Error: {notice.error or 'unknown'}",
        ]
    return subject, "\n".join(lines).strip() + "\n"


def distribute(
    notice: Notice,
    emails: Sequence[str],
    slack_webhook_env: str | None,
    *,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> list[Delivery]:
    """Send ``notice`` by every channel that has recipients and credentials.

    Parameters
    ----------
    notice : Notice
    emails : sequence of str
        E-mail recipients (none: no e-mail).
    slack_webhook_env : str or None
        Name of the environment variable with the Slack webhook URL (none: no Slack).
    env : mapping, optional
        The environment to read (default ``os.environ``).
    dry_run : bool
        Describe what would be sent to whom and send nothing.

    Returns
    -------
    list of Delivery
        One entry per channel; a failed channel does not stop the others and raises nothing.
    """
    env = os.environ if env is None else env
    out: list[Delivery] = []

    if emails:
        target = ", ".join(emails)
        subject, body = _email_text(notice)
        files = [p for p in ((notice.pdf,) if notice.pdf else ()) + tuple(notice.attachments) if p and p.exists()]
        try:
            settings = SmtpSettings.from_env(env)
        except DistributionError as exc:
            out.append(Delivery("email", target, "failed", str(exc)))
        else:
            if settings is None:
                out.append(Delivery("email", target, "skipped", "QUANT_SMTP_HOST not set"))
            elif dry_run:
                names = ", ".join(p.name for p in files) or "none"
                out.append(Delivery("email", target, "dry-run", f"subject {subject!r}, attachments: {names}"))
            else:
                try:
                    send_email(settings, emails, subject, body, files)
                    out.append(Delivery("email", target, "sent", subject))
                except DistributionError as exc:
                    out.append(Delivery("email", target, "failed", str(exc)))

    if slack_webhook_env:
        target = f"slack (${slack_webhook_env})"
        url = env.get(slack_webhook_env, "").strip()
        text = slack_summary(notice)
        if not url:
            out.append(Delivery("slack", target, "skipped", f"{slack_webhook_env} not set"))
        elif dry_run:
            out.append(Delivery("slack", target, "dry-run", text))
        else:
            try:
                post_slack(url, text)
                out.append(Delivery("slack", target, "sent", text))
            except DistributionError as exc:
                out.append(Delivery("slack", target, "failed", str(exc)))
    return out
