"""Distribution: e-mail a report (PDF attached, HTML linked) and post a Slack summary.

The channels themselves (SMTP settings from ``QUANT_SMTP_*``, the Slack webhook) live in
:mod:`quantlib.notify`; this module decides what a run says and to whom. Besides the
``QUANT_SMTP_*`` variables, ``QUANT_REPORTS_URL`` is an optional base URL where ``reports/`` is
served; links are ``file://`` paths otherwise.

The Slack webhook URL lives in an environment variable whose NAME the job spec gives.
A channel is used only where it has both recipients and credentials; otherwise it is
reported as ``skipped`` with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Sequence

from quantlib.notify import DeliveryError, SmtpSettings, post_slack, send_email

__all__ = ["Delivery", "Notice", "distribute", "report_link", "slack_summary"]


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
        except DeliveryError as exc:
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
                except DeliveryError as exc:
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
            except DeliveryError as exc:
                out.append(Delivery("slack", target, "failed", str(exc)))
    return out
