"""``405 Method Not Allowed`` answers with every method the path takes in its ``Allow`` header.

FastAPI registers one route per method; the router stops at the first route whose path matches
and reports only that route's methods, so ``OPTIONS /workflows/{id}`` said ``Allow: GET``
although the resource also takes ``PATCH`` and ``DELETE`` (RFC 9110 section 15.5.6 asks for all).
The full table comes from the app's own OpenAPI document (path templates and their operations),
built once on the first 405, and is merged with what the router said.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AllowHeaderMiddleware", "method_table"]

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def method_table(document: Mapping[str, Any]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each OpenAPI path template as a regex, with the methods its operations take."""
    table = []
    for template, item in document.get("paths", {}).items():
        methods = {m.upper() for m in item if m in _HTTP_METHODS}
        if "GET" in methods:
            methods.add("HEAD")  # every GET route answers HEAD too
        parts = re.split(r"(\{[^}]+\})", template)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        table.append((re.compile(regex), frozenset(methods)))
    return table


class AllowHeaderMiddleware:
    """Rewrites the ``Allow`` header of 405 answers from the app's whole operation table."""

    def __init__(self, app: ASGIApp, *, openapi: Callable[[], Mapping[str, Any]]) -> None:
        self.app = app
        self._openapi = openapi
        self._table: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def allowed(self, path: str, said: str) -> list[str]:
        if self._table is None:
            self._table = method_table(self._openapi())
        methods = {m.strip().upper() for m in said.split(",") if m.strip()}
        for regex, operations in self._table:
            if regex.fullmatch(path):
                methods |= operations
        return sorted(methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers: list[Any] = list(message.get("headers", []))
                said = b",".join(v for k, v in headers if k.lower() == b"allow").decode("latin-1")
                methods = self.allowed(scope["path"], said)
                headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                headers.append((b"allow", ", ".join(methods).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)
