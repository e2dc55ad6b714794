"""The narrow storage Protocol the cache engine needs from an L2 store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["L2Backend"]


class L2Backend(Protocol):
    """A shared store (Redis) reached by every process; all methods may raise on faults."""

    is_cluster: bool

    async def get(self, key: str) -> bytes | None: ...

    async def store(
        self,
        key: str,
        payload: bytes,
        ttl_ms: int,
        index: tuple[str, str, str],
        lease: tuple[str, int] | None,
        notice: bytes | None,
    ) -> bool:
        """Store ``payload`` and index it (``index``: set key, member, member prefix).

        With ``lease`` (key, fencing token) the write happens only while that lease is still the
        caller's. ``notice`` is published in the same round trip where possible.
        """

    async def delete(self, key: str, notice: bytes | None) -> int: ...

    async def versions(self, key: str, fields: list[str]) -> list[int]:
        """Read version counters (missing counters read as 0)."""

    async def bump(self, key: str, field: str, notice: bytes | None) -> int: ...

    async def acquire_lease(self, lease_key: str, fence_key: str, ttl_ms: int) -> int:
        """A new fencing token if the lease was free, else 0."""

    async def release_lease(self, lease_key: str, token: int) -> None: ...

    async def lease_held(self, lease_key: str) -> bool: ...

    async def index_delete(self, index_key: str, member_base: str, match: str, count: int) -> int:
        """Delete indexed entries whose member matches the glob, in ``SSCAN`` batches."""

    async def publish(self, notice: bytes) -> None: ...

    async def listen(
        self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]
    ) -> None:
        """Subscribe and deliver messages until the connection is lost (then raise)."""

    async def close(self) -> None: ...


BackendFactory = Callable[[], Awaitable[L2Backend]]
