"""Fakes for your own tests: an in-memory tenant lookup for the resolver and middleware."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from relaypoint_core.tenant_ids import TenantSlug, TenantUUID
from relaypoint_core.testing import FakeClock
from relaypoint_tenancy.plans import PlanTier, TenantStatus
from relaypoint_tenancy.resolution import TenantRecord

__all__ = ["FakeClock", "InMemoryTenantLookup", "tenant_record"]


def tenant_record(
    slug: str,
    *,
    plan_tier: PlanTier | str = PlanTier.FREE,
    status: TenantStatus | str = TenantStatus.ACTIVE,
    tenant_id: str | None = None,
) -> TenantRecord:
    """A `TenantRecord` for tests (a random id unless one is given)."""
    return TenantRecord(
        id=TenantUUID(tenant_id or str(uuid.uuid4())),
        slug=TenantSlug(slug),
        plan_tier=PlanTier(plan_tier).value,
        status=TenantStatus(status).value,
    )


class InMemoryTenantLookup:
    """A `TenantLookup` over a dict; counts lookups."""

    def __init__(
        self, tenants: Iterable[TenantRecord] = (), *, domains: dict[str, str] | None = None
    ) -> None:
        self._tenants: dict[str, TenantRecord] = {t.slug: t for t in tenants}
        self._domains = dict(domains or {})  # verified domain -> slug
        self.calls = 0

    def add(self, record: TenantRecord, *, domains: Iterable[str] = ()) -> None:
        self._tenants[record.slug] = record
        for domain in domains:
            self._domains[domain.lower()] = record.slug

    async def by_key(self, key: str) -> TenantRecord | None:
        self.calls += 1
        found = self._tenants.get(key)
        if found is None:
            found = next((t for t in self._tenants.values() if t.id == key), None)
        return found

    async def by_domain(self, domain: str) -> TenantRecord | None:
        self.calls += 1
        slug = self._domains.get(domain.lower())
        return None if slug is None else self._tenants.get(slug)
