"""Slack incoming webhooks: post one text message; the webhook URL is the secret."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from quantlib.notify.base import DeliveryError

__all__ = ["post_slack"]


def post_slack(webhook_url: str, text: str, *, timeout: float = 15) -> None:
    """Post ``text`` to a Slack incoming webhook.

    Raises
    ------
    DeliveryError
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
        raise DeliveryError(f"Slack webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(
            f"Slack webhook unreachable: {type(exc).__name__}: {reason}".replace(webhook_url, "***")) from None
