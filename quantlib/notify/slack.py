"""Slack incoming webhooks: post one text message; the webhook URL is the secret."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
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
    if urllib.parse.urlsplit(webhook_url).scheme not in {"http", "https"}:
        # Never file:// or another scheme urllib would open; the URL itself stays out of the message.
        raise DeliveryError("Slack webhook URL must be http(s)")
    data = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        webhook_url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        # The scheme was checked above: http(s) only.
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"Slack webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        message = f"Slack webhook unreachable: {type(exc).__name__}: {reason}"
        raise DeliveryError(message.replace(webhook_url, "***")) from None
