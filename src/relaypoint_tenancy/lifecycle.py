"""`Lifecycle`: install, create (all or nothing), look up, change plan, suspend, reactivate."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from relaypoint_core.auth.passwords import hash_password
from relaypoint_core.monitoring import performance_monitor
from relaypoint_core.rbac.roles import Role
from relaypoint_tenancy.control import ControlPlane, tenant_ref
from relaypoint_tenancy.errors import TenantExistsError
from relaypoint_tenancy.members import Members
from relaypoint_tenancy.models import Tenant
from relaypoint_tenancy.plans import PlanTier, TenantStatus
from relaypoint_tenancy.records import TenantInfo, TransitionReport
from relaypoint_tenancy.strategies import TenantRef
from relaypoint_tenancy.trials import run_due_transitions
from relaypoint_tenancy.validation import clean_email, clean_name, validate_slug

__all__ = ["Lifecycle", "StepHook"]

logger = logging.getLogger("relaypoint.tenancy")

StepHook = Callable[[str, TenantRef], Awaitable[None]]
"""Called after each ``create_tenant`` step (``tenant_row``, ``isolation``, ``admin_user``)."""


class Lifecycle:
    """A tenant's life from creation to suspension, through the shared `ControlPlane`."""

    def __init__(
        self, control: ControlPlane, members: Members, *, on_step: StepHook | None = None
    ) -> None:
        self.control = control
        self.members = members
        self.on_step = on_step

    async def _step(self, name: str, ref: TenantRef) -> None:
        if self.on_step is not None:
            await self.on_step(name, ref)

    async def install(self) -> None:
        """See `TenantManager.install`."""
        control = self.control
        async with control.unit():
            await control.strategy.install(await control.session.connection())

    async def create_tenant(
        self,
        *,
        name: str,
        slug: str,
        plan_tier: PlanTier | str,
        admin_email: str,
        admin_name: str,
        admin_password: str | None,
        start_trial: bool,
    ) -> TenantInfo:
        """See `TenantManager.create_tenant`."""
        control = self.control
        strategy = control.strategy
        slug = validate_slug(slug)
        name = clean_name(name, what="tenant name")
        admin_name = clean_name(admin_name, what="admin name")
        email = clean_email(admin_email)
        tier = PlanTier(plan_tier)
        password_hash = hash_password(admin_password) if admin_password else None
        limits = control.catalog.limits(tier)
        now = control.now()
        trial = start_trial and limits.trial_days > 0
        row = Tenant(
            id=str(uuid.uuid4()),
            slug=slug,
            name=name,
            plan_tier=tier.value,
            status=(TenantStatus.TRIAL if trial else TenantStatus.ACTIVE).value,
            trial_ends_at=now + timedelta(days=limits.trial_days) if trial else None,
            grace_ends_at=None,
            quota_overrides={},
            branding={},
            isolation=strategy.kind,
            data_location=strategy.location_for(slug),
            created_at=now,
            updated_at=now,
        )
        ref = tenant_ref(row)
        provisioned = False
        try:
            async with control.unit():
                if await control.find(slug) is not None:
                    raise TenantExistsError(f"a tenant with slug {slug!r} already exists")
                control.session.add(row)
                try:
                    await control.session.flush()
                except IntegrityError:
                    raise TenantExistsError(f"a tenant with slug {slug!r} already exists") from None
                await self._step("tenant_row", ref)
                conn = await control.session.connection()
                provisioned = True
                await strategy.provision(conn, ref)
                await self._step("isolation", ref)
                async with strategy.tenant_plane(conn, ref) as plane:
                    await self.members.insert_user(
                        plane,
                        row,
                        email=email,
                        name=admin_name,
                        password_hash=password_hash,
                        roles=[Role.TENANT_ADMIN.value],
                        now=now,
                    )
                    await control.audit(
                        plane, row, "tenant.created", {"plan_tier": tier.value, "admin": email}
                    )
                await control.quotas.consume(row, "users", 1)
                await self._step("admin_user", ref)
                info = TenantInfo.from_row(row)
        except BaseException:
            if provisioned:
                try:
                    await strategy.undo_provision(ref)
                except Exception:
                    logger.exception("could not undo provisioning of tenant %s", slug)
            raise
        logger.info("tenant %s created (%s, %s)", slug, tier.value, strategy.kind)
        performance_monitor.record_user_registered(tier.value)  # its first user, the admin
        return info

    async def get_tenant(self, tenant_id: str) -> TenantInfo:
        """See `TenantManager.get_tenant`."""
        async with self.control.unit():
            return TenantInfo.from_row(await self.control.load(tenant_id))

    async def find_tenant(self, tenant_id: str) -> TenantInfo | None:
        """See `TenantManager.find_tenant`."""
        async with self.control.unit():
            row = await self.control.find(tenant_id)
            return None if row is None else TenantInfo.from_row(row)

    async def list_tenants(
        self, *, status: TenantStatus | str | None, limit: int, offset: int
    ) -> list[TenantInfo]:
        """See `TenantManager.list_tenants`."""
        statement = select(Tenant).order_by(Tenant.slug).limit(limit).offset(offset)
        if status is not None:
            statement = statement.where(Tenant.status == TenantStatus(status).value)
        async with self.control.unit():
            rows = (await self.control.session.execute(statement)).scalars().all()
            return [TenantInfo.from_row(row) for row in rows]

    async def change_plan(self, tenant_id: str, plan_tier: PlanTier | str) -> TenantInfo:
        """See `TenantManager.change_plan`."""
        control = self.control
        tier = PlanTier(plan_tier)
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            previous = row.plan_tier
            restarted: dict[str, int] = {}
            if tier.rank < PlanTier(previous).rank:
                restarted = await control.quotas.restart_monthly_usage(row)
            row.plan_tier = tier.value
            if row.status in (TenantStatus.TRIAL.value, TenantStatus.GRACE.value):
                row.status = TenantStatus.ACTIVE.value
                row.trial_ends_at = None
                row.grace_ends_at = None
            row.updated_at = control.now()
            detail: dict[str, Any] = {"from": previous, "to": tier.value}
            if restarted:
                detail["usage_under_previous_plan"] = restarted
            await control.audit_only(row, "tenant.plan_changed", detail)
            await control.session.flush()
            return TenantInfo.from_row(row)

    async def suspend_tenant(self, tenant_id: str, *, reason: str | None) -> TenantInfo:
        """See `TenantManager.suspend_tenant`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            row.status = TenantStatus.SUSPENDED.value
            row.updated_at = control.now()
            await control.audit_only(row, "tenant.suspended", {"reason": reason})
            await control.session.flush()
            return TenantInfo.from_row(row)

    async def reactivate_tenant(self, tenant_id: str) -> TenantInfo:
        """See `TenantManager.reactivate_tenant`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            row.status = TenantStatus.ACTIVE.value
            row.grace_ends_at = None
            row.trial_ends_at = None
            row.updated_at = control.now()
            await control.audit_only(row, "tenant.reactivated", {})
            await control.session.flush()
            return TenantInfo.from_row(row)

    async def run_due_transitions(self) -> TransitionReport:
        """See `TenantManager.run_due_transitions`."""
        control = self.control
        return await run_due_transitions(
            control.session, clock=control.clock, catalog=control.catalog
        )
