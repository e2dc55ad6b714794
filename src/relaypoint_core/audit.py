"""The audit trail: who did what, in which tenant, to what, with which outcome, and when.

`AuditLog` is the Protocol components record to. `InMemoryAuditLog` keeps events for
tests and admin screens; `LoggingAuditLog` writes one JSON object per event to a stdlib
logger, so any log shipper (and a SIEM behind it) can pick security events up.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from relaypoint_core.clock import Clock, system_clock

__all__ = [
    "AuditAction",
    "AuditEvent",
    "AuditLog",
    "AuditOutcome",
    "FanOutAuditLog",
    "InMemoryAuditLog",
    "LoggingAuditLog",
    "NullAuditLog",
    "make_event",
]


class AuditAction:
    """The action names RelayPoint itself records (applications may add their own strings)."""

    LOGIN = "auth.login"
    LOGOUT = "auth.logout"
    REFRESH = "auth.refresh"
    REFRESH_REUSE = "auth.refresh_reuse"
    LOGOUT_ALL = "auth.logout_all"
    SESSION_REVOKED = "auth.session_revoked"
    API_KEY_CREATED = "auth.api_key_created"
    API_KEY_ROTATED = "auth.api_key_rotated"
    API_KEY_REVOKED = "auth.api_key_revoked"
    API_KEY_REJECTED = "auth.api_key_rejected"
    PERMISSION_DENIED = "rbac.permission_denied"


class AuditOutcome:
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"
    SECURITY_EVENT = "security_event"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit record. ``actor`` is a user id (or ``None`` when unknown, e.g. a failed login)."""

    action: str
    outcome: str
    actor: str | None
    tenant_id: str | None
    target: str | None
    timestamp: float
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "action": self.action,
            "outcome": self.outcome,
            "actor": self.actor,
            "tenant_id": self.tenant_id,
            "target": self.target,
            "details": dict(self.details),
        }


def make_event(
    action: str,
    outcome: str,
    *,
    actor: str | None,
    tenant_id: str | None,
    target: str | None = None,
    clock: Clock = system_clock,
    **details: Any,
) -> AuditEvent:
    """Build an `AuditEvent` stamped with ``clock``'s wall time."""
    return AuditEvent(action, outcome, actor, tenant_id, target, clock.time(), details)


@runtime_checkable
class AuditLog(Protocol):
    """Where audit events go. Recording must not raise for a well-formed event."""

    async def record(self, event: AuditEvent) -> None: ...


class InMemoryAuditLog:
    """Keeps the last ``maxlen`` events in memory (process-local; for tests and small set-ups)."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._events: deque[AuditEvent] = deque(maxlen=maxlen)

    async def record(self, event: AuditEvent) -> None:
        self._events.append(event)

    @property
    def events(self) -> tuple[AuditEvent, ...]:
        return tuple(self._events)

    def find(
        self,
        *,
        action: str | None = None,
        outcome: str | None = None,
        actor: str | None = None,
        tenant_id: str | None = None,
    ) -> list[AuditEvent]:
        """Events matching every given field."""
        return [
            e
            for e in self._events
            if (action is None or e.action == action)
            and (outcome is None or e.outcome == outcome)
            and (actor is None or e.actor == actor)
            and (tenant_id is None or e.tenant_id == tenant_id)
        ]

    def clear(self) -> None:
        self._events.clear()


class LoggingAuditLog:
    """Writes each event as one JSON line to a stdlib logger (``relaypoint.audit`` by default).

    Security events (refresh-token reuse) are logged at WARNING, denials and failures at INFO.
    """

    def __init__(self, logger: logging.Logger | str = "relaypoint.audit") -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger

    async def record(self, event: AuditEvent) -> None:
        level = logging.WARNING if event.outcome == AuditOutcome.SECURITY_EVENT else logging.INFO
        if self.logger.isEnabledFor(level):
            payload = json.dumps(event.to_dict(), default=str, sort_keys=True)
            self.logger.log(level, payload, extra={"audit_event": event})


class NullAuditLog:
    """Discards events (the explicit choice when an application audits elsewhere)."""

    async def record(self, event: AuditEvent) -> None:
        return None


class FanOutAuditLog:
    """Records every event to several sinks, e.g. memory for an admin screen plus JSON logs."""

    def __init__(self, sinks: Iterable[AuditLog]) -> None:
        self.sinks = tuple(sinks)

    async def record(self, event: AuditEvent) -> None:
        for sink in self.sinks:
            await sink.record(event)
