"""The root of every error Quant raises, and the reason codes that go with them.

Every exception class in ``quantlib`` derives from :class:`QuantError`, so a caller (the CLI,
the scheduler, an app) can catch "anything Quant refused" in one ``except``. Each class keeps
the built-in base it had (``ValueError``, ``RuntimeError``, ...) as a second base, so code that
catches the built-in keeps working. Anchor: papermill's ``PapermillException`` root.

Where a report or a test needs to count or branch on *why* something happened (a dropped job,
a rejected row, a run's status), the reason is an enum member next to the human message,
never a prose string split on ``':'``. Anchor: pandera's ``SchemaErrorReason``.
"""

from __future__ import annotations

__all__ = ["QuantError", "WarehouseNotFoundError"]


class QuantError(Exception):
    """Base class of every exception raised by ``quantlib``."""


class WarehouseNotFoundError(QuantError, FileNotFoundError):
    """No gold warehouse where one was expected (build it with ``quant warehouse build``)."""
