"""Fixtures for auth tests: a key ring with an HMAC and an Ed25519 key, users, and services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from argon2 import PasswordHasher

from relaypoint_core.audit import InMemoryAuditLog
from relaypoint_core.auth import (
    AuthService,
    InMemoryUserDirectory,
    KeyRing,
    SigningKey,
    UserRecord,
    create_token_store,
)
from relaypoint_core.testing import FakeClock
from tests.conftest import BackendTarget

HMAC_SECRET = "k" * 16 + "0123456789abcdefghijklmnopqrstuv"
PASSWORD = "correct horse battery staple"

_ED25519 = SigningKey.generate_ed25519("ed-1")
# Cheap Argon2 parameters keep the suite fast; verification reads them from the hash itself.
_PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)


@pytest.fixture
def hmac_key() -> SigningKey:
    return SigningKey.hmac(HMAC_SECRET, kid="hs-1")


@pytest.fixture
def ed_key() -> SigningKey:
    return _ED25519


@pytest.fixture
def users() -> InMemoryUserDirectory:
    return InMemoryUserDirectory(
        [
            UserRecord("u-1", "alice@acme.test", _PASSWORD_HASH, "acme", ("manager",)),
            UserRecord("u-2", "bob@globex.test", _PASSWORD_HASH, "globex", ("viewer",)),
            UserRecord("u-3", "eve@acme.test", _PASSWORD_HASH, "acme", ("user",), is_active=False),
            UserRecord("root", "root@platform.test", _PASSWORD_HASH, None, ("super_admin",)),
        ]
    )


@pytest.fixture
def audit() -> InMemoryAuditLog:
    return InMemoryAuditLog()


ServiceFactory = Callable[..., AuthService]


@pytest.fixture
async def make_service(
    backend: BackendTarget,
    fake_clock: FakeClock,
    users: InMemoryUserDirectory,
    audit: InMemoryAuditLog,
    hmac_key: SigningKey,
    ed_key: SigningKey,
) -> AsyncIterator[ServiceFactory]:
    """Builds AuthServices on the parametrized backend (memory and real Redis)."""
    made: list[AuthService] = []

    def factory(**options: object) -> AuthService:
        options.setdefault("keys", KeyRing([hmac_key, ed_key], current="ed-1"))
        options.setdefault(
            "store",
            create_token_store(backend.url, key_prefix=backend.key_prefix, clock=fake_clock),
        )
        service = AuthService(
            users=users,
            audit=audit,
            clock=fake_clock,
            **options,  # type: ignore[arg-type]
        )
        made.append(service)
        return service

    yield factory
    closed: set[int] = set()
    for service in made:
        if id(service.store) not in closed:
            closed.add(id(service.store))
            await service.aclose()


@pytest.fixture
def service(make_service: ServiceFactory) -> AuthService:
    return make_service()
