"""`Domains`: custom domains of tenants (claim, verify by DNS TXT token, remove, list)."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from relaypoint_tenancy.control import ControlPlane
from relaypoint_tenancy.errors import DomainError
from relaypoint_tenancy.models import Tenant, TenantDomain
from relaypoint_tenancy.records import DomainInfo
from relaypoint_tenancy.validation import clean_domain

__all__ = ["Domains"]


class Domains:
    """Custom domains, through the shared `ControlPlane`."""

    def __init__(self, control: ControlPlane) -> None:
        self.control = control

    async def add_domain(self, tenant_id: str, domain: str) -> DomainInfo:
        """See `TenantManager.add_domain`."""
        control = self.control
        name = clean_domain(domain)
        async with control.unit():
            row = await control.load(tenant_id)
            existing = (
                await control.session.execute(
                    select(TenantDomain).where(TenantDomain.domain == name)
                )
            ).scalar_one_or_none()
            if existing is not None:
                raise DomainError(f"domain {name!r} is already claimed")
            record = TenantDomain(
                id=str(uuid.uuid4()),
                tenant_id=row.id,
                domain=name,
                verified=False,
                verification_token=secrets.token_hex(16),
                created_at=control.now(),
                verified_at=None,
            )
            control.session.add(record)
            try:
                await control.session.flush()
            except IntegrityError:
                raise DomainError(f"domain {name!r} is already claimed") from None
            await control.audit_only(row, "domain.added", {"domain": name})
            return DomainInfo.from_row(record)

    async def _domain(self, row: Tenant, domain: str) -> TenantDomain:
        name = clean_domain(domain)
        record = (
            await self.control.session.execute(
                select(TenantDomain).where(
                    TenantDomain.domain == name, TenantDomain.tenant_id == row.id
                )
            )
        ).scalar_one_or_none()
        if record is None:
            raise DomainError(f"domain {name!r} is not registered for tenant {row.slug!r}")
        return record

    async def verify_domain(self, tenant_id: str, domain: str, *, token: str) -> DomainInfo:
        """See `TenantManager.verify_domain`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id)
            record = await self._domain(row, domain)
            if not secrets.compare_digest(record.verification_token, str(token)):
                raise DomainError(f"verification token for {record.domain!r} does not match")
            record.verified = True
            record.verified_at = control.now()
            await control.audit_only(row, "domain.verified", {"domain": record.domain})
            await control.session.flush()
            return DomainInfo.from_row(record)

    async def remove_domain(self, tenant_id: str, domain: str) -> None:
        """See `TenantManager.remove_domain`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id)
            record = await self._domain(row, domain)
            await control.session.delete(record)
            await control.audit_only(row, "domain.removed", {"domain": record.domain})

    async def list_domains(self, tenant_id: str) -> list[DomainInfo]:
        """See `TenantManager.list_domains`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id)
            records = (
                await control.session.execute(
                    select(TenantDomain)
                    .where(TenantDomain.tenant_id == row.id)
                    .order_by(TenantDomain.domain)
                )
            ).scalars()
            return [DomainInfo.from_row(record) for record in records]
