"""The app's view of tenancy: one object over ``relaypoint_tenancy.TenantManager`` and the
tenant-bound sessions of the configured isolation strategy, plus the two adapters the auth
package asks for (a :class:`UserDirectory` and an :class:`AuditLog` sink) backed by the tenancy
tables, so users, roles and audit events live with their tenant.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from examples.app.domain import APP_TENANT_TABLES
from relaypoint_core.audit import AuditEvent as CoreAuditEvent
from relaypoint_core.auth.users import UserDirectory, UserRecord
from relaypoint_tenancy import IsolationStrategy, TenantInfo, TenantManager
from relaypoint_tenancy.models import AuditEvent

__all__ = [
    "EmailDirectory",
    "LoginIndex",
    "TenantAuditSink",
    "TenantInfo",
    "TenantService",
    "tenant_to_dict",
]

_INFO_TTL_SECONDS = 2.0


class _AppControlBase(DeclarativeBase):
    pass


class LoginIndex(_AppControlBase):
    """Which tenant(s) an email signs in to, so a login without a tenant costs one lookup."""

    __tablename__ = "app_login_index"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)


def tenant_to_dict(tenant: TenantInfo) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "plan_tier": tenant.plan_tier.value,
        "status": tenant.status.value,
        "branding": dict(tenant.branding),
    }


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


class TenantService:
    def __init__(self, engine: AsyncEngine, strategy: IsolationStrategy) -> None:
        self.engine = engine
        self.strategy = strategy
        self._info: dict[str, tuple[float, TenantInfo | None]] = {}

    # --- plumbing -------------------------------------------------------------------------------

    @asynccontextmanager
    async def manager(self, *, actor: str = "system") -> AsyncIterator[TenantManager]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield TenantManager(session, strategy=self.strategy, actor=actor)

    @asynccontextmanager
    async def session(self, tenant: TenantInfo) -> AsyncIterator[AsyncSession]:
        """A session that sees only ``tenant``'s rows; commits when the block ends normally."""
        async with self.strategy.session(tenant.ref) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def install(self) -> None:
        """Create or upgrade the control plane and the app's own control table."""
        async with self.manager() as manager:
            await manager.install()
        async with self.engine.begin() as conn:
            await conn.run_sync(_AppControlBase.metadata.create_all)

    async def ensure_app_tables(self, tenant: TenantInfo) -> None:
        """Create the app's tenant-plane tables (workflows) where the tenant's data lives."""
        async with self.session(tenant) as session:
            await session.run_sync(
                lambda sync: APP_TENANT_TABLES[0].metadata.create_all(
                    sync.connection(), tables=APP_TENANT_TABLES
                )
            )

    def _forget(self, *keys: str) -> None:
        for key in keys:
            self._info.pop(key, None)

    def _remember(self, tenant: TenantInfo) -> TenantInfo:
        entry = (time.monotonic() + _INFO_TTL_SECONDS, tenant)
        self._info[tenant.id] = entry
        self._info[tenant.slug] = entry
        return tenant

    # --- tenants --------------------------------------------------------------------------------

    async def get(self, tenant_id_or_slug: str) -> TenantInfo | None:
        """The tenant with this id or slug (snapshots are reused for two seconds)."""
        entry = self._info.get(tenant_id_or_slug)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        async with self.manager() as manager:
            tenant = await manager.find_tenant(tenant_id_or_slug)
        if tenant is None:
            self._info[tenant_id_or_slug] = (time.monotonic() + _INFO_TTL_SECONDS, None)
            return None
        return self._remember(tenant)

    get_by_slug = get

    async def create(
        self,
        *,
        name: str,
        slug: str,
        plan_tier: str,
        admin_email: str,
        admin_name: str,
        admin_password: str,
        actor: str = "system",
    ) -> TenantInfo:
        async with self.manager(actor=actor) as manager:
            tenant = await manager.create_tenant(
                name=name,
                slug=slug,
                plan_tier=plan_tier,
                admin_email=admin_email,
                admin_name=admin_name,
                admin_password=admin_password,
            )
        self._forget(slug)
        await self.ensure_app_tables(tenant)
        await self._index_login(admin_email, tenant.id)
        return self._remember(tenant)

    async def add_user(
        self, tenant: TenantInfo, *, email: str, name: str, password: str, roles: list[str]
    ) -> str:
        async with self.manager() as manager:
            user_id = await manager.create_user(
                tenant.id, email=email, name=name, password=password, roles=roles
            )
        await self._index_login(email, tenant.id)
        return user_id

    async def _index_login(self, email: str, tenant_id: str) -> None:
        async with AsyncSession(self.engine) as session:
            session.add(LoginIndex(email=email.strip().casefold(), tenant_id=tenant_id))
            await session.commit()

    async def update_branding(
        self, tenant_id: str, config: Mapping[str, Any], *, actor: str
    ) -> TenantInfo:
        async with self.manager(actor=actor) as manager:
            await manager.update_branding(tenant_id=tenant_id, branding_config=dict(config))
            tenant = await manager.get_tenant(tenant_id)
        self._forget(tenant.id, tenant.slug)
        return self._remember(tenant)

    async def change_plan(self, tenant_id: str, plan_tier: str, *, actor: str) -> TenantInfo:
        async with self.manager(actor=actor) as manager:
            tenant = await manager.change_plan(tenant_id, plan_tier)
        self._forget(tenant.id, tenant.slug)
        return self._remember(tenant)

    async def override_quota(
        self, tenant_id: str, resource: str, limit: int | None, *, actor: str
    ) -> TenantInfo:
        async with self.manager(actor=actor) as manager:
            tenant = await manager.set_quota_override(tenant_id, resource, limit)
        self._forget(tenant.id, tenant.slug)
        return self._remember(tenant)

    async def usage(self, tenant_id: str) -> list[dict[str, Any]]:
        async with self.manager() as manager:
            usage = await manager.get_usage(tenant_id)
        return [
            {"resource": name, "used": info.used, "limit": info.limit, "period": str(info.period)}
            for name, info in sorted(usage.items())
        ]

    async def consume_quota(self, tenant_id: str, resource: str, amount: int = 1) -> int:
        async with self.manager() as manager:
            return await manager.consume_quota(tenant_id, resource, amount)

    async def release_quota(self, tenant_id: str, resource: str, amount: int = 1) -> None:
        async with self.manager() as manager:
            await manager.release_quota(tenant_id, resource, amount)

    async def audit_events(
        self, tenant: TenantInfo, *, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        async with self.session(tenant) as session:
            rows = (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.tenant_id == tenant.id)
                    .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            ).scalars()
            return [
                {
                    "id": row.id,
                    "actor": row.actor,
                    "action": row.action,
                    "detail": dict(row.detail or {}),
                    "created_at": _iso(row.created_at),
                }
                for row in rows
            ]


class EmailDirectory:
    """The auth package's user lookup, plus sign-in without naming the tenant.

    Users live in their tenant (``relaypoint_tenancy.SqlUserDirectory``). When a login names no
    tenant, the app's login index says which tenant the email belongs to; an email registered
    in several tenants must name one (host, ``X-Tenant-ID`` or ``tenant_id`` in the body).
    """

    def __init__(self, tenants: TenantService, users: UserDirectory) -> None:
        self.tenants = tenants
        self.users = users

    async def get_by_email(self, email: str, *, tenant_id: str | None) -> UserRecord | None:
        if tenant_id is None:
            async with AsyncSession(self.tenants.engine) as session:
                owners = list(
                    (
                        await session.execute(
                            select(LoginIndex.tenant_id)
                            .where(LoginIndex.email == email.strip().casefold())
                            .limit(2)
                        )
                    ).scalars()
                )
            if len(owners) != 1:
                return None
            tenant_id = owners[0]
        return await self.users.get_by_email(email, tenant_id=tenant_id)

    async def get_by_id(self, user_id: str) -> UserRecord | None:
        return await self.users.get_by_id(user_id)


class TenantAuditSink:
    """An :class:`~relaypoint_core.audit.AuditLog` writing auth events into the tenant's audit table."""

    def __init__(self, tenants: TenantService) -> None:
        self.tenants = tenants

    async def record(self, event: CoreAuditEvent) -> None:
        if event.tenant_id is None:
            return
        tenant = await self.tenants.get(event.tenant_id)
        if tenant is None:
            return
        async with self.tenants.session(tenant) as session:
            session.add(
                AuditEvent(
                    tenant_id=tenant.id,
                    actor=event.actor,
                    action=event.action,
                    detail={
                        "outcome": event.outcome,
                        "target": event.target,
                        **{
                            k: v
                            for k, v in event.details.items()
                            if isinstance(v, str | int | float | bool | None)
                        },
                    },
                    created_at=datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None),
                )
            )
