from __future__ import annotations

from relaypoint_core import CircuitBreaker, CircuitState
from relaypoint_core.testing import FakeClock


def test_opens_after_threshold_and_probes_after_timeout() -> None:
    clock = FakeClock()
    changes: list[tuple[CircuitState, CircuitState]] = []
    breaker = CircuitBreaker(
        "test",
        failure_threshold=2,
        reset_timeout=5,
        clock=clock,
        on_state_change=lambda old, new: changes.append((old, new)),
    )
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allow()
    clock.advance(5)
    assert breaker.allow()  # the single half-open probe
    assert not breaker.allow()  # nobody else while the probe runs
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.advance(5)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert changes == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]
