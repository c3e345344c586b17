"""Notification channels: e-mail (SMTP) and Slack webhooks, with secrets only from the environment.

Report distribution (:mod:`quantlib.publish.distribute`) sends through these channels, and so do
later senders such as alerts. Every channel raises :class:`DeliveryError` on failure, with a message
that never contains a secret.
"""

from quantlib.notify.base import DeliveryError
from quantlib.notify.email import SmtpSettings, send_email
from quantlib.notify.slack import post_slack

__all__ = ["DeliveryError", "SmtpSettings", "post_slack", "send_email"]
