"""The verified-token cache answers exactly as a full verification would, and stays bounded.

Each safety property of `relaypoint_core.auth.verified_cache` is checked against a codec or
service with the cache turned off (``cache_size=0``), on the same tokens and the same fake clock.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.auth import (
    AuthService,
    KeyRing,
    SigningKey,
    TokenCodec,
    TokenExpiredError,
    TokenInvalidError,
    TokenRevokedError,
)
from relaypoint_core.auth.verified_cache import VerifiedToken, VerifiedTokenCache
from relaypoint_core.errors import ConfigurationError
from relaypoint_core.testing import FakeClock
from tests.core.auth.conftest import PASSWORD, ServiceFactory

KEY = SigningKey.hmac("c" * 48, kid="hs-cache")
OTHER_KEY = SigningKey.hmac("d" * 48, kid="hs-other")
TTL = 600


def _codec(clock: FakeClock, *, cache_size: int = 4096, keys: KeyRing | None = None) -> TokenCodec:
    return TokenCodec(
        keys or KeyRing([KEY]), issuer="rp", audience="api", clock=clock, cache_size=cache_size
    )


def _outcome(codec: TokenCodec, token: str, token_type: str = "access") -> Any:
    """The claims, or the type and message of the refusal: what a caller can observe."""
    try:
        return codec.decode(token, token_type=token_type)
    except TokenInvalidError as exc:
        return (type(exc), str(exc))


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"


# --- time claims ---------------------------------------------------------------------------------


def test_a_cached_token_expires_exactly_when_an_uncached_one_does() -> None:
    clock = FakeClock()
    cached, uncached = _codec(clock), _codec(clock, cache_size=0)
    token, _ = cached.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    assert _outcome(cached, token) == _outcome(uncached, token)
    assert len(cached.verified_cache) == 1
    clock.advance(TTL + cached.leeway)  # the last instant inside the leeway
    assert cached.decode(token, token_type="access")["sub"] == "u-1"
    clock.advance(0.001)
    with pytest.raises(TokenExpiredError):
        cached.decode(token, token_type="access")
    with pytest.raises(TokenExpiredError):
        uncached.decode(token, token_type="access")


def test_a_changed_leeway_and_a_swapped_clock_apply_to_cached_tokens() -> None:
    clock = FakeClock()
    codec = _codec(clock)
    token, _ = codec.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    codec.decode(token, token_type="access")
    clock.advance(TTL + 5)
    codec.decode(token, token_type="access")  # inside the default 10 s leeway
    codec.leeway = 0.0
    with pytest.raises(TokenExpiredError):
        codec.decode(token, token_type="access")
    codec.leeway = 10.0
    codec.decode(token, token_type="access")  # the cache forgot it; a full verify accepts it
    codec.clock = FakeClock(wall_start=clock.time() + 3600)
    with pytest.raises(TokenExpiredError):
        codec.decode(token, token_type="access")


_steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=TTL / 2, allow_nan=False),
        st.integers(min_value=0, max_value=5),
        st.sampled_from(["access", "refresh"]),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None)
@given(
    offsets=st.lists(st.floats(min_value=-120, max_value=TTL), min_size=1, max_size=4),
    leeway=st.floats(min_value=0, max_value=30),
    steps=_steps,
)
def test_property_cached_and_uncached_decodes_agree_at_every_instant(
    offsets: list[float], leeway: float, steps: list[tuple[float, int, str]]
) -> None:
    """Tokens issued at various times (some in the verifier's future, so not valid yet), some
    tampered, some refresh tokens; the clock moves on: both codecs answer alike every time."""
    clock = FakeClock()
    tokens: list[str] = []
    for offset in offsets:
        issuer = _codec(FakeClock(wall_start=clock.time() + offset))
        token, _ = issuer.encode({"sub": "u-1", "roles": ["a"]}, token_type="access", ttl=TTL)
        refresh, _ = issuer.encode({"sub": "u-1"}, token_type="refresh", ttl=TTL)
        tokens += [token, _tampered(token), refresh]
    cached = _codec(clock)
    uncached = _codec(clock, cache_size=0)
    cached.leeway = uncached.leeway = leeway
    for advance, index, token_type in steps:
        clock.advance(advance)
        token = tokens[index % len(tokens)]
        assert _outcome(cached, token, token_type) == _outcome(uncached, token, token_type)


# --- revocation ----------------------------------------------------------------------------------


async def test_a_revoked_cached_access_token_is_refused_on_the_next_request(
    make_service: ServiceFactory,
) -> None:
    service = make_service(check_access_revocation=True)
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    await service.verify_access_token(pair.access_token)
    await service.verify_access_token(pair.access_token)
    assert len(service.codec.verified_cache) == 1  # the second verify was a cache hit
    await service.logout(pair.refresh_token, access_token=pair.access_token)
    with pytest.raises(TokenRevokedError):
        await service.verify_access_token(pair.access_token)


async def test_logging_out_everywhere_refuses_a_cached_access_token(
    service: AuthService, fake_clock: FakeClock
) -> None:
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    principal = await service.verify_access_token(pair.access_token)
    await service.verify_access_token(pair.access_token)
    assert len(service.codec.verified_cache) == 1
    fake_clock.advance(1)  # iat has one-second resolution (docs/auth.md)
    await service.logout_all(principal)
    with pytest.raises(TokenRevokedError):
        await service.verify_access_token(pair.access_token)


# --- keys, issuer, audience ----------------------------------------------------------------------


async def test_a_retired_keys_cached_tokens_stop_verifying(make_service: ServiceFactory) -> None:
    ring = KeyRing([KEY])
    service = make_service(keys=ring)
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    await service.verify_access_token(pair.access_token)
    rotated = ring.rotated(OTHER_KEY)
    service.rotate_keys(rotated)
    assert (await service.verify_access_token(pair.access_token)).user_id == "u-1"
    service.rotate_keys(rotated.without(KEY.kid))
    with pytest.raises(TokenInvalidError, match="unknown key"):
        await service.verify_access_token(pair.access_token)


def test_a_changed_issuer_or_audience_refuses_cached_tokens() -> None:
    clock = FakeClock()
    codec = _codec(clock)
    token, _ = codec.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    codec.decode(token, token_type="access")
    codec.issuer = "someone-else"
    with pytest.raises(TokenInvalidError, match="issuer"):
        codec.decode(token, token_type="access")
    codec.issuer = "rp"
    codec.decode(token, token_type="access")
    codec.audience = "another-api"
    with pytest.raises(TokenInvalidError, match="audience"):
        codec.decode(token, token_type="access")
    with pytest.raises(ConfigurationError):
        codec.audience = ""


# --- what is cached ------------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_property_strings_that_fail_verification_are_never_cached(junk: str) -> None:
    codec = _codec(FakeClock())
    token, _ = codec.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    for candidate in (junk, _tampered(token), token + junk if junk else token + "x"):
        for _ in range(2):
            with pytest.raises(TokenInvalidError):
                codec.decode(candidate, token_type="access")
    assert len(codec.verified_cache) == 0


def test_a_token_not_valid_yet_is_not_cached_and_verifies_once_it_is() -> None:
    clock = FakeClock()
    ahead = _codec(FakeClock(wall_start=clock.time() + 60))
    token, _ = ahead.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    codec = _codec(clock)
    assert _outcome(codec, token)[0].__name__ == "TokenNotYetValidError"
    assert len(codec.verified_cache) == 0
    clock.advance(60)
    assert codec.decode(token, token_type="access")["sub"] == "u-1"


def test_refresh_tokens_are_not_cached_and_types_are_not_confused() -> None:
    codec = _codec(FakeClock())
    access, _ = codec.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    refresh, _ = codec.encode({"sub": "u-1"}, token_type="refresh", ttl=TTL)
    codec.decode(refresh, token_type="refresh")
    assert len(codec.verified_cache) == 0
    codec.decode(access, token_type="access")
    with pytest.raises(TokenInvalidError, match="expected a refresh token"):
        codec.decode(access, token_type="refresh")


@settings(max_examples=50, deadline=None)
@given(maxsize=st.integers(min_value=0, max_value=6), count=st.integers(min_value=0, max_value=20))
def test_property_the_cache_never_holds_more_than_maxsize(maxsize: int, count: int) -> None:
    clock = FakeClock()
    codec = _codec(clock, cache_size=maxsize)
    tokens = [
        codec.encode({"sub": f"u-{i}"}, token_type="access", ttl=TTL)[0] for i in range(count)
    ]
    for i, token in enumerate(tokens):
        assert codec.decode(token, token_type="access")["sub"] == f"u-{i}"
        assert len(codec.verified_cache) <= maxsize
    for i, token in enumerate(tokens):  # evicted or not, every token still verifies
        assert codec.decode(token, token_type="access")["sub"] == f"u-{i}"
    assert len(codec.verified_cache) == min(maxsize, count)


def test_the_least_recently_used_token_is_evicted_first() -> None:
    cache = VerifiedTokenCache(2)
    entries = {
        name: VerifiedToken("access", {"sub": name, "exp": 1.0}, exp=1.0, nbf=None, iat=None)
        for name in "abc"
    }
    cache.put("a", entries["a"])
    cache.put("b", entries["b"])
    assert cache.get("a") is entries["a"]  # "a" is now the most recently used
    cache.put("c", entries["c"])
    assert cache.get("b") is None
    assert cache.get("a") is entries["a"]
    assert cache.get("c") is entries["c"]


@pytest.mark.parametrize("size", [-1, 1_000_001, True, 2.5, "10"])
def test_a_bad_cache_size_is_a_configuration_error(size: Any) -> None:
    with pytest.raises(ConfigurationError, match="cache size"):
        AuthService(keys=KeyRing([KEY]), verified_token_cache_size=size)


# --- claims are the caller's own -----------------------------------------------------------------


def test_claims_handed_out_cannot_alter_the_next_decode() -> None:
    codec = _codec(FakeClock())
    extra = {"roles": ["viewer"], "ctx": {"teams": ["a", {"deep": ["x"]}]}}
    token, _ = codec.encode({"sub": "u-1", **extra}, token_type="access", ttl=TTL)
    pristine = codec.decode(token, token_type="access")  # the miss: stored, then handed out
    pristine["roles"].append("super_admin")
    for _ in range(2):
        claims = codec.decode(token, token_type="access")
        assert claims["roles"] == ["viewer"]
        assert claims["ctx"] == {"teams": ["a", {"deep": ["x"]}]}
        claims["roles"].append("super_admin")
        claims["ctx"]["teams"][1]["deep"].append("y")
        claims["sub"] = "root"
        del claims["exp"]
    assert len(codec.verified_cache) == 1


async def test_a_principals_claims_cannot_alter_the_next_principal(service: AuthService) -> None:
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    for _ in range(3):  # the miss, then two cache hits
        principal = await service.verify_access_token(pair.access_token)
        assert principal.roles == ("manager",)
        assert principal.claims["roles"] == ["manager"]
        assert principal.tenant_id == principal.claims["tid"] == "acme"
        principal.claims["roles"].append("super_admin")
        principal.claims["tid"] = "globex"


def test_claims_nested_too_deep_verify_but_are_not_cached() -> None:
    codec = _codec(FakeClock())
    deep: Any = "leaf"
    for _ in range(12):
        deep = [deep]
    token, _ = codec.encode({"sub": "u-1", "deep": deep}, token_type="access", ttl=TTL)
    assert codec.decode(token, token_type="access")["deep"] == deep
    assert len(codec.verified_cache) == 0


def test_a_cache_size_of_zero_turns_caching_off() -> None:
    codec = _codec(FakeClock(), cache_size=0)
    token, _ = codec.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    for _ in range(3):
        assert codec.decode(token, token_type="access")["sub"] == "u-1"
    assert len(codec.verified_cache) == 0
    assert codec.verified_cache.maxsize == 0


def test_a_verifier_clock_set_back_refuses_a_cached_token_as_an_uncached_one() -> None:
    clock = FakeClock()
    cached, uncached = _codec(clock), _codec(clock, cache_size=0)
    token, _ = cached.encode({"sub": "u-1"}, token_type="access", ttl=TTL)
    cached.decode(token, token_type="access")
    behind = FakeClock(wall_start=clock.time() - 60)
    cached.clock = uncached.clock = behind
    assert _outcome(cached, token) == _outcome(uncached, token)
    assert _outcome(cached, token)[1] == "token is not valid yet (nbf in the future)"


@pytest.mark.parametrize(
    "roles", [["viewer", 1], "viewer", {"viewer": True}, None, [["viewer"]], [None]]
)
async def test_a_roles_claim_that_is_not_a_list_of_strings_is_refused_every_time(
    roles: Any,
) -> None:
    service = AuthService(keys=KeyRing([KEY]), clock=FakeClock())
    token, _ = service.codec.encode({"sub": "u-1", "roles": roles}, token_type="access", ttl=TTL)
    for _ in range(2):  # the miss, then the cached decode
        with pytest.raises(TokenInvalidError, match="roles claim"):
            service.decode_access_token(token)


async def test_roles_given_as_a_list_of_strings_become_a_tuple() -> None:
    service = AuthService(keys=KeyRing([KEY]), clock=FakeClock())
    token, _ = service.codec.encode(
        {"sub": "u-1", "roles": ["viewer", "manager"]}, token_type="access", ttl=TTL
    )
    assert service.decode_access_token(token).roles == ("viewer", "manager")
    assert service.decode_access_token(token).roles == ("viewer", "manager")
