"""AuthService behaviour: login, audit trail, sessions across restarts, atomic rotation, faults."""

from __future__ import annotations

import asyncio

import jwt
import pytest

from relaypoint_core.audit import AuditAction, AuditOutcome, InMemoryAuditLog
from relaypoint_core.auth import (
    AuthService,
    InMemoryUserDirectory,
    InvalidCredentialsError,
    KeyRing,
    RotationOutcome,
    SigningKey,
    TokenPair,
    TokenReuseError,
    TokenRevokedError,
    UserRecord,
    create_token_store,
)
from relaypoint_core.config import load_settings
from relaypoint_core.errors import BackendUnavailableError, ConfigurationError
from relaypoint_core.testing import FakeClock
from tests.conftest import BackendTarget
from tests.core.auth.conftest import HMAC_SECRET, PASSWORD, ServiceFactory
from tests.support.services import RedisServer


async def test_login_success_and_failures_are_audited(
    service: AuthService, audit: InMemoryAuditLog
) -> None:
    pair = await service.login("ALICE@acme.test ", PASSWORD, tenant_id="acme")
    assert pair.to_response()["token_type"] == "bearer"
    for email, password, tenant in (
        ("alice@acme.test", "nope", "acme"),
        ("alice@acme.test", PASSWORD, "globex"),  # right password, wrong tenant
        ("eve@acme.test", PASSWORD, "acme"),  # inactive
        ("ghost@acme.test", PASSWORD, "acme"),
    ):
        with pytest.raises(InvalidCredentialsError, match="invalid email or password"):
            await service.login(email, password, tenant_id=tenant)
    logins = audit.find(action=AuditAction.LOGIN)
    assert [e.outcome for e in logins] == ["success"] + ["failure"] * 4
    assert [e.details.get("reason") for e in logins[1:]] == [
        "bad_password",
        "unknown_user",
        "inactive_user",
        "unknown_user",
    ]
    assert logins[0].actor == "u-1"
    assert logins[0].tenant_id == "acme"


async def test_logout_is_audited(service: AuthService, audit: InMemoryAuditLog) -> None:
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    await service.logout(pair.refresh_token)
    [event] = audit.find(action=AuditAction.LOGOUT)
    assert (event.actor, event.tenant_id, event.outcome) == ("u-1", "acme", AuditOutcome.SUCCESS)


async def test_refresh_picks_up_role_changes_and_deactivation(
    service: AuthService, users: InMemoryUserDirectory
) -> None:
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    alice = await users.get_by_id("u-1")
    assert alice is not None
    users.add(UserRecord("u-1", alice.email, alice.password_hash, "acme", ("tenant_admin",)))
    pair = await service.refresh(pair.refresh_token)
    assert (await service.verify_access_token(pair.access_token)).roles == ("tenant_admin",)
    users.add(UserRecord("u-1", alice.email, alice.password_hash, "acme", (), is_active=False))
    with pytest.raises(TokenRevokedError):
        await service.refresh(pair.refresh_token)


async def test_tokens_are_standard_jwts(service: AuthService, hmac_key: SigningKey) -> None:
    hs_service_keys = KeyRing([hmac_key])
    service.rotate_keys(hs_service_keys)
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    claims = jwt.decode(
        pair.access_token,
        HMAC_SECRET,
        algorithms=["HS256"],
        audience="relaypoint-api",
        issuer="relaypoint",
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    assert claims["typ"] == "access"
    assert claims["tid"] == "acme"
    assert claims["exp"] - claims["iat"] == 1800
    assert jwt.get_unverified_header(pair.access_token)["kid"] == "hs-1"


async def test_sessions_survive_a_restart_on_redis(
    redis_url: str, key_prefix: str, users: InMemoryUserDirectory, fake_clock: FakeClock
) -> None:
    def make_service(keys: KeyRing | None = None) -> AuthService:
        return AuthService(
            keys=keys or KeyRing([SigningKey.generate_ed25519("ed-restart")]),
            users=users,
            store=create_token_store(redis_url, key_prefix=key_prefix, clock=fake_clock),
            audit=InMemoryAuditLog(),
            clock=fake_clock,
        )

    before = make_service()
    first = await before.login("alice@acme.test", PASSWORD, tenant_id="acme")
    second = await before.refresh(first.refresh_token)
    await before.aclose()
    fake_clock.advance(before.refresh_grace + 1)
    after = make_service(keys=before.keys)  # a new process: new client, same Redis
    with pytest.raises(TokenReuseError):
        await after.refresh(first.refresh_token)
    with pytest.raises(TokenRevokedError):
        await after.refresh(second.refresh_token)
    third = await after.login("alice@acme.test", PASSWORD, tenant_id="acme")
    assert isinstance(await after.refresh(third.refresh_token), TokenPair)
    await after.aclose()


async def test_without_grace_concurrent_refreshes_with_the_same_token_cannot_both_succeed(
    make_service: ServiceFactory, backend: BackendTarget
) -> None:
    first = make_service(refresh_grace=0)
    # On Redis: two app instances with their own connections. In memory: one process, one store.
    second = (
        make_service(keys=first.keys, refresh_grace=0)
        if backend.is_redis
        else make_service(store=first.store, refresh_grace=0)
    )
    services = [first, second]
    alice = UserRecord("u-1", "alice@acme.test", None, "acme", ("manager",))
    for _ in range(8):
        pair = await first.issue_tokens(alice)
        results = await asyncio.gather(
            *(s.refresh(pair.refresh_token) for s in services), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, TokenPair)]
        losers = [r for r in results if isinstance(r, TokenReuseError)]
        assert (len(winners), len(losers)) == (1, 1), results
        # The race revoked the family, so even the winner's token is now refused.
        with pytest.raises(TokenRevokedError):
            await services[0].refresh(winners[0].refresh_token)


async def test_store_entries_expire(backend: BackendTarget, fake_clock: FakeClock) -> None:
    store = create_token_store(backend.url, key_prefix=backend.key_prefix, clock=fake_clock)
    try:
        await store.create_family(
            "acme", "fam-1", token_id="t1", ttl=0.2 if backend.is_redis else 60
        )
        await store.revoke_token("acme", "jti-1", ttl=0.2 if backend.is_redis else 60)
        assert await store.is_revoked("acme", "jti-1", None)
        if backend.is_redis:
            await asyncio.sleep(0.4)  # Redis expires by its own clock
        else:
            fake_clock.advance(61)
        assert not await store.is_revoked("acme", "jti-1", None)
        outcome = await store.rotate(
            "acme", "fam-1", presented_token_id="t1", new_token_id="t2", ttl=60
        )
        assert outcome is RotationOutcome.UNKNOWN
    finally:
        await store.aclose()


async def test_families_are_kept_apart_by_tenant(backend_with_cluster: BackendTarget) -> None:
    store = create_token_store(backend_with_cluster.url, key_prefix=backend_with_cluster.key_prefix)
    try:
        await store.create_family("acme", "fam", token_id="a1", ttl=60)
        await store.create_family("globex", "fam", token_id="g1", ttl=60)
        rotate = store.rotate
        assert await rotate("acme", "fam", presented_token_id="a1", new_token_id="a2", ttl=60) is (
            RotationOutcome.ROTATED
        )
        assert await rotate("globex", "fam", presented_token_id="a1", new_token_id="x", ttl=60) is (
            RotationOutcome.REUSED
        )
        assert await rotate("acme", "fam", presented_token_id="a2", new_token_id="a3", ttl=60) is (
            RotationOutcome.ROTATED
        )
        assert await store.is_revoked("globex", "any", "fam")
        assert not await store.is_revoked("acme", "any", "fam")
        assert await store.revoke_family("acme", "fam")
        assert not await store.revoke_family("initech", "fam")
        assert await rotate("acme", "fam", presented_token_id="a3", new_token_id="a4", ttl=60) is (
            RotationOutcome.REVOKED
        )
    finally:
        await store.aclose()


async def test_dead_redis_fails_refresh_closed_but_access_tokens_still_verify(
    redis_server: RedisServer,
    users: InMemoryUserDirectory,
    hmac_key: SigningKey,
    fake_clock: FakeClock,
) -> None:
    service = AuthService(
        keys=KeyRing([hmac_key]),
        users=users,
        store=create_token_store(redis_server.url, key_prefix="rptauthfault:", clock=fake_clock),
        audit=InMemoryAuditLog(),
        clock=fake_clock,
    )
    try:
        pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
        redis_server.kill()
        with pytest.raises(BackendUnavailableError, match="unavailable"):
            await service.refresh(pair.refresh_token)
        assert (await service.verify_access_token(pair.access_token)).user_id == "u-1"
        redis_server.start()
        fake_clock.advance(2.5)  # the failures opened the store's circuit: let it half-open
        # This test server keeps nothing across a crash, so the session is gone: refused, not lost.
        with pytest.raises(TokenRevokedError):
            await service.refresh(pair.refresh_token)
        fresh = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
        assert isinstance(await service.refresh(fresh.refresh_token), TokenPair)
    finally:
        await service.aclose()


def test_from_settings_uses_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        SECRET_KEY="Zq8#vN2!pL5@xR9$wT3%kM7^bH1&cJ6*",
        ENVIRONMENT="production",
        ACCESS_TOKEN_EXPIRE_MINUTES=15,
        JWT_ISSUER="acme-idp",
    )
    service = AuthService.from_settings(settings, users=InMemoryUserDirectory())
    assert service.access_ttl == 900
    assert service.codec.issuer == "acme-idp"
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        AuthService.from_settings(load_settings(ENVIRONMENT="test"))


def test_key_configuration_errors_are_clear() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        SigningKey.hmac("short")
    with pytest.raises(ConfigurationError, match="not allowed"):
        SigningKey("k", "none", b"x" * 32, b"x" * 32)
    with pytest.raises(ConfigurationError, match="not a valid"):
        SigningKey("k", "EdDSA", None, b"not a key")
    ed = SigningKey.generate_ed25519("ed")
    verify_only = SigningKey.from_pem("ed-pub", "EdDSA", public_pem=ed.public_pem())
    with pytest.raises(ConfigurationError, match="verify-only"):
        KeyRing([verify_only], current="ed-pub")
    with pytest.raises(ConfigurationError, match="verify-only"):
        _ = KeyRing([verify_only]).current
    ring = KeyRing([ed, verify_only], current="ed")
    with pytest.raises(ConfigurationError, match="current signing key"):
        ring.without("ed")
    with pytest.raises(ConfigurationError, match="share the kid"):
        KeyRing([ed, ed])
    with pytest.raises(ConfigurationError, match="refresh_ttl"):
        AuthService(keys=ring, access_ttl=3600, refresh_ttl=60)


async def test_dead_redis_opens_the_circuit_and_recovers(
    redis_server: RedisServer, fake_clock: FakeClock
) -> None:
    store = create_token_store(redis_server.url, key_prefix="rptauthcircuit:", clock=fake_clock)
    try:
        await store.create_family("acme", "fam", token_id="t1", ttl=60)
        redis_server.kill()
        for _ in range(3):
            with pytest.raises(BackendUnavailableError, match=r"ConnectionError|TimeoutError"):
                await store.is_revoked("acme", "x", "fam")
        # Open: later calls fail at once, without touching the network.
        with pytest.raises(BackendUnavailableError, match="circuit open"):
            await store.revoke_family("acme", "fam")
        redis_server.start()
        with pytest.raises(BackendUnavailableError, match="circuit open"):
            await store.is_revoked("acme", "x", "fam")
        fake_clock.advance(5)
        assert not await store.is_revoked("acme", "x", "fam")  # the probe succeeds: closed again
        await store.create_family("acme", "fam", token_id="t1", ttl=60)
        assert await store.revoke_family("acme", "fam")
    finally:
        await store.aclose()
