"""gzip compression of HTTP responses for clients that accept it.

::

    app = GZipMiddleware(app, minimum_size=500)

A response is compressed when the request's ``Accept-Encoding`` names ``gzip`` (with a non-zero
``q``), its body is at least ``minimum_size`` bytes (or it streams), it is not already encoded,
not a ``206`` range, and its media type is not excluded (event streams by default: compressing
them would buffer the events). Every response that *could* have been compressed names
``Accept-Encoding`` in ``Vary``, so shared caches keep the two variants apart. Chunks of at least
``thread_minimum_size`` bytes are compressed in a worker thread so a large body never stalls the
event loop.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable
from typing import Any

from relaypoint_core.asgi_types import ASGIApp, Message, Receive, Scope, Send
from relaypoint_core.errors import ConfigurationError
from relaypoint_core.http.raw_headers import add_vary, header_names, header_value, request_header

__all__ = ["GZipMiddleware", "accepts_gzip"]

_PASS = 0  # forward untouched
_IDENTITY = 1  # compressible, but the client takes no gzip: only Vary is added
_GZIP = 2


def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value admits gzip (``gzip`` or ``*``, ``q`` above 0)."""
    wildcard = False
    for item in accept_encoding.lower().split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip()
        if coding not in (b"gzip", b"x-gzip", b"*"):
            continue
        quality = 1.0
        for param in params.split(b";"):
            key, _, value = param.partition(b"=")
            if key.strip() == b"q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding == b"*":
            wildcard = quality > 0
        else:
            return quality > 0
    return wildcard


class GZipMiddleware:
    """Pure ASGI middleware compressing ``http`` responses with gzip.

    Args:
        app: The ASGI app to wrap.
        minimum_size: Complete bodies shorter than this many bytes are sent as they are.
        compresslevel: zlib level, 1 (fastest) to 9 (smallest).
        exclude_content_types: Media types never compressed (``text/event-stream`` by default).
        thread_minimum_size: Chunks at least this large are compressed in a worker thread.

    Raises:
        ConfigurationError: A size is negative or the level is outside 1-9.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = 500,
        compresslevel: int = 6,
        exclude_content_types: Iterable[str] = ("text/event-stream",),
        thread_minimum_size: int = 128 * 1024,
    ) -> None:
        if minimum_size < 0 or thread_minimum_size < 0:
            raise ConfigurationError("GZipMiddleware sizes must be zero or more bytes")
        if not 1 <= compresslevel <= 9:
            raise ConfigurationError(f"compresslevel must be 1-9, not {compresslevel}")
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        self._excluded = frozenset(
            t.partition(";")[0].strip().lower().encode("latin-1") for t in exclude_content_types
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = request_header(scope.get("headers", ()), b"accept-encoding")
        responder = _Responder(self, send, gzip=accept is not None and accepts_gzip(accept))
        await self.app(scope, receive, responder.send)

    def mode_for(self, start: Message, first_body: bytes, *, more: bool, gzip: bool) -> int:
        """What to do with a response, decided on its start message and first body chunk."""
        if start["status"] == 206 or (not more and len(first_body) < self.minimum_size):
            return _PASS
        headers = start.get("headers", ())
        if b"\0content-encoding\0" in header_names(headers):
            return _PASS
        media = (header_value(headers, b"content-type") or b"").partition(b";")[0].strip()
        if media.lower() in self._excluded:
            return _PASS
        return _GZIP if gzip else _IDENTITY

    async def compress(self, compressor: Any, body: bytes, *, more: bool) -> bytes:
        """``body`` through ``compressor``; flushed (``more``) or finished."""

        def run() -> bytes:
            head: bytes = compressor.compress(body)
            tail: bytes = compressor.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH)
            return head + tail

        if len(body) >= self.thread_minimum_size:
            return await asyncio.to_thread(run)
        return run()


class _Responder:
    """One response's state: holds the start message until the first body chunk decides."""

    __slots__ = ("_compressor", "_gzip", "_middleware", "_mode", "_send", "_start")

    def __init__(self, middleware: GZipMiddleware, send: Send, *, gzip: bool) -> None:
        self._middleware = middleware
        self._send = send
        self._gzip = gzip
        self._start: Message | None = None
        self._mode = -1  # undecided until the first body chunk
        self._compressor: Any = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._start = message
            return
        start = self._start
        if start is None:  # after the decision, or a message this layer need not look at
            if self._mode == _GZIP and kind == "http.response.body":
                chunk = await self._middleware.compress(
                    self._compressor,
                    message.get("body", b""),
                    more=message.get("more_body", False),
                )
                message = {**message, "body": chunk}
            await self._send(message)
            return
        if kind != "http.response.body":  # pathsend, trailers, early hints: nothing to encode
            self._start, self._mode = None, _PASS
            await self._send(start)
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        self._start = None
        self._mode = self._middleware.mode_for(start, body, more=more, gzip=self._gzip)
        if self._mode == _PASS:
            await self._send(start)
            await self._send(message)
            return
        headers = list(start.get("headers", ()))
        add_vary(headers, b"Accept-Encoding")
        if self._mode == _GZIP:
            self._compressor = zlib.compressobj(
                self._middleware.compresslevel, zlib.DEFLATED, 16 + zlib.MAX_WBITS
            )
            body = await self._middleware.compress(self._compressor, body, more=more)
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-encoding", b"gzip"))
            if not more:
                headers.append((b"content-length", str(len(body)).encode()))
            message = {**message, "body": body}
        await self._send({**start, "headers": headers})
        await self._send(message)
