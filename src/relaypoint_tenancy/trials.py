"""Trial lifecycle: trial expiry -> grace -> suspended, driven by an injected clock.

Call `run_due_transitions` from a scheduler (every few minutes). Grace is counted from the
trial's end, not from when the scheduler noticed, so a scheduler that was down does not extend it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaypoint_core.clock import Clock, system_clock
from relaypoint_tenancy.models import Tenant
from relaypoint_tenancy.plans import DEFAULT_PLAN_CATALOG, PlanCatalog, PlanTier, TenantStatus
from relaypoint_tenancy.records import TransitionReport

__all__ = ["run_due_transitions", "utc_now"]

logger = logging.getLogger("relaypoint.tenancy.trials")


def utc_now(clock: Clock) -> datetime:
    """The clock's wall time as a naive UTC datetime (how the tables store time)."""
    return datetime.fromtimestamp(clock.time(), UTC).replace(tzinfo=None)


async def run_due_transitions(
    session: AsyncSession,
    *,
    clock: Clock = system_clock,
    catalog: PlanCatalog = DEFAULT_PLAN_CATALOG,
) -> TransitionReport:
    """Move expired trials to grace and expired graces to suspended; commits and reports."""
    now = utc_now(clock)
    to_grace: list[str] = []
    suspended: list[str] = []
    try:
        expired = (
            await session.execute(
                select(Tenant.id, Tenant.slug, Tenant.plan_tier, Tenant.trial_ends_at).where(
                    Tenant.status == TenantStatus.TRIAL.value, Tenant.trial_ends_at <= now
                )
            )
        ).all()
        for tenant_id, slug, tier, trial_end in expired:
            grace_end = (trial_end or now) + timedelta(
                days=catalog.limits(PlanTier(tier)).grace_days
            )
            result = await session.execute(
                update(Tenant)
                .where(Tenant.id == tenant_id, Tenant.status == TenantStatus.TRIAL.value)
                .values(status=TenantStatus.GRACE.value, grace_ends_at=grace_end, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0):
                to_grace.append(slug)
        due = (
            await session.execute(
                update(Tenant)
                .where(Tenant.status == TenantStatus.GRACE.value, Tenant.grace_ends_at <= now)
                .values(status=TenantStatus.SUSPENDED.value, updated_at=now)
                .returning(Tenant.slug)
                .execution_options(synchronize_session=False)
            )
        ).all()
        suspended = [row[0] for row in due]
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    for slug in to_grace:
        logger.info("tenant %s: trial ended, grace period started", slug)
    for slug in suspended:
        logger.warning("tenant %s: grace period ended, tenant suspended", slug)
    return TransitionReport(to_grace=tuple(sorted(to_grace)), suspended=tuple(sorted(suspended)))
