"""Tenant administration: create a tenant (``super_admin``); branding, plan, usage and quota,
audit log and current rate-limit state of one tenant (``tenant_admin`` and the roles the RBAC
table grants each permission to)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError

from examples.app.context import CallContext, call_context
from examples.app.path_params import TENANT_IN_PATH
from examples.app.permissions import (
    RequireAnalyticsRead,
    RequireAuditLogRead,
    RequireBillingManage,
    RequireBillingRead,
    RequireBrandingRead,
    RequireBrandingUpdate,
    RequirePlatformTenantsManage,
    RequireTenantSettingsRead,
)
from examples.app.problems import problem_responses
from examples.app.runtime import Runtime, use_runtime
from examples.app.schemas import (
    AuditPage,
    BrandingBody,
    PlanBody,
    RateLimitState,
    TenantCreate,
    TenantOut,
    Usage,
)
from examples.app.tenants import audit_events, tenant_to_dict, usage_items
from relaypoint_core.monitoring import InvalidTimeWindowError
from relaypoint_tenancy import PlanChange, PlanChangePolicy, PlanTier

__all__ = ["router"]

router = APIRouter(prefix="/tenants", tags=["tenants"])
# No payment provider in the demo: only platform administrators grant upgrades.
PLAN_POLICY = PlanChangePolicy()


@router.post("", response_model=TenantOut, status_code=201)
async def create_tenant(
    body: TenantCreate,
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequirePlatformTenantsManage)],
) -> dict[str, Any]:
    """Create a tenant with its isolation resources and its first ``tenant_admin`` (super_admin only)."""
    tenant = await runtime.create_tenant(
        name=body.name,
        slug=body.slug,
        plan_tier=body.plan_tier,
        admin_email=str(body.admin_email),
        admin_name=body.admin_name,
        admin_password=body.admin_password,
    )
    return tenant_to_dict(tenant)


@router.get("/{tenant_id}", dependencies=TENANT_IN_PATH, response_model=TenantOut)
async def get_tenant(
    ctx: Annotated[CallContext, Depends(call_context)],
    _: Annotated[object, Depends(RequireTenantSettingsRead)],
) -> dict[str, Any]:
    return tenant_to_dict(ctx.tenant)


@router.get("/{tenant_id}/branding", dependencies=TENANT_IN_PATH, response_model=BrandingBody)
async def get_branding(
    ctx: Annotated[CallContext, Depends(call_context)],
    _: Annotated[object, Depends(RequireBrandingRead)],
) -> dict[str, Any]:
    return {key: ctx.tenant.branding.get(key) for key in BrandingBody.model_fields}


@router.put("/{tenant_id}/branding", dependencies=TENANT_IN_PATH, response_model=BrandingBody)
async def update_branding(
    body: BrandingBody,
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireBrandingUpdate)],
) -> dict[str, Any]:
    """Replace the given branding keys (validated: hex colours, https URLs, an email address)."""
    tenant = await runtime.tenants.update_branding(
        ctx.tenant.id, body.model_dump(exclude_none=True), actor=ctx.principal.user_id
    )
    return {key: tenant.branding.get(key) for key in BrandingBody.model_fields}


@router.get("/{tenant_id}/plan", dependencies=TENANT_IN_PATH, response_model=PlanBody)
async def get_plan(
    ctx: Annotated[CallContext, Depends(call_context)],
    _: Annotated[object, Depends(RequireBillingRead)],
) -> dict[str, Any]:
    return {"plan_tier": ctx.tenant.plan_tier.value}


@router.put("/{tenant_id}/plan", dependencies=TENANT_IN_PATH, response_model=PlanBody)
async def change_plan(
    body: PlanBody,
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireBillingManage)],
) -> dict[str, Any]:
    """Move the tenant to another plan; its rate-limit tier and quotas follow at once.

    Downgrades (and re-choosing the current plan) are self-service; an upgrade needs a
    ``super_admin`` (or, in a real deployment, a billing hook that took the payment)."""
    await PLAN_POLICY.authorize(
        PlanChange(
            tenant=ctx.tenant.slug,
            current=ctx.tenant.plan_tier,
            requested=PlanTier(body.plan_tier),
            actor=ctx.principal.user_id,
            actor_roles=tuple(ctx.principal.roles),
        )
    )
    tenant = await runtime.tenants.change_plan(
        ctx.tenant.id, body.plan_tier, actor=ctx.principal.user_id
    )
    return {"plan_tier": tenant.plan_tier.value}


@router.get("/{tenant_id}/usage", dependencies=TENANT_IN_PATH, response_model=Usage)
async def usage(
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireAnalyticsRead)],
) -> dict[str, Any]:
    """Usage of each metered resource against the plan's (or the tenant's overridden) limit."""
    return {
        "tenant_id": ctx.tenant.slug,
        "plan_tier": ctx.tenant.plan_tier.value,
        "status": ctx.tenant.status.value,
        "resources": usage_items(await runtime.tenants.get_usage(ctx.tenant.id)),
    }


@router.get(
    "/{tenant_id}/performance", dependencies=TENANT_IN_PATH, responses=problem_responses(422)
)
async def performance_report(
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireAnalyticsRead)],
    time_window: Annotated[
        str,
        Query(
            max_length=32,
            # A positive duration: unit-suffixed parts, at least one of them non-zero.
            pattern=r"^\s*(?:\d+[smhdwSMHDW])*\d*[1-9]\d*[smhdwSMHDW](?:\d+[smhdwSMHDW])*\s*$",
            examples=["1h", "15m", "1h30m"],
        ),
    ] = "1h",
) -> dict[str, Any]:
    """This process's request count, error rate, latency percentiles, slowest routes, cache hit
    rate and workflows executed for the tenant over ``time_window``."""
    try:
        report = await runtime.monitor.get_performance_report(
            tenant_id=ctx.tenant.slug, time_window=time_window
        )
    except InvalidTimeWindowError as exc:
        raise RequestValidationError(
            [{"loc": ("query", "time_window"), "msg": str(exc), "type": "value_error"}]
        ) from None
    return report.as_dict()


@router.get("/{tenant_id}/rate-limit", dependencies=TENANT_IN_PATH, response_model=RateLimitState)
async def rate_limit_state(
    request: Request,
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireAnalyticsRead)],
) -> dict[str, Any]:
    """The caller's and the tenant's current windows: used, remaining, limit and reset."""
    return runtime.rate_limit_state(request.scope, ctx.tenant)


@router.get("/{tenant_id}/audit-log", dependencies=TENANT_IN_PATH, response_model=AuditPage)
async def audit_log(
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireAuditLogRead)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """The tenant's audit events, newest first (logins, refresh-token reuse, denials, admin changes)."""
    items = await audit_events(runtime.tenants, ctx.tenant, limit=limit, offset=offset)
    return {"items": items, "limit": limit, "offset": offset}
