"""JSON Web Keys: publishing a ring's public keys (RFC 7517, RFC 8037 for Ed25519) and reading
another issuer's JWK Set into a verify-only ring.

Only public members are ever written: ``kty``, ``kid``, ``use``, ``alg`` and the key's public
parameters (``crv``/``x`` for OKP, ``n``/``e`` for RSA, ``crv``/``x``/``y`` for EC). HMAC keys are
shared secrets and never leave the process. `jwks_document` adds what an HTTP endpoint needs: the
canonical bytes, a strong ``ETag`` and ``Cache-Control``, so verifiers can cache the set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from relaypoint_core.errors import ConfigurationError

if TYPE_CHECKING:
    from relaypoint_core.auth.keys import KeyRing, SigningKey

__all__ = [
    "DEFAULT_JWKS_MAX_AGE",
    "JwksDocument",
    "jwks_document",
    "key_from_jwk",
    "key_to_jwk",
    "keys_from_jwks",
    "public_jwks",
]

# Verifiers refetch at most this often; a rotation publishes the new key at least this long
# before it starts signing (see docs/auth.md, "Key rotation drill").
DEFAULT_JWKS_MAX_AGE = 300
_PUBLIC_MEMBERS = {
    "OKP": ("crv", "x"),
    "RSA": ("n", "e"),
    "EC": ("crv", "x", "y"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_DEFAULT_ALG = {"OKP": "EdDSA", "RSA": "RS256"}
_EC_ALG = {"P-256": "ES256"}


def _impl_for(kty: str) -> Any:
    if kty == "OKP":
        return OKPAlgorithm
    if kty == "RSA":
        return RSAAlgorithm
    if kty == "EC":
        return ECAlgorithm
    raise ConfigurationError(f"JWK key type {kty!r} is not supported (OKP, RSA or EC)")


def key_to_jwk(key: SigningKey) -> dict[str, Any]:
    """The public JWK of an asymmetric key.

    Args:
        key: an asymmetric `SigningKey` (its private half, if any, is not used).

    Returns:
        A dict with ``kty``, ``kid``, ``use: "sig"``, ``alg`` and the public parameters.

    Raises:
        ConfigurationError: ``key`` is an HMAC key.
    """
    if key.is_symmetric:
        raise ConfigurationError(f"HMAC key {key.kid!r} is a shared secret and is never published")
    impl = _impl_for({"EdDSA": "OKP", "ES256": "EC"}.get(key.algorithm, "RSA"))
    raw: dict[str, Any] = impl.to_jwk(key.public, as_dict=True)
    kty = str(raw["kty"])
    jwk: dict[str, Any] = {"kty": kty, "kid": key.kid, "use": "sig", "alg": key.algorithm}
    for member in _PUBLIC_MEMBERS[kty]:
        jwk[member] = raw[member]
    return jwk


def key_from_jwk(jwk: Mapping[str, Any]) -> SigningKey:
    """A verify-only `SigningKey` from one public JWK.

    Args:
        jwk: a JWK with ``kid`` and the public members of its ``kty``; ``alg`` defaults to
            ``EdDSA`` for OKP, ``RS256`` for RSA and ``ES256`` for EC P-256.

    Returns:
        A key that verifies and never signs, even if the JWK carried private members.

    Raises:
        ConfigurationError: the JWK lacks a ``kid``, is symmetric, or cannot be read.
    """
    from relaypoint_core.auth.keys import SigningKey

    kty = jwk.get("kty")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ConfigurationError("a JWK without a kid cannot be matched to tokens")
    if kty == "oct":
        raise ConfigurationError(f"JWK {kid!r} is a symmetric key; only public keys are accepted")
    if not isinstance(kty, str):
        raise ConfigurationError(f"JWK {kid!r} has no kty")
    impl = _impl_for(kty)
    public_only = {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}
    default_alg = _EC_ALG.get(str(jwk.get("crv")), "ES256") if kty == "EC" else _DEFAULT_ALG[kty]
    algorithm = jwk.get("alg", default_alg)
    try:
        public = impl.from_jwk(public_only)
    except (InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise ConfigurationError(f"JWK {kid!r} cannot be read: {exc}") from exc
    return SigningKey(kid, str(algorithm), None, public)


def keys_from_jwks(jwks: Mapping[str, Any]) -> list[SigningKey]:
    """Every signature key of a JWK Set (keys whose ``use`` is not ``sig`` are skipped).

    Raises:
        ConfigurationError: the set has no usable key.
    """
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ConfigurationError("a JWK Set needs a 'keys' list")
    keys = [
        key_from_jwk(e) for e in entries if isinstance(e, Mapping) and e.get("use", "sig") == "sig"
    ]
    if not keys:
        raise ConfigurationError("the JWK Set has no signature key")
    return keys


def public_jwks(ring: KeyRing) -> dict[str, Any]:
    """The JWK Set of every asymmetric key in ``ring``, the current signer first."""
    ordered = sorted(ring.keys(), key=lambda k: 0 if ring.can_sign and k is ring.current else 1)
    return {"keys": [key_to_jwk(k) for k in ordered if not k.is_symmetric]}


@dataclass(frozen=True, slots=True)
class JwksDocument:
    """A JWK Set ready to serve: body bytes and the caching headers that go with them."""

    body: bytes
    etag: str
    headers: Mapping[str, str]

    def not_modified(self, if_none_match: str | None) -> bool:
        """Whether a request's ``If-None-Match`` already names this version (answer 304)."""
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return self.etag in tags or "*" in tags


def jwks_document(ring: KeyRing, *, max_age: int = DEFAULT_JWKS_MAX_AGE) -> JwksDocument:
    """The ring's public JWK Set as bytes with ``ETag`` and ``Cache-Control`` headers.

    Args:
        ring: the issuer's key ring.
        max_age: seconds a verifier may reuse the set without asking again.

    Returns:
        The document; serve ``body`` as ``application/jwk-set+json`` with ``headers``.
    """
    body = json.dumps(public_jwks(ring), separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={int(max_age)}, stale-while-revalidate={int(max_age)}",
        "ETag": etag,
    }
    return JwksDocument(body, etag, headers)
