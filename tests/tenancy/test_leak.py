"""Two tenants interleaving over a pool of 2 connections: no read or write ever crosses tenants."""

from __future__ import annotations

import asyncio
import os
import random

from sqlalchemy import select, text

from relaypoint_core.testing import FakeClock
from relaypoint_tenancy.models import AuditEvent
from relaypoint_tenancy.service import Tenancy
from relaypoint_tenancy.strategies import ALL_TENANTS_OPTION
from tests.tenancy.conftest import StrategyTarget, build_strategy, new_slug

# Each operation is a full session: checkout, transaction, statement(s), return to the pool of 2.
# RP_LEAK_OPERATIONS raises it for a soak run; the default keeps the suite quick on a busy box.
OPERATIONS = int(os.environ.get("RP_LEAK_OPERATIONS", "1000"))
WORKERS = 6


async def test_no_cross_tenant_reads_or_writes_under_interleaving(
    strategy_target: StrategyTarget, fake_clock: FakeClock
) -> None:
    strategy = build_strategy(strategy_target, pool=2)
    tenancy = Tenancy(strategy.engine, strategy, clock=fake_clock)
    await tenancy.install()
    try:
        tenants = []
        async with tenancy.manager() as manager:
            for prefix in ("x", "y"):
                slug = new_slug(prefix)
                await manager.create_tenant(
                    name=slug, slug=slug, admin_email=f"a@{slug}.example", admin_name="A"
                )
                tenants.append(await manager.get_tenant(slug))
        by_id = {t.id: t for t in tenants}
        rng = random.Random(1234)
        plan = [rng.choice(tenants) for _ in range(OPERATIONS)]
        writes = dict.fromkeys(by_id, 0)
        # The database, not the ORM filter, must hold the wall for schema, database and RLS.
        lift_filter = strategy.kind != "shared" or getattr(strategy, "row_level_security", False)
        options = {ALL_TENANTS_OPTION: True} if lift_filter else {}
        created = tenants[0].created_at
        queue = iter(enumerate(plan))

        async def worker() -> None:
            for index, tenant in queue:
                async with strategy.session(tenant.ref) as session:
                    if index % 3 == 0:
                        session.add(
                            AuditEvent(action=f"op:{tenant.slug}", detail={}, created_at=created)
                        )
                        await session.commit()
                        writes[tenant.id] += 1
                        continue
                    rows = (
                        await session.execute(
                            select(AuditEvent.tenant_id, AuditEvent.action)
                            .order_by(AuditEvent.id.desc())
                            .limit(5),
                            execution_options=options,
                        )
                    ).all()
                    for owner, action in rows:
                        assert owner == tenant.id, f"{tenant.slug} read a row of {owner}"
                        assert action in ("tenant.created", f"op:{tenant.slug}")
                    if strategy_target.kind == "pg-shared-rls" and index % 4 == 1:
                        owners = (
                            (
                                await session.execute(
                                    text("SELECT DISTINCT tenant_id FROM rp_audit_events")
                                )
                            )
                            .scalars()
                            .all()
                        )
                        assert owners == [tenant.id]
                await asyncio.sleep(0)  # a yield: interleave the workers' sessions

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        for tenant in tenants:
            async with strategy.session(tenant.ref) as session:
                actions = (
                    await session.execute(
                        select(AuditEvent.tenant_id, AuditEvent.action), execution_options=options
                    )
                ).all()
            assert {owner for owner, _ in actions} == {tenant.id}
            assert sum(1 for _, a in actions if a.startswith("op:")) == writes[tenant.id]
    finally:
        await tenancy.dispose()
