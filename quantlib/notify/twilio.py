"""Twilio's REST client as every Quant sender uses it: the API root movable to a test server or a
proxy (``QUANT_TWILIO_BASE_URL``), no retries of its own, and errors as :class:`DeliveryError`
lines that carry Twilio's code and message but never the auth token."""

from __future__ import annotations

from collections.abc import Mapping

from quantlib.notify.base import DeliveryError

__all__ = ["TWILIO_API", "is_e164", "twilio_call", "twilio_client"]

TWILIO_API = "https://api.twilio.com"


def is_e164(number: str) -> bool:
    """Whether ``number`` is an E.164 phone number (``+`` and 7 to 15 digits), as Twilio takes them."""
    return number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16


def twilio_client(env: Mapping[str, str]):
    """The ``twilio`` REST client, its API root moved to ``QUANT_TWILIO_BASE_URL`` when set."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    base = (env.get("QUANT_TWILIO_BASE_URL") or "").rstrip("/")

    class _Rooted(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            if base and url.startswith(TWILIO_API):
                url = base + url[len(TWILIO_API):]
            return super().request(method, url, *args, **kwargs)

    http = _Rooted(timeout=15, max_retries=0)
    return Client(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"], http_client=http, environment={})


def twilio_call(action, what: str) -> str:
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        return action()
    except TwilioRestException as exc:
        # The exception's text holds the URL (account SID) and Twilio's message, never the token.
        raise DeliveryError(f"Twilio {what} refused: HTTP {exc.status} code {exc.code}: {exc.msg}") from None
    except (TwilioException, OSError) as exc:
        raise DeliveryError(f"Twilio {what} failed: {type(exc).__name__}") from None
    except Exception as exc:  # requests' errors (connection refused, timeout) are not TwilioException
        raise DeliveryError(f"Twilio {what} failed: {type(exc).__name__}") from None
