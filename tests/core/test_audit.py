"""The audit sinks: in-memory search and one JSON line per event on a stdlib logger."""

from __future__ import annotations

import json
import logging

import pytest

from relaypoint_core.audit import (
    AuditAction,
    AuditLog,
    AuditOutcome,
    FanOutAuditLog,
    InMemoryAuditLog,
    LoggingAuditLog,
    NullAuditLog,
    make_event,
)
from relaypoint_core.testing import FakeClock


def test_sinks_satisfy_the_protocol() -> None:
    for sink in (InMemoryAuditLog(), LoggingAuditLog(), NullAuditLog(), FanOutAuditLog([])):
        assert isinstance(sink, AuditLog)


async def test_in_memory_log_records_and_filters(fake_clock: FakeClock) -> None:
    log = InMemoryAuditLog(maxlen=3)
    for actor in ("a", "b", "a", "c"):
        await log.record(
            make_event(
                AuditAction.LOGIN,
                AuditOutcome.SUCCESS,
                actor=actor,
                tenant_id="t",
                clock=fake_clock,
            )
        )
    assert [e.actor for e in log.events] == ["b", "a", "c"]  # bounded: the oldest is dropped
    assert [e.actor for e in log.find(actor="a")] == ["a"]
    assert log.events[0].timestamp == fake_clock.time()
    log.clear()
    assert log.events == ()


async def test_logging_sink_writes_json_and_warns_on_security_events(
    caplog: pytest.LogCaptureFixture, fake_clock: FakeClock
) -> None:
    memory = InMemoryAuditLog()
    sink = FanOutAuditLog([memory, LoggingAuditLog("relaypoint.audit.test")])
    with caplog.at_level(logging.INFO, logger="relaypoint.audit.test"):
        await sink.record(
            make_event(
                AuditAction.REFRESH_REUSE,
                AuditOutcome.SECURITY_EVENT,
                actor="u-1",
                tenant_id="acme",
                target=None,
                clock=fake_clock,
                family="f-1",
            )
        )
        await sink.record(
            make_event(
                AuditAction.PERMISSION_DENIED,
                AuditOutcome.DENIED,
                actor="u-2",
                tenant_id="acme",
                target="GET /admin",
            )
        )
    warning, info = caplog.records
    assert warning.levelno == logging.WARNING
    assert info.levelno == logging.INFO
    payload = json.loads(warning.getMessage())
    assert payload == {
        "action": "auth.refresh_reuse",
        "actor": "u-1",
        "details": {"family": "f-1"},
        "outcome": "security_event",
        "target": None,
        "tenant_id": "acme",
        "timestamp": fake_clock.time(),
    }
    assert json.loads(info.getMessage())["target"] == "GET /admin"
    assert len(memory.events) == 2
