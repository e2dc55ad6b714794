"""Two app processes on one Redis and one PostgreSQL behave as one service: rate limits are
shared, a write on one invalidates the other's cached read, and revocations hold on both."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import require_service
from tests.examples.conftest import LiveApp, _postgres_admin, start_app, stop_app
from tests.support.services import POSTGRES_URL, REDIS_URL, delete_redis_prefix

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
API = "/api/v1"
PASSWORD = "two instance password"
FREE_LIMIT = 60  # the FREE tier's per-minute window
INVALIDATION_BOUND = 0.1  # seconds: the bound for a write on A to reach B's cache


@dataclass
class Pair:
    a: LiveApp
    b: LiveApp


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    require_service("postgres")
    require_service("redis")
    database = f"rp_pair_{uuid.uuid4().hex[:12]}"
    prefix = f"rpt{uuid.uuid4().hex[:12]}:"
    _postgres_admin(f'CREATE DATABASE "{database}"')
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    shared = {
        "DATABASE_URL": f"{base}/{database}",
        "REDIS_URL": REDIS_URL,
        "RELAYPOINT_KEY_PREFIX": prefix,
        "SECRET_KEY": secrets.token_urlsafe(48),  # one key: tokens of A verify on B
    }
    started: list[LiveApp] = []
    try:
        # One after the other, so only the first seeds the demo tenants.
        started.append(start_app("servers", tmp_path_factory.mktemp("instance-a"), shared))
        started.append(start_app("servers", tmp_path_factory.mktemp("instance-b"), shared))
        yield Pair(*started)
    finally:
        for app in started:
            stop_app(app)
        _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        delete_redis_prefix(REDIS_URL, prefix)


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def new_tenant(app: LiveApp, plan: str) -> tuple[str, dict[str, str]]:
    root = app.session("super_admin@acme.example")
    slug = f"pair{uuid.uuid4().hex[:8]}"
    with app.client() as client:
        created = client.post(
            f"{API}/tenants",
            headers=bearer(root),
            json={
                "name": "Pair Co",
                "slug": slug,
                "plan_tier": plan,
                "admin_email": f"admin@{slug}.example",
                "admin_name": "Pair admin",
                "admin_password": PASSWORD,
            },
        )
    assert created.status_code == 201, created.text
    return slug, app.login(f"admin@{slug}.example", tenant=slug, password=PASSWORD)


def test_a_free_tenant_gets_exactly_its_limit_summed_over_both(pair: Pair) -> None:
    _, tokens = new_tenant(pair.a, "FREE")
    admitted = {"a": 0, "b": 0}
    refused = {"a": 0, "b": 0}
    with pair.a.client() as a, pair.b.client() as b:
        for index in range(FREE_LIMIT + 20):
            name, client = ("a", a) if index % 2 == 0 else ("b", b)
            status = client.get(f"{API}/workflows", headers=bearer(tokens)).status_code
            assert status in (200, 429)
            (admitted if status == 200 else refused)[name] += 1
    assert admitted["a"] + admitted["b"] == FREE_LIMIT
    assert admitted["a"] > 0
    assert admitted["b"] > 0
    assert refused["a"] > 0
    assert refused["b"] > 0


def test_a_write_on_a_invalidates_a_cached_read_on_b(pair: Pair) -> None:
    tokens = pair.a.session("user@acme.example")
    with pair.a.client() as a, pair.b.client() as b:
        made = a.post(
            f"{API}/workflows",
            headers=bearer(tokens),
            json={"name": "before", "steps": [{"name": "s", "action": "noop"}]},
        )
        assert made.status_code == 201, made.text
        path = f"{API}/workflows/{made.json()['id']}"
        assert b.get(path, headers=bearer(tokens)).headers["x-cache"] == "miss"
        cached = b.get(path, headers=bearer(tokens))
        assert cached.headers["x-cache"] == "hit"
        assert cached.json()["name"] == "before"
        renamed = a.patch(path, headers=bearer(tokens), json={"name": "after"})
        assert renamed.status_code == 200
        time.sleep(INVALIDATION_BOUND)
        fresh = b.get(path, headers=bearer(tokens))
    assert fresh.json()["name"] == "after"
    assert fresh.json()["version"] == 2


def test_a_logout_on_a_holds_on_b(pair: Pair) -> None:
    tokens = pair.a.login("team_lead@acme.example")
    with pair.a.client() as a, pair.b.client() as b:
        out = a.post(
            f"{API}/auth/logout",
            json={"refresh_token": tokens["refresh_token"]},
            headers=bearer(tokens),
        )
        assert out.status_code == 204
        again = b.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


def test_a_refresh_reuse_detected_on_a_revokes_the_family_on_b(pair: Pair) -> None:
    first = pair.a.login("manager@acme.example")
    with pair.a.client() as a, pair.b.client() as b:
        second = b.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200, second.text
        third = a.post(
            f"{API}/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
        )
        assert third.status_code == 200, third.text
        # `first` is two rotations old: no refresh grace covers it, so A sees a reuse...
        reuse = a.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401
        # ...and B refuses the family's newest token too.
        after = b.post(f"{API}/auth/refresh", json={"refresh_token": third.json()["refresh_token"]})
    assert after.status_code == 401
