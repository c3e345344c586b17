"""Alert channels behind one interface: dashboard, e-mail, Slack, SMS, WhatsApp and voice (Twilio).

Each channel reads its settings from the environment when it sends (secrets are never stored
on an object that could be printed or pickled) and says why it is skipped when they are
missing (:meth:`Channel.missing`): a clear line, never an exception.

=========================  ==============================================================
``QUANT_SMTP_*``           e-mail (:mod:`quantlib.notify.email`)
``QUANT_SLACK_WEBHOOK_ALERTS``  default Slack webhook (a rule may name another variable)
``TWILIO_ACCOUNT_SID``     Twilio account (SMS and voice)
``TWILIO_AUTH_TOKEN``      Twilio auth token (a secret)
``QUANT_TWILIO_FROM``      the Twilio number messages and calls come from (E.164)
``QUANT_TWILIO_WHATSAPP_FROM``  the WhatsApp sender registered with Twilio (E.164)
``QUANT_TWILIO_BASE_URL``  optional: another API root than ``https://api.twilio.com``
                           (a test server, a proxy)
=========================  ==============================================================

SMS is ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with ``To``, ``From`` and
``Body``; a call is ``POST .../Calls.json`` with ``To``, ``From`` and ``Twiml`` (a ``<Say>`` of
the message), both with HTTP Basic auth (account SID, auth token), through the ``twilio``
package's REST client. WhatsApp is the same Messages resource with ``whatsapp:`` before both
numbers (Twilio's WhatsApp addressing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape  # XML-safe for text: &, <, > (and quotes); no XML parsing here
from typing import Mapping, Protocol

from quantlib.errors import AlertLevel
from quantlib.notify.twilio import twilio_call, twilio_client

__all__ = ["CHANNELS", "Channel", "DashboardChannel", "EmailChannel", "Message", "SlackChannel",
           "SmsChannel", "VoiceChannel", "WhatsAppChannel", "default_channels"]

DEFAULT_SLACK_ENV = "QUANT_SLACK_WEBHOOK_ALERTS"


@dataclass(frozen=True)
class Message:
    """One message for one channel.

    Attributes
    ----------
    kind : {"alert", "escalation", "resolution", "digest"}
    channel : str
    targets : tuple of str
        Addresses or numbers (the Slack channel's target is the *name* of its variable).
    title, body : str
    level : AlertLevel
    alert_ids : tuple of int
        The alerts the message is about (one, or a digest's many).
    """

    kind: str
    channel: str
    targets: tuple[str, ...]
    title: str
    body: str
    level: AlertLevel
    alert_ids: tuple[int, ...] = ()
    meta: dict = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        to = ", ".join(self.targets) if self.targets else "the dashboard"
        return f"{self.kind} via {self.channel} to {to}: {self.title}"


class Channel(Protocol):
    """What every channel does: say why it cannot send, or send."""

    name: str

    def missing(self, message: Message, env: Mapping[str, str]) -> str | None:
        """Why ``message`` cannot go out here (missing credentials, no recipients); ``None`` if it can."""

    def send(self, message: Message, env: Mapping[str, str]) -> str:
        """Send; return a one-line detail. Raises :class:`~quantlib.notify.DeliveryError`."""


class DashboardChannel:
    """The dashboard: the alert is already in the operational store, where dashboards read it."""

    name = "dashboard"

    def missing(self, message, env):
        return None

    def send(self, message, env):
        return "stored for the dashboard"


class EmailChannel:
    """E-mail through :func:`quantlib.notify.send_email` (``QUANT_SMTP_*``)."""

    name = "email"

    def missing(self, message, env):
        from quantlib.notify import SmtpSettings

        if not message.targets:
            return "email skipped: the rule has no e-mail recipients"
        if SmtpSettings.from_env(env) is None:
            return "email skipped: QUANT_SMTP_HOST is not set"
        return None

    def send(self, message, env):
        from quantlib.notify import SmtpSettings, send_email

        send_email(SmtpSettings.from_env(env), list(message.targets), message.title, message.body, timeout=15)
        return f"e-mailed {len(message.targets)} recipient(s)"


class SlackChannel:
    """A Slack incoming webhook; the URL is read from the variable the rule names."""

    name = "slack"

    def _var(self, message):
        return message.targets[0] if message.targets else DEFAULT_SLACK_ENV

    def missing(self, message, env):
        if not env.get(self._var(message)):
            return f"slack skipped: {self._var(message)} is not set"
        return None

    def send(self, message, env):
        from quantlib.notify import post_slack

        post_slack(env[self._var(message)], f"*{message.title}*\n{message.body}")
        return f"posted to the webhook in {self._var(message)}"


def _twilio_missing(message: Message, env: Mapping[str, str], what: str,
                    sender: str = "QUANT_TWILIO_FROM") -> str | None:
    if not message.targets:
        return f"{what} skipped: the rule has no {what} numbers"
    absent = [n for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", sender) if not env.get(n)]
    if absent:
        return f"{what} skipped: {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not set"
    return None


class SmsChannel:
    """SMS through Twilio's Messages resource."""

    name = "sms"

    def missing(self, message, env):
        return _twilio_missing(message, env, "sms")

    def send(self, message, env):
        client = twilio_client(env)
        body = f"{message.title}"[:1500]

        def go():
            sids = [client.messages.create(to=to, from_=env["QUANT_TWILIO_FROM"], body=body).sid
                    for to in message.targets]
            return f"sent {len(sids)} SMS ({', '.join(sids)})"
        return twilio_call(go, "SMS")


class WhatsAppChannel:
    """A WhatsApp message through Twilio's Messages resource (``whatsapp:`` addresses)."""

    name = "whatsapp"

    def missing(self, message, env):
        return _twilio_missing(message, env, "whatsapp", sender="QUANT_TWILIO_WHATSAPP_FROM")

    def send(self, message, env):
        client = twilio_client(env)
        sender = "whatsapp:" + env["QUANT_TWILIO_WHATSAPP_FROM"].removeprefix("whatsapp:")
        body = f"{message.title}\n{message.body}"[:1500]

        def go():
            sids = [client.messages.create(to="whatsapp:" + to.removeprefix("whatsapp:"), from_=sender,
                                           body=body).sid for to in message.targets]
            return f"sent {len(sids)} WhatsApp message(s) ({', '.join(sids)})"
        return twilio_call(go, "WhatsApp")


class VoiceChannel:
    """A phone call through Twilio's Calls resource that reads the alert out (TwiML ``<Say>``)."""

    name = "voice"

    def missing(self, message, env):
        return _twilio_missing(message, env, "voice")

    def send(self, message, env):
        client = twilio_client(env)
        twiml = f"<Response><Say>{escape(message.title, quote=False)}</Say></Response>"

        def go():
            sids = [client.calls.create(to=to, from_=env["QUANT_TWILIO_FROM"], twiml=twiml).sid
                    for to in message.targets]
            return f"placed {len(sids)} call(s) ({', '.join(sids)})"
        return twilio_call(go, "call")


CHANNELS = ("dashboard", "email", "slack", "sms", "whatsapp", "voice")


def default_channels() -> dict[str, Channel]:
    """One instance of every channel, by name."""
    return {"dashboard": DashboardChannel(), "email": EmailChannel(), "slack": SlackChannel(),
            "sms": SmsChannel(), "whatsapp": WhatsAppChannel(), "voice": VoiceChannel()}


def environment() -> Mapping[str, str]:
    """The environment channels read (``os.environ``)."""
    return os.environ
