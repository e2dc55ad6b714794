"""How the reference app runs under uvicorn: limits and the deadlines uvicorn itself lacks.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) but not a client that
trickles its request: its keep-alive timer is cancelled by every byte received, so one byte every
half second holds a connection (and its memory) for ever. `DeadlineH11Protocol` gives each
request a whole-head deadline (``RELAYPOINT_HEADER_TIMEOUT``: the request line and headers must
be complete within it, however the bytes are spaced) and a whole-body deadline
(``RELAYPOINT_BODY_TIMEOUT``). A client that misses the head deadline gets ``408`` and the
connection is closed; one that misses the body deadline is disconnected (the app sees
``http.disconnect``). ``RELAYPOINT_MAX_CONNECTIONS`` caps concurrent connections (uvicorn answers
503 beyond it) and ``RELAYPOINT_KEEPALIVE_TIMEOUT`` closes idle keep-alive connections.

``RELAYPOINT_MAX_REQUEST_HEAD`` bounds a request line plus headers. h11 enforces its own bound
(16 KiB) only while a head is still incomplete in its buffer, so without a larger explicit bound
the same 20 KiB request is answered by the app when its bytes arrive in one read and refused with
a 400 and a closed (often reset) connection when they arrive in two: the answer would depend on
TCP segmentation. The explicit bound makes every head up to it reach the app.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Annotated, Any

import h11
from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from uvicorn.protocols.http.h11_impl import H11Protocol

from relaypoint_core.environment import environment_variables, read_settings

__all__ = [
    "SERVER_ENVIRONMENT_VARIABLES",
    "DeadlineH11Protocol",
    "ServerEnvironment",
    "ServerLimits",
    "load_server_limits",
]

logger = logging.getLogger("examples.app.server")


def _show(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:g}"


def _between(low: float, high: float, *, integer: bool = False) -> BeforeValidator:
    """A number in ``[low, high]`` (an integer field drops the fraction), else a clear error."""

    def check(value: object) -> object:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = math.nan
        if not low <= number <= high:
            raise ValueError(f"must be a number between {_show(low)} and {_show(high)}")
        return int(number) if integer else number

    return BeforeValidator(check)


class ServerEnvironment(BaseSettings):
    """The ``RELAYPOINT_*`` server limits; an empty variable means its default."""

    model_config = SettingsConfigDict(
        env_prefix="RELAYPOINT_", case_sensitive=False, extra="ignore", env_ignore_empty=True
    )

    header_timeout: Annotated[float, _between(0.1, 300)] = Field(
        10.0,
        description="seconds a client has to send a complete request line and headers (default 10)",
    )
    body_timeout: Annotated[float, _between(0.1, 3600)] = Field(
        30.0, description="seconds a client has to send a complete request body (default 30)"
    )
    keepalive_timeout: Annotated[int, _between(1, 300, integer=True)] = Field(
        5, description="seconds an idle keep-alive connection stays open (default 5)"
    )
    max_connections: Annotated[int, _between(1, 1_000_000, integer=True)] = Field(
        1000, description="concurrent connections before uvicorn answers 503 (default 1000)"
    )
    max_request_head: Annotated[int, _between(8 * 1024, 16 * 1024 * 1024, integer=True)] = Field(
        128 * 1024, description="bytes of request line plus headers accepted (default 131072)"
    )


SERVER_ENVIRONMENT_VARIABLES: dict[str, str] = environment_variables(ServerEnvironment)

_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nrequest timeout\n"
)


@dataclass(frozen=True)
class ServerLimits:
    """The uvicorn limits and deadlines of the app (see the module docstring)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: int = 5
    max_connections: int = 1000
    max_request_head: int = 128 * 1024

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.run`` that apply these limits.

        Returns:
            ``http`` (the deadline protocol bound to these limits), ``timeout_keep_alive``,
            ``limit_concurrency``, ``h11_max_incomplete_event_size``, and ``server_header``
            off: a ``Server: uvicorn`` header only tells a scanner which stack to try.
        """
        limits = self

        class BoundProtocol(DeadlineH11Protocol):
            header_timeout = limits.header_timeout
            body_timeout = limits.body_timeout

        return {
            "http": BoundProtocol,
            "timeout_keep_alive": self.keepalive_timeout,
            "limit_concurrency": self.max_connections,
            "h11_max_incomplete_event_size": self.max_request_head,
            "server_header": False,
        }


def load_server_limits() -> ServerLimits:
    """Read the ``RELAYPOINT_*`` server limits from the environment.

    Returns:
        The limits, defaults where a variable is unset or empty.

    Raises:
        ConfigurationError: A variable is not a number in its allowed range; the message names
            it (``RELAYPOINT_BODY_TIMEOUT='x' must be a number between 0.1 and 3600``).
    """
    env = read_settings(ServerEnvironment, what="server limits")
    return ServerLimits(**env.model_dump())


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for the request head and one for the body.

    The phase is read from h11's view of the client (``IDLE``: a request head is due;
    ``SEND_BODY``: its body is due; anything else: the client owes nothing). Each phase change
    re-arms one timer; bytes arriving within a phase do not extend it.
    """

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    _deadline: asyncio.TimerHandle | None = None
    _phase: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _watch(self) -> None:
        if self.transport.is_closing():
            self._cancel()
            return
        state = self.conn.their_state
        phase = state if state in (h11.IDLE, h11.SEND_BODY) else None
        if phase is self._phase:
            return
        self._cancel()
        self._phase = phase
        if phase is h11.IDLE:
            self._deadline = self.loop.call_later(self.header_timeout, self._head_expired)
        elif phase is h11.SEND_BODY:
            self._deadline = self.loop.call_later(self.body_timeout, self._body_expired)

    def _head_expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request arrived: say why we hang up
            logger.info("closing a connection whose request head was not complete in time")
            self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()

    def _body_expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        logger.info("closing a connection whose request body was not complete in time")
        self.transport.close()
