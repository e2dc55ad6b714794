"""The seed's behaviour from the SDK: the same suite against the reference app and
``examples.quickstart``, over real uvicorn, embedded and on PostgreSQL + Redis.

Each test talks from its own loopback address (the whole 127/8 is loopback), so anonymous budgets
of one test never touch another's; servers run with the FREE anonymous tier (60/minute).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import require_service
from tests.examples.conftest import DEMO_PASSWORD, LiveApp, _postgres_admin, start_app, stop_app
from tests.support.services import POSTGRES_URL, REDIS_URL, delete_redis_prefix

API = "/api/v1"
_addresses = itertools.count(10)
MODULES = ("examples.app", "examples.quickstart")


def address() -> str:
    n = next(_addresses)
    return f"127.0.{n // 250}.{n % 250 + 2}"


def client(app: LiveApp, source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=app.base_url, timeout=15.0, transport=transport)


def login(app: LiveApp, source: str, email: str) -> dict[str, str]:
    with client(app, source) as http:
        response = http.post(f"{API}/auth/login", json={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


SERVICE_MARKS = [pytest.mark.redis, pytest.mark.postgres]
PARAMS = [
    pytest.param(
        (m, b), id=f"{m.split('.')[-1]}-{b}", marks=SERVICE_MARKS if b == "servers" else ()
    )
    for m in MODULES
    for b in ("embedded", "servers")
]


@pytest.fixture(scope="module", params=PARAMS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApp]:
    module, backend = request.param
    env = {"RELAYPOINT_ANONYMOUS_TIER": "FREE"}
    database = None
    prefix = f"rpc{uuid.uuid4().hex[:10]}:"
    if backend == "servers":
        require_service("postgres")
        require_service("redis")
        database = f"rp_comp_{uuid.uuid4().hex[:12]}"
        _postgres_admin(f'CREATE DATABASE "{database}"')
        base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        env |= {"DATABASE_URL": f"{base}/{database}", "REDIS_URL": REDIS_URL}
        env |= {"RELAYPOINT_KEY_PREFIX": prefix}
    app = start_app(backend, tmp_path_factory.mktemp("comp"), env, module=module)
    try:
        yield app
    finally:
        stop_app(app)
        if database is not None:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            delete_redis_prefix(REDIS_URL, prefix)


def test_email_only_login_and_a_viewer_cannot_write(service: LiveApp) -> None:
    source = address()
    viewer = login(service, source, "viewer@acme.example")
    with client(service, source) as http:
        listed = http.get(f"{API}/tenants/acme/workflows", headers=bearer(viewer))
        assert listed.status_code == 200, listed.text
        refused = http.post(
            f"{API}/tenants/acme/workflows", headers=bearer(viewer), json={"name": "nope"}
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_globex_cannot_reach_acme_by_path_header_or_host(service: LiveApp) -> None:
    source = address()
    globex = login(service, source, "tenant_admin@globex.example")
    with client(service, source) as http:
        by_path = http.get(f"{API}/tenants/acme/workflows", headers=bearer(globex))
        assert by_path.status_code == 403, by_path.text
        # A path that names no tenant: the header alone, then the host alone, name acme.
        by_header = http.get(f"{API}/anything", headers={**bearer(globex), "X-Tenant-ID": "acme"})
        assert by_header.status_code == 403, by_header.text
        by_host = http.get(
            f"{API}/anything", headers={**bearer(globex), "Host": "acme.relaypoint.localhost"}
        )
        assert by_host.status_code == 403, by_host.text
        for refused in (by_path, by_header, by_host):
            assert refused.json()["type"].endswith("#tenant-mismatch")


def test_acme_users_are_limited_at_their_tenants_plan(service: LiveApp) -> None:
    source = address()
    user = login(service, source, "user@acme.example")
    with client(service, source) as http:
        created = http.post(
            f"{API}/tenants/acme/workflows", headers=bearer(user), json={"name": "x"}
        )
        assert created.status_code == 201, created.text
        response = http.get(f"{API}/tenants/acme/workflows", headers=bearer(user))
    assert response.status_code == 200
    assert response.headers["x-ratelimit-tier"] == "PROFESSIONAL"
    assert response.headers["x-ratelimit-limit"] == "1000"


def test_anonymous_traffic_naming_globex_never_spends_globexs_budget(service: LiveApp) -> None:
    attacker, member = address(), address()
    refused = None
    with client(service, attacker) as http:
        for _ in range(70):
            answer = http.get(f"{API}/tenants/globex/workflows", headers={"X-Tenant-ID": "globex"})
            if answer.status_code == 429:
                refused = answer
    assert refused is not None, "the anonymous FREE tier (60/minute) never refused"
    body = refused.json()
    assert body["upgrade"]["tier"] == "STARTER"
    assert "Upgrade" in body["upgrade"]["message"]
    globex = login(service, member, "user@globex.example")
    with client(service, member) as http:
        answer = http.get(f"{API}/tenants/globex/workflows", headers=bearer(globex))
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-ratelimit-tier"] == "FREE"


def test_metrics_show_the_traffic(service: LiveApp) -> None:
    source = address()
    user = login(service, source, "manager@acme.example")
    with client(service, source) as http:
        assert http.get(f"{API}/tenants/acme/workflows", headers=bearer(user)).status_code == 200
        metrics = http.get("/metrics").text
    served = [
        line
        for line in metrics.splitlines()
        if line.startswith("relaypoint_api_requests_total{")
        and 'route="/api/v1/tenants/{tenant_id}/workflows"' in line
    ]
    assert served, "the workflow reads are not counted under their route template"
    assert sum(float(line.rsplit(" ", 1)[1]) for line in served) >= 1
    assert "relaypoint_ratelimit_decisions_total{" in metrics
