"""The L2 access path: one backend per event loop, every call under a timeout and the breaker.

A failing Redis never raises into the caller: `L2Access.call` answers `FAILED`, and
each caller falls back to L1 + factory behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from relaypoint_cache import metrics
from relaypoint_cache.backends import L2Backend, create_backend
from relaypoint_cache.engine.keys import lease_key, side_key, version_key, versioned_base
from relaypoint_cache.engine.settings import SettingsCell
from relaypoint_cache.envelope import EntryMeta, pack_entry, unpack_entry
from relaypoint_cache.errors import CacheError, SerializationError
from relaypoint_cache.l1 import Scope
from relaypoint_core.deadlines import DeadlineWatch
from relaypoint_core.keys import escape_key_part

__all__ = ["FAILED", "L2Access"]

logger = logging.getLogger("relaypoint.cache")

T = TypeVar("T")

FAILED: Final[Any] = object()
"""What `L2Access.call` answers instead of raising."""


class L2Access:
    """Reads, writes and version lookups against L2 for one cache."""

    def __init__(
        self,
        settings: SettingsCell,
        *,
        on_connect: Callable[[L2Backend, asyncio.AbstractEventLoop], None],
        on_drop: Callable[[], None],
        count_error: Callable[[str], None],
    ) -> None:
        self._shared = settings
        self._on_connect = on_connect
        self._on_drop = on_drop
        self._count_error = count_error
        self._backend: L2Backend | None = None
        self._backend_loop: asyncio.AbstractEventLoop | None = None
        self._deadlines = DeadlineWatch()

    # -- the connection ------------------------------------------------------------------------
    def current(self) -> L2Backend | None:
        """The backend of the running event loop (created lazily, recreated for a new loop)."""
        settings = self._shared.current
        if not settings.has_l2:
            return None
        loop = asyncio.get_running_loop()
        if self._backend is not None and self._backend_loop is loop:
            return self._backend
        self.drop()
        backend = create_backend(
            settings.url, channel=settings.channel, op_timeout=settings.op_timeout
        )
        if backend is None:
            return None
        self._backend = backend
        self._backend_loop = loop
        self._on_connect(backend, loop)
        return backend

    def require(self) -> L2Backend:
        backend = self.current()
        if backend is None:
            raise CacheError("no L2 backend is configured")
        return backend

    def drop(self) -> None:
        """Forget the connection (a new one is made on next use)."""
        self._on_drop()
        self._backend = None
        self._backend_loop = None

    def detach(self) -> L2Backend | None:
        """Hand over the connection for closing; the next use makes a new one."""
        backend, self._backend = self._backend, None
        self._backend_loop = None
        return backend

    async def call(
        self, op: str, fn: Callable[..., Awaitable[T]], *args: Any, limit: float | None = -1.0
    ) -> T | Any:
        """Run one L2 call under the breaker and a timeout; `FAILED` instead of raising."""
        breaker = self._shared.current.breaker
        if not breaker.allow():
            return FAILED
        started = time.perf_counter()
        try:
            if limit is None:
                result = await fn(*args)
            else:
                # One shared timer instead of asyncio.timeout's timer per call (see deadlines).
                with self._deadlines.limit(self._shared.current.op_timeout if limit < 0 else limit):
                    result = await fn(*args)
        except Exception as exc:
            breaker.record_failure()
            self._count_error("l2")
            logger.debug("relaypoint cache: L2 %s failed: %r", op, exc)
            return FAILED
        breaker.record_success()
        metrics.observe_l2_latency(op, time.perf_counter() - started)
        return result

    # -- versions --------------------------------------------------------------------------------
    async def versioned_base(self, scope: Scope) -> str | None:
        """``rp:cache:{t==acme}:<gen>.<nsver>:<ns>:``, or ``None`` when L2 is unavailable."""
        backend = self.current()
        if backend is None:
            return None
        now = self._shared.current.now()
        if (
            scope.remote_version is None
            or now - scope.remote_checked >= self._shared.current.version_ttl
        ):
            epoch = scope.epoch
            versions = await self.call(
                "versions",
                backend.versions,
                version_key(scope.redis_base),
                ["g", "n:" + escape_key_part(scope.namespace)],
            )
            if versions is FAILED:
                return None
            version = f"{versions[0]}.{versions[1]}"
            if scope.remote_version is not None and version != scope.remote_version:
                # A bump whose notice we missed: what L1 holds for this scope is retired.
                scope.epoch += 1
            scope.remote_version = version
            # If a notice arrived while we asked, the answer may predate it: ask again next time.
            scope.remote_checked = now if scope.epoch == epoch else -math.inf
        version = scope.remote_version or "0.0"
        cached_version, base = scope.base_cache
        if cached_version != version:
            base = versioned_base(scope.redis_base, version, scope.namespace)
            scope.base_cache = (version, base)
        return base

    # -- entries ---------------------------------------------------------------------------------
    async def read(self, scope: Scope, key: str) -> tuple[EntryMeta, Any, int] | None:
        """The stored entry (meta, value, encoded size); an entry that fails to decode is dropped."""
        base = await self.versioned_base(scope)
        backend = self._backend
        if base is None or backend is None:
            return None
        redis_key = base + escape_key_part(key)
        data = await self.call("get", backend.get, redis_key)
        if data is FAILED or data is None:
            return None
        try:
            meta, value = unpack_entry(self._shared.current.serializer, redis_key.encode(), data)
        except SerializationError as exc:
            scope.stats.errors += 1
            self._count_error("serialization")
            logger.warning("relaypoint cache: refusing stored entry: %s", exc)
            await self.call("delete", self.require().delete, redis_key, None)
            return None
        return meta, value, len(data)

    async def prepare(
        self, scope: Scope, key: str, value: Any, meta: EntryMeta, *, strict: bool
    ) -> tuple[str, bytes] | None:
        """The Redis key and signed/encoded entry, or ``None`` (no L2, L2 down, not encodable)."""
        if self.current() is None:
            return None
        try:
            base = await self.versioned_base(scope)
            redis_key = (base or "") + escape_key_part(key)
            payload = pack_entry(self._shared.current.serializer, redis_key.encode(), meta, value)
        except SerializationError as exc:
            if strict:
                raise
            scope.stats.errors += 1
            self._count_error("serialization")
            logger.warning("relaypoint cache: value kept in L1 only: %s", exc)
            return None
        return None if base is None else (redis_key, payload)

    async def store(
        self,
        key: str,
        prepared: tuple[str, bytes],
        meta: EntryMeta,
        *,
        token: int | None,
        notice: bytes | None,
    ) -> None:
        """Write a prepared entry (fenced by ``token`` when given) and publish ``notice``."""
        redis_key, payload = prepared
        backend = self.require()
        ttl_ms = max(math.ceil((meta.stale_end - self._shared.current.clock.time()) * 1000), 1)
        member = escape_key_part(key)
        base = redis_key[: len(redis_key) - len(member)]
        await self.call(
            "set",
            backend.store,
            redis_key,
            payload,
            ttl_ms,
            (side_key(base, "i"), member, base),
            (lease_key(base, key), token) if token else None,
            notice,
        )
