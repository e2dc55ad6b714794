"""Platform administration (``super_admin``): every tenant, per-tenant quota overrides and plans.

These routes live under ``/platform`` rather than ``/tenants/{tenant_id}`` on purpose: tenant
resolution refuses a token of one tenant on another tenant's path, which is exactly right for
tenant users and exactly what a platform operator must step around, explicitly and only here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from examples.app.permissions import RequirePlatformTenantsManage
from examples.app.routes_admin import PLAN_POLICY
from examples.app.runtime import Runtime, use_runtime
from examples.app.schemas import PlanBody, QuotaOverride, TenantOut, Usage
from examples.app.tenants import tenant_to_dict, usage_items
from relaypoint_core.fastapi import get_current_principal
from relaypoint_core.fastapi_problems import http_problem_response
from relaypoint_core.request_state import Principal
from relaypoint_core.text import is_safe_id
from relaypoint_tenancy import PlanChange, PlanTier

__all__ = ["router"]

router = APIRouter(prefix="/platform", tags=["platform"])
Slug = Annotated[str, Path(min_length=1, max_length=48)]
Resource = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


@router.get("/tenants", response_model=list[TenantOut])
async def list_tenants(
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequirePlatformTenantsManage)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    async with runtime.tenants.manager() as manager:
        tenants = await manager.list_tenants(limit=limit, offset=offset)
    return [tenant_to_dict(tenant) for tenant in tenants]


@router.put("/tenants/{slug}/quotas/{resource}", response_model=Usage)
async def override_quota(
    slug: Slug,
    resource: Resource,
    body: QuotaOverride,
    runtime: Annotated[Runtime, Depends(use_runtime)],
    principal: Annotated[Principal, Depends(get_current_principal)],
    _: Annotated[object, Depends(RequirePlatformTenantsManage)],
) -> Any:
    """Give one tenant its own limit for a metered resource (``null`` = unlimited)."""
    tenant = await runtime.tenants.get_tenant(slug)
    if tenant is None:
        return http_problem_response(404, f"no tenant {slug!r}")
    tenant = await runtime.tenants.set_quota_override(
        tenant.id, resource, body.limit, actor=principal.user_id
    )
    return {
        "tenant_id": tenant.slug,
        "plan_tier": tenant.plan_tier.value,
        "status": tenant.status.value,
        "resources": usage_items(await runtime.tenants.get_usage(tenant.id)),
    }


@router.put("/tenants/{slug}/plan", response_model=PlanBody)
async def set_plan(
    slug: Slug,
    body: PlanBody,
    runtime: Annotated[Runtime, Depends(use_runtime)],
    principal: Annotated[Principal, Depends(get_current_principal)],
    _: Annotated[object, Depends(RequirePlatformTenantsManage)],
) -> Any:
    """Move any tenant to any plan: the upgrade path that ``PUT /tenants/{id}/plan`` leaves
    to platform administrators (or a billing hook)."""
    tenant = await runtime.tenants.get_tenant(slug) if is_safe_id(slug) else None
    if tenant is None:
        return http_problem_response(404, "no such tenant")
    await PLAN_POLICY.authorize(
        PlanChange(
            tenant=tenant.slug,
            current=tenant.plan_tier,
            requested=PlanTier(body.plan_tier),
            actor=principal.user_id,
            actor_roles=tuple(principal.roles),
        )
    )
    tenant = await runtime.tenants.change_plan(tenant.id, body.plan_tier, actor=principal.user_id)
    return {"plan_tier": tenant.plan_tier.value}
