"""The cross-process lease: one process computes a missing value, the others wait for it.

A lease is a Redis key taken with ``SET NX PX`` and a fencing token; the holder's write happens
only while its lease is still its own, so a holder whose lease expired never overwrites a newer
value. Waiters poll L2 with backoff, bounded by ``lease_wait``, and take the lease over when its
holder fails.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from relaypoint_cache.engine.keys import fence_key, lease_key
from relaypoint_cache.engine.l2 import FAILED, L2Access
from relaypoint_cache.engine.settings import SettingsCell
from relaypoint_cache.engine.tags import TagRegistry
from relaypoint_cache.envelope import EntryMeta
from relaypoint_cache.l1 import Scope

__all__ = ["Leases"]

Found = tuple[EntryMeta, Any, int]


class Leases:
    """Take, release and wait for the leases of one cache's computations."""

    def __init__(self, settings: SettingsCell, l2: L2Access, tags: TagRegistry) -> None:
        self._shared = settings
        self._l2 = l2
        self._read = tags.read_entry

    async def try_acquire(self, scope: Scope, key: str) -> int | None:
        """A fencing token, 0 when another process holds the lease, ``None`` if L2 is down."""
        l2 = self._l2
        base = await l2.versioned_base(scope)
        if base is None:
            return None
        token = await l2.call(
            "lease",
            l2.require().acquire_lease,
            lease_key(base, key),
            fence_key(scope.redis_base),
            int(self._shared.current.lease_ttl * 1000),
        )
        return None if token is FAILED else int(token)

    async def release(self, scope: Scope, key: str, token: int | None) -> None:
        """Give the lease back (nothing to do without a token)."""
        if not token:
            return
        l2 = self._l2
        base = await l2.versioned_base(scope)
        if base is not None:
            await l2.call("release", l2.require().release_lease, lease_key(base, key), token)

    async def acquire_or_wait(self, scope: Scope, key: str) -> Found | int | None:
        """Take the lease (a token), or wait for its holder's value (the value), bounded.

        ``None``: neither (L2 down, or the holder took longer than ``lease_wait``); compute
        without the lease.
        """
        settings = self._shared.current
        l2 = self._l2
        deadline = time.monotonic() + settings.lease_wait
        waited = False
        while True:
            token = await self.try_acquire(scope, key)
            if token:
                # Double-check: the previous holder may have stored its value between our read
                # and our acquisition; computing again would be a second factory call.
                found = await self._read(scope, key)
                if found is not None and settings.clock.time() < found[0].fresh_until:
                    await self.release(scope, key, token)
                    return found
                return token
            if token is None:
                return None
            if not waited:
                waited = True
                scope.stats.lock_waits += 1
            pause = 0.002
            while True:
                if time.monotonic() >= deadline:
                    return None  # the holder is too slow: compute without the lease
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
                found = await self._read(scope, key)
                if found is not None and settings.clock.time() < found[0].fresh_until:
                    return found
                base = await l2.versioned_base(scope)
                if base is None:
                    return None
                held = await l2.call("lease", l2.require().lease_held, lease_key(base, key))
                if held is FAILED:
                    return None
                if not held:
                    break  # the holder failed or its lease expired: try to take it over
