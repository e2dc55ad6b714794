"""``/auth/login``, ``/auth/refresh`` and ``/auth/logout`` come from the auth package's
ready-made router; the app adds ``/auth/me``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import HTTPBearer

from examples.app.runtime import Runtime, use_runtime
from examples.app.schemas import Me
from relaypoint_core.fastapi import create_auth_router, get_current_principal
from relaypoint_core.request_state import Principal

__all__ = ["bearer_scheme", "build_auth_routers"]

# Declares the bearer scheme in OpenAPI; the AuthenticationMiddleware does the verifying.
bearer_scheme = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="access token from /auth/login"
)


def build_auth_routers() -> list[APIRouter]:
    me_router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(bearer_scheme)])

    @me_router.get("/me", response_model=Me)
    async def me(
        principal: Annotated[Principal, Depends(get_current_principal)],
        runtime: Annotated[Runtime, Depends(use_runtime)],
    ) -> dict[str, Any]:
        """The caller as the access token describes it."""
        user = await runtime.auth.users.get_by_id(principal.user_id) if runtime.auth.users else None
        tenant = (
            await runtime.tenants.get_tenant(principal.tenant_id) if principal.tenant_id else None
        )
        return {
            "user_id": principal.user_id,
            "email": user.email if user else "",
            "tenant_id": principal.tenant_id,
            "tenant_slug": tenant.slug if tenant else None,
            "roles": list(principal.roles),
        }

    return [create_auth_router(prefix="/auth"), me_router]
