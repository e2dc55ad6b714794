"""Who a request counts against: the identity resolved from an ASGI scope.

The default resolver reads what the auth and tenancy middlewares left in the scope through
:mod:`relaypoint_core.request_state` (the principal and the resolved tenant), falls back to the
bound :mod:`relaypoint_core.tenant_context`, and identifies anonymous callers by client IP. The
``X-Forwarded-For`` header is honoured only when the direct peer is a configured trusted proxy,
because anyone else can write any address into it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from relaypoint_core.request_state import get_scope_principal, get_scope_tenant
from relaypoint_core.tenant_context import current_tenant
from relaypoint_ratelimit.errors import RateLimitConfigurationError

__all__ = [
    "Identity",
    "IdentityResolver",
    "ScopeIdentityResolver",
    "client_address",
]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Identity:
    """The subject of a check.

    ``user_key`` is the user id, or the client address when ``anonymous``. ``tenant_id`` and
    ``tenant_tier`` add the tenant's own windows (the whole tenant shares them). ``user_tier`` is a
    hint (e.g. from a token claim); a tier stored with ``set_user_tier`` wins over it.
    """

    user_key: str
    tenant_id: str | None = None
    tenant_tier: str | None = None
    user_tier: str | None = None
    anonymous: bool = False
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.user_key, str) or not self.user_key:
            raise RateLimitConfigurationError("Identity.user_key must be a non-empty string")
        if len(self.user_key) > 512:
            raise RateLimitConfigurationError("Identity.user_key is longer than 512 characters")
        # Identities key the limiter's plan cache: hash once, not on every lookup.
        fields = (self.user_key, self.tenant_id, self.tenant_tier, self.user_tier, self.anonymous)
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash


IdentityResolver = Callable[
    [MutableMapping[str, Any]], Identity | Awaitable[Identity | None] | None
]
"""Maps an ASGI scope to an :class:`Identity` (``None``: do not limit this request)."""


def _parse_networks(proxies: Iterable[str]) -> tuple[_Network, ...]:
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy, strict=False))
        except ValueError as exc:
            raise RateLimitConfigurationError(
                f"trusted proxy {proxy!r} is not an IP address or CIDR network"
            ) from exc
    return tuple(networks)


def _is_trusted(address: str, networks: tuple[_Network, ...]) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    scope: MutableMapping[str, Any], trusted_proxies: tuple[_Network, ...] = ()
) -> str:
    """The client IP: the peer, or the right-most untrusted hop of ``X-Forwarded-For``."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers") or ():
        if name == b"x-forwarded-for":
            forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
    # Walk from the nearest hop outwards; the first address not run by us is the client.
    for hop in reversed([h for h in forwarded if h]):
        if not _is_trusted(hop, trusted_proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


class ScopeIdentityResolver:
    """The default resolver: relaypoint principal and tenant, else the client address."""

    __slots__ = ("_cache", "_proxies", "tier_claim")

    _MAX_CACHED = 50_000

    def __init__(
        self, *, trusted_proxies: Iterable[str] = (), tier_claim: str | None = "tier"
    ) -> None:
        self._proxies = _parse_networks(trusted_proxies)
        self.tier_claim = tier_claim
        # The same callers come back again and again: reuse their (immutable) Identity instead
        # of building and validating a new one per request.
        self._cache: dict[tuple[str | bool | None, ...], Identity] = {}

    def __call__(self, scope: MutableMapping[str, Any]) -> Identity:
        principal = get_scope_principal(scope)
        tenant = get_scope_tenant(scope)
        tenant_id = tenant.tenant_id if tenant is not None else None
        tenant_tier = tenant.plan_tier if tenant is not None else None
        if tenant_id is None:
            tenant_id = principal.tenant_id if principal is not None else current_tenant()
        if principal is not None:
            hint = principal.claims.get(self.tier_claim) if self.tier_claim else None
            user_key = principal.user_id
            tier = hint if isinstance(hint, str) else None
            anonymous = False
        else:
            user_key = client_address(scope, self._proxies)
            tier = None
            anonymous = True
        key = (user_key, tenant_id, tenant_tier, tier, anonymous)
        identity = self._cache.get(key)
        if identity is None:
            identity = Identity(user_key, tenant_id, tenant_tier, tier, anonymous)
            if len(self._cache) >= self._MAX_CACHED:
                self._cache.clear()
            self._cache[key] = identity
        return identity
