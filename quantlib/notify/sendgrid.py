"""Transactional e-mail through SendGrid's dynamic templates: invoice, appointment, follow-up.

The designs live in SendGrid (a dynamic template per kind, ``d-...``); Quant sends the data they
show, from gold (:func:`template_data`), with SendGrid's maintained client (``sendgrid``): one
``POST /v3/mail/send`` with ``personalizations[].to``, ``personalizations[].dynamic_template_data``,
``from`` and ``template_id``, authorised by ``Authorization: Bearer <API key>``; SendGrid answers
202 with the message id in ``X-Message-Id``.

==================================  ===========================================================
``SENDGRID_API_KEY``                the API key (a secret: never in a message, log or history)
``QUANT_SENDGRID_FROM``             the verified sender address
``QUANT_SENDGRID_TEMPLATE_INVOICE``     template id of the invoice e-mail (``d-...``)
``QUANT_SENDGRID_TEMPLATE_APPOINTMENT`` template id of the appointment confirmation
``QUANT_SENDGRID_TEMPLATE_FOLLOW_UP``   template id of the after-the-job follow-up
``QUANT_SENDGRID_BASE_URL``         optional: another API root than ``https://api.sendgrid.com``
==================================  ===========================================================

A missing setting skips the send with a line naming it (:func:`missing`), never an exception.
The warehouse holds no customer e-mail addresses (the CRM does): the caller gives the address.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from quantlib.notify.base import DeliveryError

__all__ = ["KINDS", "SENDGRID_API", "missing", "send_template", "template_data"]

SENDGRID_API = "https://api.sendgrid.com"
#: The template kinds and the environment variable holding each one's template id.
KINDS = {"invoice": "QUANT_SENDGRID_TEMPLATE_INVOICE", "appointment": "QUANT_SENDGRID_TEMPLATE_APPOINTMENT",
         "follow_up": "QUANT_SENDGRID_TEMPLATE_FOLLOW_UP"}


def missing(kind: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why a ``kind`` e-mail cannot be sent (the unset variables), or None when it can."""
    if kind not in KINDS:
        raise ValueError(f"unknown template {kind!r}; known: {', '.join(KINDS)}")
    env = os.environ if env is None else env
    absent = [name for name in ("SENDGRID_API_KEY", "QUANT_SENDGRID_FROM", KINDS[kind]) if not env.get(name)]
    if absent:
        return f"{kind} e-mail skipped: {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not set"
    return None


def send_template(kind: str, to: str, data: Mapping, env: Mapping[str, str] | None = None) -> str:
    """Send the ``kind`` template to ``to`` with ``data``; return a one-line detail with SendGrid's message id.

    Raises
    ------
    DeliveryError
        A setting is missing, or SendGrid refused or could not be reached (the message names the
        HTTP status and SendGrid's error text, never the key).
    """
    from python_http_client.exceptions import HTTPError
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    env = os.environ if env is None else env
    problem = missing(kind, env)
    if problem:
        raise DeliveryError(problem)
    mail = Mail(from_email=env["QUANT_SENDGRID_FROM"], to_emails=to)
    mail.template_id = env[KINDS[kind]]
    mail.dynamic_template_data = dict(data)
    client = SendGridAPIClient(env["SENDGRID_API_KEY"],
                               host=(env.get("QUANT_SENDGRID_BASE_URL") or SENDGRID_API).rstrip("/"))
    try:
        response = client.send(mail)
    except HTTPError as exc:
        import json

        try:
            errors = "; ".join(e.get("message", "") for e in json.loads(exc.body).get("errors", []))
        except (ValueError, AttributeError, TypeError):
            errors = ""
        raise DeliveryError(f"SendGrid refused the {kind} e-mail: HTTP {exc.status_code}"
                            + (f": {errors}" if errors else "")) from None
    except Exception as exc:  # urllib's errors: unreachable, timeout
        raise DeliveryError(f"SendGrid unreachable for the {kind} e-mail: {type(exc).__name__}") from None
    message_id = (response.headers or {}).get("X-Message-Id", "")
    return f"sent the {kind} e-mail to {to} (HTTP {response.status_code}, message id {message_id or 'none'})"


def _money(value) -> str:
    return f"${float(value):,.2f}"


def _day(value) -> str:
    return "" if value is None else f"{value:%d %B %Y}"


def template_data(con, kind: str, record_id: str) -> dict:
    """What the ``kind`` template shows, read from gold: an invoice by id, an appointment or a
    follow-up by job id. Values are text, formatted for the e-mail.

    Raises
    ------
    KeyError
        No such invoice or job (the message names it).
    ValueError
        An unknown kind, or a job that does not fit it (an appointment already done, a follow-up
        for a job not completed).
    """
    if kind == "invoice":
        row = con.execute(
            """SELECT i.invoice_id, i.job_id, i.issued_date, i.due_date, i.amount, i.status, c.name,
                      j.service_line, j.job_type
               FROM invoices i JOIN customers c USING (customer_id) LEFT JOIN job_facts j USING (job_id)
               WHERE i.invoice_id = ?""", [record_id]).fetchone()
        if row is None:
            raise KeyError(f"no invoice {record_id!r} in gold")
        invoice_id, job_id, issued, due, amount, status, name, line, job_type = row
        return {"invoice_id": invoice_id, "job_id": job_id, "customer_name": name, "amount": _money(amount),
                "issued_date": _day(issued), "due_date": _day(due), "status": status,
                "service": f"{line} {str(job_type).replace('_', ' ')}" if line else ""}
    if kind not in ("appointment", "follow_up"):
        raise ValueError(f"unknown template {kind!r}; known: {', '.join(KINDS)}")
    from quantlib.notify.records import job_for_message

    job = job_for_message(con, record_id)
    common = {"job_id": record_id, "customer_name": job["customer_name"], "service": job["service"],
              "region": job["region"]}
    if kind == "appointment":
        if job["status"] in ("completed", "cancelled"):
            raise ValueError(f"job {record_id} is {job['status']}: no appointment to confirm")
        start = job["scheduled_start"] if isinstance(job["scheduled_start"], dt.datetime) else None
        return {**common, "date": _day(start), "time": "" if start is None else f"{start:%H:%M}",
                "technician": job["technician"]}
    if job["status"] != "completed":
        raise ValueError(f"job {record_id} is {job['status']}, not completed: no follow-up yet")
    return {**common, "completed_date": _day(job["completed_at"]), "technician": job["technician"]}
