"""Real servers for the real-time tests: `RealtimeServer` under uvicorn on a free loopback port,
tokens from a real `AuthService`, and a small real message limiter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from relaypoint_core.auth import AuthService, KeyRing, MemoryTokenStore, UserRecord
from relaypoint_core.clock import Clock
from relaypoint_core.message_limits import MessageVerdict
from relaypoint_core.realtime import RealtimeMetrics, RealtimeServer
from relaypoint_core.request_state import Principal, ResolvedTenant
from tests.support.services import free_port

SECRET = "realtime-tests-secret-key-0123456789abcdef"


def make_auth(clock: Clock, *, access_ttl: float = 60.0) -> AuthService:
    return AuthService(
        keys=KeyRing.from_secret(SECRET),
        store=MemoryTokenStore(clock=clock),
        clock=clock,
        access_ttl=access_ttl,
    )


def user(user_id: str, tenant: str | None, *roles: str) -> UserRecord:
    return UserRecord(user_id, f"{user_id}@{tenant}.example", None, tenant, roles or ("user",))


def private_metrics() -> RealtimeMetrics:
    return RealtimeMetrics(CollectorRegistry())


@dataclass
class WindowLimiter:
    """A real fixed-window `MessageLimiter`: `limit` messages per user and event per window."""

    clock: Clock
    limit: int
    window: float = 60.0
    counts: dict[tuple[str | None, str, str, int], int] = field(default_factory=dict)

    async def check_message(
        self,
        principal: Principal,
        event: str,
        *,
        tenant: ResolvedTenant | None = None,
        cost: int = 1,
    ) -> MessageVerdict:
        slot = int(self.clock.monotonic() // self.window)
        key = (principal.tenant_id, principal.user_id, event, slot)
        used = self.counts.get(key, 0)
        if used + cost > self.limit:
            retry = (slot + 1) * self.window - self.clock.monotonic()
            return MessageVerdict(False, retry_after=retry, policy="per-user", remaining=0)
        self.counts[key] = used + cost
        return MessageVerdict(True, remaining=self.limit - used - cost)


def emit_endpoint(server: RealtimeServer) -> Any:
    """A plain ASGI app: `POST /emit` `{tenant, event, data}` emits through the tenant channel."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        await server.tenant(request["tenant"]).emit(request["event"], request.get("data"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Run `app` under uvicorn on a free loopback port until the block ends."""
    port = free_port()
    # A bounded graceful shutdown: a client a failed test left connected must not hang the session.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="wsproto",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)  # a real uvicorn server binding its socket
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except TimeoutError:
            # Seen twice in full-suite runs after the fan-out tests killed Redis: the graceful
            # shutdown never ended, and only a forced exit (what a second Ctrl+C sets) ended it.
            # Force it, and fail loudly rather than hang the session if even that does not end it.
            server.force_exit = True
            await asyncio.wait_for(task, timeout=10)
