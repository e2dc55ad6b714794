"""A real python-socketio `AsyncClient` that records what it receives, for the real-time tests."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import socketio


class RecordingClient:
    """Connects over WebSocket and keeps every event it receives, in order, per event name."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.connect_errors: list[Any] = []
        self.disconnected = asyncio.Event()
        self._arrived = asyncio.Condition()
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)

    async def _record(self, event: str, data: Any = None) -> None:
        async with self._arrived:
            self.events[event].append(data)
            self._arrived.notify_all()

    async def _on_connect_error(self, data: Any) -> None:
        self.connect_errors.append(data)

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    async def connect(
        self,
        url: str,
        *,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        transports: tuple[str, ...] = ("websocket",),
    ) -> bool:
        """True when connected; False (with `connect_errors` filled) when refused."""
        try:
            await self.sio.connect(
                url,
                auth=auth,
                headers=headers or {},
                transports=list(transports),
                socketio_path="socket.io",
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError:
            # A refused client keeps its HTTP session open; close it like a finished one.
            http = getattr(self.sio.eio, "http", None)
            if http is not None and not http.closed:
                await http.close()
            return False
        return True

    def refusal_code(self) -> str | None:
        """The `code` of the last `connect_error`, if the server sent one."""
        if not self.connect_errors:
            return None
        last = self.connect_errors[-1]
        data = last.get("data") if isinstance(last, dict) else None
        return data.get("code") if isinstance(data, dict) else None

    async def next_event(self, event: str, *, timeout: float, index: int = 0) -> Any:
        """The `index`-th `event` received, waiting up to `timeout` seconds for it."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.events[event]) > index), timeout
            )
            return self.events[event][index]

    async def call(self, event: str, data: Any = None, *, timeout: float = 5.0) -> Any:
        return await self.sio.call(event, data, timeout=timeout)

    async def close(self, *, abort: bool = False) -> None:
        """Disconnect; `abort` drops the transport at once (python-socketio's client otherwise
        waits out the pending long-poll, up to the ping interval, on the polling transport)."""
        if abort:
            await self.sio.eio.disconnect(abort=True)
        else:
            await self.sio.disconnect()
