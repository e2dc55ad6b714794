"""Pure ASGI middleware adding security headers to every HTTP response.

A strict Content-Security-Policy (no inline script or style: the dashboard's tenant colours are
served as a stylesheet), HSTS only when the request came over HTTPS (sending it over plain HTTP
is meaningless and breaks local development), and ``Cache-Control: no-store`` on API responses
that did not choose their own caching.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_CSP", "DOCS_CSP", "SecurityHeadersMiddleware"]

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Under /docs: the UIs' local bundles (examples.app.docs_ui; its pages send their own, stricter
# policy that allows their inline script by hash). No CDN is named.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_paths: Iterable[str] = ("/docs", "/redoc"),
        no_store_prefixes: Iterable[str] = ("/api/",),
    ) -> None:
        self.app = app
        self.docs_paths = tuple(docs_paths)
        self.no_store_prefixes = tuple(no_store_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        add = _HEADERS[
            (
                path.startswith(self.docs_paths),
                scope.get("scheme") == "https",
                path.startswith(self.no_store_prefixes),
            )
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in add if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _headers(docs: bool, https: bool, no_store: bool) -> tuple[tuple[bytes, bytes], ...]:
    headers = [
        (b"content-security-policy", (DOCS_CSP if docs else DEFAULT_CSP).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    if no_store:
        headers.append((b"cache-control", b"no-store"))
    return tuple(headers)


# Encoded once: (docs path, over HTTPS, no-store path) -> the headers to add.
_HEADERS = {
    (docs, https, no_store): _headers(docs, https, no_store)
    for docs in (False, True)
    for https in (False, True)
    for no_store in (False, True)
}
