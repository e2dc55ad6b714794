"""API keys on memory and real Redis: shown once, stored hashed, scoped, rotated, revoked, and
refused on every process within a second of their revocation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaypoint_core.audit import AuditAction, InMemoryAuditLog
from relaypoint_core.auth import (
    API_KEY_PREFIX,
    ApiKeyError,
    ApiKeyNotFoundError,
    ApiKeyService,
    ApiKeyValidationError,
    AuthService,
    KeyRing,
    create_api_key_store,
)
from relaypoint_core.errors import (
    TokenExpiredError,
    TokenInvalidError,
    TokenRevokedError,
)
from relaypoint_core.rbac import Permission, PermissionChecker
from relaypoint_core.request_state import Principal
from relaypoint_core.testing import FakeClock
from tests.conftest import BackendTarget
from tests.core.auth.conftest import HMAC_SECRET

ROOT = Path(__file__).resolve().parents[3]
ADMIN = Principal("u-admin", "acme", ("tenant_admin",))
VIEWER = Principal("u-viewer", "acme", ("viewer",))
GLOBEX_ADMIN = Principal("u-g", "globex", ("tenant_admin",))

KeyServices = Callable[..., ApiKeyService]


@pytest.fixture
async def make_keys(backend: BackendTarget, fake_clock: FakeClock) -> AsyncIterator[KeyServices]:
    made: list[ApiKeyService] = []
    shared = create_api_key_store(backend.url, key_prefix=backend.key_prefix, clock=fake_clock)

    def factory(
        *, own_connection: bool = False, audit: InMemoryAuditLog | None = None
    ) -> ApiKeyService:
        # own_connection: another app process (on Redis its own client; in memory the same dict).
        store = (
            create_api_key_store(backend.url, key_prefix=backend.key_prefix, clock=fake_clock)
            if own_connection and backend.is_redis
            else shared
        )
        service = ApiKeyService(store, clock=fake_clock, audit=audit or InMemoryAuditLog())
        made.append(service)
        return service

    yield factory
    closed = set()
    for service in made:
        if id(service.store) not in closed:
            closed.add(id(service.store))
            await service.aclose()


async def test_a_key_is_shown_once_and_verifies_to_its_own_principal(
    make_keys: KeyServices,
) -> None:
    audit = InMemoryAuditLog()
    keys = make_keys(audit=audit)
    created = await keys.create(
        ADMIN, tenant_id="acme", name="ci", permissions=["workflow:read", "workflow:create"]
    )
    body = created.to_response()
    assert set(body) == {"id", "key", "prefix", "name", "permissions", "expires_at"}
    assert body["key"].startswith(body["prefix"] + "_")
    assert body["prefix"].startswith("rpk_")
    principal = await keys.verify(created.key)
    assert principal.kind == "api_key"
    assert principal.key_id == created.record.key_id
    assert principal.user_id == f"apikey:{created.record.key_id}" != ADMIN.user_id
    assert principal.tenant_id == "acme"
    assert principal.scopes == {"workflow:read", "workflow:create"}
    listed = [r.to_public() for r in await keys.list("acme")]
    assert listed
    assert all("key" not in item and "secret_hash" not in item for item in listed)
    # The secret is base64url and may itself contain "_": cut it after the public prefix.
    secret = created.key.removeprefix(body["prefix"] + "_")
    assert len(secret) == 43
    assert secret not in repr(listed)
    assert audit.find(action=AuditAction.API_KEY_CREATED, actor="u-admin")


async def test_the_secret_is_never_stored(make_keys: KeyServices, backend: BackendTarget) -> None:
    keys = make_keys()
    created = await keys.create(ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"])
    secret = created.key.removeprefix(f"{API_KEY_PREFIX}{created.record.key_id}_")
    assert len(secret) == 43
    if backend.is_redis:
        import redis.asyncio as redis

        client = redis.Redis.from_url(backend.url)
        try:
            stored = b""
            async for key in client.scan_iter(match=f"{backend.key_prefix}*"):
                if await client.type(key) == b"hash":
                    stored += b"".join((await client.hgetall(key)).values())
        finally:
            await client.aclose()
        assert stored
        assert secret.encode() not in stored
    record = await keys.store.get(created.record.key_id)
    assert record is not None
    assert secret not in record.to_json()


async def test_a_wrong_secret_or_a_garbled_key_is_refused(make_keys: KeyServices) -> None:
    keys = make_keys()
    created = await keys.create(ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"])
    forged = created.key[:-4] + ("AAAA" if not created.key.endswith("AAAA") else "BBBB")
    for bad in (forged, "rpk_short", created.key + "x", "rpk_" + "a" * 16 + "_" + "b" * 43):
        with pytest.raises(TokenInvalidError):
            await keys.verify(bad)


async def test_scope_cannot_exceed_the_creators_permissions(make_keys: KeyServices) -> None:
    keys = make_keys()
    with pytest.raises(ApiKeyError, match="subset"):
        await keys.create(VIEWER, tenant_id="acme", name="n", permissions=["workflow:create"])
    with pytest.raises(ApiKeyError):
        await keys.create(ADMIN, tenant_id="globex", name="n", permissions=["workflow:read"])
    with pytest.raises(ApiKeyValidationError):
        await keys.create(ADMIN, tenant_id="acme", name="n", permissions=[])
    # A key can mint keys only within its own scope.
    minted = await keys.create(
        ADMIN, tenant_id="acme", name="m", permissions=["api_key:create", "workflow:read"]
    )
    key_principal = await keys.verify(minted.key)
    with pytest.raises(ApiKeyError):
        await keys.create(key_principal, tenant_id="acme", name="n", permissions=["billing:read"])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scope=st.sets(st.sampled_from([p.value for p in Permission]), min_size=1, max_size=6),
    asked=st.sampled_from([p.value for p in Permission]),
    tenant=st.sampled_from(["acme", "globex"]),
)
def test_a_key_allows_exactly_its_scope_in_exactly_its_tenant(
    scope: set[str], asked: str, tenant: str
) -> None:
    checker = PermissionChecker()
    principal = Principal(
        "apikey:x", "acme", (), kind="api_key", key_id="x", scopes=frozenset(scope)
    )
    allowed = checker.check_principal(principal, asked, tenant_id=tenant)
    assert allowed == (asked in scope and tenant == "acme")
    assert checker.explain_principal(principal, asked, tenant_id=tenant).allowed == allowed


async def test_expiry_and_rotation_overlap(make_keys: KeyServices, fake_clock: FakeClock) -> None:
    keys = make_keys()
    short = await keys.create(
        ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"], expires_in_days=1
    )
    await keys.verify(short.key)
    fake_clock.advance(86400)
    with pytest.raises(TokenExpiredError):
        await keys.verify(short.key)
    old = await keys.create(ADMIN, tenant_id="acme", name="deploy", permissions=["workflow:read"])
    new = await keys.rotate(ADMIN, "acme", old.record.key_id, overlap_seconds=3600)
    assert new.record.replaces == old.record.key_id
    assert new.record.name == "deploy"
    await keys.verify(old.key)  # still inside the overlap
    await keys.verify(new.key)
    fake_clock.advance(3600)
    with pytest.raises(TokenExpiredError):
        await keys.verify(old.key)
    await keys.verify(new.key)


async def test_last_use_is_recorded_once_per_resolution(
    make_keys: KeyServices, fake_clock: FakeClock
) -> None:
    keys = make_keys()
    created = await keys.create(ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"])
    assert (await keys.get("acme", created.record.key_id)).last_used_at is None
    await keys.verify(created.key)
    first = (await keys.get("acme", created.record.key_id)).last_used_at
    assert first == fake_clock.time()
    fake_clock.advance(keys.last_used_resolution)
    await keys.verify(created.key)
    assert (await keys.get("acme", created.record.key_id)).last_used_at == fake_clock.time()


async def test_another_tenant_cannot_see_or_revoke_a_key(make_keys: KeyServices) -> None:
    keys = make_keys()
    created = await keys.create(ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"])
    assert await keys.list("globex") == []
    with pytest.raises(ApiKeyNotFoundError):
        await keys.revoke(GLOBEX_ADMIN, "globex", created.record.key_id)
    await keys.verify(created.key)


async def test_revocation_reaches_another_process_within_a_second(
    make_keys: KeyServices, fake_clock: FakeClock
) -> None:
    here = make_keys()
    there = make_keys(own_connection=True)
    created = await here.create(ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"])
    await there.verify(created.key)  # cached there now
    await here.revoke(ADMIN, "acme", created.record.key_id)
    with pytest.raises(TokenRevokedError):
        await here.verify(created.key)
    fake_clock.advance(there.gate.interval)
    with pytest.raises(TokenRevokedError):
        await there.verify(created.key)


async def test_revocation_reaches_every_process_within_a_second(
    redis_url: str, key_prefix: str, fake_clock: FakeClock
) -> None:
    keys = ApiKeyService(create_api_key_store(redis_url, key_prefix=key_prefix), clock=fake_clock)
    try:
        created = await keys.create(
            ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"]
        )
        loop = asyncio.get_running_loop()

        def revoke() -> None:
            revocation = keys.revoke(ADMIN, "acme", created.record.key_id)
            asyncio.run_coroutine_threadsafe(revocation, loop).result(timeout=10)

        lines = await asyncio.to_thread(_drive_workers, redis_url, key_prefix, created.key, revoke)
    finally:
        await keys.aclose()
    assert lines["before"] == [f"ok apikey:{created.record.key_id}"] * 3
    assert lines["after"] == ["TokenRevokedError"] * 3


def _drive_workers(
    url: str, prefix: str, key: str, revoke: Callable[[], None]
) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    workers = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_api_key_worker.py")), url, prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(3)
    ]

    def ask(line: str) -> list[str]:
        answers = []
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(line + "\n")
            worker.stdin.flush()
        for worker in workers:
            assert worker.stdout is not None
            answers.append(worker.stdout.readline().strip())
        return answers

    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        before = ask(f"verify {key}")
        revoke()
        ask("advance 1.0")
        after = ask(f"verify {key}")
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(timeout=10)
        return {"before": before, "after": after}
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


async def test_verify_credential_tells_keys_from_tokens(
    make_keys: KeyServices, fake_clock: FakeClock
) -> None:
    keys = make_keys()
    auth = AuthService(
        keys=KeyRing.from_secret(HMAC_SECRET), clock=fake_clock, credential_verifiers=[keys]
    )
    created = await keys.create(ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"])
    assert (await auth.verify_credential(created.key)).kind == "api_key"
    from relaypoint_core.auth.testing import issue_access_token

    token = await issue_access_token(auth, "u-1", tenant_id="acme", roles=["viewer"])
    assert (await auth.verify_credential(token)).kind == "user"
    with pytest.raises(TokenInvalidError):
        await auth.verify_credential("rpk_garbage")


async def test_the_key_store_on_every_backend_including_a_cluster(
    backend_with_cluster: BackendTarget, fake_clock: FakeClock
) -> None:
    target = backend_with_cluster
    keys = ApiKeyService(
        create_api_key_store(target.url, key_prefix=target.key_prefix, clock=fake_clock),
        clock=fake_clock,
    )
    try:
        created = await keys.create(ADMIN, tenant_id="acme", name="n", permissions=["user:read"])
        assert (await keys.verify(created.key)).tenant_id == "acme"
        assert [r.key_id for r in await keys.list("acme")] == [created.record.key_id]
        epoch = await keys.store.epoch()
        await keys.revoke(ADMIN, "acme", created.record.key_id)
        assert await keys.store.epoch() != epoch
        with pytest.raises(TokenRevokedError):
            await keys.verify(created.key)
        assert (await keys.get("acme", created.record.key_id)).revoked_at == fake_clock.time()
    finally:
        await keys.aclose()


async def test_concurrent_revocations_are_recorded_once(make_keys: KeyServices) -> None:
    audit = InMemoryAuditLog()
    services = [make_keys(own_connection=True, audit=audit) for _ in range(3)]
    created = await services[0].create(
        ADMIN, tenant_id="acme", name="n", permissions=["workflow:read"]
    )
    await asyncio.gather(*(s.revoke(ADMIN, "acme", created.record.key_id) for s in services * 2))
    assert len(audit.find(action=AuditAction.API_KEY_REVOKED)) == 1
