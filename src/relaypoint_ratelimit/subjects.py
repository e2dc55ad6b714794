"""The limiter's administrative side: stored user tiers, usage stats, resets, introspection.

``SubjectAdmin`` is a base class of ``RateLimiter``: these methods act on one subject's stored
state (tier, counters) rather than deciding a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from relaypoint_core.tenant_context import current_tenant
from relaypoint_ratelimit.backends import MemoryBackend, RateLimitBackend
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.keys import RateLimitKeys
from relaypoint_ratelimit.memo import RefusalMemo
from relaypoint_ratelimit.plans import Planner
from relaypoint_ratelimit.policies import RoutePolicy, Tier, TierSet
from relaypoint_ratelimit.usage import UsageStats, WindowUsage

if TYPE_CHECKING:
    from relaypoint_ratelimit.decision import Decision
    from relaypoint_ratelimit.leasing import QuotaLeases

__all__ = ["SubjectAdmin"]


class SubjectAdmin:
    """Stored tiers, usage and resets of users and tenants (part of ``RateLimiter``)."""

    tiers: TierSet
    keys: RateLimitKeys
    backend: RateLimitBackend
    timeout: float
    planner: Planner
    memo: RefusalMemo
    _fallback: MemoryBackend | None
    _routes: tuple[RoutePolicy, ...]
    leases: QuotaLeases | None

    if TYPE_CHECKING:

        async def peek(
            self,
            identity: Identity,
            *,
            cost: int = 1,
            route: RoutePolicy | None = None,
            include_tiers: bool = True,
        ) -> Decision: ...

        def effective_user_tier(self, identity: Identity, stored: str) -> Tier: ...

    def _identity_for(self, user_id: str, tenant_id: str | None) -> Identity:
        return Identity(
            user_key=user_id, tenant_id=tenant_id if tenant_id is not None else current_tenant()
        )

    async def set_user_tier(
        self, user_id: str, tier: str | None, *, tenant_id: str | None = None
    ) -> None:
        """Store ``user_id``'s tier in the backend (every process sees it on its next check).

        ``tenant_id`` defaults to the tenant bound to the current context. ``None`` as the tier
        removes the stored tier (the token's hint or the default tier applies again).
        """
        name = self.tiers.normalise(tier) if tier is not None else None
        identity = self._identity_for(user_id, tenant_id)
        key = self.keys.user_tier(identity)
        await asyncio.wait_for(
            self.backend.set_tier(key, name), timeout=max(self.timeout * 10, 1.0)
        )
        self.planner.remember_tier(key, name or "")
        self.memo.clear()

    async def get_user_tier(self, user_id: str, *, tenant_id: str | None = None) -> str:
        """The tier that bounds ``user_id`` now: stored tier, else the default tier."""
        identity = self._identity_for(user_id, tenant_id)
        key = self.keys.user_tier(identity)
        stored = await asyncio.wait_for(
            self.backend.get_tier(key), timeout=max(self.timeout * 10, 1.0)
        )
        self.planner.remember_tier(key, stored or "")
        return self.effective_user_tier(identity, stored or "").name

    async def get_usage_stats(
        self,
        user_id: str | Identity,
        *,
        tenant_id: str | None = None,
        route: RoutePolicy | None = None,
    ) -> UsageStats:
        """Used / remaining / reset per window for a user (and their tenant), counting nothing."""
        identity = (
            user_id if isinstance(user_id, Identity) else self._identity_for(user_id, tenant_id)
        )
        decision = await self.peek(identity, cost=0, route=route)
        return UsageStats(
            identity.user_key,
            identity.tenant_id,
            decision.tier,
            tuple(
                WindowUsage(
                    p.name, p.scope, p.window_seconds, p.limit, p.used, p.remaining, p.reset_after
                )
                for p in decision.policies
            ),
            decision.degraded,
        )

    async def reset(self, identity: Identity | str, *, tenant_id: str | None = None) -> None:
        """Forget every counter of one user (all tiers' windows and per-user route policies)."""
        if isinstance(identity, str):
            identity = self._identity_for(identity, tenant_id)
        keys = [self.keys.user_window(identity, w) for w in self.tiers.all_windows()]
        keys += self._route_keys(identity, "user")
        await self._delete(keys)

    async def reset_tenant(self, tenant_id: str, routes: Sequence[RoutePolicy] = ()) -> None:
        """Forget the tenant-wide counters of ``tenant_id`` (its plan windows and per-tenant routes)."""
        identity = Identity(user_key="-", tenant_id=tenant_id)
        keys = [self.keys.tenant_window(identity, w) for w in self.tiers.all_windows()]
        keys += [
            self.keys.route_window(identity, r.name, "tenant", w)
            for r in routes
            if r.per == "tenant"
            for w in r.windows
        ]
        await self._delete(keys)

    def register_routes(self, routes: Sequence[RoutePolicy]) -> None:
        """Tell ``reset`` about route policies whose per-user counters it must clear too."""
        self._routes = tuple(dict.fromkeys((*self._routes, *routes)))

    def _route_keys(self, identity: Identity, per: str) -> list[str]:
        return [
            self.keys.route_window(identity, r.name, per, w)
            for r in self._routes
            if r.per == per
            for w in r.windows
        ]

    async def _delete(self, keys: list[str]) -> None:
        await asyncio.wait_for(self.backend.delete(keys), timeout=max(self.timeout * 10, 1.0))
        if self._fallback is not None:
            await self._fallback.delete(keys)
        if self.leases is not None:
            self.leases.forget()
        self.memo.clear()

    # --- introspection ------------------------------------------------------------------------------

    def tier(self, name: str) -> Tier:
        return self.tiers.get(name)

    def upgrade_for(self, tier: str | None) -> Tier | None:
        """The tier one step above ``tier`` (for upgrade prompts), ``None`` at the top."""
        if tier is None or tier not in self.tiers:
            return None
        return self.tiers.next_above(tier)
