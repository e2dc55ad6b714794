"""Pure ASGI middleware that resolves the tenant of each request and binds it.

It runs inside the auth middleware (which leaves the principal in the scope) and inside the rate
limiter (so lookups of unknown tenants are throttled too): the canonical order, checked on the
first request (``relaypoint_core.stack``). Errors are answered as
``application/problem+json``: unknown tenant 404, token for another tenant 403, suspended tenant 403.
"""

from __future__ import annotations

from relaypoint_tenancy import _sql  # noqa: F401  - first: names the extra when SQLAlchemy is missing

# isort: split

from collections.abc import Iterable
from typing import Any

from relaypoint_core.asgi_types import ASGIApp, Receive, Scope, Send
from relaypoint_core.http_errors import problem_for as problem_for_error
from relaypoint_core.problem import problem_body, send_problem
from relaypoint_core.request_state import set_scope_tenant
from relaypoint_core.stack import LayerGuard
from relaypoint_core.tenant_context import reset_current_tenant, set_current_tenant
from relaypoint_tenancy.errors import (
    TenancyError,
    TenantMismatchError,
    TenantSuspendedError,
)
from relaypoint_tenancy.resolution import TenantResolver

__all__ = ["TENANT_RECORD_STATE_KEY", "TenantResolutionMiddleware", "problem_for"]


TENANT_RECORD_STATE_KEY = "relaypoint.tenancy.record"


def problem_fields(error: TenancyError) -> tuple[int, dict[str, Any]]:
    """HTTP status and the problem members (``problem_body`` keywords) for a resolution error.

    Args:
        error: The resolution error.

    Returns:
        The status and the keywords of ``problem_body`` (from the shared error mapping).
    """
    problem = problem_for_error(error)
    body = dict(problem.body)
    fields: dict[str, Any] = {
        "type_": body.pop("type"),
        "title": body.pop("title"),
        "detail": body.pop("detail"),
    }
    body.pop("status")
    if isinstance(error, TenantSuspendedError):
        fields["detail"] = (
            f"{fields['detail']}. Contact your administrator or billing to reactivate it."
        )
    if isinstance(error, TenantMismatchError):
        # Naming the other tenant would tell a caller which tenants exist.
        fields["detail"] = (
            "The access token was issued for a different tenant than the one this request "
            "addresses."
        )
    if body:
        fields["extra"] = body
    return problem.status, fields


def problem_for(error: TenancyError) -> tuple[int, dict[str, Any]]:
    """HTTP status and problem+json body for a resolution error."""
    status, fields = problem_fields(error)
    return status, problem_body(status, **fields)


class TenantRequiredError(TenancyError):
    """The request names no tenant, and this middleware is configured to require one."""

    problem_title = "Tenant required"
    problem_slug = "tenant-required"


class TenantResolutionMiddleware:
    """Resolve, check and bind the tenant for ``http`` and ``websocket`` scopes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        resolver: TenantResolver,
        required: bool = False,
        exempt_paths: Iterable[str] = ("/health", "/metrics", "/docs", "/openapi.json"),
    ) -> None:
        self.app = app
        self.resolver = resolver
        self.required = required
        self.exempt_paths = tuple(exempt_paths)
        # Worked out once: the check runs on every request.
        self._exempt_exact = frozenset(self.exempt_paths)
        self._exempt_prefixes = tuple(p.rstrip("/") + "/" for p in self.exempt_paths)
        self._order = LayerGuard("tenancy")

    def _exempt(self, path: str) -> bool:
        return path in self._exempt_exact or path.startswith(self._exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        if not self._order.checked:
            self._order(scope)
        path = scope.get("path", "")
        if path in self._exempt_exact or path.startswith(self._exempt_prefixes):
            await self.app(scope, receive, send)
            return
        try:
            record = await self.resolver.resolve(scope)
            if record is None and self.required:
                raise TenantRequiredError(
                    "this endpoint needs a tenant: send X-Tenant-ID, use the tenant's host name, "
                    "or call /api/v1/tenants/{tenant}/..."
                )
        except TenancyError as error:
            await self._refuse(scope, send, error)
            return
        if record is None:
            await self.app(scope, receive, send)
            return
        set_scope_tenant(scope, record.resolved())
        scope["state"][TENANT_RECORD_STATE_KEY] = record
        token = set_current_tenant(record.slug)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_current_tenant(token)

    async def _refuse(self, scope: Scope, send: Send, error: TenancyError) -> None:
        status, fields = problem_fields(error)
        if scope["type"] == "websocket":
            await send(
                {"type": "websocket.close", "code": 4000 + status, "reason": fields["title"]}
            )
            return
        await send_problem(send, status, **fields)
