"""Non-API routes: the tenant dashboards and their logo, health probes and the index (the
dashboards' theme is an API route: ``routes_theme``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from examples.app.dashboard import Branding, render_dashboard, render_logo_svg
from examples.app.runtime import Runtime, use_runtime
from relaypoint_core.fastapi_problems import http_problem_response
from relaypoint_core.text import is_safe_id

__all__ = ["health_router", "pages_router"]

pages_router = APIRouter(include_in_schema=False)
health_router = APIRouter(tags=["health"])


async def _branding(runtime: Runtime, slug: str) -> Branding | None:
    if not is_safe_id(slug):  # never a lookup (nor an error message) for what cannot be a slug
        return None
    tenant = await runtime.tenants.get_tenant(slug)
    if tenant is None:
        return None
    return Branding.from_config(
        slug=tenant.slug, name=tenant.name, plan_tier=tenant.plan_tier, config=tenant.branding
    )


def _no_tenant(slug: str) -> Response:
    return http_problem_response(
        404, f"no tenant {slug!r}" if is_safe_id(slug) else "no such tenant"
    )


@pages_router.get("/")
async def index() -> RedirectResponse:
    return RedirectResponse("/docs")


# Browsers ask every origin for /favicon.ico (JSON pages and probes included); the platform's own
# mark answers it, so no page of the app logs a 404 for an icon. Dashboards link their tenant's.
_PLATFORM_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#1E40AF"/>'
    '<text x="16" y="22" font-family="sans-serif" font-size="17" font-weight="700" '
    'text-anchor="middle" fill="#FFFFFF">R</text></svg>'
)


@pages_router.get("/favicon.ico", response_model=None)
async def favicon() -> Response:
    return Response(
        _PLATFORM_ICON,
        media_type="image/svg+xml",
        headers={"cache-control": "public, max-age=86400"},
    )


@pages_router.get("/dashboard/{slug}", response_model=None)
async def dashboard(slug: str, runtime: Annotated[Runtime, Depends(use_runtime)]) -> Response:
    branding = await _branding(runtime, slug)
    if branding is None:
        return _no_tenant(slug)
    return HTMLResponse(render_dashboard(branding, api_prefix=runtime.config.settings.API_V1_STR))


@pages_router.get("/dashboard/{slug}/logo.svg", response_model=None)
async def logo(slug: str, runtime: Annotated[Runtime, Depends(use_runtime)]) -> Response:
    branding = await _branding(runtime, slug)
    if branding is None:
        return _no_tenant(slug)
    return Response(render_logo_svg(branding), media_type="image/svg+xml")


@health_router.get("/health/live")
async def live(runtime: Annotated[Runtime, Depends(use_runtime)]) -> JSONResponse:
    """Liveness: the process serves requests (no dependency is checked)."""
    health = await runtime.monitor.check_liveness()
    return JSONResponse(health.as_dict(), status_code=health.http_status)


@health_router.get("/health/ready")
async def ready(runtime: Annotated[Runtime, Depends(use_runtime)]) -> JSONResponse:
    """Readiness: the database (and Redis when configured) answer; 503 otherwise."""
    health = await runtime.monitor.check_readiness()
    return JSONResponse(health.as_dict(), status_code=health.http_status)


@health_router.get("/health")
async def health(runtime: Annotated[Runtime, Depends(use_runtime)]) -> dict[str, Any]:
    """Every check, with its status and duration."""
    return (await runtime.monitor.check_system_health()).as_dict()
