"""What every notification channel shares: the one error a failed delivery raises."""

from __future__ import annotations

from quantlib.errors import QuantError

__all__ = ["DeliveryError"]


class DeliveryError(QuantError, RuntimeError):
    """A message could not be delivered (the message never contains a secret)."""
