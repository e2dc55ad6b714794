"""Health checks run in parallel, each under its own timeout, folded into one status.

A check is any callable returning ``True``/``None`` (healthy), ``False`` (unhealthy), a
`HealthStatus`, or a mapping ``{"status": ..., **details}``; raising means unhealthy. It may
be a coroutine function, or a plain function (run in a worker thread so a blocking driver call
cannot stall the event loop; if it returns an awaitable, that is awaited too).

Overall status: the worst status among *critical* checks; a failing *non-critical* check can only
make the system ``degraded``. A check that does not answer within its timeout counts as
``unhealthy`` and is abandoned (cancelled, never awaited), so one hanging dependency costs the
others nothing.

*Liveness* ("restart me if this fails") runs only checks registered with ``liveness=True`` (none
by default: a process that can answer is alive). *Readiness* ("send me traffic") runs the checks
registered with ``readiness=True`` (the default). `HealthRegistry.run` with ``kind="system"``
runs every check.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeAlias

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.monitoring.errors import HealthCheckRegistrationError

__all__ = [
    "DEFAULT_HEALTH_CHECK_TIMEOUT",
    "CheckResult",
    "HealthCheck",
    "HealthCheckSpec",
    "HealthKind",
    "HealthRegistry",
    "HealthStatus",
    "SystemHealth",
]

DEFAULT_HEALTH_CHECK_TIMEOUT = 5.0
_CHECK_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

HealthKind = Literal["system", "liveness", "readiness"]
HealthCheck: TypeAlias = Callable[[], Any]


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @property
    def score(self) -> float:
        """1 healthy, 0.5 degraded, 0 unhealthy (the value of the status gauge)."""
        return _SCORES[self]


_SCORES = {HealthStatus.HEALTHY: 1.0, HealthStatus.DEGRADED: 0.5, HealthStatus.UNHEALTHY: 0.0}
_SEVERITY = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@dataclass(frozen=True, slots=True)
class HealthCheckSpec:
    name: str
    check: HealthCheck
    critical: bool
    timeout: float | None
    liveness: bool
    readiness: bool


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: HealthStatus
    critical: bool
    duration_seconds: float
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status.value,
            "critical": self.critical,
            "duration_seconds": round(self.duration_seconds, 6),
        }
        if self.error is not None:
            out["error"] = self.error
        if self.details:
            out["details"] = self.details
        return out


@dataclass(frozen=True, slots=True)
class SystemHealth:
    status: HealthStatus
    kind: HealthKind
    checks: dict[str, CheckResult]
    checked_at: float
    duration_seconds: float
    uptime_seconds: float = 0.0

    @property
    def http_status(self) -> int:
        """503 when unhealthy, 200 otherwise (degraded still serves traffic)."""
        return 503 if self.status is HealthStatus.UNHEALTHY else 200

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "kind": self.kind,
            "checked_at": self.checked_at,
            "duration_seconds": round(self.duration_seconds, 6),
            "uptime_seconds": round(self.uptime_seconds, 3),
            "checks": {name: result.as_dict() for name, result in self.checks.items()},
        }


ResultCallback = Callable[[CheckResult], None]


class HealthRegistry:
    """Named health checks and the logic that runs them."""

    def __init__(
        self,
        *,
        default_timeout: float = DEFAULT_HEALTH_CHECK_TIMEOUT,
        clock: Clock = system_clock,
        on_result: ResultCallback | None = None,
    ) -> None:
        _check_timeout(default_timeout)
        self.default_timeout = default_timeout
        self._clock = clock
        self._started = clock.monotonic()
        self._on_result = on_result
        self._checks: dict[str, HealthCheckSpec] = {}
        # Abandoned (timed-out) checks, kept referenced until they finish so nothing leaks silently.
        self._abandoned: set[asyncio.Future[Any]] = set()

    def register(
        self,
        name: str,
        check: HealthCheck,
        *,
        critical: bool = True,
        timeout: float | None = None,
        liveness: bool = False,
        readiness: bool = True,
    ) -> None:
        """Add (or replace) the check called ``name``."""
        if not isinstance(name, str) or not _CHECK_NAME.match(name):
            raise HealthCheckRegistrationError(
                f"health check name {name!r} is not allowed: use 1-64 letters, digits or . _ : -"
            )
        if not callable(check):
            raise HealthCheckRegistrationError(
                f"health check {name!r} must be callable (a function returning bool), "
                f"got {type(check).__name__}"
            )
        if timeout is not None:
            _check_timeout(timeout)
        if not (liveness or readiness):
            raise HealthCheckRegistrationError(
                f"health check {name!r} must count for liveness, readiness or both"
            )
        self._checks[name] = HealthCheckSpec(name, check, critical, timeout, liveness, readiness)

    def unregister(self, name: str) -> None:
        self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self, kind: HealthKind = "system") -> SystemHealth:
        specs = [spec for spec in self._checks.values() if _selected(spec, kind)]
        started = time.perf_counter()
        results = await asyncio.gather(*(self._run_one(spec) for spec in specs))
        for result in results:
            if self._on_result is not None:
                self._on_result(result)
        return SystemHealth(
            status=_overall(results),
            kind=kind,
            checks={r.name: r for r in results},
            checked_at=self._clock.time(),
            duration_seconds=time.perf_counter() - started,
            uptime_seconds=self._clock.monotonic() - self._started,
        )

    async def _run_one(self, spec: HealthCheckSpec) -> CheckResult:
        timeout = spec.timeout if spec.timeout is not None else self.default_timeout
        started = time.perf_counter()
        task: asyncio.Future[Any] = asyncio.ensure_future(_invoke(spec.check))
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        elapsed = time.perf_counter() - started
        if not done:
            self._abandon(task)
            return CheckResult(
                spec.name,
                HealthStatus.UNHEALTHY,
                spec.critical,
                elapsed,
                error=f"timed out after {timeout:g}s",
            )
        exc = task.exception()
        if exc is not None:
            return CheckResult(
                spec.name,
                HealthStatus.UNHEALTHY,
                spec.critical,
                elapsed,
                error=f"{type(exc).__name__}: {exc}",
            )
        status, details, error = _interpret(task.result())
        return CheckResult(spec.name, status, spec.critical, elapsed, error=error, details=details)

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved


async def _invoke(check: HealthCheck) -> Any:
    if inspect.iscoroutinefunction(check) or inspect.iscoroutinefunction(
        getattr(check, "__call__", None)  # noqa: B004 - async callable objects
    ):
        return await check()
    result = await asyncio.to_thread(check)
    if inspect.isawaitable(result):
        result = await result
    return result


def _interpret(value: Any) -> tuple[HealthStatus, dict[str, Any], str | None]:
    if value is None or value is True:
        return HealthStatus.HEALTHY, {}, None
    if value is False:
        return HealthStatus.UNHEALTHY, {}, "check returned False"
    if isinstance(value, HealthStatus):
        return value, {}, None
    if isinstance(value, Mapping):
        details = dict(value)
        raw = details.pop("status", HealthStatus.HEALTHY)
        status = _coerce_status(raw)
        if status is None:
            return HealthStatus.UNHEALTHY, details, f"check returned unknown status {raw!r}"
        return status, details, None
    status = _coerce_status(value)
    if status is not None:
        return status, {}, None
    return HealthStatus.UNHEALTHY, {}, f"check returned {type(value).__name__}, expected a bool"


def _coerce_status(value: Any) -> HealthStatus | None:
    if isinstance(value, bool):
        return HealthStatus.HEALTHY if value else HealthStatus.UNHEALTHY
    try:
        return HealthStatus(value)
    except (ValueError, TypeError):
        return None


def _overall(results: list[CheckResult]) -> HealthStatus:
    worst = HealthStatus.HEALTHY
    for result in results:
        status = result.status
        if not result.critical and status is HealthStatus.UNHEALTHY:
            status = HealthStatus.DEGRADED
        if _SEVERITY[status] > _SEVERITY[worst]:
            worst = status
    return worst


def _selected(spec: HealthCheckSpec, kind: HealthKind) -> bool:
    if kind == "liveness":
        return spec.liveness
    if kind == "readiness":
        return spec.readiness
    return True


def _check_timeout(timeout: float) -> None:
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
        raise HealthCheckRegistrationError(
            f"a health check timeout must be positive, got {timeout!r}"
        )
