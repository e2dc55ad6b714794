"""The SQL user directory behind login, and the package's import-time weight."""

from __future__ import annotations

import subprocess
import sys

from relaypoint_core.auth.passwords import verify_password
from relaypoint_core.auth.users import UserDirectory, UserRecord
from relaypoint_core.rbac.roles import Role
from relaypoint_tenancy import PlanTier
from relaypoint_tenancy.service import Tenancy


async def test_sql_user_directory_serves_login(sqlite_tenancy: Tenancy) -> None:
    directory = sqlite_tenancy.user_directory()
    assert isinstance(directory, UserDirectory)
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="Acme",
            slug="acme",
            plan_tier=PlanTier.PROFESSIONAL,
            admin_email="admin@acme.com",
            admin_name="A",
            admin_password="correct horse",
        )
        await manager.create_tenant(
            name="Beta", slug="beta", admin_email="admin@acme.com", admin_name="B"
        )
        user_id = await manager.create_user(
            "acme", email="Dev@Acme.com", name="Dev", roles=[Role.MANAGER, Role.USER]
        )
        acme = await manager.get_tenant("acme")
    record = await directory.get_by_email("dev@acme.com", tenant_id="acme")
    assert record == UserRecord(
        user_id=user_id,
        email="dev@acme.com",
        password_hash=None,
        tenant_id="acme",
        roles=("manager", "user"),
        plan_tier="PROFESSIONAL",  # the tenant's plan, for the login metric
    )
    assert (
        await directory.get_by_email("DEV@acme.com ", tenant_id=acme.id) == record
    )  # id works too
    assert await directory.get_by_id(user_id) == record
    # the same email in another tenant is another user
    beta_admin = await directory.get_by_email("admin@acme.com", tenant_id="beta")
    acme_admin = await directory.get_by_email("admin@acme.com", tenant_id="acme")
    assert beta_admin is not None
    assert acme_admin is not None
    assert beta_admin.user_id != acme_admin.user_id
    assert beta_admin.tenant_id == "beta"
    assert await directory.get_by_email("dev@acme.com", tenant_id="beta") is None
    # Email-only login: an email in exactly one tenant is found through the login index...
    assert await directory.get_by_email(" DEV@acme.com", tenant_id=None) == record
    # ...an email in several tenants must name one (the answer does not say which exist).
    assert await directory.get_by_email("admin@acme.com", tenant_id=None) is None
    assert await directory.get_by_email("nobody@acme.com", tenant_id=None) is None
    assert await directory.get_by_email("dev@acme.com", tenant_id="nope") is None
    assert await directory.get_by_id("no-such-user") is None
    async with sqlite_tenancy.manager() as manager:
        await manager.set_password("acme", user_id, "a new passphrase")
    updated = await directory.get_by_id(user_id)
    assert updated is not None
    assert verify_password(updated.password_hash, "a new passphrase")
    async with sqlite_tenancy.manager() as manager:
        await manager.suspend_tenant("acme")
    suspended = await directory.get_by_id(user_id)
    assert suspended is not None
    assert not suspended.is_active


def test_bare_import_pulls_in_no_sqlalchemy_or_web_framework() -> None:
    code = (
        "import sys, relaypoint_tenancy as t; t.validate_slug('acme'); t.PlanTier.FREE; "
        "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'starlette', 'alembic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_new_users_are_counted_by_plan_tier(sqlite_tenancy: Tenancy) -> None:
    from prometheus_client import REGISTRY

    def registered() -> float:
        labels = {"plan_tier": "STARTER"}
        return REGISTRY.get_sample_value("relaypoint_users_registered_total", labels) or 0.0

    before = registered()
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="Count Co",
            slug="countco",
            plan_tier=PlanTier.STARTER,
            admin_email="admin@count.example",
            admin_name="A",
        )
        await manager.create_user("countco", email="dev@count.example", name="Dev")
    assert registered() == before + 2  # the tenant's admin, then one more user
