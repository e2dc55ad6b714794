"""The caller's sessions (``/auth/sessions``), "log out everywhere" (``/auth/logout-all``) and the
public signing keys (``/.well-known/jwks.json``) for services that verify our tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from examples.app.runtime import Runtime, use_runtime
from relaypoint_core.auth.jwks import jwks_document
from relaypoint_core.errors import AuthorizationError
from relaypoint_core.fastapi import ProblemHTTPException, get_current_principal
from relaypoint_core.request_state import Principal

__all__ = ["build_session_router", "jwks_router"]


class SessionOut(BaseModel):
    id: str
    created_at: float
    last_used_at: float
    client: dict[str, str]


class LogoutAllResult(BaseModel):
    revoked_sessions: int


def _user(principal: Annotated[Principal, Depends(get_current_principal)]) -> Principal:
    if principal.kind != "user":
        raise AuthorizationError("sessions belong to users; an API key has none")
    return principal


User = Annotated[Principal, Depends(_user)]
RuntimeDep = Annotated[Runtime, Depends(use_runtime)]


def build_session_router() -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["auth"])

    @router.get("/sessions", response_model=list[SessionOut], operation_id="list_sessions")
    async def list_sessions(user: User, runtime: RuntimeDep) -> list[dict[str, Any]]:
        """The caller's signed-in sessions (one per login), oldest first."""
        return [
            {
                "id": s.family_id,
                "created_at": s.created_at,
                "last_used_at": s.last_used_at,
                "client": dict(s.client),
            }
            for s in await runtime.auth.list_sessions(user)
        ]

    @router.delete("/sessions/{session_id}", status_code=204, operation_id="revoke_session")
    async def revoke_session(session_id: str, user: User, runtime: RuntimeDep) -> None:
        """Sign one session out: its refresh token stops working."""
        if not await runtime.auth.revoke_session(user, session_id):
            raise ProblemHTTPException(
                404, "Not Found", "no such session of yours", code="session_not_found"
            )

    @router.post("/logout-all", response_model=LogoutAllResult, operation_id="logout_all")
    async def logout_all(user: User, runtime: RuntimeDep) -> dict[str, int]:
        """Sign out everywhere: every session is revoked and earlier access tokens are refused
        (by every instance within a second)."""
        return {"revoked_sessions": await runtime.auth.logout_all(user)}

    return router


jwks_router = APIRouter(tags=["auth"])


@jwks_router.get(
    "/.well-known/jwks.json",
    operation_id="jwks",
    responses={
        200: {"content": {"application/jwk-set+json": {}}},
        304: {"description": "unchanged"},
    },
)
async def jwks(request: Request, runtime: RuntimeDep) -> Response:
    """The public keys that verify our access tokens (RFC 7517; empty with HS256 signing)."""
    document = jwks_document(runtime.auth.keys)
    if document.not_modified(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=dict(document.headers))
    return Response(
        document.body, media_type="application/jwk-set+json", headers=dict(document.headers)
    )
