"""The adversarial suite runs against the live reference app on both backend sets (embedded, and
PostgreSQL + Redis), reusing the server fixtures of the end-to-end tests, plus helpers to make a
private tenant per test so that counts asserted here see no other test's traffic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from relaypoint_core.auth import SigningKey
from tests.conftest import require_service
from tests.examples.conftest import (
    LiveApp,
    embedded_app,
    live_app,
    servers_app,
    start_app,
    stop_app,
)
from tests.support.services import RedisServer

__all__ = [
    "API",
    "LiveApp",
    "Tenant",
    "bearer",
    "embedded_app",
    "live_app",
    "new_tenant",
    "servers_app",
]

API = "/api/v1"
HARDENED_SECRET = "adversarial-" + "k" * 40
HARDENED_KEY = SigningKey.hmac(HARDENED_SECRET)


@dataclass(frozen=True)
class HardenedApp:
    """The app on embedded SQLite and a private redis-server (which tests may restart), with a
    known ``SECRET_KEY`` (tests sign tokens with the real key), the FREE anonymous tier (so the
    rate limit is reachable), ``X-Forwarded-For`` trusted from loopback (each test speaks for
    its own client address) and one-second request deadlines (slow-client tests stay short)."""

    app: LiveApp
    redis: RedisServer


@pytest.fixture(scope="session")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HardenedApp]:
    require_service("redis")
    server = RedisServer().start()
    try:
        app = start_app(
            "hardened",
            tmp_path_factory.mktemp("app-hardened"),
            {
                "REDIS_URL": server.url,
                "SECRET_KEY": HARDENED_SECRET,
                "RELAYPOINT_ANONYMOUS_TIER": "FREE",
                "RELAYPOINT_TRUSTED_PROXIES": "127.0.0.1",
                "RELAYPOINT_HEADER_TIMEOUT": "1",
                "RELAYPOINT_BODY_TIMEOUT": "1",
            },
        )
        try:
            yield HardenedApp(app, server)
        finally:
            stop_app(app)
    finally:
        server.cleanup()


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@dataclass(frozen=True)
class Tenant:
    slug: str
    admin: dict[str, str]


def new_tenant(app: LiveApp, *, plan: str = "STARTER", workflow_limit: int | None = None) -> Tenant:
    """A fresh tenant (created by the demo super_admin) and its signed-in tenant_admin."""
    root = app.session("super_admin@acme.example")
    slug = f"adv{uuid.uuid4().hex[:10]}"
    password = "adversarial test password"
    with app.client() as client:
        created = client.post(
            f"{API}/tenants",
            headers=bearer(root),
            json={
                "name": "Adversary Co",
                "slug": slug,
                "plan_tier": plan,
                "admin_email": f"admin@{slug}.example",
                "admin_name": "Adversary admin",
                "admin_password": password,
            },
        )
        assert created.status_code == 201, created.text
        if workflow_limit is not None:
            override = client.put(
                f"{API}/platform/tenants/{slug}/quotas/workflows",
                headers=bearer(root),
                json={"limit": workflow_limit},
            )
            assert override.status_code == 200, override.text
    return Tenant(slug, app.login(f"admin@{slug}.example", tenant=slug, password=password))


def workflows_used(client: httpx.Client, tenant: Tenant) -> int:
    usage = client.get(f"{API}/tenants/{tenant.slug}/usage", headers=bearer(tenant.admin))
    assert usage.status_code == 200, usage.text
    return int(next(i["used"] for i in usage.json()["resources"] if i["resource"] == "workflows"))
