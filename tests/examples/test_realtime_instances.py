"""Two reference-app processes on one Redis (a private redis-server this test starts and kills):
live events cross instances, and a Redis outage disconnects nobody and 500s nothing."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.examples.conftest import LiveApp, start_app, stop_app
from tests.support.services import RedisServer
from tests.support.sockets import RecordingClient

API = "/api/v1"


@pytest.fixture
def two_apps(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[LiveApp, LiveApp]]:
    env = {
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "RELAYPOINT_KEY_PREFIX": f"rpt{uuid.uuid4().hex[:12]}:",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}",
    }
    first = start_app("instance-a", tmp_path, env)
    try:
        (tmp_path / "b").mkdir()
        second = start_app("instance-b", tmp_path / "b", env)
        try:
            yield first, second
        finally:
            stop_app(second)
    finally:
        stop_app(first)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _execute(http: httpx.AsyncClient, token: str, workflow_id: str) -> httpx.Response:
    return await http.post(
        f"{API}/tenants/acme/workflows/{workflow_id}/execute", headers=_bearer(token)
    )


async def test_events_cross_instances_and_a_redis_outage_breaks_nothing(
    two_apps: tuple[LiveApp, LiveApp], redis_server: RedisServer
) -> None:
    a, b = two_apps
    token = a.session("manager@acme.example")["access_token"]
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=15) as http_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=15) as http_b,
    ):
        created = await http_a.post(
            f"{API}/tenants/acme/workflows",
            headers=_bearer(token),
            json={"name": "cross", "steps": [{"name": "s", "action": "uppercase", "input": "x"}]},
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]
        on_a, on_b = RecordingClient(), RecordingClient()
        assert await on_a.connect(a.base_url, auth={"token": token})
        assert await on_b.connect(b.base_url, auth={"token": token})
        try:
            # B subscribes at start-up; retry until its subscription is certainly in place.
            deadline = time.monotonic() + 10
            while not on_b.events["workflow.executed"]:
                assert time.monotonic() < deadline, "no event from A ever reached B"
                assert (await _execute(http_a, token, workflow_id)).status_code == 200
                try:
                    await on_b.next_event("workflow.executed", timeout=1.0)
                except TimeoutError:
                    continue
            assert on_b.events["workflow.executed"][0]["workflow_id"] == workflow_id

            redis_server.kill()
            seen_on_a = len(on_a.events["workflow.executed"])
            answers = [
                (await _execute(http_a, token, workflow_id)).status_code,
                (await _execute(http_b, token, workflow_id)).status_code,
                (
                    await http_a.get(f"{API}/tenants/acme/workflows", headers=_bearer(token))
                ).status_code,
                (await http_b.get("/health/live")).status_code,
                (await http_b.get("/health/ready")).status_code,
            ]
            assert all(status < 500 or status == 503 for status in answers), answers
            assert answers[:4] == [200, 200, 200, 200]
            # A's own client still gets A's events; both clients are still connected.
            await on_a.next_event("workflow.executed", timeout=2.0, index=seen_on_a)
            late = RecordingClient()
            assert await late.connect(b.base_url, auth={"token": token})
            await late.close()
            assert on_a.sio.connected
            assert on_b.sio.connected
            assert not on_a.disconnected.is_set()
            assert not on_b.disconnected.is_set()
        finally:
            await on_a.close()
            await on_b.close()
