"""A small circuit breaker shared by the components that talk to Redis.

After ``failure_threshold`` consecutive failures the circuit opens and callers skip the backend
(applying their fault policy at once instead of waiting on a timeout). After ``reset_timeout``
seconds one probe call is let through (half-open); success closes the circuit, failure re-opens
it. State changes are logged once and reported to an optional callback (for metrics), never per
request.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from relaypoint_core.clock import Clock, system_clock

__all__ = ["CircuitBreaker", "CircuitState"]

logger = logging.getLogger("relaypoint.circuit")


class CircuitState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure circuit breaker with an injected clock."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_timeout: float = 2.0,
        clock: Clock = system_clock,
        on_state_change: Callable[[CircuitState, CircuitState], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout <= 0:
            raise ValueError("reset_timeout must be positive")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._on_state_change = on_state_change
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> CircuitState:
        return self._state

    def allow(self) -> bool:
        """Whether the caller should try the backend now."""
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.OPEN:
            if self._clock.monotonic() - self._opened_at < self.reset_timeout:
                return False
            self._transition(CircuitState.HALF_OPEN)
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._probe_in_flight = False
        if self._state is not CircuitState.CLOSED:
            self._transition(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._probe_in_flight = False
        self._failures += 1
        if self._state is CircuitState.HALF_OPEN or (
            self._state is CircuitState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._opened_at = self._clock.monotonic()
            self._transition(CircuitState.OPEN)

    def _transition(self, new: CircuitState) -> None:
        old, self._state = self._state, new
        if new is CircuitState.OPEN:
            logger.warning(
                "relaypoint %s: backend unavailable, circuit open for %.1fs (fault policy applies)",
                self.name,
                self.reset_timeout,
            )
        elif new is CircuitState.CLOSED:
            logger.warning("relaypoint %s: backend recovered, circuit closed", self.name)
        if self._on_state_change is not None:
            self._on_state_change(old, new)
