"""Security headers on every HTTP response, without overwriting what a handler set itself.

::

    app = SecurityHeadersMiddleware(app, path_csp={"/docs": DOCS_POLICY})

Every response gets the hardening headers (`HARDENING_HEADERS`) and a Content-Security-Policy:
`DEFAULT_CSP` (no inline script or style, no framing), or the policy of the first
``path_csp`` prefix the path starts with. ``Strict-Transport-Security`` is sent only when the
request came over HTTPS (over plain HTTP it means nothing and breaks local development), and
``Cache-Control: no-store`` only under ``no_store_prefixes`` (API answers carry tenant data). A
header the response already has (any case) is left alone, so a route can choose its own caching
or a page its own policy. The header sets are encoded once at construction; a request picks one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from relaypoint_core.asgi_types import ASGIApp, Message, Receive, Scope, Send
from relaypoint_core.http.raw_headers import encode_header, header_names

__all__ = ["DEFAULT_CSP", "DEFAULT_HSTS", "HARDENING_HEADERS", "SecurityHeadersMiddleware"]

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
DEFAULT_HSTS = "max-age=63072000; includeSubDomains"
HARDENING_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_Headers = tuple[tuple[bytes, bytes], ...]
# A header set with, for each header, its name as header_names() would contain it.
_Plan = tuple[tuple[bytes, tuple[bytes, bytes]], ...]


class SecurityHeadersMiddleware:
    """Pure ASGI middleware adding the security headers to every ``http`` response.

    Args:
        app: The ASGI app to wrap.
        csp: The Content-Security-Policy of every path no ``path_csp`` prefix claims; ``None``
            sends none.
        path_csp: Path prefix -> its own policy (e.g. API docs pages that need inline styles);
            the first prefix that matches wins.
        hsts: The ``Strict-Transport-Security`` value for HTTPS requests; ``None`` sends none.
        no_store_prefixes: Paths whose responses get ``Cache-Control: no-store`` unless they
            set their own ``Cache-Control``.
        headers: The other headers to add (default `HARDENING_HEADERS`).

    Raises:
        ConfigurationError: A header name or value is empty or holds CR, LF or NUL.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        csp: str | None = DEFAULT_CSP,
        path_csp: Mapping[str, str] | None = None,
        hsts: str | None = DEFAULT_HSTS,
        no_store_prefixes: Iterable[str] = ("/api/",),
        headers: Mapping[str, str] = HARDENING_HEADERS,
    ) -> None:
        self.app = app
        self._csp_prefixes = tuple((path_csp or {}).items())
        self._any_csp_prefix = tuple(prefix for prefix, _ in self._csp_prefixes)
        self._no_store = tuple(no_store_prefixes)
        common = [encode_header(name, value) for name, value in headers.items()]
        policies = [csp, *(policy for _, policy in self._csp_prefixes)]
        # (policy index, over HTTPS, no-store path) -> the encoded headers to add, each with its
        # name as header_names() marks it (the per-request presence test).
        self._plans: dict[tuple[int, bool, bool], _Plan] = {}
        for index, policy in enumerate(policies):
            for https in (False, True):
                for no_store in (False, True):
                    chosen = list(common)
                    if policy is not None:
                        chosen.insert(0, encode_header("Content-Security-Policy", policy))
                    if https and hsts is not None:
                        chosen.append(encode_header("Strict-Transport-Security", hsts))
                    if no_store:
                        chosen.append(encode_header("Cache-Control", "no-store"))
                    self._plans[index, https, no_store] = tuple(
                        (b"\0" + header[0] + b"\0", header) for header in chosen
                    )

    def headers_for(self, path: str, *, https: bool) -> _Headers:
        """The encoded headers a response to ``path`` gets (before skipping those it has)."""
        return tuple(header for _, header in self._plans[self._key(path, https=https)])

    def _key(self, path: str, *, https: bool) -> tuple[int, bool, bool]:
        policy = 0
        if self._any_csp_prefix and path.startswith(self._any_csp_prefix):
            policy = 1 + next(
                i for i, (prefix, _) in enumerate(self._csp_prefixes) if path.startswith(prefix)
            )
        return policy, https, path.startswith(self._no_store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        plan = self._plans[self._key(scope.get("path", ""), https=scope.get("scheme") == "https")]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", ()))
                present = header_names(headers)
                headers += [header for marked, header in plan if marked not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
