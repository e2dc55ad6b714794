"""`RealtimeServer` under uvicorn with a real python-socketio client: admission, rooms, the
credential's lifetime (driven by a fake clock and explicit sweeps), RBAC and message limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from relaypoint_core.auth import AuthService
from relaypoint_core.auth.api_keys import ApiKeyService
from relaypoint_core.realtime import Connection, CredentialAuthenticator, RealtimeServer
from relaypoint_core.request_state import Principal
from relaypoint_core.testing import FakeClock
from tests.core.realtime.conftest import (
    WindowLimiter,
    emit_endpoint,
    make_auth,
    private_metrics,
    serving,
    user,
)
from tests.support.sockets import RecordingClient

WAIT = 5.0  # generous bound for an event to cross loopback on a loaded machine


@dataclass
class Stack:
    clock: FakeClock
    auth: AuthService
    server: RealtimeServer
    limiter: WindowLimiter
    keys: ApiKeyService
    url: str

    async def token(self, user_id: str, tenant: str | None = "acme", *roles: str) -> str:
        pair = await self.auth.issue_tokens(user(user_id, tenant, *roles))
        return pair.access_token

    async def client(self, token: str, **auth: str) -> RecordingClient:
        client = RecordingClient()
        assert await client.connect(self.url, auth={"token": token, **auth}), client.connect_errors
        return client


@pytest.fixture
async def stack(fake_clock: FakeClock) -> AsyncIterator[Stack]:
    auth = make_auth(fake_clock)
    keys = ApiKeyService(clock=fake_clock)
    auth.add_credential_verifier(keys)
    limiter = WindowLimiter(fake_clock, limit=2)
    server = RealtimeServer(
        CredentialAuthenticator(auth),
        message_limiter=limiter,
        clock=fake_clock,
        expiry_grace=30,
        revocation_grace=5,
        sweep_interval=3600,  # sweeps are driven by the test
        metrics=private_metrics(),
    )

    @server.on("workflow.run", permission="workflow:execute")
    async def run(connection: Connection, data: object) -> dict[str, object]:
        await connection.channel.emit("workflow.ran", {"by": connection.principal.user_id})
        return {"ok": True, "echo": data}

    @server.on("chat.send", permission=None)
    async def chat(connection: Connection, data: object) -> dict[str, object]:
        return {"ok": True}

    async with serving(server.asgi_app(emit_endpoint(server))) as url:
        yield Stack(fake_clock, auth, server, limiter, keys, url)
    await server.stop()


async def test_refusals_carry_a_code(stack: Stack) -> None:
    expired = await stack.token("u1")
    stack.clock.advance(120)
    platform = await stack.token("root", None, "super_admin")
    cases = [
        ({}, "missing_token"),
        ({"token": "garbage"}, "invalid_token"),
        ({"token": expired}, "expired_token"),
        ({"token": platform}, "no_tenant"),
        ({"token": await stack.token("u2"), "tenant": "globex"}, "tenant_mismatch"),
    ]
    for auth, code in cases:
        client = RecordingClient()
        assert not await client.connect(stack.url, auth=auth)
        assert client.refusal_code() == code
    assert stack.server.connection_count == 0


async def test_emission_reaches_the_tenant_and_the_user_only(stack: Stack) -> None:
    alice = await stack.client(await stack.token("alice"))
    bob = await stack.client(await stack.token("bob"))
    other = await stack.client(await stack.token("alice", "globex"))
    try:
        await stack.server.tenant("acme").emit_to_user("alice", "hello", {"n": 1})
        await stack.server.tenant("acme").emit("news", {"n": 2})
        assert (await alice.next_event("hello", timeout=WAIT)) == {"n": 1}
        assert (await bob.next_event("news", timeout=WAIT)) == {"n": 2}
        await alice.next_event("news", timeout=WAIT)
        await stack.server.tenant("globex").emit("marker")
        await other.next_event("marker", timeout=WAIT)
        # Events arrive in order on one connection: by "marker", acme's emissions would be here.
        assert set(other.events) == {"marker"}
        assert "hello" not in bob.events
    finally:
        for client in (alice, bob, other):
            await client.close()


async def test_expired_connection_is_told_and_stays_after_refresh(stack: Stack) -> None:
    client = await stack.client(await stack.token("alice"))
    try:
        stack.clock.advance(61)
        await stack.server.sweep()
        notice = await client.next_event("auth.expired", timeout=WAIT)
        assert notice["grace_seconds"] == 30
        refused = await client.call("chat.send", {})
        assert refused["error"]["code"] == "reauthenticate"
        ack = await client.call("auth.refresh", {"token": await stack.token("alice")})
        assert ack["ok"] is True
        stack.clock.advance(31)
        await stack.server.sweep()
        assert (await client.call("chat.send", {}))["ok"] is True
        assert not client.disconnected.is_set()
    finally:
        await client.close()


async def test_expired_connection_without_refresh_is_disconnected_after_grace(
    stack: Stack,
) -> None:
    client = await stack.client(await stack.token("alice"))
    stack.clock.advance(61)
    await stack.server.sweep()
    await client.next_event("auth.expired", timeout=WAIT)
    stack.clock.advance(29)
    await stack.server.sweep()
    assert stack.server.connection_count == 1
    stack.clock.advance(2)
    await stack.server.sweep()
    await client.disconnected.wait()
    assert stack.server.connection_count == 0


async def test_refresh_with_another_users_token_is_refused(stack: Stack) -> None:
    client = await stack.client(await stack.token("alice"))
    try:
        ack = await client.call("auth.refresh", {"token": await stack.token("mallory")})
        assert ack["error"]["code"] == "tenant_mismatch"
        refused = await client.next_event("message.refused", timeout=WAIT)
        assert refused["event"] == "auth.refresh"
    finally:
        await client.close()


async def test_revoked_family_is_told_then_disconnected(stack: Stack) -> None:
    pair = await stack.auth.issue_tokens(user("alice", "acme"))
    client = await stack.client(pair.access_token)
    await stack.auth.logout(pair.refresh_token)
    await stack.server.sweep()
    notice = await client.next_event("auth.revoked", timeout=WAIT)
    assert notice["reason"] == "revoked"
    # A token of the revoked session cannot renew the lease.
    ack = await client.call("auth.refresh", {"token": pair.access_token})
    assert ack["error"]["code"] == "revoked_token"
    stack.clock.advance(6)
    await stack.server.sweep()
    await client.disconnected.wait()


async def test_revoked_connection_refreshed_with_a_new_session_stays(stack: Stack) -> None:
    pair = await stack.auth.issue_tokens(user("alice", "acme"))
    client = await stack.client(pair.access_token)
    try:
        await stack.auth.logout(pair.refresh_token)
        await stack.server.sweep()
        await client.next_event("auth.revoked", timeout=WAIT)
        assert (await client.call("auth.refresh", {"token": await stack.token("alice")}))["ok"]
        stack.clock.advance(6)
        await stack.server.sweep()
        assert (await client.call("chat.send", {}))["ok"] is True
    finally:
        await client.close()


async def test_each_event_needs_its_permission(stack: Stack) -> None:
    viewer = await stack.client(await stack.token("vera", "acme", "viewer"))
    manager = await stack.client(await stack.token("max", "acme", "manager"))
    try:
        denied = await viewer.call("workflow.run", {"id": "w1"})
        assert denied["error"]["code"] == "forbidden"
        allowed = await manager.call("workflow.run", {"id": "w1"})
        assert allowed == {"ok": True, "echo": {"id": "w1"}}
        assert (await viewer.next_event("workflow.ran", timeout=WAIT)) == {"by": "max"}
        unknown = await manager.call("no.such.event", {})
        assert unknown["error"]["code"] == "unknown_event"
    finally:
        await viewer.close()
        await manager.close()


async def test_per_message_limit_refuses_with_retry_after_and_keeps_the_connection(
    stack: Stack,
) -> None:
    client = await stack.client(await stack.token("alice"))
    try:
        assert (await client.call("chat.send", {}))["ok"] is True
        assert (await client.call("chat.send", {}))["ok"] is True
        third = await client.call("chat.send", {})
        assert third["error"]["code"] == "rate_limited"
        assert third["error"]["retry_after"] > 0
        event = await client.next_event("message.refused", timeout=WAIT)
        assert event["code"] == "rate_limited"
        stack.clock.advance(60)
        assert (await client.call("chat.send", {}))["ok"] is True
        assert not client.disconnected.is_set()
    finally:
        await client.close()


async def test_metric_labels_stay_bounded_whatever_events_clients_invent(stack: Stack) -> None:
    client = await stack.client(await stack.token("alice"))
    try:
        for n in range(5):
            await client.call(f"invented.{n}", {})
        await client.call("chat.send", {})
    finally:
        await client.close()
    labels = {
        sample.labels["event"]
        for metric in stack.server.metrics.messages_in.collect()
        for sample in metric.samples
    }
    assert labels == {"__other__", "chat.send"}


async def test_refresh_token_reuse_revokes_the_family_and_its_sockets(stack: Stack) -> None:
    from relaypoint_core.errors import TokenReuseError

    pair = await stack.auth.issue_tokens(user("alice", "acme"))
    client = await stack.client(pair.access_token)
    rotated = await stack.auth.refresh(pair.refresh_token)
    await stack.server.sweep()
    assert "auth.revoked" not in client.events  # a rotation is no revocation
    stack.clock.advance(stack.auth.refresh_grace + 1)  # past the two-tabs grace of a rotation
    with pytest.raises(TokenReuseError):
        await stack.auth.refresh(pair.refresh_token)  # someone replays the old refresh token
    await stack.server.sweep()
    await client.next_event("auth.revoked", timeout=WAIT)
    ack = await client.call("auth.refresh", {"token": rotated.access_token})
    assert ack["error"]["code"] == "revoked_token"
    stack.clock.advance(6)
    await stack.server.sweep()
    await client.disconnected.wait()


async def test_an_api_key_connects_with_its_scopes_and_its_revocation_disconnects(
    stack: Stack,
) -> None:
    admin = Principal("ada", "acme", ("tenant_admin",))
    created = await stack.keys.create(
        admin, tenant_id="acme", name="robot", permissions=["workflow:execute"]
    )
    client = await stack.client(created.key)
    try:
        assert (await client.call("workflow.run", {"id": "w1"}))["ok"] is True
        await stack.server.sweep()
        assert "auth.revoked" not in client.events
        await stack.keys.revoke(admin, "acme", created.record.key_id)
        stack.clock.advance(2)  # past the key service's freshness interval
        await stack.server.sweep()
        await client.next_event("auth.revoked", timeout=WAIT)
        stack.clock.advance(6)
        await stack.server.sweep()
        await client.disconnected.wait()
    finally:
        await client.close()
    refused = RecordingClient()
    assert not await refused.connect(stack.url, auth={"token": created.key})
    assert refused.refusal_code() == "revoked_token"


async def test_signing_out_everywhere_ends_the_users_sockets(stack: Stack) -> None:
    pair = await stack.auth.issue_tokens(user("alice", "acme"))
    client = await stack.client(pair.access_token)
    stack.clock.advance(1)
    await stack.auth.logout_all(stack.auth.decode_access_token(pair.access_token))
    stack.clock.advance(2)
    await stack.server.sweep()
    await client.next_event("auth.revoked", timeout=WAIT)


async def test_same_origin_connects_and_a_foreign_origin_is_refused(stack: Stack) -> None:
    token = await stack.token("alice")
    foreign = RecordingClient()
    assert not await foreign.connect(
        stack.url, auth={"token": token}, headers={"Origin": "https://evil.example"}
    )
    own = RecordingClient()
    assert await own.connect(stack.url, auth={"token": token}, headers={"Origin": stack.url})
    await own.close()


async def test_stop_ends_engineio_ping_task_without_cancelling_it(stack: Stack) -> None:
    client = await stack.client(await stack.token("ada"))

    def ping_tasks() -> list[asyncio.Task[object]]:
        return [
            task
            for task in asyncio.all_tasks()
            if not task.done() and "_service_task" in repr(task.get_coro())
        ]

    assert ping_tasks(), "a connection starts engine.io's ping-timeout task"
    await stack.server.stop()
    assert ping_tasks() == []
    await stack.server.stop()  # idempotent
    await client.sio.disconnect()
