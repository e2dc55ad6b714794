"""A bounded, per-process cache of verified access-token decodes.

The same access token is presented on every request of a session, thousands of times in its
lifetime. `TokenCodec.decode` keeps what a full verification established about a token string
(signature, header, ``typ``, ``iss``, ``aud`` and the identity claims: none of which can change
for the same string while the key ring, issuer and audience stay the same) so that a repeat
presentation skips the base64, JSON and signature work.

What stays per use: the time claims (``exp``, ``nbf``, ``iat``) are checked against the codec's
clock and leeway on every decode, so a cached token stops verifying exactly when it would have
without the cache; and everything a caller does after decoding (the not-before check of "log
out everywhere", revocation lookups) is unchanged. The codec drops the whole cache when its key
ring, issuer or audience changes, so a retired key's tokens are refused from the next request.

Only successful verifications are stored; a string that failed is verified in full again next
time. The cache is a least-recently-used map of at most ``maxsize`` entries (``0`` disables it),
so memory does not grow with the number of distinct tokens. Entries hand out a fresh copy of the
claims each time: no caller can alter what the next request sees.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from relaypoint_core.errors import ConfigurationError

__all__ = ["DEFAULT_VERIFIED_TOKEN_CACHE_SIZE", "VerifiedToken", "VerifiedTokenCache"]

DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 4096
_MAX_CACHE_SIZE = 1_000_000
# Claims nested deeper than this are not cached (copying them would recurse that deep each time).
_MAX_DEPTH = 8


class _TooDeep(Exception):
    pass


def _copy_json(value: Any, depth: int = 0) -> Any:
    """A deep copy of a decoded JSON value (only lists and dicts are mutable in one)."""
    if isinstance(value, list):
        if depth >= _MAX_DEPTH:
            raise _TooDeep
        return [_copy_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            raise _TooDeep
        return {name: _copy_json(item, depth + 1) for name, item in value.items()}
    return value


def _is_flat(value: list[Any] | dict[str, Any]) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return not any(isinstance(item, list | dict) for item in items)


class VerifiedToken:
    """What a full verification of one token string established, kept for its next use.

    Build one with `of`, from claims that passed every check.

    Args:
        token_type: The ``typ`` the token was verified as.
        claims: The verified claims; kept private (a copy), `claims` hands out copies.
        exp: The validated ``exp`` claim.
        nbf: The validated ``nbf`` claim, if present.
        iat: The validated ``iat`` claim, if present.

    Raises:
        ValueError: ``claims`` nest lists or objects more than 8 levels deep.
    """

    __slots__ = ("_claims", "_containers", "exp", "iat", "nbf", "token_type")

    def __init__(
        self,
        token_type: str,
        claims: dict[str, Any],
        *,
        exp: float,
        nbf: float | None,
        iat: float | None,
    ) -> None:
        self.token_type = token_type
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
        try:
            self._claims: dict[str, Any] = _copy_json(claims)
        except _TooDeep:
            raise ValueError("claims nest too deep to cache") from None
        # Which values need copying on each use, and whether a shallow copy suffices for them.
        self._containers = tuple(
            (name, _is_flat(value))
            for name, value in self._claims.items()
            if isinstance(value, list | dict)
        )

    @classmethod
    def of(cls, token_type: str, claims: dict[str, Any]) -> VerifiedToken | None:
        """The entry for verified ``claims`` (whose ``exp`` is a number), or ``None`` when they
        are not worth caching (nested too deep)."""
        try:
            return cls(
                token_type, claims, exp=claims["exp"], nbf=claims.get("nbf"), iat=claims.get("iat")
            )
        except ValueError:
            return None

    def claims(self) -> dict[str, Any]:
        """A fresh copy of the verified claims, nested lists and objects included."""
        claims = self._claims.copy()
        for name, flat in self._containers:
            value = claims[name]
            claims[name] = value.copy() if flat else _copy_json(value, 1)
        return claims


class VerifiedTokenCache:
    """A least-recently-used map from token string to `VerifiedToken`, at most ``maxsize`` long.

    Args:
        maxsize: The most tokens kept; ``0`` disables caching (every lookup misses).

    Raises:
        ConfigurationError: ``maxsize`` is not an integer between 0 and 1,000,000.
    """

    __slots__ = ("_entries", "maxsize")

    def __init__(self, maxsize: int = DEFAULT_VERIFIED_TOKEN_CACHE_SIZE) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise ConfigurationError("the verified-token cache size must be an integer")
        if not 0 <= maxsize <= _MAX_CACHE_SIZE:
            raise ConfigurationError(
                f"the verified-token cache size must be between 0 (off) and {_MAX_CACHE_SIZE}"
            )
        self.maxsize = maxsize
        self._entries: OrderedDict[str, VerifiedToken] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> VerifiedToken | None:
        """The entry stored for ``token`` (now the most recently used), or ``None``."""
        entry = self._entries.get(token)
        if entry is not None:
            try:  # noqa: SIM105 (contextlib.suppress costs a context manager on every hit)
                self._entries.move_to_end(token)
            except KeyError:  # evicted by another thread in between: still a valid answer
                pass
        return entry

    def put(self, token: str, entry: VerifiedToken) -> None:
        """Keep ``entry`` for ``token``, evicting the least recently used beyond ``maxsize``."""
        if self.maxsize == 0:
            return
        entries = self._entries
        entries.pop(token, None)  # re-inserted last; no move_to_end to race with an eviction
        entries[token] = entry
        while len(entries) > self.maxsize:
            try:
                entries.popitem(last=False)
            except KeyError:  # emptied by another thread
                break

    def discard(self, token: str) -> None:
        """Forget ``token`` (e.g. once it has expired for good)."""
        self._entries.pop(token, None)

    def clear(self) -> None:
        self._entries.clear()
