"""The SDK's middlewares in a plain Starlette app (no FastAPI): auth, tenancy, rate limits,
cache and metrics behave as in the FastAPI reference app."""

from __future__ import annotations

import httpx
from examples.starlette_app import create_app
from prometheus_client import CollectorRegistry

from relaypoint_core.monitoring import PerformanceMonitor, RelayPointMetrics

PASSWORD = "starlette-demo"


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]


async def _login(client: httpx.AsyncClient, email: str, tenant: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-Tenant-ID": tenant},
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def test_plain_starlette_app_runs_the_whole_stack() -> None:
    registry = CollectorRegistry()
    app = create_app(
        password=PASSWORD,
        monitor=PerformanceMonitor(metrics=RelayPointMetrics(registry)),
        metrics_registry=registry,
    )
    assert "fastapi" not in type(app).__module__
    async with _client(app) as client:
        admin = await _login(client, "tenant_admin@acme.example", "acme")
        viewer = await _login(client, "viewer@acme.example", "acme")
        auth = {"Authorization": f"Bearer {admin['access_token']}"}

        first = await client.get("/api/v1/notes", headers=auth)
        second = await client.get("/api/v1/notes", headers=auth)
        assert first.status_code == 200, first.text
        assert first.json()["tenant"] == "acme"
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
        assert first.headers["x-ratelimit-tier"] == "PROFESSIONAL"  # the tenant's plan
        assert "tenant.minute" in first.headers["ratelimit-policy"]
        assert "default-src 'self'" in first.headers["content-security-policy"]

        added = await client.post("/api/v1/notes", headers=auth, content=b"ship it")
        assert added.status_code == 201
        fresh = await client.get("/api/v1/notes", headers=auth)
        assert fresh.headers["x-cache"] == "miss"
        assert fresh.json()["notes"][-1] == "ship it"

        as_viewer = {"Authorization": f"Bearer {viewer['access_token']}"}
        denied = await client.post("/api/v1/notes", headers=as_viewer, content=b"no")
        assert denied.status_code == 403
        assert (await client.get("/api/v1/notes")).status_code == 401

        # acme's token cannot address globex.
        crossed = await client.get("/api/v1/notes", headers={**auth, "X-Tenant-ID": "globex"})
        assert crossed.status_code == 403
        assert crossed.headers["content-type"].startswith("application/problem+json")

        metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/notes"' in metrics
    assert "relaypoint_api_requests_total" in metrics


async def test_free_tenant_is_limited_in_the_starlette_app() -> None:
    registry = CollectorRegistry()
    app = create_app(
        password=PASSWORD,
        monitor=PerformanceMonitor(metrics=RelayPointMetrics(registry)),
        metrics_registry=registry,
    )
    async with _client(app) as client:
        tokens = await _login(client, "viewer@globex.example", "globex")
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        statuses = [
            (await client.get("/api/v1/notes", headers=auth)).status_code for _ in range(65)
        ]
        refused = await client.get("/api/v1/notes", headers=auth)
    assert statuses.count(200) <= 60
    assert 429 in statuses
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
