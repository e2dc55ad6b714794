"""Who a request counts against: the identity resolved from an ASGI scope.

Who is charged, the rule of both resolvers here:

* an authenticated caller (a verified token, left in the scope by the auth middleware) is charged
  as its user *and* as the tenant its token was issued for; the tenant's tier comes from its plan;
* an anonymous caller is charged to its client address only, never to a tenant: a tenant it merely
  names (``X-Tenant-ID``, a path or a host) is a claim, not a verified fact, and charging it would
  let anyone spend that tenant's budget. The ``X-Forwarded-For`` header is honoured only when the
  direct peer is a configured trusted proxy, because anyone else can write any address into it.

``ScopeIdentityResolver`` (the default, synchronous) takes the tenant's tier from the resolved
tenant in the scope when it is the token's tenant; ``VerifiedIdentityResolver`` asks a
``relaypoint_core.plan_tiers.PlanTierSource`` (the tenancy package implements it), so the tier
follows the tenant's plan wherever the limiter sits. A tier stored with ``set_user_tier`` still
wins over both.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import FrozenInstanceError
from typing import Any

from relaypoint_core.plan_tiers import PlanTierSource
from relaypoint_core.request_state import (
    PRINCIPAL_STATE_KEY,
    TENANT_STATE_KEY,
    Principal,
    ResolvedTenant,
)
from relaypoint_ratelimit.errors import RateLimitConfigurationError

__all__ = [
    "Identity",
    "IdentityResolver",
    "ScopeIdentityResolver",
    "VerifiedIdentityResolver",
    "client_address",
]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


_set_slot = object.__setattr__


class Identity:
    """The subject of a check (immutable, hashable, compared by value).

    ``user_key`` is the user id, or the client address when ``anonymous``. ``tenant_id`` and
    ``tenant_tier`` add the tenant's own windows (the whole tenant shares them). ``user_tier`` is a
    hint (e.g. from a token claim); a tier stored with ``set_user_tier`` wins over it.
    """

    # One tuple of the fields instead of one slot each: an identity may be built per request, and
    # the limiter keys its caches by ``fields`` (a tuple hashes and compares in C).
    __slots__ = ("fields",)
    __match_args__ = ("user_key", "tenant_id", "tenant_tier", "user_tier", "anonymous")

    fields: tuple[str, str | None, str | None, str | None, bool]
    """``(user_key, tenant_id, tenant_tier, user_tier, anonymous)``."""

    def __init__(
        self,
        user_key: str,
        tenant_id: str | None = None,
        tenant_tier: str | None = None,
        user_tier: str | None = None,
        anonymous: bool = False,
    ) -> None:
        if type(user_key) is not str or not 0 < len(user_key) <= 512:
            _check_user_key(user_key)
        _set_slot(self, "fields", (user_key, tenant_id, tenant_tier, user_tier, anonymous))

    @property
    def user_key(self) -> str:
        return self.fields[0]

    @property
    def tenant_id(self) -> str | None:
        return self.fields[1]

    @property
    def tenant_tier(self) -> str | None:
        return self.fields[2]

    @property
    def user_tier(self) -> str | None:
        return self.fields[3]

    @property
    def anonymous(self) -> bool:
        return self.fields[4]

    def replace(self, **changes: Any) -> Identity:
        """A copy with some fields changed (what ``dataclasses.replace`` did).

        Args:
            **changes: New values by field name.

        Returns:
            The new identity.

        Raises:
            TypeError: A name is not a field.
        """
        values: dict[str, Any] = dict(zip(self.__match_args__, self.fields, strict=True))
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Identity has no field(s) {sorted(unknown)}")
        values.update(changes)
        return Identity(**values)

    __replace__ = replace

    def __eq__(self, other: object) -> bool:
        if type(other) is Identity:
            return self.fields == other.fields
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.fields)

    def __repr__(self) -> str:
        return (
            "Identity("
            + ", ".join(
                f"{name}={value!r}"
                for name, value in zip(self.__match_args__, self.fields, strict=True)
            )
            + ")"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(
        self,
    ) -> tuple[type[Identity], tuple[str, str | None, str | None, str | None, bool]]:
        return (Identity, self.fields)


def _check_user_key(user_key: object) -> None:
    if not isinstance(user_key, str) or not user_key:
        raise RateLimitConfigurationError("Identity.user_key must be a non-empty string")
    if len(user_key) > 512:
        raise RateLimitConfigurationError("Identity.user_key is longer than 512 characters")


IdentityResolver = Callable[
    [MutableMapping[str, Any]], Identity | Awaitable[Identity | None] | None
]
"""Maps an ASGI scope to an ``Identity`` (``None``: do not limit this request)."""


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
    """The client IP: the peer, or the right-most untrusted hop of ``X-Forwarded-For``.

    Args:
        scope: The ASGI scope.
        trusted_proxies: Networks of the proxies run by you; only their header is believed.

    Returns:
        The client address, or ``"unknown"``.
    """
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
    """The default resolver: the verified principal and its tenant, else the client address.

    Args:
        trusted_proxies: Networks whose ``X-Forwarded-For`` is believed for anonymous callers.
        tier_claim: The token claim that hints the user's tier (``None``: no hint).
    """

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

    def address(self, scope: MutableMapping[str, Any]) -> str:
        """The client address of ``scope`` (through the trusted proxies).

        Args:
            scope: The ASGI scope.

        Returns:
            The client IP, or ``"unknown"``.
        """
        if self._proxies:
            return client_address(scope, self._proxies)
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    def __call__(self, scope: MutableMapping[str, Any]) -> Identity:
        """The identity ``scope`` is charged as.

        Args:
            scope: The ASGI scope (after the auth middleware).

        Returns:
            The identity to check.
        """
        # What get_scope_principal / get_scope_tenant read, read once: this runs on every request.
        state = scope.get("state")
        principal = tenant = None
        if state:
            principal = state.get(PRINCIPAL_STATE_KEY)
            if principal is not None and not isinstance(principal, Principal):
                principal = None
            tenant = state.get(TENANT_STATE_KEY)
            if tenant is not None and not isinstance(tenant, ResolvedTenant):
                tenant = None
        tenant_id: str | None = None
        tenant_tier: str | None = None
        if principal is not None:
            # Only the token's tenant is verified; the resolved tenant lends it its plan tier
            # when it is that same tenant (the tenancy middleware refuses any other).
            tenant_id = principal.tenant_id
            if tenant is not None and tenant_id is not None and tenant.tenant_id == tenant_id:
                tenant_tier = tenant.plan_tier
            hint = principal.claims.get(self.tier_claim) if self.tier_claim else None
            user_key = principal.user_id
            tier = hint if isinstance(hint, str) else None
            anonymous = False
        else:
            user_key = self.address(scope)
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


class VerifiedIdentityResolver:
    """Verified principal and its tenant, the tier from the tenant's plan; else the client address.

    ::

        limiter = EnterpriseRateLimiter(app, redis_url, plan_tiers=tenancy.plan_tiers())

    (``plan_tiers=`` builds this resolver.) The tenant's plan tier becomes both the tenant's tier
    and the user's tier, so the users of a PROFESSIONAL tenant get PROFESSIONAL limits; a tier
    stored with ``set_user_tier`` still wins for that user.

    Args:
        plan_tiers: Where tenants' plan tiers come from (cached by the implementation).
        trusted_proxies: Networks whose ``X-Forwarded-For`` is believed for anonymous callers.
    """

    __slots__ = ("_addresses", "_cache", "plan_tiers")

    _MAX_CACHED = 50_000

    def __init__(self, *, plan_tiers: PlanTierSource, trusted_proxies: Iterable[str] = ()) -> None:
        self.plan_tiers = plan_tiers
        self._addresses = ScopeIdentityResolver(trusted_proxies=trusted_proxies, tier_claim=None)
        # As in ScopeIdentityResolver: a returning caller's (immutable) Identity is reused.
        self._cache: dict[tuple[str, str | None, str | None], Identity] = {}

    async def __call__(self, scope: MutableMapping[str, Any]) -> Identity:
        """The identity ``scope`` is charged as.

        Args:
            scope: The ASGI scope (after the auth middleware).

        Returns:
            The identity to check.
        """
        state = scope.get("state")
        principal = state.get(PRINCIPAL_STATE_KEY) if state else None
        if not isinstance(principal, Principal):
            return self._addresses(scope)
        tenant = principal.tenant_id  # already a TenantSlug (NewType: no call needed)
        tier = await self.plan_tiers.plan_tier(tenant) if tenant else None
        key = (principal.user_id, tenant, tier)
        identity = self._cache.get(key)
        if identity is None:
            identity = Identity(principal.user_id, tenant, tier, tier)
            if len(self._cache) >= self._MAX_CACHED:
                self._cache.clear()
            self._cache[key] = identity
        return identity
