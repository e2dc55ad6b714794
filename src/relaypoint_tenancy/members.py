"""`Members`: a tenant's users and their roles (create, password, role grants, listing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update

from relaypoint_core.auth.passwords import hash_password
from relaypoint_core.monitoring import performance_monitor
from relaypoint_core.rbac.roles import Role
from relaypoint_tenancy.control import ControlPlane, tenant_ref
from relaypoint_tenancy.errors import TenancyError
from relaypoint_tenancy.models import LoginIndex, RoleAssignment, Tenant, User, UserIndex
from relaypoint_tenancy.strategies import TenantPlane
from relaypoint_tenancy.validation import clean_email, clean_name, clean_roles

__all__ = ["Members", "jsonable"]

_users = cast(Table, User.__table__)
_roles = cast(Table, RoleAssignment.__table__)


def jsonable(value: Any) -> Any:
    """``value`` ready for JSON: naive UTC datetimes become ISO 8601 with a ``Z``."""
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    return value


class Members:
    """Users and roles of tenants, through the shared `ControlPlane`."""

    def __init__(self, control: ControlPlane) -> None:
        self.control = control

    async def insert_user(
        self,
        plane: TenantPlane,
        tenant: Tenant,
        *,
        email: str,
        name: str,
        password_hash: str | None,
        roles: Iterable[str],
        now: datetime,
    ) -> str:
        """Write a user and its role grants to the tenant plane and index it; returns its id.

        Runs inside the caller's unit of work; the inputs are already validated.
        """
        user_id = str(uuid.uuid4())
        await plane.execute(
            insert(_users).values(
                id=user_id,
                tenant_id=tenant.id,
                email=email,
                name=name,
                password_hash=password_hash,
                status="active",
                created_at=now,
            )
        )
        for role in roles:
            await plane.execute(
                insert(_roles).values(
                    user_id=user_id, tenant_id=tenant.id, role=role, created_at=now
                )
            )
        self.control.session.add(UserIndex(user_id=user_id, tenant_id=tenant.id))
        self.control.session.add(LoginIndex(email=email.strip().lower(), tenant_id=tenant.id))
        return user_id

    async def create_user(
        self,
        tenant_id: str,
        *,
        email: str,
        name: str,
        password: str | None = None,
        roles: Iterable[str | Role] = (Role.USER,),
    ) -> str:
        """See `TenantManager.create_user`."""
        control = self.control
        address = clean_email(email)
        display = clean_name(name, what="user name")
        role_names = clean_roles(roles)
        password_hash = hash_password(password) if password else None
        async with control.unit():
            row = await control.load(tenant_id, for_update=True)
            await control.quotas.consume(row, "users", 1)
            conn = await control.session.connection()
            async with control.strategy.tenant_plane(conn, tenant_ref(row)) as plane:
                taken = (
                    await plane.execute(
                        select(func.count())
                        .select_from(_users)
                        .where(_users.c.tenant_id == row.id, _users.c.email == address)
                    )
                ).scalar_one()
                if taken:
                    raise TenancyError(f"user {address!r} already exists in tenant {row.slug!r}")
                user_id = await self.insert_user(
                    plane,
                    row,
                    email=address,
                    name=display,
                    password_hash=password_hash,
                    roles=role_names,
                    now=control.now(),
                )
                await control.audit(plane, row, "user.created", {"user_id": user_id})
        performance_monitor.record_user_registered(str(row.plan_tier))
        return user_id

    async def set_password(self, tenant_id: str, user_id: str, password: str) -> None:
        """See `TenantManager.set_password`."""
        control = self.control
        password_hash = hash_password(password)
        async with control.unit():
            row = await control.load(tenant_id)
            conn = await control.session.connection()
            async with control.strategy.tenant_plane(conn, tenant_ref(row)) as plane:
                result = await plane.execute(
                    update(_users)
                    .where(_users.c.id == user_id, _users.c.tenant_id == row.id)
                    .values(password_hash=password_hash)
                )
                if not getattr(result, "rowcount", 0):
                    raise TenancyError(f"user {user_id!r} is not a member of {row.slug!r}")
                await control.audit(plane, row, "user.password_set", {"user_id": user_id})

    async def assign_role(self, tenant_id: str, user_id: str, role: str | Role) -> None:
        """See `TenantManager.assign_role`."""
        control = self.control
        (name,) = clean_roles([role])
        async with control.unit():
            row = await control.load(tenant_id)
            conn = await control.session.connection()
            async with control.strategy.tenant_plane(conn, tenant_ref(row)) as plane:
                found = (
                    await plane.execute(
                        select(func.count())
                        .select_from(_users)
                        .where(_users.c.id == user_id, _users.c.tenant_id == row.id)
                    )
                ).scalar_one()
                if not found:
                    raise TenancyError(f"user {user_id!r} is not a member of {row.slug!r}")
                present = (
                    await plane.execute(
                        select(func.count())
                        .select_from(_roles)
                        .where(_roles.c.user_id == user_id, _roles.c.role == name)
                    )
                ).scalar_one()
                if not present:
                    await plane.execute(
                        insert(_roles).values(
                            user_id=user_id, tenant_id=row.id, role=name, created_at=control.now()
                        )
                    )
                    await control.audit(
                        plane, row, "role.assigned", {"user_id": user_id, "role": name}
                    )

    async def list_users(self, tenant_id: str) -> list[dict[str, Any]]:
        """See `TenantManager.list_users`."""
        control = self.control
        async with control.unit():
            row = await control.load(tenant_id)
            conn = await control.session.connection()
            async with control.strategy.tenant_plane(conn, tenant_ref(row)) as plane:
                return await self.users_with_roles(plane, row)

    async def users_with_roles(self, plane: TenantPlane, row: Tenant) -> list[dict[str, Any]]:
        """The tenant's users with their sorted roles, JSON-ready (no password hashes)."""
        users = (
            await plane.execute(
                select(
                    _users.c.id,
                    _users.c.email,
                    _users.c.name,
                    _users.c.status,
                    _users.c.created_at,
                )
                .where(_users.c.tenant_id == row.id)
                .order_by(_users.c.email)
            )
        ).all()
        roles = (
            await plane.execute(
                select(_roles.c.user_id, _roles.c.role).where(_roles.c.tenant_id == row.id)
            )
        ).all()
        by_user: dict[str, list[str]] = {}
        role_rows: list[Any] = list(roles)
        for role_row in role_rows:
            by_user.setdefault(role_row[0], []).append(role_row[1])
        return [
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "status": user.status,
                "created_at": jsonable(user.created_at),
                "roles": sorted(by_user.get(user.id, [])),
            }
            for user in users
        ]
