"""FastAPI adapter for auth and RBAC; the only core module that imports FastAPI.

::

    app = FastAPI()
    install_auth(app, auth_service)

    @app.post("/workflows")
    async def create_workflow(current_user: Principal = Depends(RequireWorkflowCreate)): ...

Answers follow RFC 6750, as ``application/problem+json``: no credential gives 401 with a bare
``WWW-Authenticate: Bearer realm="relaypoint"``; a malformed, expired or revoked one adds
``error="invalid_token"``; a wrong password at login is 401 ``invalid_credentials`` without a
Bearer error; a missing permission is 403 with ``error="insufficient_scope"``. Credentials are
access tokens or API keys (``Authorization: Bearer`` or ``X-API-Key``). Denials are audited.

``install_auth`` adds `AuthenticationMiddleware` as the *outermost* middleware at that
moment: call it after adding the tenancy and rate-limit middlewares, which read the principal.
The seed's names (``AuthService``, ``Permission``, ``PermissionChecker``) are re-exported here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from relaypoint_core.errors import MissingExtraError

try:
    from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
    from fastapi.responses import Response
except ImportError as _missing:
    raise MissingExtraError("fastapi", "fastapi", "relaypoint_core.fastapi") from _missing
from pydantic import BaseModel, Field

from relaypoint_core.auth.asgi import (
    AUTH_ERROR_STATE_KEY,
    AuthenticationMiddleware,
    bearer_token,
    request_credential,
)
from relaypoint_core.auth.errors import InvalidCredentialsError
from relaypoint_core.auth.service import AuthService
from relaypoint_core.errors import (
    AuthenticationError,
    AuthorizationError,
    BackendUnavailableError,
    ConfigurationError,
    TokenExpiredError,
    TokenReuseError,
    TokenRevokedError,
)
from relaypoint_core.problem import PROBLEM_CONTENT_TYPE, encode_problem, problem_body
from relaypoint_core.rbac.checker import PermissionChecker
from relaypoint_core.rbac.permissions import Permission, is_valid_permission
from relaypoint_core.request_state import (
    Principal,
    get_scope_principal,
    get_scope_tenant,
    set_scope_principal,
)
from relaypoint_core.text import StorableStr

__all__ = [
    "AUTH_SERVICE_STATE_ATTR",
    "AuthService",
    "Permission",
    "PermissionChecker",
    "ProblemHTTPException",
    "RequireAdminAccess",
    "RequireWorkflowCreate",
    "client_hints",
    "create_auth_router",
    "forbidden",
    "get_auth_service",
    "get_current_principal",
    "install_auth",
    "install_problem_handler",
    "require",
    "unauthorized",
]

AUTH_SERVICE_STATE_ATTR = "relaypoint_auth"


class ProblemHTTPException(HTTPException):
    """An HTTPException rendered as RFC 9457 problem+json once `install_auth` ran."""

    def __init__(
        self,
        status_code: int,
        title: str,
        detail: str,
        *,
        code: str | None = None,
        type_: str = "about:blank",
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.title = title
        self.code = code
        self.type_ = type_
        self.extra = {**(extra or {}), **({"code": code} if code is not None else {})}

    def body(self) -> dict[str, Any]:
        return problem_body(
            self.status_code,
            title=self.title,
            detail=self.detail,
            type_=self.type_,
            extra=self.extra,
        )


def _problem_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemHTTPException)
    return Response(
        encode_problem(exc.body()),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _quote(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


REALM_CHALLENGE = 'Bearer realm="relaypoint"'


def unauthorized(exc: AuthenticationError | None) -> ProblemHTTPException:
    """The 401 for a missing (``exc=None``) or rejected credential (RFC 6750 challenge)."""
    if exc is None:
        return ProblemHTTPException(
            401,
            "Unauthorized",
            "a bearer token or API key is required",
            code="missing_token",
            headers={"WWW-Authenticate": REALM_CHALLENGE},
        )
    if isinstance(exc, InvalidCredentialsError):
        # A failed sign-in is not a bad token: no Bearer error (RFC 6750 section 3.1).
        return ProblemHTTPException(
            401,
            "Unauthorized",
            str(exc),
            code="invalid_credentials",
            headers={"WWW-Authenticate": REALM_CHALLENGE},
        )
    code = (
        "token_expired"
        if isinstance(exc, TokenExpiredError)
        else "token_reused"
        if isinstance(exc, TokenReuseError)
        else "token_revoked"
        if isinstance(exc, TokenRevokedError)
        else "invalid_token"
    )
    challenge = (
        f'Bearer realm="relaypoint", error="invalid_token", error_description="{_quote(str(exc))}"'
    )
    return ProblemHTTPException(
        401, "Unauthorized", str(exc), code=code, headers={"WWW-Authenticate": challenge}
    )


def forbidden(detail: str, permission: str | None = None) -> ProblemHTTPException:
    """The 403 for a missing permission, with the RFC 6750 ``insufficient_scope`` challenge."""
    challenge = f'{REALM_CHALLENGE}, error="insufficient_scope"'
    if permission is not None:
        challenge += f', scope="{_quote(permission)}"'
    return ProblemHTTPException(
        403, "Forbidden", detail, code="forbidden", headers={"WWW-Authenticate": challenge}
    )


def _unavailable(exc: BackendUnavailableError) -> ProblemHTTPException:
    return ProblemHTTPException(
        503,
        "Service Unavailable",
        "authentication is temporarily unavailable",
        code="auth_backend_unavailable",
        headers={"Retry-After": "5"},
    )


async def _auth_error_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AuthorizationError):
        problem = forbidden(str(exc))
    else:
        assert isinstance(exc, AuthenticationError)
        problem = unauthorized(exc)
    return _problem_response(request, problem)


def install_problem_handler(app: FastAPI) -> None:
    """Render every `ProblemHTTPException` (raised by any RelayPoint dependency) as
    ``application/problem+json``. `install_auth` calls it for you."""
    app.add_exception_handler(ProblemHTTPException, _problem_response)


def install_auth(app: FastAPI, service: AuthService, *, middleware: bool = True) -> None:
    """Make ``service`` available to the dependencies, render auth errors as problem+json and
    (by default) add `AuthenticationMiddleware`. Call before the app starts."""
    setattr(app.state, AUTH_SERVICE_STATE_ATTR, service)
    install_problem_handler(app)
    app.add_exception_handler(AuthenticationError, _auth_error_response)
    app.add_exception_handler(AuthorizationError, _auth_error_response)
    if middleware:
        app.add_middleware(AuthenticationMiddleware, auth_service=service)


def get_auth_service(request: Request) -> AuthService:
    service = getattr(request.app.state, AUTH_SERVICE_STATE_ATTR, None)
    if not isinstance(service, AuthService):
        raise ConfigurationError(
            "no AuthService installed on this app: call relaypoint_core.fastapi.install_auth(app, "
            "service) at start-up"
        )
    return service


async def get_current_principal(request: Request) -> Principal:
    """The authenticated caller, or 401. Works with and without the middleware installed."""
    state = request.scope.get("state") or {}
    principal = get_scope_principal(request.scope)
    if principal is not None:
        return principal
    error = state.get(AUTH_ERROR_STATE_KEY)
    if isinstance(error, BackendUnavailableError):
        raise _unavailable(error)
    if isinstance(error, AuthenticationError):
        raise unauthorized(error)
    token = request_credential(request.scope.get("headers", ()))
    if token is None:
        raise unauthorized(None)
    try:
        principal = await get_auth_service(request).verify_credential(token)
    except AuthenticationError as exc:
        raise unauthorized(exc) from exc
    except BackendUnavailableError as exc:
        raise _unavailable(exc) from exc
    set_scope_principal(request.scope, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


def _target(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return f"{request.method} {path}"


def require(*permissions: Permission | str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that returns the caller if they hold every one of ``permissions`` in the
    request's tenant (the tenancy middleware's resolved tenant, else the token's tenant)."""
    if not permissions:
        raise ValueError("require() needs at least one permission")
    needed = tuple(str(p) for p in permissions)
    for permission in needed:
        if not is_valid_permission(permission):
            raise ValueError(f"{permission!r} is not a 'resource:action' permission")

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        service = get_auth_service(request)
        resolved = get_scope_tenant(request.scope)
        tenant_id = resolved.tenant_id if resolved is not None else principal.tenant_id
        for permission in needed:
            # The precomputed check answers the common (allowed) case; only a denial pays for the
            # explanation and the audit record that authorize() produces.
            if service.checker.check_principal(principal, permission, tenant_id=tenant_id):
                continue
            try:
                await service.authorize(
                    principal, permission, tenant_id=tenant_id, target=_target(request)
                )
            except AuthorizationError as exc:
                raise forbidden(str(exc), permission) from exc
        return principal

    dependency.__name__ = "require_" + "_and_".join(p.replace(":", "_") for p in needed)
    return dependency


RequireWorkflowCreate = require(Permission.WORKFLOW_CREATE)
RequireAdminAccess = require(Permission.ADMIN_ACCESS)


# --- ready-made login / refresh / logout endpoints ----------------------------------------------


class LoginRequest(BaseModel):
    email: StorableStr = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    tenant_id: StorableStr | None = Field(default=None, max_length=128)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=8192)


class LogoutRequest(RefreshRequest):
    pass


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


def client_hints(request: Request) -> dict[str, str]:
    """What a session list shows about the client that signed in (user agent and address)."""
    return {
        "user_agent": request.headers.get("user-agent", "")[:200],
        "ip": request.client.host if request.client is not None else "",
    }


def create_auth_router(prefix: str = "/auth") -> APIRouter:
    """``POST {prefix}/login``, ``/refresh`` and ``/logout`` backed by the installed service.

    Login uses the tenant from the body, else the tenant the tenancy middleware resolved.
    """
    router = APIRouter(prefix=prefix, tags=["auth"])

    @router.post("/login", response_model=TokenResponse)
    async def login(body: LoginRequest, request: Request) -> dict[str, Any]:
        resolved = get_scope_tenant(request.scope)
        tenant_id = body.tenant_id or (resolved.tenant_id if resolved else None)
        try:
            pair = await get_auth_service(request).login(
                body.email, body.password, tenant_id=tenant_id, client=client_hints(request)
            )
        except BackendUnavailableError as exc:
            raise _unavailable(exc) from exc
        return pair.to_response()

    @router.post("/refresh", response_model=TokenResponse)
    async def refresh(body: RefreshRequest, request: Request) -> dict[str, Any]:
        try:
            pair = await get_auth_service(request).refresh(body.refresh_token)
        except BackendUnavailableError as exc:
            raise _unavailable(exc) from exc
        return pair.to_response()

    @router.post("/logout", status_code=204)
    async def logout(body: LogoutRequest, request: Request) -> None:
        try:
            await get_auth_service(request).logout(
                body.refresh_token, access_token=bearer_token(request.scope.get("headers", ()))
            )
        except BackendUnavailableError as exc:
            raise _unavailable(exc) from exc

    return router
