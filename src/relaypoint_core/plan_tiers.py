"""Where a tenant's plan tier comes from: a Protocol the tenancy package implements and the rate
limiter (or any other consumer) reads, so neither imports the other.

::

    from relaypoint_tenancy import Tenancy
    from relaypoint_ratelimit import VerifiedIdentityResolver

    tiers = tenancy.plan_tiers()                 # cached, bounded; see PlanTierSource
    resolver = VerifiedIdentityResolver(plan_tiers=tiers)

An implementation must be cheap on the hot path (every request of an authenticated caller asks
it), so it caches; its documentation says how soon a plan change made by another process is seen.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from relaypoint_core.tenant_ids import TenantSlug

__all__ = ["PlanTierSource", "StaticPlanTiers"]


@runtime_checkable
class PlanTierSource(Protocol):
    """Answers "which plan tier is this tenant on?" by the tenant's public slug."""

    async def plan_tier(self, tenant: TenantSlug) -> str | None:
        """The tier name (``"FREE"``, ``"PROFESSIONAL"``, ...) or ``None`` for an unknown tenant.

        Args:
            tenant: The tenant's slug, as carried by a verified token.

        Returns:
            The plan tier name, or ``None`` when no such tenant exists.
        """
        ...


class StaticPlanTiers:
    """A fixed mapping (tests, single-tenant deployments, scripts)."""

    def __init__(self, tiers: dict[str, str]) -> None:
        self._tiers = dict(tiers)

    async def plan_tier(self, tenant: TenantSlug) -> str | None:
        """The tier configured for ``tenant``, or ``None``.

        Args:
            tenant: The tenant's slug.

        Returns:
            The configured tier name, or ``None``.
        """
        return self._tiers.get(tenant)
