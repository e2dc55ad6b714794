"""Pure ASGI middleware that authenticates credentials and leaves the caller in the scope.

A credential is ``Authorization: Bearer <access token or API key>`` or ``X-API-Key: <API key>``;
`AuthService.verify_credential` tells them apart by shape.

It never answers a request itself: a missing or invalid token leaves the request anonymous (the
reason is kept in the scope for the 401 that a protected endpoint will send), so public routes
keep working and sibling middlewares (rate limiting, tenancy) can read the principal.
"""

from __future__ import annotations

from typing import Any

from relaypoint_core.asgi_types import ASGIApp, Receive, Scope, Send
from relaypoint_core.auth.service import AuthService
from relaypoint_core.errors import AuthenticationError, BackendUnavailableError
from relaypoint_core.request_state import set_scope_principal
from relaypoint_core.stack import LayerGuard

__all__ = [
    "AUTH_ERROR_STATE_KEY",
    "AuthenticationMiddleware",
    "api_key_header",
    "bearer_token",
    "request_credential",
]


AUTH_ERROR_STATE_KEY = "relaypoint.auth_error"


def bearer_token(headers: Any) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header in raw ASGI headers, if any."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").strip().partition(" ")
            token: str = rest.strip()
            if token and scheme.lower() == "bearer":
                return token
            return None
    return None


def api_key_header(headers: Any) -> str | None:
    """The value of an ``X-API-Key`` header in raw ASGI headers, if any."""
    for name, value in headers:
        if name == b"x-api-key":
            key = value.decode("latin-1").strip()
            return str(key) if key else None
    return None


def request_credential(headers: Any) -> str | None:
    """The request's credential: the Bearer token, else the ``X-API-Key`` value."""
    return bearer_token(headers) or api_key_header(headers)


class AuthenticationMiddleware:
    """Verifies access tokens and API keys on HTTP and WebSocket requests."""

    def __init__(self, app: ASGIApp, *, auth_service: AuthService) -> None:
        self.app = app
        self.auth_service = auth_service
        self._order = LayerGuard("authentication")  # refuses a limiter or tenancy outside us

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            if not self._order.checked:
                self._order(scope)
            token = request_credential(scope.get("headers", ()))
            principal = None
            if token is not None:
                try:
                    principal = await self.auth_service.verify_credential(token)
                except (AuthenticationError, BackendUnavailableError) as exc:
                    scope.setdefault("state", {})[AUTH_ERROR_STATE_KEY] = exc
            set_scope_principal(scope, principal)
        await self.app(scope, receive, send)
