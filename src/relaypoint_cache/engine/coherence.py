"""Coherence between processes: the subscription to invalidation notices on Redis pub/sub.

Every write or invalidation publishes a notice (see `.invalidation`); this keeps one
subscription per connection alive and hands each notice over. A process that loses its
subscription flushes its L1 (notices sent meanwhile are lost), so staleness stays bounded by the
L1 TTL even then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from relaypoint_cache.backends import L2Backend

__all__ = ["Subscription"]

logger = logging.getLogger("relaypoint.cache")


class Subscription:
    """Listens for notices on the current L2 connection, re-subscribing after a loss."""

    def __init__(
        self,
        *,
        on_notice: Callable[[bytes], None],
        clear_local: Callable[[], None],
        count_error: Callable[[str], None],
    ) -> None:
        self._on_notice = on_notice
        self._clear_local = clear_local
        self._count_error = count_error
        self._listener: asyncio.Task[None] | None = None
        self.event: asyncio.Event | None = None
        """Set while notices are being received."""
        self._lost_logged = False

    @property
    def active(self) -> bool:
        return self.event is not None and self.event.is_set()

    def start(self, backend: L2Backend, loop: asyncio.AbstractEventLoop) -> None:
        """Listen on a new connection (called when L2 connects on an event loop)."""
        self.event = asyncio.Event()
        self._listener = loop.create_task(self._listen(backend, self.event))

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.done():
            with contextlib.suppress(RuntimeError):  # its loop may be closed already
                listener.cancel()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    def _on_subscribed(self, event: asyncio.Event) -> None:
        # Notices sent while we were not listening are lost: forget everything L1 holds.
        self._clear_local()
        if self._lost_logged:
            logger.warning("relaypoint cache: invalidation subscription restored")
            self._lost_logged = False
        event.set()

    async def _listen(self, backend: L2Backend, event: asyncio.Event) -> None:
        pause = 0.05
        while True:
            try:
                await backend.listen(self._on_notice, lambda: self._on_subscribed(event))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event.clear()
                self._clear_local()
                self._count_error("subscription")
                if not self._lost_logged:
                    self._lost_logged = True
                    logger.warning(
                        "relaypoint cache: invalidation subscription lost (%s); L1 flushed, "
                        "retrying",
                        exc,
                    )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
            else:
                pause = 0.05
