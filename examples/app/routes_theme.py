"""Design-system routes: each tenant's M3 theme (public: a sign-in page needs it before anyone
has a token), what the dashboard may show the caller, and the upgrade call-to-action.

``/billing/upgrade`` has one fixed path so the rate limiter can exempt it exactly: a throttled
tenant must still be able to ask for the plan that lifts the throttle. Who may change a plan is
the robustness rule (a platform admin, ``super_admin``); everybody else with billing access files
an upgrade request, recorded in the tenant's audit log for the platform admins.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from examples.app.context import CallContext, call_context
from examples.app.permissions import RequireBillingRead
from examples.app.routes_admin import PLAN_POLICY
from examples.app.routes_auth import bearer_scheme
from examples.app.runtime import Runtime, use_runtime
from relaypoint_core.audit import make_event
from relaypoint_core.fastapi_problems import http_problem_response
from relaypoint_core.rbac import Permission
from relaypoint_tenancy import BrandingConfig, PlanChange, PlanChangeDeniedError, PlanTier
from relaypoint_tenancy.theme import Theme, build_theme

__all__ = ["UPGRADE_PATH", "billing_router", "theme_router"]

UPGRADE_PATH = "/billing/upgrade"
THEME_CACHE_CONTROL = "public, no-cache"  # always revalidate: a 304 is cheap, a stale brand is not
PLAN_ORDER = tuple(PlanTier)

theme_router = APIRouter(prefix="/tenants", tags=["theme"])
billing_router = APIRouter(tags=["billing"])


@lru_cache(maxsize=256)
def _theme(branding_json: str) -> Theme:
    return build_theme(BrandingConfig.model_validate_json(branding_json))


async def tenant_theme(runtime: Runtime, slug: str) -> Theme | None:
    """The tenant's theme, computed once per distinct branding (the company name defaults to the
    tenant's name, as on the dashboard)."""
    tenant = await runtime.tenants.get_tenant(slug)
    if tenant is None:
        return None
    config = {k: v for k, v in tenant.branding.items() if k in BrandingConfig.model_fields}
    config.setdefault("company_name", tenant.name)
    return _theme(json.dumps(config, sort_keys=True))


def _conditional(request: Request, theme: Theme, body: str, media_type: str) -> Response:
    etag = theme.etag if media_type == "application/json" else theme.etag[:-1] + '-css"'
    headers = {"ETag": etag, "Cache-Control": THEME_CACHE_CONTROL}
    candidates = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    if etag in candidates or "*" in candidates or f"W/{etag}" in candidates:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is current"}
}


@theme_router.get(
    "/{tenant_id}/theme",
    response_model=None,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        **_NOT_MODIFIED,
    },
)
async def theme_json(
    tenant_id: str, request: Request, runtime: Annotated[Runtime, Depends(use_runtime)]
) -> Response:
    """The tenant's design tokens (``Colors.light``/``Colors.dark`` M3 roles, ``Typography``,
    ``Spacing``, ``BorderRadius``, ``Shadows``) for React Native and other clients. Public;
    answers 304 to a matching ``If-None-Match``."""
    theme = await tenant_theme(runtime, tenant_id)
    if theme is None:
        return http_problem_response(404, f"no tenant {tenant_id!r}")
    return _conditional(request, theme, theme.to_json(), "application/json")


@theme_router.get(
    "/{tenant_id}/theme.css",
    response_model=None,
    responses={200: {"content": {"text/css": {"schema": {"type": "string"}}}}, **_NOT_MODIFIED},
)
async def theme_css(
    tenant_id: str, request: Request, runtime: Annotated[Runtime, Depends(use_runtime)]
) -> Response:
    """The same tokens as CSS custom properties (``--md-sys-color-*``, light and dark)."""
    theme = await tenant_theme(runtime, tenant_id)
    if theme is None:
        return http_problem_response(404, f"no tenant {tenant_id!r}")
    return _conditional(request, theme, theme.to_css(), "text/css")


@theme_router.get("/{tenant_id}/capabilities", dependencies=[Depends(bearer_scheme)])
async def capabilities(
    request: Request,
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
) -> dict[str, Any]:
    """The permissions the caller holds in this tenant, so a UI can hide or disable controls
    (the API enforces them regardless)."""
    checker = runtime.auth.checker
    held = [
        p.value
        for p in Permission
        if checker.check_principal(ctx.principal, p.value, tenant_id=ctx.tenant.slug)
    ]
    return {
        "roles": list(ctx.principal.roles),
        "permissions": held,
        "upgrade": _upgrade(ctx, runtime),
    }


def _upgrade(ctx: CallContext, runtime: Runtime) -> dict[str, Any]:
    index = PLAN_ORDER.index(ctx.tenant.plan_tier)
    next_plan = PLAN_ORDER[index + 1].value if index + 1 < len(PLAN_ORDER) else None
    # The same rule as PUT /plan (PLAN_POLICY): holders of an upgrade role change the plan
    # themselves; a billing hook, when one is configured, is consulted on POST.
    direct = bool(PLAN_POLICY.upgrade_roles.intersection(ctx.principal.roles))
    return {
        "current_plan": ctx.tenant.plan_tier.value,
        "next_plan": next_plan,
        "mode": "change" if direct else "request",
    }


class UpgradeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_tier: PlanTier


@billing_router.get(UPGRADE_PATH)
async def upgrade_options(
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireBillingRead)],
) -> dict[str, Any]:
    """The caller's tenant plan, the next plan up and whether the caller can change it directly
    (``change``) or files a request (``request``). Never refused by the rate limit."""
    return _upgrade(ctx, runtime)


@billing_router.post(UPGRADE_PATH, response_model=None)
async def upgrade(
    body: UpgradeBody,
    ctx: Annotated[CallContext, Depends(call_context)],
    runtime: Annotated[Runtime, Depends(use_runtime)],
    _: Annotated[object, Depends(RequireBillingRead)],
) -> Any:
    """Upgrade the caller's tenant (platform admins) or ask the platform admins to (everybody
    else with billing access: 202, recorded in the tenant's audit log)."""
    current = PLAN_ORDER.index(ctx.tenant.plan_tier)
    if PLAN_ORDER.index(body.plan_tier) <= current:
        # A valid plan name that conflicts with the tenant's state: 409, not a schema error.
        return http_problem_response(
            409, f"{body.plan_tier.value} is not above the current plan {ctx.tenant.plan_tier}"
        )
    change = PlanChange(
        tenant=ctx.tenant.slug,
        current=ctx.tenant.plan_tier,
        requested=body.plan_tier,
        actor=ctx.principal.user_id,
        actor_roles=tuple(ctx.principal.roles),
    )
    try:
        await PLAN_POLICY.authorize(change)
        approved = True
    except PlanChangeDeniedError:
        approved = False
    if approved:
        tenant = await runtime.tenants.change_plan(
            ctx.tenant.id, body.plan_tier.value, actor=ctx.principal.user_id
        )
        # Tenancy.change_plan refreshes this process's tenant cache, so the limiter's tier
        # follows at once here (and within TENANCY_TENANT_CACHE_TTL in every other process).
        return {"status": "changed", "plan_tier": tenant.plan_tier.value}
    await runtime.auth.audit.record(
        make_event(
            "billing.upgrade_requested",
            "success",
            actor=ctx.principal.user_id,
            tenant_id=ctx.tenant.slug,
            target=body.plan_tier.value,
            current_plan=ctx.tenant.plan_tier.value,
        )
    )
    return JSONResponse(
        {
            "status": "requested",
            "plan_tier": body.plan_tier.value,
            "detail": (
                f"Upgrade to {body.plan_tier.value} requested: a platform administrator "
                "will confirm it."
            ),
        },
        status_code=202,
    )
