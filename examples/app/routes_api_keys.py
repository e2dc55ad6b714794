"""``/tenants/{tenant_id}/api-keys``: create (the key is shown once), list, rotate and revoke.

A key's scope is a subset of its creator's permissions in the tenant; the SDK refuses anything
wider (403). Keys authenticate as ``Authorization: Bearer rpk_...`` or ``X-API-Key: rpk_...``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from examples.app.context import CallContext, call_context
from relaypoint_core.auth.api_keys import ApiKeyService
from relaypoint_core.fastapi import require
from relaypoint_core.rbac import Permission
from relaypoint_core.request_state import Principal

__all__ = ["API_KEYS_STATE_ATTR", "build_api_key_router", "get_api_keys"]

API_KEYS_STATE_ATTR = "relaypoint_api_keys"


# relaypoint_core.rbac's permission rule; `(?!\n)` keeps Python's `$` from accepting a newline.
PERMISSION_PATTERN = r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$(?!\n)"


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    # The schema states the server's "resource:action" rule; ApiKeyService enforces it.
    permissions: list[Annotated[str, Field(json_schema_extra={"pattern": PERMISSION_PATTERN})]] = (
        Field(min_length=1, max_length=64)
    )
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)
    owner_kind: Literal["user", "service_account"] = "user"
    owner_id: str | None = Field(default=None, max_length=128)


class ApiKeyRotate(BaseModel):
    overlap_seconds: float = Field(default=86400.0, ge=0, le=30 * 86400)


class ApiKeyCreated(BaseModel):
    id: str
    key: str = Field(description="the secret key; shown only in this answer")
    prefix: str
    name: str
    permissions: list[str]
    expires_at: float | None


class ApiKeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    permissions: list[str]
    owner_id: str
    owner_kind: str
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    replaces: str | None


def get_api_keys(request: Request) -> ApiKeyService:
    service = getattr(request.app.state, API_KEYS_STATE_ATTR, None)
    if not isinstance(service, ApiKeyService):
        raise RuntimeError("API keys were not installed on this app")
    return service


Keys = Annotated[ApiKeyService, Depends(get_api_keys)]
Context = Annotated[CallContext, Depends(call_context)]


def build_api_key_router() -> APIRouter:
    router = APIRouter(prefix="/tenants/{tenant_id}/api-keys", tags=["api keys"])

    @router.post("", response_model=ApiKeyCreated, status_code=201, operation_id="create_api_key")
    async def create_api_key(
        body: ApiKeyCreate,
        keys: Keys,
        ctx: Context,
        creator: Annotated[Principal, Depends(require(Permission.API_KEY_CREATE))],
    ) -> dict[str, Any]:
        """A new key for a user or service account of this tenant; copy ``key`` now."""
        created = await keys.create(
            creator,
            tenant_id=ctx.tenant.slug,
            name=body.name,
            permissions=body.permissions,
            expires_in_days=body.expires_in_days,
            owner_id=body.owner_id,
            owner_kind=body.owner_kind,
        )
        return created.to_response()

    @router.get("", response_model=list[ApiKeyOut], operation_id="list_api_keys")
    async def list_api_keys(
        keys: Keys,
        ctx: Context,
        _: Annotated[Principal, Depends(require(Permission.API_KEY_READ))],
    ) -> list[dict[str, Any]]:
        """The tenant's keys with last use, expiry and revocation; never their secrets."""
        return [record.to_public() for record in await keys.list(ctx.tenant.slug)]

    @router.post(
        "/{key_id}/rotate",
        response_model=ApiKeyCreated,
        status_code=201,
        operation_id="rotate_api_key",
    )
    async def rotate_api_key(
        key_id: str,
        keys: Keys,
        ctx: Context,
        actor: Annotated[Principal, Depends(require(Permission.API_KEY_CREATE))],
        body: ApiKeyRotate | None = None,
    ) -> dict[str, Any]:
        """A replacement key; the old one keeps working for ``overlap_seconds``."""
        overlap = (body or ApiKeyRotate()).overlap_seconds
        created = await keys.rotate(actor, ctx.tenant.slug, key_id, overlap_seconds=overlap)
        return created.to_response()

    @router.delete("/{key_id}", status_code=204, operation_id="revoke_api_key")
    async def revoke_api_key(
        key_id: str,
        keys: Keys,
        ctx: Context,
        actor: Annotated[Principal, Depends(require(Permission.API_KEY_REVOKE))],
    ) -> None:
        """Revoke the key: every instance refuses it within a second."""
        await keys.revoke(actor, ctx.tenant.slug, key_id)

    return router
