"""Plan tiers, their limits and trial rules, and the tenant lifecycle statuses.

Limits are data, not code: pass your own `PlanCatalog` to the manager to change them. A
limit of ``None`` means unlimited.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "DEFAULT_PLAN_CATALOG",
    "PlanCatalog",
    "PlanLimits",
    "PlanTier",
    "QuotaPeriod",
    "Resource",
    "TenantStatus",
]


class PlanTier(enum.StrEnum):
    """The four plans; values match the rate limiter's tier names (``X-RateLimit-Tier``)."""

    FREE = "FREE"
    STARTER = "STARTER"
    PROFESSIONAL = "PROFESSIONAL"
    ENTERPRISE = "ENTERPRISE"

    @property
    def rank(self) -> int:
        return list(PlanTier).index(self)


class TenantStatus(enum.StrEnum):
    """Lifecycle: trial -> active on upgrade; trial expiry -> grace -> suspended."""

    TRIAL = "trial"
    ACTIVE = "active"
    GRACE = "grace"
    SUSPENDED = "suspended"


class QuotaPeriod(enum.StrEnum):
    TOTAL = "total"  # a standing amount (users, workflows, bytes stored)
    MONTH = "month"  # resets each calendar month (UTC), e.g. API calls


class Resource(enum.StrEnum):
    """Metered resources. Any other string is accepted too when a catalog defines a limit for it."""

    USERS = "users"
    WORKFLOWS = "workflows"
    STORAGE_BYTES = "storage_bytes"
    API_CALLS = "api_calls"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """What one plan allows: quota per resource, the trial length and the grace period."""

    quotas: Mapping[str, int | None]
    trial_days: int = 0
    grace_days: int = 7


_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class PlanCatalog:
    """Limits per plan tier plus the period each resource is counted over."""

    plans: Mapping[PlanTier, PlanLimits]
    periods: Mapping[str, QuotaPeriod] = field(
        default_factory=lambda: {Resource.API_CALLS.value: QuotaPeriod.MONTH}
    )

    def limits(self, tier: PlanTier) -> PlanLimits:
        return self.plans[tier]

    def period(self, resource: str) -> QuotaPeriod:
        return self.periods.get(resource, QuotaPeriod.TOTAL)

    def quota(
        self, tier: PlanTier, resource: str, overrides: Mapping[str, int | None] | None = None
    ) -> int | None:
        """The effective limit: a per-tenant override wins over the plan's value."""
        if overrides and resource in overrides:
            return overrides[resource]
        return self.plans[tier].quotas.get(resource)

    def with_plan(self, tier: PlanTier, limits: PlanLimits) -> PlanCatalog:
        return replace(self, plans={**self.plans, tier: limits})


DEFAULT_PLAN_CATALOG = PlanCatalog(
    plans={
        PlanTier.FREE: PlanLimits(
            quotas={"users": 3, "workflows": 10, "storage_bytes": 1 * _GIB, "api_calls": 10_000},
            trial_days=0,
        ),
        PlanTier.STARTER: PlanLimits(
            quotas={
                "users": 10,
                "workflows": 100,
                "storage_bytes": 10 * _GIB,
                "api_calls": 100_000,
            },
            trial_days=14,
        ),
        PlanTier.PROFESSIONAL: PlanLimits(
            quotas={
                "users": 50,
                "workflows": 1_000,
                "storage_bytes": 100 * _GIB,
                "api_calls": 1_000_000,
            },
            trial_days=14,
        ),
        PlanTier.ENTERPRISE: PlanLimits(
            quotas={"users": None, "workflows": None, "storage_bytes": None, "api_calls": None},
            trial_days=30,
            grace_days=14,
        ),
    }
)
