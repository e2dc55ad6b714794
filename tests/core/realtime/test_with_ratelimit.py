"""The real-time server with `relaypoint_ratelimit`'s `MessageRateLimiter` (memory and Redis):
the per-message limit holds, refusals say when to retry, and the connection stays."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from relaypoint_core.clock import system_clock
from relaypoint_core.realtime import AccessTokenAuthenticator, Connection, RealtimeServer
from relaypoint_ratelimit import RateLimiter, RoutePolicy, TierSet
from relaypoint_ratelimit.messages import MessageRateLimiter
from relaypoint_ratelimit.metrics import RateLimitMetrics
from tests.conftest import BackendTarget
from tests.core.realtime.conftest import make_auth, private_metrics, serving, user
from tests.support.sockets import RecordingClient


@pytest.fixture
async def limiter(backend: BackendTarget) -> AsyncIterator[RateLimiter]:
    lim = RateLimiter(
        backend.url,
        tiers=TierSet.from_mapping({"FREE": "100/minute"}),
        key_prefix=backend.key_prefix,
        metrics=RateLimitMetrics(CollectorRegistry()),
        timeout=5,
    )
    await lim.startup()
    yield lim
    await lim.aclose()


async def test_the_message_limit_holds_per_user_with_the_real_limiter(limiter: RateLimiter) -> None:
    auth = make_auth(system_clock)
    messages = MessageRateLimiter(
        limiter,
        {"chat.send": RoutePolicy("ws.chat", "3/minute"), "*": RoutePolicy("ws.any", "5/minute")},
    )
    server = RealtimeServer(
        AccessTokenAuthenticator(auth), message_limiter=messages, metrics=private_metrics()
    )

    @server.on("chat.send", permission=None)
    async def chat(connection: Connection, data: object) -> dict[str, bool]:
        return {"ok": True}

    async with serving(server.asgi_app()) as url:
        alice, bob = RecordingClient(), RecordingClient()
        for client, name in ((alice, "alice"), (bob, "bob")):
            token = (await auth.issue_tokens(user(name, "acme"))).access_token
            assert await client.connect(url, auth={"token": token})
        try:
            acks = [await alice.call("chat.send", {}) for _ in range(4)]
            assert [ack["ok"] for ack in acks] == [True, True, True, False]
            refused = acks[-1]["error"]
            assert refused["code"] == "rate_limited"
            assert 0 < refused["retry_after"] <= 61
            assert (await alice.next_event("message.refused", timeout=5))["event"] == "chat.send"
            # Bob has counters of his own; unknown events count in the "*" policy.
            assert (await bob.call("chat.send", {}))["ok"] is True
            unknown = [await alice.call("spam", {}) for _ in range(6)]
            codes = [ack["error"]["code"] for ack in unknown]
            assert codes == ["unknown_event"] * 5 + ["rate_limited"]
            assert alice.sio.connected
        finally:
            await alice.close()
            await bob.close()
    await server.stop()
