"""The guard around every backend call: per-call timeout, circuit breaker, fault policy.

``BackendGuard.call`` answers the backend's result, or ``None`` when the backend failed, timed
out or the circuit is open; ``BackendGuard.degraded`` is then the fault policy's decision. Calls
in flight share one event-loop timer (see ``Deadlines``) instead of one ``asyncio.timeout`` each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from relaypoint_core.circuit import CircuitBreaker, CircuitState
from relaypoint_core.clock import Clock
from relaypoint_ratelimit.backends import (
    BackendRequest,
    BackendResult,
    MemoryBackend,
    RateLimitBackend,
)
from relaypoint_ratelimit.deadlines import Deadlines
from relaypoint_ratelimit.decision import Decision
from relaypoint_ratelimit.errors import RateLimitBackendError
from relaypoint_ratelimit.faults import FaultPolicy
from relaypoint_ratelimit.metrics import RateLimitMetrics

if TYPE_CHECKING:
    from relaypoint_ratelimit.plans import Plan

__all__ = ["BackendGuard"]

_Arg = TypeVar("_Arg")
_Result = TypeVar("_Result")


class BackendGuard:
    """Bounds each call of ``backend`` by ``timeout`` and stops calling it while it is down."""

    def __init__(
        self,
        backend: RateLimitBackend,
        *,
        fault_policy: FaultPolicy = FaultPolicy.OPEN,
        fallback: MemoryBackend | None = None,
        timeout: float,
        failure_threshold: int,
        reset_timeout: float,
        clock: Clock,
        metrics: RateLimitMetrics,
    ) -> None:
        self.backend = backend
        self.fault_policy = fault_policy
        self.fallback = fallback
        self.timeout = timeout
        self.metrics = metrics
        self._remote = backend.remote
        self._deadlines = Deadlines()
        self.circuit = CircuitBreaker(
            f"ratelimit:{backend.name}",
            failure_threshold=failure_threshold,
            reset_timeout=reset_timeout,
            clock=clock,
            on_state_change=self._circuit_changed,
        )

    async def call(self, request: BackendRequest) -> BackendResult | None:
        """The backend's answer to ``request``, or ``None`` if it could not be had in time."""
        if not self._remote:
            return await self.backend.apply(request)
        return await self.run(self.backend.apply, request)

    async def run(
        self, call: Callable[[_Arg], Awaitable[_Result]], argument: _Arg
    ) -> _Result | None:
        """``await call(argument)``, a call of this guard's backend, under the same timeout and
        circuit as ``call``: its answer, or ``None`` if it could not be had in time."""
        backend = self.backend
        if not self._remote:
            return await call(argument)
        circuit = self.circuit
        if not circuit.allow():
            return None
        started = time.perf_counter()
        task = self._deadlines.begin(self.timeout)
        try:
            try:
                result = await call(argument)
            finally:
                timed_out = self._deadlines.end(task)
        except asyncio.CancelledError:
            if not timed_out:
                if circuit.state is not CircuitState.CLOSED:
                    circuit.record_failure()
                raise
            kind = "timeout"
        except TimeoutError:
            kind = "timeout"
        except RateLimitBackendError:
            kind = "unavailable"
        else:
            circuit.record_success()
            self.metrics.latency(backend.name, time.perf_counter() - started)
            return result
        circuit.record_failure()
        self.metrics.backend_error(backend.name, kind)
        return None

    def degraded(self, plan: Plan, request: BackendRequest, shadow_all: bool = False) -> Decision:
        """The fault policy's decision when the backend gave no answer to ``request``.

        Args:
            plan: The request's plan.
            request: What the backend was asked.
            shadow_all: Whether every policy is in shadow mode (then nothing is ever refused).

        Returns:
            A fallback limiter's decision (``local``), a 503 refusal (``closed``) or an
            admission without headers (``open``).
        """
        policy = self.fault_policy
        if policy is FaultPolicy.LOCAL and self.fallback is not None:
            result = self.fallback.apply_now(replace(request, expected_tier=None))
            return plan.decide(result, "fallback")
        if policy is FaultPolicy.CLOSED and not shadow_all:
            retry = max(1.0, float(self.circuit.reset_timeout))
            return Decision(False, (), plan.tier, "fail_closed", 0, retry)
        return Decision(True, (), plan.tier, "fail_open")

    def _circuit_changed(self, old: CircuitState, new: CircuitState) -> None:
        self.metrics.circuit(self.backend.name, new.value)
