"""The lease engine on its own: expiry, grace, renewal and revocation, with a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.auth import AuthService
from relaypoint_core.errors import BackendUnavailableError, TokenInvalidError
from relaypoint_core.realtime import (
    AccessTokenAuthenticator,
    LeaseState,
    LeaseTracker,
    rooms_of,
)
from relaypoint_core.request_state import Principal
from relaypoint_core.testing import FakeClock
from tests.core.realtime.conftest import make_auth, user


class CountingAuthenticator(AccessTokenAuthenticator):
    """The real access-token authenticator, counting its revocation look-ups."""

    def __init__(self, auth: AuthService) -> None:
        super().__init__(auth)
        self.lookups = 0

    async def is_revoked(self, principal: Principal, credential: str = "") -> bool:
        self.lookups += 1
        return await super().is_revoked(principal, credential)


async def _principal(auth: AuthService, user_id: str, tenant: str = "acme") -> Principal:
    pair = await auth.issue_tokens(user(user_id, tenant))
    return auth.decode_access_token(pair.access_token)


async def test_revocation_is_asked_once_per_credential_not_per_connection() -> None:
    clock = FakeClock()
    auth = make_auth(clock)
    authenticator = CountingAuthenticator(auth)
    tracker = LeaseTracker(clock=clock)
    shared = await _principal(auth, "alice")
    for sid in ("s1", "s2", "s3"):
        tracker.add(sid, shared)
    tracker.add("s4", await _principal(auth, "bob"))
    result = await tracker.revoke_due(authenticator)
    assert authenticator.lookups == 2
    assert result.notices == ()


async def test_a_revoked_family_marks_every_connection_of_it() -> None:
    clock = FakeClock()
    auth = make_auth(clock)
    tracker = LeaseTracker(clock=clock, revocation_grace=1)
    pair = await auth.issue_tokens(user("alice", "acme"))
    principal = auth.decode_access_token(pair.access_token)
    tracker.add("s1", principal)
    tracker.add("s2", principal)
    tracker.add("s3", await _principal(auth, "bob"))
    await auth.logout(pair.refresh_token)
    result = await tracker.revoke_due(AccessTokenAuthenticator(auth))
    assert sorted(n.sid for n in result.notices) == ["s1", "s2"]
    assert {n.state for n in result.notices} == {LeaseState.REVOKED}
    clock.advance(1)
    gone = tracker.expire_due().disconnect
    assert sorted(lease.sid for lease in gone) == ["s1", "s2"]
    assert "s3" in tracker


class UnreachableStore(AccessTokenAuthenticator):
    async def is_revoked(self, principal: Principal, credential: str = "") -> bool:
        raise ConnectionError("store down")


async def test_an_unreachable_revocation_store_keeps_connections_open() -> None:
    clock = FakeClock()
    auth = make_auth(clock)
    tracker = LeaseTracker(clock=clock)
    tracker.add("s1", await _principal(auth, "alice"))
    result = await tracker.revoke_due(UnreachableStore(auth))
    assert result.revocation_check_failed
    assert result.notices == ()
    assert tracker.get("s1") is not None
    assert tracker.get("s1").active  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(
    ttls=st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=8),
    steps=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12),
    grace=st.integers(min_value=0, max_value=30),
)
def test_no_connection_outlives_exp_plus_grace(
    ttls: list[int], steps: list[int], grace: int
) -> None:
    clock = FakeClock()
    tracker = LeaseTracker(clock=clock, expiry_grace=grace)
    for index, ttl in enumerate(ttls):
        auth = make_auth(clock, access_ttl=ttl)
        principal = asyncio.run(_principal(auth, f"u{index}"))
        tracker.add(f"s{index}", principal, rooms=rooms_of(principal))
    for step in steps:
        clock.advance(step)
        tracker.expire_due()
        now = clock.time()
        for lease in tracker.leases():
            assert lease.expires_at is not None
            # After a sweep, an active lease is unexpired and a lease in grace is within it.
            if lease.active:
                assert lease.expires_at > now
            else:
                assert lease.grace_deadline is not None
                assert lease.grace_deadline > now
                assert lease.grace_deadline <= lease.expires_at + grace + max(steps)


def test_renew_puts_a_lease_back_to_active_with_the_new_exp() -> None:
    clock = FakeClock()
    auth = make_auth(clock, access_ttl=10)
    first = asyncio.run(_principal(auth, "alice"))
    tracker = LeaseTracker(clock=clock, expiry_grace=5)
    tracker.add("s1", first)
    clock.advance(11)
    assert [n.event for n in tracker.expire_due().notices] == ["auth.expired"]
    second = asyncio.run(_principal(auth, "alice"))
    lease = tracker.renew("s1", second, rooms=rooms_of(second))
    assert lease is not None
    assert lease.active
    assert lease.expires_at == clock.time() + 10
    clock.advance(6)
    assert tracker.expire_due().disconnect == ()


class StoreDown(AccessTokenAuthenticator):
    async def is_revoked(self, principal: Principal, credential: str = "") -> bool:
        raise BackendUnavailableError("token store down")


async def test_connect_with_the_store_down_is_admitted_on_signature_unless_fail_closed() -> None:
    clock = FakeClock()
    auth = make_auth(clock)
    token = (await auth.issue_tokens(user("alice", "acme"))).access_token
    principal = await StoreDown(auth).authenticate(token)
    assert principal.user_id == "alice"
    with pytest.raises(BackendUnavailableError):
        await StoreDown(auth, fail_open=False).authenticate(token)
    with pytest.raises(TokenInvalidError):
        await StoreDown(auth).authenticate(token + "x")
