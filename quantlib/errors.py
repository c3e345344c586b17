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

from enum import Enum

__all__ = ["QuantError", "RunStatus", "WarehouseNotFoundError"]


class QuantError(Exception):
    """Base class of every exception raised by ``quantlib``."""


class WarehouseNotFoundError(QuantError, FileNotFoundError):
    """No gold warehouse where one was expected (build it with ``quant warehouse build``)."""


class RunStatus(str, Enum):
    """How a scheduled run (or one attempt of it) stands.

    A ``str`` enum: each member equals its value (``RunStatus.SUCCESS == "success"``), so the run
    history stores the same strings as before and old history files and ``run.json`` records
    still read. ``str()`` and f-strings give the value too.

    Attributes
    ----------
    RUNNING
        An attempt has started and not yet finished.
    SUCCESS
        Published.
    FAILED
        The last attempt failed (or the parameters were invalid, or the run was interrupted).
    RETRYING
        An attempt failed and another one follows.
    SKIPPED
        Not run: another run of the same job and company held the lock.
    DRY_RUN
        Only described, never run; an outcome status, never written to the history.
    """

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    RETRYING = "retrying"
    SKIPPED = "skipped"
    DRY_RUN = "dry-run"

    def __str__(self) -> str:
        # Plain Enum gives "RunStatus.SUCCESS"; messages, logs and tables want the value.
        return self.value
