"""Two `RealtimeServer` instances on one Redis (a private redis-server this test may kill)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from relaypoint_core.auth import AuthService
from relaypoint_core.clock import system_clock
from relaypoint_core.realtime import AccessTokenAuthenticator, RealtimeMetrics, RealtimeServer
from tests.core.realtime.conftest import emit_endpoint, make_auth, private_metrics, serving, user
from tests.support.services import RedisServer
from tests.support.sockets import RecordingClient


@dataclass
class Instance:
    server: RealtimeServer
    metrics: RealtimeMetrics
    url: str

    async def emit_over_http(self, tenant: str, event: str, data: object) -> int:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            response = await http.post(
                "/emit", json={"tenant": tenant, "event": event, "data": data}
            )
        return response.status_code


@dataclass
class Pair:
    auth: AuthService
    a: Instance
    b: Instance

    async def client(
        self, instance: Instance, user_id: str, tenant: str = "acme"
    ) -> RecordingClient:
        pair = await self.auth.issue_tokens(user(user_id, tenant))
        client = RecordingClient()
        assert await client.connect(instance.url, auth={"token": pair.access_token})
        return client


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[Pair]:
    auth = make_auth(system_clock)  # real time: the fan-out's circuit breaker must see it pass
    channel = f"rpt-{uuid.uuid4().hex[:8]}"
    instances = []
    for _ in range(2):
        metrics = private_metrics()
        server = RealtimeServer(
            AccessTokenAuthenticator(auth),
            redis_url=redis_server.url,
            channel=channel,
            metrics=metrics,
        )
        instances.append((server, metrics))
    async with (
        serving(instances[0][0].asgi_app(emit_endpoint(instances[0][0]))) as url_a,
        serving(instances[1][0].asgi_app(emit_endpoint(instances[1][0]))) as url_b,
    ):
        for server, _ in instances:
            await server.start()
        try:
            yield Pair(
                auth,
                Instance(instances[0][0], instances[0][1], url_a),
                Instance(instances[1][0], instances[1][1], url_b),
            )
        finally:
            for server, _ in instances:
                await server.stop()


async def _until_received(
    source: Instance, client: RecordingClient, event: str, *, seconds: float
) -> None:
    """Emit on `source` until `client` has `event` (the subscriber connects in the background)."""
    deadline = time.monotonic() + seconds
    while not client.events[event]:
        assert time.monotonic() < deadline, f"{event} never arrived"
        assert await source.emit_over_http("acme", event, {"from": "a"}) == 200
        try:
            await client.next_event(event, timeout=0.2)
        except TimeoutError:
            continue


async def test_an_event_raised_on_a_reaches_a_client_of_b_and_no_other_tenant(pair: Pair) -> None:
    on_b = await pair.client(pair.b, "bob")
    globex_on_b = await pair.client(pair.b, "gina", "globex")
    try:
        await _until_received(pair.a, on_b, "workflow.executed", seconds=10)
        assert on_b.events["workflow.executed"][0] == {"from": "a"}
        await pair.a.server.tenant("globex").emit("marker")
        await globex_on_b.next_event("marker", timeout=5)
        assert set(globex_on_b.events) == {"marker"}
    finally:
        await on_b.close()
        await globex_on_b.close()


async def test_redis_killed_mid_run_keeps_clients_and_answers_every_request(
    pair: Pair, redis_server: RedisServer
) -> None:
    on_a = await pair.client(pair.a, "alice")
    on_b = await pair.client(pair.b, "bob")
    try:
        await _until_received(pair.a, on_b, "before", seconds=10)
        redis_server.kill()
        for n in range(5):
            assert await pair.a.emit_over_http("acme", "during", {"n": n}) == 200
        # Local delivery goes on: A's own client gets every emission raised on A.
        for n in range(5):
            assert (await on_a.next_event("during", timeout=5, index=n)) == {"n": n}
        failures = sum(
            sample.value
            for metric in pair.a.metrics.backend_errors.collect()
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.labels == {"operation": "publish"}
        )
        assert failures >= 1
        # Clients connect and stay connected to their instance with Redis gone.
        late = await pair.client(pair.b, "late")
        assert on_a.sio.connected
        assert on_b.sio.connected
        assert late.sio.connected
        assert not on_a.disconnected.is_set()
        assert not on_b.disconnected.is_set()
        await late.close()
        # Redis comes back: fan-out resumes once B's subscriber has reconnected.
        redis_server.start()
        await _until_received(pair.a, on_b, "after", seconds=15)
    finally:
        await on_a.close()
        await on_b.close()


async def test_an_emission_with_redis_down_does_not_wait_on_it(
    pair: Pair, redis_server: RedisServer
) -> None:
    on_a = await pair.client(pair.a, "alice")
    try:
        redis_server.kill()
        results = await asyncio.gather(
            *(pair.a.server.tenant("acme").emit("burst", {"n": n}) for n in range(50))
        )
        assert results == [None] * 50
        await on_a.next_event("burst", timeout=5, index=49)
    finally:
        await on_a.close()


async def test_emissions_raised_during_an_outage_are_replayed_in_order(
    redis_server: RedisServer,
) -> None:
    import redis.asyncio as aioredis

    channel = f"rpt-{uuid.uuid4().hex[:8]}"
    server = RealtimeServer(
        AccessTokenAuthenticator(make_auth(system_clock)),
        redis_url=redis_server.url,
        channel=channel,
        metrics=private_metrics(),
    )
    try:
        redis_server.kill()
        for n in range(3):
            await server.tenant("acme").emit("queued", {"n": n})
        assert server.fanout_backlog == 3
        redis_server.start()
        listener = aioredis.Redis.from_url(redis_server.url)
        pubsub = listener.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)
        deadline = time.monotonic() + 10
        while server.fanout_backlog and time.monotonic() < deadline:
            await server.sweep()  # each sweep flushes what the backlog holds
            await asyncio.sleep(0.1)  # the restarted Redis server accepts connections again
        assert server.fanout_backlog == 0
        received = []
        deadline = time.monotonic() + 10
        while len(received) < 3 and time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=1)
            if message is not None:  # None: nothing yet, or the ignored subscribe confirmation
                received.append(message["data"])
        assert [b'"n": %d' % n in data for n, data in enumerate(received)] == [True] * 3
        await pubsub.aclose()
        await listener.aclose()
    finally:
        await server.stop()
