"""Immutable snapshots the manager returns (safe to use after the session has moved on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relaypoint_core.tenant_ids import TenantSlug, TenantUUID
from relaypoint_tenancy.models import Tenant, TenantDomain
from relaypoint_tenancy.plans import PlanTier, TenantStatus
from relaypoint_tenancy.strategies.base import TenantRef

__all__ = ["DomainInfo", "TenantInfo", "TransitionReport", "UsageInfo"]


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A tenant's snapshot: ``id`` is its internal row id, ``slug`` its public identity."""

    id: TenantUUID
    slug: TenantSlug
    name: str
    plan_tier: PlanTier
    status: TenantStatus
    isolation: str
    data_location: str | None
    trial_ends_at: datetime | None
    grace_ends_at: datetime | None
    created_at: datetime
    quota_overrides: dict[str, int | None] = field(default_factory=dict, compare=False)
    branding: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_row(cls, row: Tenant) -> TenantInfo:
        return cls(
            id=TenantUUID(row.id),
            slug=TenantSlug(row.slug),
            name=row.name,
            plan_tier=PlanTier(row.plan_tier),
            status=TenantStatus(row.status),
            isolation=row.isolation,
            data_location=row.data_location,
            trial_ends_at=row.trial_ends_at,
            grace_ends_at=row.grace_ends_at,
            created_at=row.created_at,
            quota_overrides=dict(row.quota_overrides or {}),
            branding=dict(row.branding or {}),
        )

    @property
    def ref(self) -> TenantRef:
        return TenantRef(self.id, self.slug, self.data_location)

    @property
    def is_suspended(self) -> bool:
        return self.status is TenantStatus.SUSPENDED


@dataclass(frozen=True, slots=True)
class DomainInfo:
    domain: str
    tenant_id: str
    verified: bool
    verification_token: str
    created_at: datetime
    verified_at: datetime | None

    @classmethod
    def from_row(cls, row: TenantDomain) -> DomainInfo:
        return cls(
            domain=row.domain,
            tenant_id=row.tenant_id,
            verified=row.verified,
            verification_token=row.verification_token,
            created_at=row.created_at,
            verified_at=row.verified_at,
        )

    @property
    def txt_record(self) -> str:
        """The DNS TXT record value the domain owner publishes to prove control."""
        return f"relaypoint-verification={self.verification_token}"


@dataclass(frozen=True, slots=True)
class UsageInfo:
    resource: str
    period: str
    used: int
    limit: int | None

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


@dataclass(frozen=True, slots=True)
class TransitionReport:
    """What one `run_due_transitions` pass changed (tenant slugs)."""

    to_grace: tuple[str, ...] = ()
    suspended: tuple[str, ...] = ()
