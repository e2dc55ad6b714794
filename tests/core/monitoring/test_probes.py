"""ProbeHostExemption: probes and scrapes skip the host guard, every other request meets it."""

from __future__ import annotations

import httpx
import pytest
from starlette.middleware.trustedhost import TrustedHostMiddleware

from relaypoint_core.asgi_types import Receive, Scope, Send
from relaypoint_core.monitoring.probes import DEFAULT_PROBE_PATHS, ProbeHostExemption


async def echo_path(scope: Scope, receive: Receive, send: Send) -> None:
    body = scope["path"].encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def guarded_app() -> ProbeHostExemption:
    return ProbeHostExemption(
        echo_path,
        guard=lambda inner: TrustedHostMiddleware(inner, allowed_hosts=["api.example.com"]),
    )


async def status(method: str, path: str, host: str) -> int:
    transport = httpx.ASGITransport(app=guarded_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.request(method, path, headers={"Host": host})
    return response.status_code


@pytest.mark.parametrize("path", DEFAULT_PROBE_PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_probes_answer_whatever_the_host(method: str, path: str) -> None:
    assert await status(method, path, "10.0.3.7:8000") == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/workflows"),
        ("POST", "/metrics"),
        ("DELETE", "/health/live"),
        ("GET", "/health/live/"),
        ("GET", "/health/live/extra"),
        ("GET", "/health"),
        ("GET", "/metricsx"),
    ],
)
async def test_everything_else_meets_the_guard(method: str, path: str) -> None:
    assert await status(method, path, "10.0.3.7:8000") == 400
    assert await status(method, path, "api.example.com") == 200


def test_probe_paths_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        ProbeHostExemption(echo_path, guard=lambda inner: inner, paths=["health"])
