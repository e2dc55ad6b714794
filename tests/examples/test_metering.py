"""API calls are counted against the monthly quota in batches, on a real tenancy database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from examples.app.metering import ApiCallMeter
from sqlalchemy.ext.asyncio import create_async_engine

from relaypoint_tenancy import QuotaExceeded, Tenancy, TenantInfo, UsageInfo
from relaypoint_tenancy.strategies import default_strategy
from tests.support.sql import recorded_statements


@pytest.fixture
async def tenants(tmp_path: Path) -> AsyncIterator[Tenancy]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'meter.sqlite3'}")
    service = Tenancy(engine, default_strategy(engine))
    await service.install()
    yield service
    await service.dispose()


async def _tenant(tenants: Tenancy, api_calls: int) -> TenantInfo:
    tenant = await tenants.create_tenant(
        name="Metered",
        slug="metered",
        plan_tier="FREE",
        admin_email="admin@metered.example",
        admin_name="Admin",
        admin_password="metered password",
    )
    async with tenants.manager() as manager:
        await manager.set_quota_override(tenant.id, "api_calls", api_calls)
    return tenant


def _used(usage: dict[str, UsageInfo]) -> int:
    return usage["api_calls"].used


async def test_calls_are_flushed_in_one_update_per_tenant(tenants: Tenancy) -> None:
    tenant = await _tenant(tenants, api_calls=100)
    meter = ApiCallMeter(tenants)
    for _ in range(7):
        meter.count(tenant.id)
    assert _used(await tenants.get_usage(tenant.id)) == 0  # nothing written per call
    await meter.flush()
    assert _used(await tenants.get_usage(tenant.id)) == 7
    await meter.flush()  # nothing pending: nothing changes
    assert _used(await tenants.get_usage(tenant.id)) == 7


async def test_an_exhausted_quota_refuses_calls_until_the_limit_allows_again(
    tenants: Tenancy,
) -> None:
    tenant = await _tenant(tenants, api_calls=5)
    meter = ApiCallMeter(tenants)
    for _ in range(3):
        meter.count(tenant.id)
    await meter.flush()
    for _ in range(3):
        meter.count(tenant.id)
    await meter.flush()  # 3 + 3 > 5: what fits is counted, the tenant is marked
    assert _used(await tenants.get_usage(tenant.id)) == 5
    with pytest.raises(QuotaExceeded) as refused:
        meter.count(tenant.id)
    assert refused.value.limit == 5
    await meter.flush()  # still at the limit: still refused
    with pytest.raises(QuotaExceeded):
        meter.count(tenant.id)

    async with tenants.manager() as manager:
        await manager.set_quota_override(tenant.id, "api_calls", 1000)
    await meter.flush()  # the re-check sees the new limit
    meter.count(tenant.id)
    await meter.stop()
    assert _used(await tenants.get_usage(tenant.id)) == 6


async def test_one_flush_counts_every_tenant_and_refuses_only_the_exhausted_one(
    tenants: Tenancy,
) -> None:
    small = await _tenant(tenants, api_calls=2)
    other = await tenants.create_tenant(
        name="Other",
        slug="other",
        plan_tier="ENTERPRISE",
        admin_email="admin@other.example",
        admin_name="Admin",
        admin_password="metered password",
    )
    meter = ApiCallMeter(tenants)
    for _ in range(3):
        meter.count(small.id)
        meter.count(other.id)
    meter.count("no-such-tenant")  # deleted before the flush: dropped, the others still count
    await meter.flush()
    assert _used(await tenants.get_usage(small.id)) == 2  # filled up to the limit, not past
    assert _used(await tenants.get_usage(other.id)) == 3
    with pytest.raises(QuotaExceeded):
        meter.count(small.id)
    meter.count(other.id)


async def test_consume_quotas_answers_per_tenant_in_one_call(tenants: Tenancy) -> None:
    tenant = await _tenant(tenants, api_calls=10)
    outcome = await tenants.consume_quotas("api_calls", {tenant.id: 4, "ghost": 1})
    assert outcome[tenant.id] == 4
    assert type(outcome["ghost"]).__name__ == "TenantNotFoundError"
    refused = (await tenants.consume_quotas("api_calls", {tenant.slug: 7}))[tenant.slug]
    assert isinstance(refused, QuotaExceeded)
    assert _used(await tenants.get_usage(tenant.id)) == 4  # a refused amount counts nothing


async def test_a_flush_filling_up_many_exhausted_tenants_costs_the_same_statements(
    tenants: Tenancy,
) -> None:
    small = []
    for index in range(4):
        tenant = await tenants.create_tenant(
            name="Small",
            slug=f"small{index}",
            plan_tier="FREE",
            admin_email=f"admin@small{index}.example",
            admin_name="Admin",
        )
        await tenants.set_quota_override(tenant.id, "api_calls", 2)
        small.append(tenant)
    meter = ApiCallMeter(tenants)
    for tenant in small:
        await tenants.consume_quota(tenant.id, "api_calls", 1)  # the counters exist
        for _ in range(3):
            meter.count(tenant.id)
    with recorded_statements(tenants.engine, verbs=True) as sent:
        await meter.flush()
    # The flush (tenants, increments refused, counters ensured, retried, refused usage), then
    # one fill-up of all four: the same statements for one exhausted tenant or many.
    assert sent == ["SELECT", "UPDATE", "INSERT", "UPDATE", "SELECT", "SELECT", "UPDATE"]
    assert [_used(await tenants.get_usage(t.id)) for t in small] == [2, 2, 2, 2]
    for tenant in small:
        with pytest.raises(QuotaExceeded):
            meter.count(tenant.id)
