"""Interop with jwcrypto, joserfc and authlib: our tokens verify with each of them using only our
published JWKS, and tokens they sign verify with a verify-only ring built from their JWKS."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from typing import Any

import authlib.deprecate
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet, OKPKey, RSAKey
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from relaypoint_core.audit import NullAuditLog
from relaypoint_core.auth import AuthService, KeyRing, SigningKey, UserRecord
from relaypoint_core.auth.jwks import jwks_document
from relaypoint_core.errors import ConfigurationError, TokenInvalidError

# authlib forces its own deprecation warnings to "always"; this test uses authlib.jose on purpose.
warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402

ISSUER = "relaypoint"
AUDIENCE = "relaypoint-api"
ALICE = UserRecord("u-1", "alice@acme.test", None, "acme", ("manager",))
KEYS = {
    "EdDSA": SigningKey.generate_ed25519("ed-interop"),
    "RS256": SigningKey.generate_rsa("rs-interop"),
}


def _published(service: AuthService) -> dict[str, Any]:
    # Through the bytes a verifier downloads, not the Python object.
    document = jwks_document(service.keys)
    published: dict[str, Any] = json.loads(document.body)
    return published


@pytest.fixture(params=sorted(KEYS))
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _our_token(algorithm: str) -> tuple[str, dict[str, Any]]:
    service = AuthService(keys=KeyRing([KEYS[algorithm]]), audit=NullAuditLog())
    token = (await service.issue_tokens(ALICE)).access_token
    return token, _published(service)


async def test_jwcrypto_verifies_our_token_from_the_jwks(algorithm: str) -> None:
    token, jwks = await _our_token(algorithm)
    keyset = jwcrypto_jwk.JWKSet.from_json(json.dumps(jwks))
    verified = jwcrypto_jwt.JWT(jwt=token, key=keyset, algs=[algorithm])
    claims = json.loads(verified.claims)
    assert (claims["sub"], claims["tid"], claims["aud"]) == ("u-1", "acme", AUDIENCE)


async def test_joserfc_verifies_our_token_from_the_jwks(algorithm: str) -> None:
    token, jwks = await _our_token(algorithm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc flags the polymorphic "EdDSA" name (RFC 9864)
        decoded = joserfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[algorithm])
    assert decoded.header["kid"] == KEYS[algorithm].kid
    assert decoded.claims["sub"] == "u-1"


async def test_authlib_verifies_our_token_from_the_jwks(algorithm: str) -> None:
    token, jwks = await _our_token(algorithm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib.jose announces its move to joserfc
        claims = JsonWebToken([algorithm]).decode(token, JsonWebKey.import_key_set(jwks))
        claims.validate()
    assert claims["sub"] == "u-1"


def test_the_jwks_holds_only_public_members_and_never_an_hmac_key() -> None:
    ring = KeyRing(
        [SigningKey.hmac("s" * 40, kid="hs"), KEYS["EdDSA"], KEYS["RS256"]], current="ed-interop"
    )
    jwks = ring.public_jwks()
    assert [k["kid"] for k in jwks["keys"]] == ["ed-interop", "rs-interop"]  # signer first
    okp, rsa = jwks["keys"]
    assert set(okp) == {"kty", "kid", "use", "alg", "crv", "x"}
    assert (okp["kty"], okp["crv"], okp["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert set(rsa) == {"kty", "kid", "use", "alg", "n", "e"}


def _their_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "typ": "access",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "sub": "svc-7",
        "jti": uuid.uuid4().hex,
        "tid": "acme",
        "roles": ["viewer"],
    }


def _verify_only_service(jwks: dict[str, Any]) -> AuthService:
    ring = KeyRing.from_jwks(jwks)
    assert not ring.can_sign
    return AuthService(keys=ring, audit=NullAuditLog(), issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519", "RS256"])
def test_joserfc_tokens_verify_with_a_ring_from_their_jwks(alg: str) -> None:
    key: Any = (
        RSAKey.generate_key(2048, parameters={"kid": "theirs"})
        if alg == "RS256"
        else OKPKey.generate_key("Ed25519", parameters={"kid": "theirs"})
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = joserfc_jwt.encode(
            {"alg": alg, "kid": "theirs"}, _their_claims(), key, algorithms=[alg]
        )
    jwks = {"keys": [{**key.as_dict(private=False), "alg": alg, "use": "sig"}]}
    principal = _verify_only_service(jwks).decode_access_token(token)
    assert (principal.user_id, principal.tenant_id) == ("svc-7", "acme")


def test_jwcrypto_tokens_verify_with_a_ring_from_their_jwks() -> None:
    key = jwcrypto_jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="jwc")
    token = jwcrypto_jwt.JWT(header={"alg": "EdDSA", "kid": "jwc"}, claims=_their_claims())
    token.make_signed_token(key)
    jwks = {"keys": [json.loads(key.export_public())]}
    principal = _verify_only_service(jwks).decode_access_token(token.serialize())
    assert principal.user_id == "svc-7"


def test_authlib_tokens_verify_with_a_ring_from_their_jwks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "al"})
        token = JsonWebToken(["RS256"]).encode({"alg": "RS256", "kid": "al"}, _their_claims(), key)
        jwks = {"keys": [key.as_dict(is_private=False)]}
    principal = _verify_only_service(jwks).decode_access_token(token.decode())
    assert principal.user_id == "svc-7"


def test_a_verify_only_ring_refuses_to_sign_and_never_takes_private_members() -> None:
    private = json.loads(
        jwcrypto_jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="leak").export_private()
    )
    ring = KeyRing.from_jwks({"keys": [private]})
    assert not ring.can_sign
    service = AuthService(keys=ring, audit=NullAuditLog())
    with pytest.raises(ConfigurationError, match="verify-only"):
        service.codec.encode({"sub": "x"}, token_type="access", ttl=60)


async def test_key_rotation_drill() -> None:
    """Publish the new key, switch signing to it, keep the old one verifying, then retire it."""
    old_key = SigningKey.generate_ed25519("2026-01")
    issuer = AuthService(keys=KeyRing([old_key]), audit=NullAuditLog())
    old_token = (await issuer.issue_tokens(ALICE)).access_token
    before = jwks_document(issuer.keys)

    new_key = SigningKey.generate_ed25519("2026-02")
    issuer.rotate_keys(issuer.keys.staged(new_key))
    staged = jwks_document(issuer.keys)
    assert [k["kid"] for k in json.loads(staged.body)["keys"]] == ["2026-01", "2026-02"]
    assert _header_kid((await issuer.issue_tokens(ALICE)).access_token) == "2026-01"
    early_verifier = _verify_only_service(json.loads(staged.body))

    issuer.rotate_keys(KeyRing(issuer.keys.keys(), current="2026-02"))
    published = jwks_document(issuer.keys)
    assert published.etag != before.etag
    assert not published.not_modified(before.etag)
    assert published.not_modified(published.etag)
    assert "max-age=" in published.headers["Cache-Control"]
    new_token = (await issuer.issue_tokens(ALICE)).access_token
    assert json.loads(published.body)["keys"][0]["kid"] == "2026-02"

    assert early_verifier.decode_access_token(new_token).user_id == "u-1"  # fetched at step 1
    verifier = _verify_only_service(json.loads(published.body))
    for token in (old_token, new_token):
        assert verifier.decode_access_token(token).user_id == "u-1"
        assert issuer.decode_access_token(token).user_id == "u-1"

    issuer.rotate_keys(issuer.keys.without("2026-01"))
    verifier = _verify_only_service(json.loads(jwks_document(issuer.keys).body))
    assert verifier.decode_access_token(new_token).user_id == "u-1"
    for service in (issuer, verifier):
        with pytest.raises(TokenInvalidError, match="unknown key"):
            service.decode_access_token(old_token)


def _header_kid(token: str) -> str:
    import base64

    segment = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return str(header["kid"])


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "OKP", "kid": "a", "crv": "Ed25519", "x": "!!"},
        {"kty": "RSA", "kid": "b"},
        {"kty": "OKP", "kid": "c", "crv": "X25519", "x": "AAAA"},
        {"kty": "oct", "kid": "d", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
    ],
)
def test_unusable_jwks_are_refused_with_a_clear_error(jwk: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="JWK"):
        KeyRing.from_jwks({"keys": [jwk]})
