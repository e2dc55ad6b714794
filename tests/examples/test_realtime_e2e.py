"""The reference app's live updates with a real python-socketio client over uvicorn."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.examples.conftest import LiveApp
from tests.support.sockets import RecordingClient

API = "/api/v1"


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        f"{API}/auth/login", json={"email": email, "password": "relaypoint-demo"}
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def _connected(app: LiveApp, token: str, **kwargs: Any) -> RecordingClient:
    client = RecordingClient()
    assert await client.connect(app.base_url, auth={"token": token}, **kwargs), (
        client.connect_errors
    )
    return client


async def _new_workflow(client: httpx.AsyncClient, token: str) -> str:
    response = await client.post(
        f"{API}/tenants/acme/workflows",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": f"rt-{uuid.uuid4().hex[:8]}",
            "steps": [{"name": "shout", "action": "uppercase", "input": "hi"}],
        },
    )
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["id"]
    return workflow_id


async def test_acme_receives_its_workflow_events_and_globex_nothing(
    embedded_app: LiveApp,
) -> None:
    async with httpx.AsyncClient(base_url=embedded_app.base_url, timeout=15) as http:
        manager = embedded_app.login("manager@acme.example")["access_token"]
        admin = embedded_app.login("tenant_admin@acme.example")["access_token"]
        globex = embedded_app.login("user@globex.example")["access_token"]
        acme_client = await _connected(embedded_app, manager)
        admin_client = await _connected(embedded_app, admin)
        globex_client = await _connected(embedded_app, globex)
        try:
            workflow_id = await _new_workflow(http, manager)
            executed = await http.post(
                f"{API}/tenants/acme/workflows/{workflow_id}/execute",
                headers={"Authorization": f"Bearer {manager}"},
            )
            assert executed.status_code == 200, executed.text
            event = await acme_client.next_event("workflow.executed", timeout=1.0)
            assert event["tenant_id"] == "acme"
            assert event["workflow_id"] == workflow_id
            assert event["id"] == executed.json()["id"]
            usage = await admin_client.next_event("usage.updated", timeout=1.0)
            assert usage["tenant_id"] == "acme"
            assert "windows" in usage["rate_limit"]
            # The manager is no tenant admin: usage goes to admins only.
            renamed = await http.patch(
                f"{API}/tenants/acme/workflows/{workflow_id}",
                headers={"Authorization": f"Bearer {manager}"},
                json={"description": "live"},
            )
            assert renamed.status_code == 200, renamed.text
            updated = await acme_client.next_event("workflow.updated", timeout=1.0)
            assert updated["workflow_id"] == workflow_id
            assert updated["description"] == "live"
            # Both acme events reached acme; by then globex would have them too if it could.
            await admin_client.next_event("workflow.updated", timeout=1.0)
            assert "usage.updated" not in acme_client.events
            assert dict(globex_client.events) == {}
        finally:
            for client in (acme_client, admin_client, globex_client):
                await client.close()


async def test_no_token_a_bad_token_and_another_tenants_token_are_refused(
    embedded_app: LiveApp,
) -> None:
    globex = embedded_app.login("user@globex.example")["access_token"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "missing_token"),
        ({"auth": {"token": "not-a-token"}}, "invalid_token"),
        ({"auth": {"token": globex, "tenant": "acme"}}, "tenant_mismatch"),
        ({"auth": {"token": globex}, "headers": {"X-Tenant-ID": "acme"}}, "tenant_mismatch"),
    ]
    for kwargs, code in cases:
        client = RecordingClient()
        assert not await client.connect(embedded_app.base_url, **kwargs)
        assert client.refusal_code() == code


async def test_a_bearer_header_connects_and_logout_disconnects_within_a_second(
    embedded_app: LiveApp,
) -> None:
    async with httpx.AsyncClient(base_url=embedded_app.base_url, timeout=15) as http:
        tokens = await _login(http, "viewer@acme.example")
        client = RecordingClient()
        assert await client.connect(
            embedded_app.base_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        try:
            logout = await http.post(
                f"{API}/auth/logout",
                json={"refresh_token": tokens["refresh_token"]},
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            assert logout.status_code in (200, 204), logout.text
            await asyncio.wait_for(client.disconnected.wait(), timeout=1.0)
            assert client.events["auth.revoked"][0]["reason"] == "revoked"
        finally:
            await client.close()


async def test_the_http_long_polling_transport_works_through_the_apps_middlewares(
    embedded_app: LiveApp,
) -> None:
    async with httpx.AsyncClient(base_url=embedded_app.base_url, timeout=15) as http:
        tokens = await _login(http, "user@acme.example")
        client = RecordingClient()
        assert await client.connect(
            embedded_app.base_url, auth={"token": tokens["access_token"]}, transports=("polling",)
        ), client.connect_errors
        assert client.sio.transport() == "polling"
        refused = await client.call("no.such.event", {})
        assert refused["error"]["code"] == "unknown_event"
        # Ending the session ends the socket from the server side, which also releases the
        # pending long-poll (a client-side close would wait it out).
        logout = await http.post(
            f"{API}/auth/logout",
            json={"refresh_token": tokens["refresh_token"]},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert logout.status_code in (200, 204), logout.text
        await asyncio.wait_for(client.disconnected.wait(), timeout=5)
        await client.close()


async def test_an_api_key_connects_and_its_revocation_disconnects(embedded_app: LiveApp) -> None:
    admin = embedded_app.login("tenant_admin@acme.example")["access_token"]
    async with httpx.AsyncClient(base_url=embedded_app.base_url, timeout=15) as http:
        created = await http.post(
            f"{API}/tenants/acme/api-keys",
            headers={"Authorization": f"Bearer {admin}"},
            json={"name": "live-robot", "permissions": ["workflow:read"]},
        )
        assert created.status_code == 201, created.text
        key = created.json()
        client = await _connected(embedded_app, key["key"])
        try:
            revoked = await http.delete(
                f"{API}/tenants/acme/api-keys/{key['id']}",
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert revoked.status_code == 204, revoked.text
            # Within the key service's freshness interval plus one sweep and the grace.
            await asyncio.wait_for(client.disconnected.wait(), timeout=5)
            assert client.events["auth.revoked"][0]["reason"] == "revoked"
        finally:
            await client.close()


async def test_inbound_messages_are_counted_by_the_apps_rate_limiter(
    embedded_app: LiveApp,
) -> None:
    token = embedded_app.login("team_lead@acme.example")["access_token"]
    client = await _connected(embedded_app, token)
    try:
        codes = [(await client.call("no.such.event", {}))["error"]["code"] for _ in range(121)]
        assert codes[:120] == ["unknown_event"] * 120
        assert codes[120] == "rate_limited"
        assert client.sio.connected
    finally:
        await client.close()
