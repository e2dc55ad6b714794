"""Fakes for your own tests: a controllable clock and a tenant binding helper."""

from __future__ import annotations

from relaypoint_core.tenant_context import tenant_scope

__all__ = ["FakeClock", "tenant_scope"]


class FakeClock:
    """A `Clock` that moves only when told to.

    ``monotonic()`` and ``time()`` advance together, so code that mixes them stays consistent.
    """

    __slots__ = ("_monotonic", "_wall")

    def __init__(self, start: float = 1_000.0, wall_start: float = 1_700_000_000.0) -> None:
        self._monotonic = float(start)
        self._wall = float(wall_start)

    def monotonic(self) -> float:
        return self._monotonic

    def time(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both readings forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._monotonic += seconds
        self._wall += seconds

    def set_time(self, wall: float) -> None:
        """Jump the wall clock to ``wall`` (monotonic moves by the same amount if forward)."""
        delta = wall - self._wall
        self._wall = wall
        if delta > 0:
            self._monotonic += delta
