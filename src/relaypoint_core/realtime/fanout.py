"""python-socketio's Redis manager, made to survive a Redis outage without slowing anyone down.

Upstream `AsyncRedisManager` already delivers every emission to this instance's clients first
and then publishes it for the other instances; a failed publish is logged and dropped (#1411).
This subclass publishes on its own client with tight timeouts behind a circuit breaker (so a dead
Redis costs one failed attempt per `reset_timeout`, not a timeout per emit), keeps what it could
not publish in a bounded backlog, and replays the backlog once Redis answers again, dropping
what is older than `replay_window`. Subscribing (receiving other instances' emissions) stays
upstream's: it reconnects with back-off on its own.

Importing this module imports python-socketio; the server imports it only when given a Redis URL.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import socketio

from relaypoint_core.backend_url import parse_backend_url
from relaypoint_core.circuit import CircuitBreaker
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.realtime.errors import RealtimeConfigurationError
from relaypoint_core.realtime.metrics import RealtimeMetrics
from relaypoint_core.redis_client import create_redis_client

__all__ = ["ResilientRedisManager"]

logger = logging.getLogger("relaypoint.realtime")


class ResilientRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """Cross-instance fan-out over Redis pub/sub that never raises into an emit.

    Args:
        url: `redis://` or `rediss://` URL (every instance uses the same one).
        channel: The pub/sub channel shared by the instances of one app.
        metrics: Where failed publishes are counted (`operation="publish"`).
        clock: Monotonic time for the circuit breaker and the backlog's ages.
        publish_timeout: Seconds one publish may take before it counts as failed.
        backlog_size: Emissions kept for replay while Redis is down (oldest dropped first).
        replay_window: Seconds after which a kept emission is no longer worth replaying.

    Raises:
        RealtimeConfigurationError: The URL is not a single-server Redis URL.
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str,
        metrics: RealtimeMetrics,
        clock: Clock = system_clock,
        publish_timeout: float = 0.5,
        backlog_size: int = 1000,
        replay_window: float = 10.0,
    ) -> None:
        parsed = parse_backend_url(url, component="realtime fan-out")
        if parsed.kind != "redis" or parsed.is_cluster:
            raise RealtimeConfigurationError(
                f"realtime fan-out needs a redis:// or rediss:// URL, got {url!r} (python-socketio "
                "subscribes on one server; Redis Cluster is not supported for fan-out)"
            )
        super().__init__(
            parsed.redis_py_url(),
            channel=channel,
            redis_options={"socket_connect_timeout": publish_timeout, "health_check_interval": 5},
        )
        self._metrics = metrics
        self._clock = clock
        self._publish_timeout = publish_timeout
        self._replay_window = replay_window
        self._publisher: Any = create_redis_client(
            parsed,
            component="realtime fan-out",
            socket_timeout=publish_timeout,
            connect_timeout=publish_timeout,
        )
        self._circuit = CircuitBreaker(
            "realtime fan-out", failure_threshold=1, reset_timeout=1.0, clock=clock
        )
        self._backlog: collections.deque[tuple[float, str]] = collections.deque(maxlen=backlog_size)
        self._flush_lock = asyncio.Lock()

    @property
    def backlog(self) -> int:
        """How many emissions wait to be published."""
        return len(self._backlog)

    async def _publish(self, data: Any) -> None:
        # Called by the upstream manager after local delivery: never raise, never hang.
        payload = self.json.dumps(data)
        if self._backlog or not await self._try_publish(payload):
            self._backlog.append((self._clock.monotonic(), payload))
            await self.flush()

    async def _try_publish(self, payload: str) -> bool:
        if not self._circuit.allow():
            return False
        try:
            await asyncio.wait_for(
                self._publisher.publish(self.channel, payload), self._publish_timeout
            )
        except Exception:  # any failure of the store is the fault policy's business, not emit's
            self._circuit.record_failure()
            self._metrics.backend_error("publish")
            return False
        self._circuit.record_success()
        return True

    async def flush(self) -> int:
        """Publish what the backlog holds, oldest first, while Redis answers.

        Returns:
            How many emissions were published now.
        """
        if self._flush_lock.locked():
            return 0
        published = 0
        async with self._flush_lock:
            while self._backlog:
                queued_at, payload = self._backlog[0]
                if self._clock.monotonic() - queued_at > self._replay_window:
                    self._backlog.popleft()
                    self._metrics.backend_error("publish_dropped")
                    continue
                if not await self._try_publish(payload):
                    break
                self._backlog.popleft()
                published += 1
        return published

    async def aclose(self) -> None:
        """Close the publishing client (the subscriber ends with the server's task)."""
        await self._publisher.aclose()
