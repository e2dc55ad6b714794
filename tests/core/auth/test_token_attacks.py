"""Every classic JWT attack is refused with the right error, on memory and real Redis stores."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest

from relaypoint_core.audit import AuditAction, AuditOutcome, InMemoryAuditLog
from relaypoint_core.auth import (
    AuthService,
    KeyRing,
    SigningKey,
    TokenExpiredError,
    TokenInvalidError,
    TokenNotYetValidError,
    TokenReuseError,
    TokenRevokedError,
)
from relaypoint_core.testing import FakeClock
from tests.core.auth.conftest import PASSWORD, ServiceFactory


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload))


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


async def _login(service: AuthService) -> tuple[str, str]:
    pair = await service.login("alice@acme.test", PASSWORD, tenant_id="acme")
    return pair.access_token, pair.refresh_token


async def test_a_genuine_access_token_verifies(service: AuthService) -> None:
    access, _ = await _login(service)
    principal = await service.verify_access_token(access)
    assert principal.user_id == "u-1"
    assert principal.tenant_id == "acme"
    assert principal.roles == ("manager",)


async def test_alg_none_is_refused(service: AuthService) -> None:
    access, _ = await _login(service)
    _, claims = _segments(access)
    header = {"alg": "none", "kid": "ed-1", "typ": "JWT"}
    forged = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
    with pytest.raises(TokenInvalidError):
        await service.verify_access_token(forged)
    # Even with a dummy signature segment the algorithm is refused before any key is used.
    with pytest.raises(TokenInvalidError, match="not allowed"):
        await service.verify_access_token(forged + "c2ln")


async def test_hs256_signed_with_the_public_key_is_refused(
    service: AuthService, ed_key: SigningKey
) -> None:
    access, _ = await _login(service)
    _, claims = _segments(access)
    public_pem = ed_key.public_pem()
    header = {"alg": "HS256", "kid": "ed-1", "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{_b64(signature)}"
    with pytest.raises(TokenInvalidError, match="algorithm"):
        await service.verify_access_token(forged)


async def test_tampered_payload_is_refused(service: AuthService) -> None:
    access, _ = await _login(service)
    header_segment, _, signature = access.split(".")
    _, claims = _segments(access)
    claims["roles"] = ["super_admin"]
    tampered = f"{header_segment}.{_b64(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(TokenInvalidError, match="signature"):
        await service.verify_access_token(tampered)


async def test_tampered_signature_and_garbage_are_refused(service: AuthService) -> None:
    access, _ = await _login(service)
    head, payload, signature = access.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{head}.{payload}.{flipped}", "not-a-token", "a.b", "", "a.b.c.d", "é.é.é"):
        with pytest.raises(TokenInvalidError):
            await service.verify_access_token(bad)


async def test_expired_token_is_refused(service: AuthService, fake_clock: FakeClock) -> None:
    access, _ = await _login(service)
    fake_clock.advance(30 * 60 + service.codec.leeway - 1)
    await service.verify_access_token(access)  # inside the leeway
    fake_clock.advance(2)
    with pytest.raises(TokenExpiredError):
        await service.verify_access_token(access)


async def test_not_yet_valid_token_is_refused(
    make_service: ServiceFactory, fake_clock: FakeClock
) -> None:
    service = make_service()
    fake_clock.advance(3600)
    access, _ = await _login(service)
    # A verifier whose clock is an hour behind sees nbf/iat in the future.
    behind = FakeClock(wall_start=fake_clock.time() - 3600)
    lagging = make_service(keys=service.keys)
    lagging.codec.clock = behind
    with pytest.raises(TokenNotYetValidError):
        await lagging.verify_access_token(access)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("issuer", "someone-else", "issuer"), ("audience", "another-api", "audience")],
)
async def test_wrong_issuer_or_audience_is_refused(
    make_service: ServiceFactory, option: str, value: str, message: str
) -> None:
    issuer_service = make_service(**{option: value})
    access, _ = await _login(issuer_service)
    verifier = make_service(keys=issuer_service.keys)
    with pytest.raises(TokenInvalidError, match=message):
        await verifier.verify_access_token(access)


async def test_unknown_kid_is_refused(make_service: ServiceFactory, hmac_key: SigningKey) -> None:
    signer = make_service(keys=KeyRing([SigningKey.generate_ed25519("ed-unknown")]))
    access, _ = await _login(signer)
    verifier = make_service(keys=KeyRing([hmac_key]))
    with pytest.raises(TokenInvalidError, match="unknown key"):
        await verifier.verify_access_token(access)


async def test_retired_key_is_refused_and_rotation_keeps_old_tokens_valid(
    make_service: ServiceFactory, hmac_key: SigningKey, ed_key: SigningKey
) -> None:
    service = make_service(keys=KeyRing([hmac_key]))
    old_access, _ = await _login(service)
    service.rotate_keys(service.keys.rotated(ed_key))
    new_access, _ = await _login(service)
    assert _segments(new_access)[0]["kid"] == "ed-1"
    assert (await service.verify_access_token(old_access)).user_id == "u-1"
    service.rotate_keys(service.keys.without("hs-1"))
    with pytest.raises(TokenInvalidError, match="unknown key"):
        await service.verify_access_token(old_access)
    assert (await service.verify_access_token(new_access)).user_id == "u-1"


async def test_token_from_an_rsa_key_verifies_and_bare_pyjwt_agrees(
    make_service: ServiceFactory,
) -> None:
    rsa_key = SigningKey.generate_rsa("rsa-1")
    service = make_service(keys=KeyRing([rsa_key]))
    access, _ = await _login(service)
    claims = jwt.decode(
        access,
        rsa_key.public_pem(),
        algorithms=["RS256"],
        audience="relaypoint-api",
        issuer="relaypoint",
        leeway=10**10,
    )
    assert claims["sub"] == "u-1"
    assert (await service.verify_access_token(access)).user_id == "u-1"


async def test_refresh_token_is_not_an_access_token(service: AuthService) -> None:
    _, refresh = await _login(service)
    with pytest.raises(TokenInvalidError, match="access token"):
        await service.verify_access_token(refresh)


async def test_access_token_is_not_a_refresh_token(service: AuthService) -> None:
    access, _ = await _login(service)
    with pytest.raises(TokenInvalidError, match="refresh token"):
        await service.refresh(access)
    with pytest.raises(TokenInvalidError, match="refresh token"):
        await service.logout(access)


async def test_reuse_of_a_rotated_refresh_token_revokes_the_family(
    service: AuthService, audit: InMemoryAuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    _, first = await _login(service)
    second = (await service.refresh(first)).refresh_token
    third = (await service.refresh(second)).refresh_token
    with caplog.at_level("WARNING", logger="relaypoint.auth"), pytest.raises(TokenReuseError):
        await service.refresh(first)  # an attacker replays a stolen, already-rotated token
    assert any("reuse" in r.getMessage() for r in caplog.records)
    [event] = audit.find(action=AuditAction.REFRESH_REUSE)
    assert event.outcome == AuditOutcome.SECURITY_EVENT
    assert (event.actor, event.tenant_id) == ("u-1", "acme")
    # The legitimate holder's newest token is now dead too, and so is every later attempt.
    with pytest.raises(TokenRevokedError):
        await service.refresh(third)
    with pytest.raises(TokenRevokedError):
        await service.refresh(second)


async def test_other_families_survive_a_reuse(service: AuthService, fake_clock: FakeClock) -> None:
    _, stolen = await _login(service)
    _, other = await _login(service)
    await service.refresh(stolen)
    fake_clock.advance(service.refresh_grace + 1)
    with pytest.raises(TokenReuseError):
        await service.refresh(stolen)
    assert (await service.refresh(other)).token_type == "bearer"


async def test_logout_revokes_the_family_and_optionally_the_access_token(
    make_service: ServiceFactory,
) -> None:
    service = make_service(check_access_revocation=True)
    access, refresh = await _login(service)
    other_access, _ = await _login(service)
    await service.logout(refresh, access_token=access)
    with pytest.raises(TokenRevokedError):
        await service.refresh(refresh)
    with pytest.raises(TokenRevokedError):
        await service.verify_access_token(access)
    assert (await service.verify_access_token(other_access)).user_id == "u-1"


async def test_revoked_family_also_denies_its_access_tokens_when_checked(
    make_service: ServiceFactory,
) -> None:
    service = make_service(check_access_revocation=True, refresh_grace=0)
    access, refresh = await _login(service)
    await service.refresh(refresh)
    with pytest.raises(TokenReuseError):
        await service.refresh(refresh)
    with pytest.raises(TokenRevokedError):
        await service.verify_access_token(access)


async def test_expired_refresh_token_is_refused(
    service: AuthService, fake_clock: FakeClock
) -> None:
    _, refresh = await _login(service)
    fake_clock.advance(service.refresh_ttl + 3600)
    with pytest.raises(TokenExpiredError):
        await service.refresh(refresh)
