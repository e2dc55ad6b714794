"""Time as an injectable dependency, so engines can be tested with a fake clock and no sleeps."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "system_clock"]


@runtime_checkable
class Clock(Protocol):
    """Two readings of time: ``monotonic()`` for intervals, ``time()`` for wall-clock timestamps."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and windows)."""
        ...

    def time(self) -> float:
        """Seconds since the Unix epoch (for token ``exp``/``iat`` and audit timestamps)."""
        ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


system_clock = SystemClock()
