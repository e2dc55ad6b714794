"""Plan changes (issue #12 item 9): an upgrade needs a platform administrator or an approving
billing hook, and a downgrade cannot lock a tenant out with usage counted under the higher tier."""

from __future__ import annotations

import pytest

from relaypoint_core.errors import AuthorizationError
from relaypoint_tenancy import (
    PlanChange,
    PlanChangeDeniedError,
    PlanChangePolicy,
    PlanTier,
    QuotaExceeded,
)
from relaypoint_tenancy.service import Tenancy
from tests.tenancy.conftest import new_slug

FREE, STARTER, PRO, ENTERPRISE = (
    PlanTier.FREE,
    PlanTier.STARTER,
    PlanTier.PROFESSIONAL,
    PlanTier.ENTERPRISE,
)


class ApprovesTenants:
    """A billing hook that approves upgrades of the tenants that paid (recorded per call)."""

    def __init__(self, paid: set[str]) -> None:
        self.paid = paid
        self.asked: list[PlanChange] = []

    async def approve_upgrade(self, change: PlanChange) -> bool:
        self.asked.append(change)
        return change.tenant in self.paid


def _change(current: PlanTier, requested: PlanTier, *roles: str) -> PlanChange:
    return PlanChange("acme", current, requested, actor="u-1", actor_roles=roles)


async def test_a_tenant_admin_cannot_upgrade_its_own_plan() -> None:
    policy = PlanChangePolicy()
    with pytest.raises(PlanChangeDeniedError) as caught:
        await policy.authorize(_change(FREE, ENTERPRISE, "tenant_admin"))
    assert isinstance(caught.value, AuthorizationError)
    for step in (STARTER, PRO):
        with pytest.raises(PlanChangeDeniedError):
            await policy.authorize(_change(FREE, step, "tenant_admin", "manager"))


@pytest.mark.parametrize(
    ("current", "requested"), [(ENTERPRISE, FREE), (PRO, STARTER), (FREE, FREE), (PRO, PRO)]
)
async def test_downgrades_and_the_current_plan_are_self_service(
    current: PlanTier, requested: PlanTier
) -> None:
    await PlanChangePolicy().authorize(_change(current, requested, "tenant_admin"))


async def test_a_super_admin_may_upgrade() -> None:
    await PlanChangePolicy().authorize(_change(FREE, ENTERPRISE, "super_admin"))


async def test_a_billing_hook_approves_only_paid_upgrades() -> None:
    hook = ApprovesTenants({"acme"})
    policy = PlanChangePolicy(billing=hook)
    await policy.authorize(_change(FREE, PRO, "tenant_admin"))
    unpaid = PlanChange("globex", FREE, PRO, actor="u-2", actor_roles=("tenant_admin",))
    with pytest.raises(PlanChangeDeniedError):
        await policy.authorize(unpaid)
    await policy.authorize(_change(PRO, FREE, "tenant_admin"))  # downgrades never ask
    assert [c.tenant for c in hook.asked] == ["acme", "globex"]


async def test_a_downgrade_restarts_monthly_usage_and_keeps_standing_usage(
    sqlite_tenancy: Tenancy,
) -> None:
    slug = new_slug("down")
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="Down Co",
            slug=slug,
            plan_tier=PRO,
            admin_email=f"admin@{slug}.example",
            admin_name="Ada",
        )
        await manager.consume_quota(slug, "api_calls", 50_000)  # fine on PROFESSIONAL
        for _ in range(12):
            await manager.consume_quota(slug, "workflows", 1)
        await manager.change_plan(slug, FREE)  # FREE: 10,000 calls, 10 workflows
        usage = await manager.get_usage(slug)
        assert usage["api_calls"].used == 0
        assert await manager.consume_quota(slug, "api_calls", 100) == 100  # not locked out
        assert usage["workflows"].used == 12  # standing usage is real and kept
        with pytest.raises(QuotaExceeded):
            await manager.consume_quota(slug, "workflows", 1)
        exported = await manager.export_tenant_data(slug)
    changes = [e for e in exported["audit_events"] if e["action"] == "tenant.plan_changed"]
    assert changes[-1]["detail"]["usage_under_previous_plan"] == {"api_calls": 50_000}


async def test_an_upgrade_keeps_monthly_usage(sqlite_tenancy: Tenancy) -> None:
    slug = new_slug("up")
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="Up Co",
            slug=slug,
            plan_tier=FREE,
            admin_email=f"admin@{slug}.example",
            admin_name="Ada",
        )
        await manager.consume_quota(slug, "api_calls", 9_000)
        await manager.change_plan(slug, PRO)
        assert (await manager.get_usage(slug))["api_calls"].used == 9_000
