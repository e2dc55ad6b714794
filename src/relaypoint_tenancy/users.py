"""``SqlUserDirectory``: the auth service's ``relaypoint_core.auth.users.UserDirectory``
backed by the tenancy tables, so users created by ``TenantManager`` can log in.

Returned records carry the tenant's **slug** as ``tenant_id`` (the identifier tokens, the tenant
context and the resolution middleware all use). A suspended tenant's users are inactive.

**Email-only login.** ``get_by_email(email, tenant_id=None)`` finds the tenant through the
platform-wide login index (``rp_login_index``, kept by ``TenantManager`` whenever it creates a
user). The rule for an email that belongs to several tenants: it must name its tenant
(``tenant_id`` in the login body, ``X-Tenant-ID``, the tenant's host name or path); without one
the lookup answers "no such user", so the login fails exactly like a wrong password and the
answer never tells a caller in which tenants an email is registered.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaypoint_core.auth.users import UserRecord
from relaypoint_core.text import is_safe_id, is_storable
from relaypoint_tenancy.models import LoginIndex, RoleAssignment, Tenant, User, UserIndex
from relaypoint_tenancy.plans import TenantStatus
from relaypoint_tenancy.strategies import IsolationStrategy, TenantRef

__all__ = ["SqlUserDirectory"]

_users = cast(Table, User.__table__)
_roles = cast(Table, RoleAssignment.__table__)


class SqlUserDirectory:
    """Looks users up in their tenant's tables through the configured isolation strategy."""

    def __init__(self, strategy: IsolationStrategy) -> None:
        self._strategy = strategy

    async def _user(self, conn: AsyncConnection, tenant: Any, condition: Any) -> UserRecord | None:
        ref = TenantRef(tenant.id, tenant.slug, tenant.data_location)
        async with self._strategy.tenant_plane(conn, ref) as plane:
            user = (
                await plane.execute(
                    select(_users.c.id, _users.c.email, _users.c.password_hash, _users.c.status)
                    .where(_users.c.tenant_id == tenant.id)
                    .where(condition)
                )
            ).first()
            if user is None:
                return None
            roles = (
                await plane.execute(
                    select(_roles.c.role)
                    .where(_roles.c.user_id == user.id, _roles.c.tenant_id == tenant.id)
                    .order_by(_roles.c.role)
                )
            ).scalars()
            role_names = tuple(roles)
        return UserRecord(
            user_id=user.id,
            email=user.email,
            password_hash=user.password_hash,
            tenant_id=tenant.slug,
            roles=role_names,
            is_active=user.status == "active" and tenant.status != TenantStatus.SUSPENDED.value,
            plan_tier=str(tenant.plan_tier),
        )

    async def get_by_email(self, email: str, *, tenant_id: str | None) -> UserRecord | None:
        """The user with ``email`` in tenant ``tenant_id`` (slug or id).

        Args:
            email: The sign-in email (matched case-insensitively).
            tenant_id: The tenant's slug or id; ``None`` looks the email up in the login index
                and succeeds only when exactly one tenant has it.

        Returns:
            The user, or ``None``.
        """
        email = email.strip().lower()
        if not _lookup_ok(email, 320) or (tenant_id is not None and not is_safe_id(tenant_id)):
            return None  # input no row can match never reaches SQL (PostgreSQL refuses NUL)
        if tenant_id is None:
            async with self._strategy.engine.connect() as conn:
                owners = list(
                    (
                        await conn.execute(
                            select(LoginIndex.tenant_id).where(LoginIndex.email == email).limit(2)
                        )
                    ).scalars()
                )
            if len(owners) != 1:
                return None
            tenant_id = owners[0]
        columns = (Tenant.id, Tenant.slug, Tenant.data_location, Tenant.status, Tenant.plan_tier)
        async with self._strategy.engine.connect() as conn:
            tenant = (
                await conn.execute(
                    select(*columns).where(or_(Tenant.slug == tenant_id, Tenant.id == tenant_id))
                )
            ).first()
            if tenant is None:
                return None
            return await self._user(conn, tenant, _users.c.email == email)

    async def get_by_id(self, user_id: str) -> UserRecord | None:
        if not is_safe_id(user_id):
            return None
        columns = (Tenant.id, Tenant.slug, Tenant.data_location, Tenant.status, Tenant.plan_tier)
        async with self._strategy.engine.connect() as conn:
            tenant = (
                await conn.execute(
                    select(*columns)
                    .join(UserIndex, UserIndex.tenant_id == Tenant.id)
                    .where(UserIndex.user_id == user_id)
                )
            ).first()
            if tenant is None:
                return None
            return await self._user(conn, tenant, _users.c.id == user_id)


def _lookup_ok(value: str, max_length: int) -> bool:
    return 0 < len(value) <= max_length and is_storable(value)
