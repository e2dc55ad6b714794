"""Atomic usage counting against plan limits.

One ``UPDATE ... SET used = used + n WHERE ... AND used + n <= limit RETURNING used`` decides each
increment: the row lock serialises concurrent writers and the condition is re-checked after the
wait, so no increment is lost and none slips past the limit. `QuotaService.consume_many` decides
many tenants' increments in one such statement (``CASE tenant_id WHEN ... THEN n``), so a batched
meter's flush costs the same few statements whatever the number of tenants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from relaypoint_core.clock import Clock, system_clock
from relaypoint_tenancy.errors import QuotaExceeded
from relaypoint_tenancy.models import Tenant, UsageCounter
from relaypoint_tenancy.plans import DEFAULT_PLAN_CATALOG, PlanCatalog, PlanTier, QuotaPeriod
from relaypoint_tenancy.records import UsageInfo

__all__ = ["CONSUME_MANY_CHUNK", "QuotaService"]

_counters = cast(Table, UsageCounter.__table__)
CONSUME_MANY_CHUNK = 200
"""Tenants per statement of `QuotaService.consume_many` (bounds its SQL and bound parameters)."""


def _counter(tenant_id: str, resource: str, period: str) -> ColumnElement[bool]:
    """The WHERE clause selecting one usage-counter row."""
    return (
        (_counters.c.tenant_id == tenant_id)
        & (_counters.c.resource == resource)
        & (_counters.c.period == period)
    )


class QuotaService:
    """Counts usage for tenants on ``session``; the caller owns the transaction."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        catalog: PlanCatalog = DEFAULT_PLAN_CATALOG,
        clock: Clock = system_clock,
    ) -> None:
        self._session = session
        self._catalog = catalog
        self._clock = clock

    def period_key(self, resource: str) -> str:
        if self._catalog.period(resource) is QuotaPeriod.MONTH:
            return datetime.fromtimestamp(self._clock.time(), UTC).strftime("%Y-%m")
        return QuotaPeriod.TOTAL.value

    def limit(self, tenant: Tenant, resource: str) -> int | None:
        return self._catalog.quota(PlanTier(tenant.plan_tier), resource, tenant.quota_overrides)

    async def _ensure_row(self, tenant_id: str, resource: str, period: str) -> None:
        await self._ensure_rows([tenant_id], resource, period)

    async def _ensure_rows(self, tenant_ids: Sequence[str], resource: str, period: str) -> None:
        values = [
            {"tenant_id": tenant_id, "resource": resource, "period": period, "used": 0}
            for tenant_id in tenant_ids
        ]
        conn = await self._session.connection()
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        await self._session.execute(
            insert(_counters)
            .values(values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "resource", "period"])
        )

    async def consume(self, tenant: Tenant, resource: str, amount: int = 1) -> int:
        """Add ``amount`` to the tenant's usage or raise `QuotaExceeded`; returns new usage.

        The increment is tried first; the counter row is ensured only when that counted nothing,
        so a steady stream of increments costs one statement each.
        """
        if amount < 1:
            raise ValueError("amount must be a positive integer")
        period = self.period_key(resource)
        limit = self.limit(tenant, resource)
        key = _counter(tenant.id, resource, period)
        statement = update(_counters).where(key).values(used=_counters.c.used + amount)
        if limit is not None:
            statement = statement.where(_counters.c.used + amount <= limit)
        statement = statement.returning(_counters.c.used)
        row = (await self._session.execute(statement)).first()
        if row is not None:
            return int(row[0])
        # No row counted: it may not exist yet, or (PostgreSQL, READ COMMITTED) a concurrent
        # first increment's row was not visible to this statement, or the limit refused it. The
        # insert waits for any concurrent insert of the row; the retry then sees the row.
        await self._ensure_row(tenant.id, resource, period)
        row = (await self._session.execute(statement)).first()
        if row is not None:
            return int(row[0])
        used = (await self._session.execute(select(_counters.c.used).where(key))).scalar_one()
        raise QuotaExceeded(
            tenant=tenant.slug,
            resource=resource,
            limit=limit if limit is not None else 0,
            used=int(used),
            requested=amount,
        )

    async def consume_many(
        self, resource: str, amounts: Sequence[tuple[Tenant, int]]
    ) -> dict[str, int | QuotaExceeded]:
        """Add each tenant's amount to its usage, in one statement per `CONSUME_MANY_CHUNK`.

        Each tenant is decided as by `consume`: atomically, never past its own limit, and a
        refused amount counts nothing (the others are still counted). A flush whose counters
        all exist costs one UPDATE; the counters created on the way cost one INSERT and one
        more UPDATE, the refused ones one SELECT of their usage.

        Args:
            resource: The quota resource.
            amounts: Each tenant (distinct rows) and its positive amount.

        Returns:
            The new usage, or the `QuotaExceeded` that refused it, by tenant id.

        Raises:
            ValueError: An amount is below 1, or a tenant appears twice (nothing is counted).
        """
        if any(amount < 1 for _, amount in amounts):
            raise ValueError("amount must be a positive integer")
        if len({tenant.id for tenant, _ in amounts}) != len(amounts):
            raise ValueError("each tenant may appear once in one consume_many")
        outcome: dict[str, int | QuotaExceeded] = {}
        for start in range(0, len(amounts), CONSUME_MANY_CHUNK):
            outcome.update(
                await self._consume_chunk(resource, amounts[start : start + CONSUME_MANY_CHUNK])
            )
        return outcome

    async def _consume_chunk(
        self, resource: str, amounts: Sequence[tuple[Tenant, int]]
    ) -> dict[str, int | QuotaExceeded]:
        period = self.period_key(resource)
        wanted = {tenant.id: amount for tenant, amount in amounts}
        limits = {tenant.id: self.limit(tenant, resource) for tenant, _ in amounts}
        counted = await self._add_many(resource, period, wanted, limits)
        left = [tenant_id for tenant_id in wanted if tenant_id not in counted]
        if left:  # as in `consume`: a missing (or not yet visible) row, or a refused amount
            await self._ensure_rows(left, resource, period)
            counted.update(
                await self._add_many(resource, period, {t: wanted[t] for t in left}, limits)
            )
        outcome: dict[str, int | QuotaExceeded] = dict(counted)
        refused = [tenant_id for tenant_id in left if tenant_id not in counted]
        if refused:
            rows = await self._session.execute(
                select(_counters.c.tenant_id, _counters.c.used).where(
                    _counters.c.tenant_id.in_(refused),
                    _counters.c.resource == resource,
                    _counters.c.period == period,
                )
            )
            used = {str(tenant_id): int(count) for tenant_id, count in rows.all()}
            slugs = {tenant.id: tenant.slug for tenant, _ in amounts}
            for tenant_id in refused:
                limit = limits[tenant_id]
                outcome[tenant_id] = QuotaExceeded(
                    tenant=slugs[tenant_id],
                    resource=resource,
                    limit=limit if limit is not None else 0,
                    used=int(used.get(tenant_id, 0)),
                    requested=wanted[tenant_id],
                )
        return outcome

    async def _add_many(
        self,
        resource: str,
        period: str,
        wanted: dict[str, int],
        limits: dict[str, int | None],
    ) -> dict[str, int]:
        """One ``UPDATE ... SET used = used + CASE ... WHERE used + CASE ... <= CASE ...``."""
        tenant = _counters.c.tenant_id
        amount = case(wanted, value=tenant)
        statement = update(_counters).where(
            tenant.in_(list(wanted)),
            _counters.c.resource == resource,
            _counters.c.period == period,
        )
        limited = {t: limits[t] for t in wanted if limits[t] is not None}
        if limited:
            within: Any = _counters.c.used + amount <= case(limited, value=tenant)
            unlimited = [t for t in wanted if limits[t] is None]
            statement = statement.where(or_(tenant.in_(unlimited), within) if unlimited else within)
        statement = statement.values(used=_counters.c.used + amount).returning(
            tenant, _counters.c.used
        )
        rows = (await self._session.execute(statement)).all()
        return {str(tenant_id): int(used) for tenant_id, used in rows}

    async def release(self, tenant: Tenant, resource: str, amount: int = 1) -> None:
        """Give back ``amount`` (never below zero), e.g. when a user is removed."""
        period = self.period_key(resource)
        key = _counter(tenant.id, resource, period)
        result = await self._session.execute(
            update(_counters)
            .where(key & (_counters.c.used >= amount))
            .values(used=_counters.c.used - amount)
        )
        if getattr(result, "rowcount", 1) == 0:
            await self._session.execute(update(_counters).where(key).values(used=0))

    async def restart_monthly_usage(self, tenant: Tenant) -> dict[str, int]:
        """Zero this month's counters of monthly resources (a downgrade's fresh allowance).

        Args:
            tenant: The tenant whose counters restart.

        Returns:
            What each restarted counter held, for the audit log.
        """
        rows = (
            await self._session.execute(
                select(_counters.c.resource, _counters.c.period, _counters.c.used).where(
                    _counters.c.tenant_id == tenant.id
                )
            )
        ).all()
        restarted: dict[str, int] = {}
        for row in rows:
            monthly = self._catalog.period(row.resource) is QuotaPeriod.MONTH
            if monthly and row.period == self.period_key(row.resource) and row.used:
                restarted[row.resource] = int(row.used)
                await self._session.execute(
                    update(_counters)
                    .where(_counter(tenant.id, row.resource, row.period))
                    .values(used=0)
                )
        return restarted

    async def usage(self, tenant: Tenant) -> dict[str, UsageInfo]:
        """Current usage and limit of every resource the plan or the tenant's counters know."""
        resources = set(self._catalog.limits(PlanTier(tenant.plan_tier)).quotas)
        resources |= set(tenant.quota_overrides or {})
        rows = (
            await self._session.execute(
                select(_counters.c.resource, _counters.c.period, _counters.c.used).where(
                    _counters.c.tenant_id == tenant.id
                )
            )
        ).all()
        counted = {(r.resource, r.period): int(r.used) for r in rows}
        resources |= {resource for resource, _ in counted}
        report = {}
        for resource in sorted(resources):
            period = self.period_key(resource)
            report[resource] = UsageInfo(
                resource=resource,
                period=period,
                used=counted.get((resource, period), 0),
                limit=self.limit(tenant, resource),
            )
        return report
