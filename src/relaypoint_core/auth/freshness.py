"""Seeing revocations made by other processes within a bounded delay, without a round trip per
request: an epoch counter polled at most once per interval, and caches dropped when it moves.

`EpochGate` is shared by the per-user not-before cache (`NotBeforeCache`) and the API-key
verification cache. In the steady state (nobody revoked anything) a process pays one tiny read
per interval, not one per request; after a revocation anywhere, every process drops its cache
within ``interval`` seconds (one second by default) and reads fresh values once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.errors import BackendUnavailableError

__all__ = ["DEFAULT_FRESHNESS_INTERVAL", "EpochGate", "NotBeforeCache"]

logger = logging.getLogger("relaypoint.auth")
DEFAULT_FRESHNESS_INTERVAL = 1.0
_CACHE_LIMIT = 50_000


class EpochGate:
    """Polls an epoch counter at most every ``interval`` seconds of the injected clock."""

    __slots__ = ("_checked_at", "_clock", "_epoch", "_read", "interval")

    def __init__(
        self,
        read_epoch: Callable[[], Awaitable[int]],
        *,
        clock: Clock = system_clock,
        interval: float = DEFAULT_FRESHNESS_INTERVAL,
    ) -> None:
        self._read = read_epoch
        self._clock = clock
        self.interval = interval
        self._epoch: int | None = None
        self._checked_at = float("-inf")

    def due(self) -> bool:
        """Whether `changed` would poll now (cheap, no await: callers skip it when not due)."""
        return self._clock.monotonic() - self._checked_at >= self.interval

    async def changed(self) -> bool:
        """True when the epoch moved since the last poll (callers then drop their caches).

        A backend that cannot be read keeps the caches: nobody can revoke through it either.
        """
        now = self._clock.monotonic()
        if now - self._checked_at < self.interval:
            return False
        self._checked_at = now  # set before awaiting: concurrent requests do not poll too
        try:
            epoch = await self._read()
        except BackendUnavailableError:
            logger.warning("revocation epoch unreadable; keeping cached revocation state")
            return False
        moved = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        return moved

    def expire(self) -> None:
        """Poll at the next call (this process itself just revoked something)."""
        self._checked_at = float("-inf")


class NotBeforeCache:
    """Per-user not-before times, cached in-process and refreshed through an `EpochGate`.

    An unreachable store answers "no limit" (not cached), so access tokens keep verifying while
    Redis is down, as they did before not-before times existed.
    """

    __slots__ = ("_gate", "_read", "_values")

    def __init__(
        self,
        read: Callable[[str | None, str], Awaitable[float | None]],
        gate: EpochGate,
    ) -> None:
        self._read = read
        self._gate = gate
        self._values: dict[tuple[str | None, str], float | None] = {}

    async def get(self, tenant_id: str | None, user_id: str) -> float | None:
        """The user's not-before time (``None``: no limit), from cache when fresh."""
        gate = self._gate
        if gate.due() and await gate.changed():  # steady state: no poll, no coroutine
            self._values.clear()
        key = (tenant_id, user_id)
        try:
            return self._values[key]
        except KeyError:
            pass
        try:
            value = await self._read(tenant_id, user_id)
        except BackendUnavailableError:
            # Access tokens verify without the store by design (docs/auth.md); a logout-all
            # that this process has not seen yet cannot be enforced until the store is back.
            logger.warning("not-before time unreadable; accepting the access token")
            return None
        if len(self._values) >= _CACHE_LIMIT:
            self._values.clear()
        self._values[key] = value
        return value

    def forget(self, tenant_id: str | None, user_id: str) -> None:
        self._values.pop((tenant_id, user_id), None)
        self._gate.expire()
