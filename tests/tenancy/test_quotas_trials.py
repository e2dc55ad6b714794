"""Quotas (atomic, per-plan, overrides, monthly periods) and the trial lifecycle (fake clock)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import PlanTier, QuotaExceeded, TenantStatus
from relaypoint_tenancy.manager import TenantManager
from relaypoint_tenancy.service import Tenancy
from tests.tenancy.conftest import StrategyTarget, build_strategy, new_slug

DAY = 86_400.0


@pytest.mark.postgres
@pytest.mark.parametrize("strategy_target", ["pg-schema"], indirect=True)
async def test_fifty_concurrent_increments_against_quota_twenty_admit_exactly_twenty(
    strategy_target: StrategyTarget, fake_clock: FakeClock
) -> None:
    strategy = build_strategy(strategy_target, pool=10)
    tenancy = Tenancy(strategy.engine, strategy, clock=fake_clock)
    await tenancy.install()
    slug = new_slug()
    try:
        async with tenancy.manager() as manager:
            await manager.create_tenant(
                name="Q", slug=slug, admin_email="q@q.example", admin_name="Q"
            )
            await manager.set_quota_override(slug, "workflows", 20)

        async def increment() -> int:
            async with AsyncSession(tenancy.engine) as session:
                manager = TenantManager(session, strategy=strategy, clock=fake_clock)
                return await manager.consume_quota(slug, "workflows")

        outcomes = await asyncio.gather(*(increment() for _ in range(50)), return_exceptions=True)
        admitted = sorted(o for o in outcomes if isinstance(o, int))
        refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
        assert admitted == list(range(1, 21))  # every admitted increment saw a distinct count
        assert len(refused) == 30
        assert {(e.limit, e.used) for e in refused} == {(20, 20)}
        async with tenancy.manager() as manager:
            usage = await manager.get_usage(slug)
        assert usage["workflows"].used == 20
        assert usage["workflows"].remaining == 0
    finally:
        await tenancy.dispose()


async def test_plan_limits_overrides_and_release(sqlite_tenancy: Tenancy) -> None:
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="F",
            slug="free-co",
            plan_tier=PlanTier.FREE,
            admin_email="a@f.example",
            admin_name="A",
        )
        # FREE allows 3 users; the admin is the first
        await manager.create_user("free-co", email="b@f.example", name="B")
        await manager.create_user("free-co", email="c@f.example", name="C")
        with pytest.raises(QuotaExceeded) as caught:
            await manager.create_user("free-co", email="d@f.example", name="D")
        assert (caught.value.resource, caught.value.limit, caught.value.used) == ("users", 3, 3)
        assert len(await manager.list_users("free-co")) == 3  # the refused user was not created
        await manager.set_quota_override("free-co", "users", 4)
        await manager.create_user("free-co", email="d@f.example", name="D")
        await manager.release_quota("free-co", "users", 1)
        assert (await manager.get_usage("free-co"))["users"].used == 3
        await manager.set_quota_override("free-co", "users", None)  # unlimited
        assert (await manager.get_usage("free-co"))["users"].limit is None
        await manager.clear_quota_override("free-co", "users")
        assert (await manager.get_usage("free-co"))["users"].limit == 3


async def test_api_calls_are_counted_per_month(
    sqlite_tenancy: Tenancy, fake_clock: FakeClock
) -> None:
    fake_clock.set_time(1_767_225_600.0 - 60)  # 2025-12-31 23:59 UTC
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="M", slug="monthly", admin_email="a@m.example", admin_name="A"
        )
        await manager.set_quota_override("monthly", "api_calls", 2)
        await manager.consume_quota("monthly", "api_calls", 2)
        with pytest.raises(QuotaExceeded):
            await manager.consume_quota("monthly", "api_calls")
        fake_clock.advance(120)  # January: a fresh period
        assert await manager.consume_quota("monthly", "api_calls") == 1
        assert (await manager.get_usage("monthly"))["api_calls"].period == "2026-01"
        with pytest.raises(ValueError, match="positive"):
            await manager.consume_quota("monthly", "api_calls", 0)


async def test_trial_expiry_grace_then_suspension(
    sqlite_tenancy: Tenancy, fake_clock: FakeClock
) -> None:
    async with sqlite_tenancy.manager() as manager:
        trial = await manager.create_tenant(
            name="T",
            slug="trial-co",
            plan_tier=PlanTier.STARTER,
            admin_email="a@t.example",
            admin_name="A",
        )
        assert trial.status is TenantStatus.TRIAL
        await manager.create_tenant(
            name="U",
            slug="upgrader",
            plan_tier=PlanTier.STARTER,
            admin_email="a@u.example",
            admin_name="A",
        )
        await manager.create_tenant(
            name="F",
            slug="free-co",
            plan_tier=PlanTier.FREE,
            admin_email="a@f.example",
            admin_name="A",
        )
        fake_clock.advance(13 * DAY)
        assert await manager.run_due_transitions() == type(await manager.run_due_transitions())()
        assert (
            await manager.change_plan("upgrader", PlanTier.PROFESSIONAL)
        ).status is TenantStatus.ACTIVE
        fake_clock.advance(1 * DAY + 1)
        report = await manager.run_due_transitions()
        assert report.to_grace == ("trial-co",)
        grace = await manager.get_tenant("trial-co")
        assert grace.status is TenantStatus.GRACE
        assert grace.grace_ends_at is not None
        fake_clock.advance(7 * DAY)
        report = await manager.run_due_transitions()
        assert report.suspended == ("trial-co",)
        statuses = {t.slug: t.status for t in await manager.list_tenants()}
        assert statuses == {
            "trial-co": TenantStatus.SUSPENDED,
            "upgrader": TenantStatus.ACTIVE,
            "free-co": TenantStatus.ACTIVE,
        }
        # paying reactivates
        assert (
            await manager.change_plan("trial-co", PlanTier.STARTER)
        ).status is TenantStatus.SUSPENDED
        assert (await manager.reactivate_tenant("trial-co")).status is TenantStatus.ACTIVE


async def test_a_missed_scheduler_does_not_extend_grace(
    sqlite_tenancy: Tenancy, fake_clock: FakeClock
) -> None:
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="L",
            slug="late",
            plan_tier=PlanTier.STARTER,
            admin_email="a@l.example",
            admin_name="A",
        )
        fake_clock.advance(40 * DAY)  # trial (14) + grace (7) both long over
        report = await manager.run_due_transitions()
        assert report.to_grace == ("late",)
        assert report.suspended == ("late",)
