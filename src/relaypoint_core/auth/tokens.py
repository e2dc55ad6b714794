"""Encoding and verifying RelayPoint JWTs.

Verification is written out here instead of calling ``jwt.decode`` because the hot path can then
skip work that is the same for every token: the header segment of a key's tokens never changes,
so its parsing, the allow-list check and the key lookup are cached per distinct header. The
signature is checked with pyjwt's algorithm implementation and a key prepared once.
Claims checked on every token: ``typ``, ``iss``, ``aud``, ``exp``, ``nbf``, ``iat`` (with a small
leeway), and the presence and types of ``sub``, ``jti`` and ``tid``.

Access tokens that verified are kept in a bounded `VerifiedTokenCache` keyed by the token string:
a repeat presentation only has its time claims checked again (against the clock, every time).
The cache is replaced whenever the key ring, issuer or audience changes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from relaypoint_core.auth.errors import (
    TokenExpiredError,
    TokenInvalidError,
    TokenNotYetValidError,
)
from relaypoint_core.auth.keys import ALLOWED_ALGORITHMS, KeyRing, SigningKey
from relaypoint_core.auth.verified_cache import (
    DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
    VerifiedToken,
    VerifiedTokenCache,
)
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.errors import ConfigurationError

__all__ = ["ACCESS", "REFRESH", "TokenCodec", "new_token_id"]

ACCESS = "access"
REFRESH = "refresh"
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_HEADER_CACHE_LIMIT = 64
_MAX_TOKEN_LENGTH = 8192
# A real header ({"alg","kid","typ"}) is about 100 characters; anything far longer is an attack.
_MAX_HEADER_SEGMENT = 1024
_MAX_KID_LENGTH = 256
# Identity claims end up in rate-limit keys, cache scopes and log lines: bound them here, once.
_MAX_IDENTITY_CLAIM = 256


_NUMBER = (int, float)  # a tuple, not ``int | float``: that builds a new union on every call


def _is_time(value: object) -> TypeGuard[float]:
    # json.loads accepts NaN and Infinity: a NaN exp would compare as "never expired".
    return isinstance(value, _NUMBER) and not isinstance(value, bool) and math.isfinite(value)


def new_token_id() -> str:
    return uuid.uuid4().hex


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def _json_object(segment: str, part: str) -> dict[str, Any]:
    """The JSON object in a base64url token segment (``part`` names it in the error)."""
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise TokenInvalidError(f"token {part} is not valid base64url JSON") from exc
    if not isinstance(value, dict):
        raise TokenInvalidError(f"token {part} is not a JSON object")
    return value


def _validated_header(header: Mapping[str, Any]) -> tuple[str, str]:
    """The ``(alg, kid)`` of a parsed token header, or `TokenInvalidError`.

    Every check is a type check before a value check, so that a hostile header (a list as ``alg``,
    a number as ``kid``, a 10 KB ``kid``) is refused as an invalid token and never reaches a set
    lookup or a dict key that would raise ``TypeError``.
    """
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise TokenInvalidError("token algorithm is not allowed")
    if "crit" in header:
        raise TokenInvalidError("token header declares critical extensions we do not support")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_LENGTH:
        raise TokenInvalidError("token header has no usable kid")
    return alg, kid


def _is_identity(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= _MAX_IDENTITY_CLAIM and value.isprintable()


@dataclass(frozen=True, slots=True)
class _Header:
    key: SigningKey


class TokenCodec:
    """Signs claims into compact JWTs and verifies them against a `KeyRing`.

    Args:
        keys: The ring whose current key signs and whose keys verify.
        issuer: The ``iss`` claim written and required.
        audience: The ``aud`` claim written and required.
        leeway: Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat`` (0 to 300).
        clock: The clock the time claims are checked against.
        cache_size: How many verified access tokens to remember (``0``: none); see
            `relaypoint_core.auth.verified_cache`.
    """

    __slots__ = ("_audience", "_headers", "_issuer", "_keys", "_verified", "clock", "leeway")

    def __init__(
        self,
        keys: KeyRing,
        *,
        issuer: str,
        audience: str,
        leeway: float = 10.0,
        clock: Clock = system_clock,
        cache_size: int = DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
    ) -> None:
        if not issuer or not audience:
            raise ConfigurationError("tokens need a non-empty issuer and audience")
        if not 0 <= leeway <= 300:
            raise ConfigurationError("token leeway must be between 0 and 300 seconds")
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self.leeway = float(leeway)
        self.clock = clock
        self._headers: dict[str, _Header] = {}
        self._verified = VerifiedTokenCache(cache_size)

    def _forget_verified(self) -> None:
        # A new object rather than clear(): a verification that started before the change and
        # finishes after it stores its result in the old cache, which nobody reads any more.
        self._headers = {}
        self._verified = VerifiedTokenCache(self._verified.maxsize)

    @property
    def keys(self) -> KeyRing:
        return self._keys

    @keys.setter
    def keys(self, ring: KeyRing) -> None:
        """Swap the key ring (rotation at run time); cached headers and verified tokens are
        dropped, so tokens of a retired key are refused from the next decode."""
        self._keys = ring
        self._forget_verified()

    @property
    def issuer(self) -> str:
        return self._issuer

    @issuer.setter
    def issuer(self, value: str) -> None:
        if not value:
            raise ConfigurationError("tokens need a non-empty issuer and audience")
        self._issuer = value
        self._forget_verified()

    @property
    def audience(self) -> str:
        return self._audience

    @audience.setter
    def audience(self, value: str) -> None:
        if not value:
            raise ConfigurationError("tokens need a non-empty issuer and audience")
        self._audience = value
        self._forget_verified()

    @property
    def verified_cache(self) -> VerifiedTokenCache:
        """The cache of verified access tokens (its ``len`` and ``maxsize``, or to ``clear`` it)."""
        return self._verified

    # --- encoding -------------------------------------------------------------------------------

    def encode(
        self, claims: Mapping[str, Any], *, token_type: str, ttl: float
    ) -> tuple[str, dict[str, Any]]:
        """Sign ``claims`` as a ``token_type`` token valid for ``ttl`` seconds from now."""
        key = self._keys.current
        now = int(self.clock.time())
        payload: dict[str, Any] = {
            **claims,
            "typ": token_type,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl),
        }
        payload.setdefault("jti", new_token_id())
        header = {"alg": key.algorithm, "kid": key.kid, "typ": "JWT"}
        signing_input = f"{_b64encode(_json(header))}.{_b64encode(_json(payload))}"
        signature = key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{_b64encode(signature)}", payload

    # --- verification ---------------------------------------------------------------------------

    def _resolve_header(self, segment: str) -> _Header:
        cached = self._headers.get(segment)
        if cached is not None:
            return cached
        if len(segment) > _MAX_HEADER_SEGMENT:
            raise TokenInvalidError("token header is too long")
        alg, kid = _validated_header(_json_object(segment, "header"))
        key = self._keys.get(kid)
        if key is None:
            raise TokenInvalidError("token was signed with an unknown key (retired?)")
        if not key.accepts(alg):
            raise TokenInvalidError(f"token claims algorithm {alg} but its key is {key.algorithm}")
        resolved = _Header(key)
        if len(self._headers) >= _HEADER_CACHE_LIMIT:
            self._headers.clear()
        self._headers[segment] = resolved
        return resolved

    def decode(self, token: str, *, token_type: str) -> dict[str, Any]:
        """Verify ``token`` and return its claims, or raise a `TokenInvalidError` subclass.

        The claims are the caller's own copy. An access token verified before is answered from
        the verified-token cache after its time claims are checked again.
        """
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
            raise TokenInvalidError("token is not a string of reasonable length")
        if token_type != ACCESS:
            return self._verify(token, token_type)
        cache = self._verified
        entry = cache.get(token)
        if entry is None or entry.token_type != token_type:
            claims = self._verify(token, token_type)
            verified = VerifiedToken.of(token_type, claims)
            if verified is not None:
                cache.put(token, verified)
            return claims
        # The time claims of a cached token, checked as `_check_times` does, minus the type checks
        # that its first verification passed: same clock, same leeway, same errors.
        now = self.clock.time()
        leeway = self.leeway
        if now > entry.exp + leeway:
            cache.discard(token)
            raise TokenExpiredError(f"{token_type} token expired")
        if entry.nbf is not None and now + leeway < entry.nbf:
            raise TokenNotYetValidError("token is not valid yet (nbf in the future)")
        if entry.iat is not None and now + leeway < entry.iat:
            raise TokenNotYetValidError("token was issued in the future (iat)")
        return entry.claims()

    def _verify(self, token: str, token_type: str) -> dict[str, Any]:
        """The full verification: shape, header, signature, JSON and every claim."""
        if _TOKEN_SHAPE.fullmatch(token) is None:
            raise TokenInvalidError("token is not a signed compact JWT (header.payload.signature)")
        header_segment, payload_segment, signature_segment = token.split(".")
        header = self._resolve_header(header_segment)
        signing_input = token[: len(header_segment) + len(payload_segment) + 1].encode("ascii")
        try:
            signature = _b64decode(signature_segment)
        except (ValueError, binascii.Error) as exc:
            raise TokenInvalidError("token signature is not valid base64url") from exc
        if not header.key.verify(signing_input, signature):
            raise TokenInvalidError("token signature does not verify")
        claims = _json_object(payload_segment, "payload")
        self._check_claims(claims, token_type)
        return claims

    def _check_claims(self, claims: dict[str, Any], token_type: str) -> None:
        typ = claims.get("typ")
        if typ != token_type:
            raise TokenInvalidError(f"expected a {token_type} token, got {typ!r}")
        if claims.get("iss") != self.issuer:
            raise TokenInvalidError("token issuer is not accepted")
        aud = claims.get("aud")
        if aud != self.audience and not (isinstance(aud, list) and self.audience in aud):
            raise TokenInvalidError("token audience is not accepted")
        self._check_times(claims.get("exp"), claims.get("nbf"), claims.get("iat"), token_type)
        if not _is_identity(claims.get("sub")) or not _is_identity(claims.get("jti")):
            raise TokenInvalidError("token lacks a usable sub or jti")
        tid = claims.get("tid")
        if tid is not None and not _is_identity(tid):
            raise TokenInvalidError("token tenant claim is not a usable string")

    def _check_times(self, exp: object, nbf: object, iat: object, token_type: str) -> None:
        """``exp``, ``nbf`` and ``iat`` against the clock, with the leeway (on every decode)."""
        now = self.clock.time()
        if not _is_time(exp):
            raise TokenInvalidError("token has no numeric exp")
        if now > exp + self.leeway:
            raise TokenExpiredError(f"{token_type} token expired")
        if nbf is not None:
            if not _is_time(nbf):
                raise TokenInvalidError("token nbf is not numeric")
            if now + self.leeway < nbf:
                raise TokenNotYetValidError("token is not valid yet (nbf in the future)")
        if iat is not None:
            if not _is_time(iat):
                raise TokenInvalidError("token iat is not numeric")
            if now + self.leeway < iat:
                raise TokenNotYetValidError("token was issued in the future (iat)")
