"""Event-time windows: tumbling and hopping, a watermark per partition and a grace period.

The semantics are those of Kafka Streams and quixstreams: a window ``[start, end)`` takes
events whose event time falls in it; the watermark of a partition is the largest event time
seen on it; a window is closed once ``end + grace <= watermark``, and an event whose window is
closed is *late*: it is counted, not added. Updates are emitted as events arrive (the
window's value so far), not when the window closes, so a dashboard or an alert sees an event
within the commit interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Window:
    """A window family: ``size`` long, starting every ``step`` (``step == size``: tumbling).

    Parameters
    ----------
    name : str
        How the live tables name it (``5m``, ``1h``).
    size : timedelta
    step : timedelta, optional
        Default ``size`` (tumbling); smaller for hopping windows.
    """

    name: str
    size: timedelta
    step: timedelta | None = None

    def __post_init__(self):
        step = self.step or self.size
        if step <= timedelta(0) or self.size <= timedelta(0) or self.size % step:
            raise ValueError(f"window {self.name}: size must be a positive multiple of a positive step")

    @property
    def hop(self) -> timedelta:
        return self.step or self.size

    def starts(self, when: datetime) -> list[datetime]:
        """The starts of the windows that contain ``when`` (one when tumbling, ``size/step`` when hopping)."""
        hop = self.hop
        epoch = datetime(1970, 1, 1)
        last = epoch + ((when - epoch) // hop) * hop
        count = self.size // hop
        return [last - i * hop for i in range(count)][::-1]


def tumbling(name: str, minutes: float) -> Window:
    return Window(name, timedelta(minutes=minutes))


def hopping(name: str, minutes: float, every_minutes: float) -> Window:
    return Window(name, timedelta(minutes=minutes), timedelta(minutes=every_minutes))


def is_closed(window_end: datetime, watermark: datetime | None, grace: timedelta) -> bool:
    """Whether a window ending at ``window_end`` no longer takes events."""
    return watermark is not None and window_end + grace <= watermark
