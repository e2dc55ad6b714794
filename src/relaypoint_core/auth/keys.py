"""Signing keys and the key ring that makes ``kid``-based rotation possible.

A `KeyRing` holds several keys at once: the *current* one signs new tokens, every key in the
ring verifies the tokens that name its ``kid``. Rotating is adding a new key as current and keeping
the old one until the tokens it signed have expired, then retiring it. A ring of public keys only
(e.g. built from a published JWKS) is *verify-only*: a resource server verifies and never signs. Each key is bound to exactly
one algorithm, so a token cannot pick a different algorithm for a known key (the classic "HS256
signed with the RSA public key" confusion).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError

from relaypoint_core.errors import ConfigurationError

__all__ = [
    "ALGORITHM_ALIASES",
    "ALLOWED_ALGORITHMS",
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "KeyRing",
    "SigningKey",
    "canonical_algorithm",
]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# RFC 9864 names Ed25519 signatures "Ed25519"; RFC 8037's polymorphic "EdDSA" is what most
# libraries still emit. Both name the same Ed25519 key, so a key accepts either in a header.
ALGORITHM_ALIASES: Mapping[str, str] = {"Ed25519": "EdDSA"}
ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "Ed25519", "RS256", "RS384", "RS512", "ES256", "PS256"})
# The explicit allow-list: "none" and anything else is refused before a key is even looked up.
ALLOWED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS


def canonical_algorithm(algorithm: str) -> str:
    """The one name a key is bound to for ``algorithm`` (``"Ed25519"`` becomes ``"EdDSA"``)."""
    return ALGORITHM_ALIASES.get(algorithm, algorithm)


MIN_HMAC_SECRET_BYTES = 32

_ALGORITHMS: Mapping[str, Any] = get_default_algorithms()


@dataclass(frozen=True, slots=True, eq=False)
class SigningKey:
    """One key bound to one algorithm. ``private`` is ``None`` for a verify-only key."""

    kid: str
    algorithm: str
    private: Any = field(repr=False)
    public: Any = field(repr=False)
    # pyjwt's algorithm object and the key prepared for it once (decoding PEMs is not free).
    _impl: Any = field(init=False, repr=False)
    _prepared_private: Any = field(init=False, repr=False)
    _prepared_public: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.kid or not isinstance(self.kid, str):
            raise ConfigurationError("a signing key needs a non-empty string kid")
        if self.algorithm not in ALLOWED_ALGORITHMS:
            raise ConfigurationError(
                f"algorithm {self.algorithm!r} is not allowed; use one of "
                + ", ".join(sorted(ALLOWED_ALGORITHMS))
            )
        if self.public is None:
            raise ConfigurationError(f"key {self.kid!r}: a verification key is required")
        object.__setattr__(self, "algorithm", canonical_algorithm(self.algorithm))
        impl = _ALGORITHMS[self.algorithm]
        try:
            prepared_public = impl.prepare_key(self.public)
            prepared_private = None if self.private is None else impl.prepare_key(self.private)
        except (InvalidKeyError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"key {self.kid!r} is not a valid {self.algorithm} key: {exc}"
            ) from exc
        object.__setattr__(self, "_impl", impl)
        object.__setattr__(self, "_prepared_public", prepared_public)
        object.__setattr__(self, "_prepared_private", prepared_private)

    # --- constructors ---------------------------------------------------------------------------

    @classmethod
    def hmac(
        cls, secret: str | bytes, *, kid: str | None = None, algorithm: str = "HS256"
    ) -> SigningKey:
        """A shared-secret key (at least 32 bytes); ``kid`` defaults to a digest of the secret."""
        if algorithm not in HMAC_ALGORITHMS:
            raise ConfigurationError(f"{algorithm!r} is not an HMAC algorithm")
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(raw) < MIN_HMAC_SECRET_BYTES:
            raise ConfigurationError(
                f"an HMAC secret needs at least {MIN_HMAC_SECRET_BYTES} bytes; generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        kid = kid or "hs-" + hashlib.sha256(b"relaypoint-kid:" + raw).hexdigest()[:12]
        return cls(kid, algorithm, raw, raw)

    @classmethod
    def generate_ed25519(cls, kid: str) -> SigningKey:
        """A fresh Ed25519 key pair (algorithm ``EdDSA``)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        private = Ed25519PrivateKey.generate()
        return cls(kid, "EdDSA", private, private.public_key())

    @classmethod
    def generate_rsa(cls, kid: str, *, bits: int = 2048) -> SigningKey:
        """A fresh RSA key pair (algorithm ``RS256``)."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return cls(kid, "RS256", private, private.public_key())

    @classmethod
    def from_pem(
        cls,
        kid: str,
        algorithm: str,
        *,
        private_pem: bytes | str | None = None,
        public_pem: bytes | str | None = None,
    ) -> SigningKey:
        """An asymmetric key from PEM text; give only ``public_pem`` for a verify-only key."""
        from cryptography.hazmat.primitives import serialization

        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(f"{algorithm!r} is not an asymmetric algorithm")
        private: Any = None
        public: Any = None
        try:
            if private_pem is not None:
                data = private_pem.encode() if isinstance(private_pem, str) else private_pem
                private = serialization.load_pem_private_key(data, password=None)
                public = private.public_key()
            if public_pem is not None:
                data = public_pem.encode() if isinstance(public_pem, str) else public_pem
                public = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise ConfigurationError(f"key {kid!r}: cannot read PEM: {exc}") from exc
        if public is None:
            raise ConfigurationError(f"key {kid!r}: give private_pem and/or public_pem")
        return cls(kid, algorithm, private, public)

    # --- use ------------------------------------------------------------------------------------

    @property
    def can_sign(self) -> bool:
        return self._prepared_private is not None

    @property
    def is_symmetric(self) -> bool:
        return self.algorithm in HMAC_ALGORITHMS

    def accepts(self, algorithm: object) -> bool:
        """Whether a token header's ``alg`` names this key's algorithm (aliases included)."""
        return isinstance(algorithm, str) and canonical_algorithm(algorithm) == self.algorithm

    def public_only(self) -> SigningKey:
        """This key without its private half (a verify-only copy); HMAC keys cannot be split."""
        if self.is_symmetric:
            raise ConfigurationError(f"HMAC key {self.kid!r} has no public half to share")
        return SigningKey(self.kid, self.algorithm, None, self.public)

    def public_pem(self) -> bytes:
        """The public key as PEM (asymmetric keys only), e.g. to publish for other verifiers."""
        from cryptography.hazmat.primitives import serialization

        if self.is_symmetric:
            raise ConfigurationError("an HMAC key has no public half")
        pem: bytes = self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def sign(self, message: bytes) -> bytes:
        if self._prepared_private is None:
            raise ConfigurationError(f"key {self.kid!r} is verify-only and cannot sign")
        signature: bytes = self._impl.sign(message, self._prepared_private)
        return signature

    def verify(self, message: bytes, signature: bytes) -> bool:
        return bool(self._impl.verify(message, self._prepared_public, signature))


class KeyRing:
    """The keys that verify tokens, and the one (``current``) that signs new ones.

    Without ``current`` the last key that can sign is current; a ring where no key can sign is
    verify-only (``can_sign`` is False and signing raises `ConfigurationError`).
    """

    __slots__ = ("_current", "_keys")

    def __init__(self, keys: Iterable[SigningKey], *, current: str | None = None) -> None:
        self._keys: dict[str, SigningKey] = {}
        for key in keys:
            if key.kid in self._keys:
                raise ConfigurationError(f"two keys share the kid {key.kid!r}")
            self._keys[key.kid] = key
        if not self._keys:
            raise ConfigurationError("a key ring needs at least one key")
        if current is None:
            signers = [k for k in self._keys.values() if k.can_sign]
            self._current: SigningKey | None = signers[-1] if signers else None
            return
        if current not in self._keys:
            raise ConfigurationError(f"current key {current!r} is not in the ring")
        if not self._keys[current].can_sign:
            raise ConfigurationError(
                f"current key {current!r} is verify-only; leave current unset for a "
                "verify-only ring"
            )
        self._current = self._keys[current]

    @classmethod
    def from_secret(cls, secret: str | bytes, *, kid: str | None = None) -> KeyRing:
        """A ring of one HS256 key, e.g. from the ``SECRET_KEY`` setting."""
        return cls([SigningKey.hmac(secret, kid=kid)])

    @property
    def can_sign(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> SigningKey:
        """The signing key.

        Raises:
            ConfigurationError: the ring is verify-only.
        """
        if self._current is None:
            raise ConfigurationError(
                "this key ring is verify-only (no private key): it verifies tokens but cannot "
                "issue them"
            )
        return self._current

    def keys(self) -> tuple[SigningKey, ...]:
        return tuple(self._keys.values())

    def verify_only(self) -> KeyRing:
        """The asymmetric keys of this ring without private halves, for a resource server."""
        public = [k.public_only() for k in self._keys.values() if not k.is_symmetric]
        if not public:
            raise ConfigurationError("this ring has only HMAC keys; nothing can be shared")
        return KeyRing(public)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def rotated(self, new_key: SigningKey) -> KeyRing:
        """A new ring where ``new_key`` signs and every existing key still verifies."""
        return KeyRing([*self._keys.values(), new_key], current=new_key.kid)

    def staged(self, new_key: SigningKey) -> KeyRing:
        """A new ring that publishes and verifies ``new_key`` while the current key still signs
        (step one of a rotation: verifiers fetch the new key before any token names it)."""
        current = self._current.kid if self._current is not None else None
        return KeyRing([*self._keys.values(), new_key], current=current)

    def without(self, kid: str) -> KeyRing:
        """A new ring with ``kid`` retired: tokens it signed are refused from then on."""
        current = self._current.kid if self._current is not None else None
        if kid == current:
            raise ConfigurationError(f"cannot retire {kid!r} while it is the current signing key")
        return KeyRing([k for k in self._keys.values() if k.kid != kid], current=current)

    def public_jwks(self) -> dict[str, Any]:
        """The ring's public keys as an RFC 7517 JWK Set (HMAC keys are never published)."""
        from relaypoint_core.auth.jwks import public_jwks

        return public_jwks(self)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeyRing:
        """A verify-only ring from a published JWK Set (e.g. another service's
        ``/.well-known/jwks.json``)."""
        from relaypoint_core.auth.jwks import keys_from_jwks

        return cls(keys_from_jwks(jwks))
