"""Helpers shared by the monitoring tests: scraping and calling ASGI apps directly."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from relaypoint_core.monitoring import PerformanceMonitor
from relaypoint_core.monitoring.testing import isolated_monitor
from relaypoint_core.testing import FakeClock


def private_monitor(clock: FakeClock | None = None) -> tuple[PerformanceMonitor, CollectorRegistry]:
    monitor = isolated_monitor(clock=clock) if clock is not None else isolated_monitor()
    registry = monitor.metrics.registry
    assert registry is not None
    return monitor, registry


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition, keyed by (name, labels)."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    """The value of the one sample called ``name`` whose labels include ``labels`` (0 if none)."""
    found = [
        v
        for (n, lbls), v in samples(text).items()
        if n == name and set(labels.items()) <= set(lbls)
    ]
    assert len(found) <= 1, f"{name}{labels} matches several samples"
    return found[0] if found else 0.0


def label_values(text: str, name: str, label: str) -> set[str]:
    return {
        dict(lbls)[label]
        for (n, lbls), _ in samples(text).items()
        if n == name and label in dict(lbls)
    }


async def call(app: Any, path: str, method: str = "GET") -> int:
    """Send one request straight into an ASGI app; return the response status."""
    scope: MutableMapping[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status
