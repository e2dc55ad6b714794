"""`Tenancy.consume_quotas` (a batched meter's flush): the same few statements whatever the
number of tenants, on SQLite and PostgreSQL, and each tenant still decided on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy import QuotaExceeded, TenantInfo, TenantNotFoundError
from relaypoint_tenancy.service import Tenancy
from tests.support.sql import recorded_statements
from tests.tenancy.conftest import StrategyTarget, installed_tenancy, new_slug

DIALECTS = ["sqlite-shared", pytest.param("pg-shared", marks=pytest.mark.postgres)]


@pytest.fixture
async def control(strategy_target: StrategyTarget, fake_clock: FakeClock) -> AsyncIterator[Tenancy]:
    async with installed_tenancy(strategy_target, fake_clock, pool=8) as service:
        yield service


def statements(tenancy: Tenancy) -> AbstractContextManager[list[str]]:
    """The verbs of the SQL statements the control engine sends inside the block."""
    return recorded_statements(tenancy.engine, verbs=True)


async def _tenants(tenancy: Tenancy, count: int, *, api_calls: int | None) -> list[TenantInfo]:
    made = []
    for _ in range(count):
        slug = new_slug("q")
        await tenancy.create_tenant(
            name="Q", slug=slug, admin_email=f"a@{slug}.example", admin_name="A"
        )
        made.append(await tenancy.set_quota_override(slug, "api_calls", api_calls))
    return made


async def _used(tenancy: Tenancy, tenant: TenantInfo) -> int:
    return (await tenancy.get_usage(tenant.id))["api_calls"].used


@pytest.mark.parametrize("strategy_target", DIALECTS, indirect=True)
async def test_a_flush_costs_the_same_statements_for_one_tenant_or_sixteen(
    control: Tenancy,
) -> None:
    one = await _tenants(control, 1, api_calls=1000)
    many = await _tenants(control, 16, api_calls=1000)
    counts = []
    for batch in (one, many):
        for _ in range(2):  # the first flush creates the counters, the second finds them
            with statements(control) as sent:
                outcome = await control.consume_quotas("api_calls", {t.id: 3 for t in batch})
            assert all(isinstance(value, int) for value in outcome.values())
            counts.append(sent)
    # Creating the counters: one SELECT of the tenants, an UPDATE counting nothing, one
    # INSERT of every missing row and the UPDATE again; then one SELECT and one UPDATE.
    assert counts[0] == counts[2] == ["SELECT", "UPDATE", "INSERT", "UPDATE"]
    assert counts[1] == counts[3] == ["SELECT", "UPDATE"]
    assert [await _used(control, t) for t in many] == [6] * 16


@pytest.mark.parametrize("strategy_target", DIALECTS, indirect=True)
async def test_each_tenant_is_refused_or_counted_on_its_own_in_one_flush(
    control: Tenancy,
) -> None:
    full, room, unlimited = (
        *(await _tenants(control, 2, api_calls=10)),
        *(await _tenants(control, 1, api_calls=None)),
    )
    await control.consume_quota(full.id, "api_calls", 8)
    with statements(control) as sent:
        outcome = await control.consume_quotas(
            "api_calls",
            {
                full.id: 3,  # 8 + 3 > 10: refused, nothing counted
                room.slug: 10,  # exactly up to the limit
                unlimited.id: 5_000,
                "ghost": 1,
                "not an id!": 1,
                unlimited.slug: 7,  # the same tenant by its other name: counted too
            },
        )
    assert len(sent) == 6  # + one SELECT of the refused usage, + a second round for the alias
    refused = outcome[full.id]
    assert isinstance(refused, QuotaExceeded)
    assert (refused.tenant, refused.limit, refused.used, refused.requested) == (
        full.slug,
        10,
        8,
        3,
    )
    assert outcome[room.slug] == 10
    assert outcome[unlimited.id] == 5_000
    assert outcome[unlimited.slug] == 5_007
    ghost, invalid = outcome["ghost"], outcome["not an id!"]
    assert isinstance(ghost, TenantNotFoundError)
    assert isinstance(invalid, TenantNotFoundError)
    assert "not an id" not in str(invalid)  # never echoed
    assert list(outcome) == [
        full.id,
        room.slug,
        unlimited.id,
        "ghost",
        "not an id!",
        unlimited.slug,
    ]
    assert [await _used(control, t) for t in (full, room, unlimited)] == [8, 10, 5_007]
    # The partial fill-up a meter does next counts exactly what is left.
    assert await control.consume_quotas("api_calls", {full.id: 2}) == {full.id: 10}


@pytest.mark.parametrize("strategy_target", DIALECTS, indirect=True)
async def test_a_bad_amount_counts_nothing_for_anyone(control: Tenancy) -> None:
    first, second = await _tenants(control, 2, api_calls=100)
    with pytest.raises(ValueError, match="positive"):
        await control.consume_quotas("api_calls", {first.id: 5, second.id: 0})
    assert [await _used(control, t) for t in (first, second)] == [0, 0]


@pytest.mark.postgres
@pytest.mark.parametrize("strategy_target", ["pg-shared"], indirect=True)
async def test_concurrent_flushes_never_pass_any_limit(control: Tenancy) -> None:
    tenants = await _tenants(control, 4, api_calls=20)
    await control.consume_quotas("api_calls", {t.id: 1 for t in tenants})  # counters exist

    async def flush() -> dict[str, Any]:
        return await control.consume_quotas("api_calls", {t.id: 3 for t in tenants})

    outcomes = await asyncio.gather(*(flush() for _ in range(12)))
    for tenant in tenants:
        counted = sorted(o[tenant.id] for o in outcomes if isinstance(o[tenant.id], int))
        assert counted == [4, 7, 10, 13, 16, 19]  # each admitted flush saw a distinct count
        refused = [o[tenant.id] for o in outcomes if isinstance(o[tenant.id], QuotaExceeded)]
        assert len(refused) == 6
        assert {(e.limit, e.used) for e in refused} == {(20, 19)}
        assert await _used(control, tenant) == 19
