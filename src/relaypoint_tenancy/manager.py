"""``TenantManager``: the control-plane API (create, plans, domains, branding, quotas, GDPR).

A facade: each job lives in its own module, all sharing one `ControlPlane` (session, strategy,
clock, actor, unit of work, audit) and one set of validators (`relaypoint_tenancy.validation`):
`lifecycle`, `domains`, `branding_ops`, `members`, `quota_ops` and `gdpr`.

Every mutating method is one unit of work on the session you pass: it commits on success and
rolls back on any failure. ``create_tenant`` also undoes isolation resources that live outside the
transaction (a tenant database), so a failure half-way leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.rbac.roles import Role
from relaypoint_tenancy.branding import BrandingConfig
from relaypoint_tenancy.branding_ops import BrandingControls
from relaypoint_tenancy.control import ControlPlane
from relaypoint_tenancy.domains import Domains
from relaypoint_tenancy.errors import TenancyConfigurationError
from relaypoint_tenancy.gdpr import TenantData
from relaypoint_tenancy.lifecycle import Lifecycle, StepHook
from relaypoint_tenancy.members import Members
from relaypoint_tenancy.plans import DEFAULT_PLAN_CATALOG, PlanCatalog, PlanTier, TenantStatus
from relaypoint_tenancy.quota_ops import QuotaControls
from relaypoint_tenancy.quotas import QuotaService
from relaypoint_tenancy.records import DomainInfo, TenantInfo, TransitionReport, UsageInfo
from relaypoint_tenancy.strategies import IsolationStrategy, TenantRef, default_strategy

__all__ = ["StepHook", "TenantManager"]


class TenantManager:
    """Manage tenants through ``db_session`` (an `AsyncSession` on the control database).

    ``strategy`` defaults to schema-per-tenant on PostgreSQL and shared tables on SQLite; pass the
    application's configured strategy to share its engine cache.
    """

    def __init__(
        self,
        db_session: AsyncSession,
        *,
        strategy: IsolationStrategy | None = None,
        catalog: PlanCatalog = DEFAULT_PLAN_CATALOG,
        clock: Clock = system_clock,
        actor: str = "system",
        on_step: StepHook | None = None,
    ) -> None:
        if strategy is None:
            bind = db_session.bind
            if not isinstance(bind, AsyncEngine):
                raise TenancyConfigurationError(
                    "TenantManager needs a session bound to an AsyncEngine, or an explicit strategy"
                )
            strategy = default_strategy(bind)
        self.quotas = QuotaService(db_session, catalog=catalog, clock=clock)
        self.control = ControlPlane(
            session=db_session,
            strategy=strategy,
            catalog=catalog,
            clock=clock,
            actor=actor,
            quotas=self.quotas,
        )
        self.members = Members(self.control)
        self.lifecycle = Lifecycle(self.control, self.members, on_step=on_step)
        self.domains = Domains(self.control)
        self.branding = BrandingControls(self.control)
        self.quota_controls = QuotaControls(self.control)
        self.data = TenantData(self.control, self.members)

    @property
    def session(self) -> AsyncSession:
        """The session on the control database."""
        return self.control.session

    @property
    def strategy(self) -> IsolationStrategy:
        """The isolation strategy."""
        return self.control.strategy

    @property
    def catalog(self) -> PlanCatalog:
        """The plan catalogue."""
        return self.control.catalog

    @property
    def clock(self) -> Clock:
        """The injected clock."""
        return self.control.clock

    @property
    def actor(self) -> str:
        """Who is recorded in audit events."""
        return self.control.actor

    # --- lifecycle ------------------------------------------------------------------------------

    async def install(self) -> None:
        """Create or upgrade the control-plane tables (and shared tenant tables); idempotent."""
        await self.lifecycle.install()

    async def create_tenant(
        self,
        *,
        name: str,
        slug: str,
        plan_tier: PlanTier | str = PlanTier.FREE,
        admin_email: str,
        admin_name: str,
        admin_password: str | None = None,
        start_trial: bool = True,
    ) -> TenantInfo:
        """Create the tenant, its isolation resources and its ``tenant_admin``, all or nothing."""
        return await self.lifecycle.create_tenant(
            name=name,
            slug=slug,
            plan_tier=plan_tier,
            admin_email=admin_email,
            admin_name=admin_name,
            admin_password=admin_password,
            start_trial=start_trial,
        )

    async def get_tenant(self, tenant_id: str) -> TenantInfo:
        """The tenant with this slug or id; raises `TenantNotFoundError`."""
        return await self.lifecycle.get_tenant(tenant_id)

    async def find_tenant(self, tenant_id: str) -> TenantInfo | None:
        """The tenant with this slug or id, or ``None``."""
        return await self.lifecycle.find_tenant(tenant_id)

    async def tenant_ref(self, tenant_id: str) -> TenantRef:
        """The `TenantRef` of the tenant with this slug or id; raises `TenantNotFoundError`."""
        return (await self.get_tenant(tenant_id)).ref

    async def list_tenants(
        self, *, status: TenantStatus | str | None = None, limit: int = 100, offset: int = 0
    ) -> list[TenantInfo]:
        """Tenants ordered by slug, optionally only those in ``status``."""
        return await self.lifecycle.list_tenants(status=status, limit=limit, offset=offset)

    async def change_plan(self, tenant_id: str, plan_tier: PlanTier | str) -> TenantInfo:
        """Move to ``plan_tier``; choosing a plan ends a trial or grace period (-> active).

        A downgrade restarts this month's counters of monthly resources (API calls): what was
        used under the higher plan is not charged to the lower one, which would otherwise lock
        the tenant out until the month ends. Standing resources (users, workflows) are kept;
        above the new limits, only adding more is refused. Who may upgrade is decided before
        this call (`PlanChangePolicy`).
        """
        return await self.lifecycle.change_plan(tenant_id, plan_tier)

    async def suspend_tenant(self, tenant_id: str, *, reason: str | None = None) -> TenantInfo:
        """Suspend the tenant (audited with ``reason``)."""
        return await self.lifecycle.suspend_tenant(tenant_id, reason=reason)

    async def reactivate_tenant(self, tenant_id: str) -> TenantInfo:
        """Make the tenant active again, ending any trial or grace period."""
        return await self.lifecycle.reactivate_tenant(tenant_id)

    async def run_due_transitions(self) -> TransitionReport:
        """Trial expiry -> grace -> suspended for every due tenant (call from a scheduler)."""
        return await self.lifecycle.run_due_transitions()

    # --- domains --------------------------------------------------------------------------------

    async def add_domain(self, tenant_id: str, domain: str) -> DomainInfo:
        """Claim ``domain`` for the tenant (unverified); publish ``txt_record`` then verify."""
        return await self.domains.add_domain(tenant_id, domain)

    async def verify_domain(self, tenant_id: str, domain: str, *, token: str) -> DomainInfo:
        """Mark ``domain`` verified when ``token`` (found in its DNS TXT record) matches."""
        return await self.domains.verify_domain(tenant_id, domain, token=token)

    async def remove_domain(self, tenant_id: str, domain: str) -> None:
        """Release ``domain`` from the tenant."""
        await self.domains.remove_domain(tenant_id, domain)

    async def list_domains(self, tenant_id: str) -> list[DomainInfo]:
        """The tenant's domains, ordered by name."""
        return await self.domains.list_domains(tenant_id)

    # --- branding -------------------------------------------------------------------------------

    async def update_branding(
        self, tenant_id: str, branding_config: Mapping[str, Any]
    ) -> BrandingConfig:
        """Merge ``branding_config`` into the tenant's branding (``None`` removes a key)."""
        return await self.branding.update(tenant_id, branding_config)

    async def get_branding(self, tenant_id: str) -> BrandingConfig:
        """The tenant's stored branding."""
        return await self.branding.get(tenant_id)

    # --- users ----------------------------------------------------------------------------------

    async def create_user(
        self,
        tenant_id: str,
        *,
        email: str,
        name: str,
        password: str | None = None,
        roles: Iterable[str | Role] = (Role.USER,),
    ) -> str:
        """Add a user to the tenant (counts against the ``users`` quota); returns its id."""
        return await self.members.create_user(
            tenant_id, email=email, name=name, password=password, roles=roles
        )

    async def set_password(self, tenant_id: str, user_id: str, password: str) -> None:
        """Set (or reset) a user's password; stored as an Argon2id hash."""
        await self.members.set_password(tenant_id, user_id, password)

    async def assign_role(self, tenant_id: str, user_id: str, role: str | Role) -> None:
        """Grant ``role`` to a member of the tenant (audited; granting it twice is a no-op)."""
        await self.members.assign_role(tenant_id, user_id, role)

    async def list_users(self, tenant_id: str) -> list[dict[str, Any]]:
        """Users of the tenant with their roles (no password hashes)."""
        return await self.members.list_users(tenant_id)

    # --- quotas ---------------------------------------------------------------------------------

    async def consume_quota(self, tenant_id: str, resource: str, amount: int = 1) -> int:
        """Atomically count ``amount`` of ``resource``; raises `QuotaExceeded` at the limit."""
        return await self.quota_controls.consume(tenant_id, resource, amount)

    async def release_quota(self, tenant_id: str, resource: str, amount: int = 1) -> None:
        """Give back ``amount`` of ``resource`` (never below zero)."""
        await self.quota_controls.release(tenant_id, resource, amount)

    async def get_usage(self, tenant_id: str) -> dict[str, UsageInfo]:
        """The tenant's use and limit of every resource of its plan."""
        return await self.quota_controls.usage(tenant_id)

    async def set_quota_override(
        self, tenant_id: str, resource: str, limit: int | None
    ) -> TenantInfo:
        """Give this tenant its own limit for ``resource`` (``None`` = unlimited)."""
        return await self.quota_controls.set_override(tenant_id, resource, limit)

    async def clear_quota_override(self, tenant_id: str, resource: str) -> TenantInfo:
        """Return ``resource`` to the plan's limit (audited as ``quota.override_cleared``)."""
        return await self.quota_controls.clear_override(tenant_id, resource)

    # --- GDPR -----------------------------------------------------------------------------------

    async def export_tenant_data(self, tenant_id: str) -> dict[str, Any]:
        """Everything stored about the tenant, as JSON-ready data (password hashes excluded)."""
        return await self.data.export_data(tenant_id)

    async def export_tenant_json(self, tenant_id: str) -> str:
        """`export_tenant_data` as indented JSON with sorted keys."""
        return await self.data.export_json(tenant_id)

    async def delete_tenant(self, tenant_id: str) -> None:
        """Delete the tenant and every row, schema or database it owns (GDPR erasure)."""
        await self.data.delete(tenant_id)
