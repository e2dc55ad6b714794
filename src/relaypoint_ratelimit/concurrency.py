"""Concurrency limits: at most ``limit`` requests in flight per user or per tenant, via leases.

A request takes a lease before its handler runs and gives it back when it completes. A lease
has a time to live, renewed while its holder works (every third of it); when the holding
process dies, nobody renews it and it expires, so a crashed worker frees its slots after at most
``lease_seconds``. On Redis the leases of one subject are one sorted set (score: expiry by the
server's clock) changed by one script call per acquire, renew or release.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from relaypoint_ratelimit.backends import LeaseBackend, RateLimitBackend
from relaypoint_ratelimit.decision import Decision, PolicyState
from relaypoint_ratelimit.errors import (
    RateLimitBackendError,
    RateLimitConfigurationError,
    RateLimitExceeded,
)
from relaypoint_ratelimit.identity import Identity
from relaypoint_ratelimit.keys import RateLimitKeys
from relaypoint_ratelimit.metrics import RateLimitMetrics

__all__ = ["ConcurrencyLimiter", "ConcurrencyPolicy", "Lease", "policies_for"]

T = TypeVar("T")

logger = logging.getLogger("relaypoint.ratelimit.concurrency")

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ConcurrencyPolicy:
    """At most ``limit`` requests of one user (or one whole tenant) in flight at once.

    Attributes:
        name: The policy's bounded, static name (storage, metrics, problem bodies).
        limit: Leases held at once.
        per: ``"user"`` or ``"tenant"``.
        lease_seconds: How long a lease outlives a holder that stopped renewing it.
        path_prefixes: Paths the middleware applies it to (empty: every request).
        methods: HTTP methods it applies to (``None``: all).
    """

    name: str
    limit: int
    per: Literal["user", "tenant"] = "user"
    lease_seconds: float = 30.0
    path_prefixes: tuple[str, ...] = ()
    methods: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise RateLimitConfigurationError(
                f"concurrency policy name {self.name!r} must be 1-64 letters, digits, '_', '.' "
                "or '-'"
            )
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise RateLimitConfigurationError(
                f"concurrency limit must be a positive integer, not {self.limit!r}"
            )
        if self.per not in ("user", "tenant"):
            raise RateLimitConfigurationError(f"per= must be 'user' or 'tenant', not {self.per!r}")
        if (
            not isinstance(self.lease_seconds, int | float)
            or not 0.01 <= self.lease_seconds <= 86_400
        ):
            raise RateLimitConfigurationError(
                f"lease_seconds must be between 0.01 and 86400, not {self.lease_seconds!r}"
            )
        object.__setattr__(self, "path_prefixes", tuple(self.path_prefixes))
        if self.methods is not None:
            object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))

    @property
    def ttl_us(self) -> int:
        return round(self.lease_seconds * 1_000_000)

    def matches(self, method: str, path: str) -> bool:
        """Whether the middleware applies this policy to a request."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if not self.path_prefixes:
            return True
        return any(
            path == prefix or path.startswith(prefix.rstrip("/") + "/")
            for prefix in self.path_prefixes
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """The answer to one acquire: granted or not, and what a refusal tells the client."""

    policy: ConcurrencyPolicy
    key: str
    token: str
    granted: bool
    in_flight: int
    clock_us: int
    expires_us: int = 0

    def decision(self) -> Decision:
        """The lease as a rate-limit decision (what the headers and the 429 body describe)."""
        # A slot frees whenever any holder completes, which nobody can predict; the oldest
        # lease's expiry is only the latest bound. Clients are told to come back in a second.
        retry = None if self.granted else 1.0
        state = PolicyState(
            f"concurrency.{self.policy.name}",
            "tenant" if self.policy.per == "tenant" else "user",
            None,
            "concurrent",
            self.policy.limit,
            self.policy.lease_seconds,
            self.in_flight,
            max(0, self.policy.limit - self.in_flight),
            0.0,
            retry,
        )
        return Decision(self.granted, (state,), None, "backend", self.clock_us, retry)


class ConcurrencyLimiter:
    """Acquires, renews and releases concurrency leases on a rate-limit backend."""

    def __init__(
        self,
        backend: RateLimitBackend,
        *,
        keys: RateLimitKeys | None = None,
        metrics: RateLimitMetrics | None = None,
        timeout: float = 1.0,
    ) -> None:
        self.backend = backend
        self._leases: LeaseBackend | None = backend if isinstance(backend, LeaseBackend) else None
        self.keys = keys or RateLimitKeys()
        self.metrics = metrics
        self.timeout = timeout

    async def acquire(self, identity: Identity, policy: ConcurrencyPolicy) -> Lease:
        """Take one lease of ``policy`` for ``identity`` if fewer than ``limit`` are held.

        Args:
            identity: Whose requests are counted.
            policy: The concurrency policy.

        Returns:
            The lease; ``granted`` is false when the limit is reached.

        Raises:
            RateLimitBackendError: The backend failed or did not answer in time.
        """
        key = self.keys.concurrency(identity, policy.name, policy.per)
        token = secrets.token_hex(8)
        result = await self._bounded(
            self._lease_backend().acquire_lease(key, token, policy.limit, policy.ttl_us)
        )
        if self.metrics is not None:
            self.metrics.lease(policy.name, "granted" if result.granted else "refused")
        return Lease(
            policy, key, token, result.granted, result.in_flight, result.now_us, result.expires_us
        )

    async def renew(self, lease: Lease) -> bool:
        """Extend a granted lease by its time to live; false when it had already expired."""
        return await self._bounded(
            self._lease_backend().renew_lease(lease.key, lease.token, lease.policy.ttl_us)
        )

    async def release(self, lease: Lease) -> None:
        """Give a lease back (nothing happens for a refused one)."""
        if lease.granted:
            await self._bounded(self._lease_backend().release_lease(lease.key, lease.token))

    @contextlib.asynccontextmanager
    async def hold(self, identity: Identity, policy: ConcurrencyPolicy) -> AsyncIterator[Lease]:
        """Hold a lease for the duration of a block, renewing it, releasing it at the end.

        Args:
            identity: Whose requests are counted.
            policy: The concurrency policy.

        Yields:
            The granted lease.

        Raises:
            RateLimitExceeded: The limit is reached (carries the lease's decision).
        """
        lease = await self.acquire(identity, policy)
        if not lease.granted:
            raise RateLimitExceeded(lease.decision())
        try:
            async with self.renewing([lease]):
                yield lease
        finally:
            await self.release_all([lease])

    @contextlib.asynccontextmanager
    async def renewing(self, leases: Sequence[Lease]) -> AsyncIterator[None]:
        """Renew ``leases`` every third of their time to live while the block runs."""
        if not leases:
            yield
            return
        renewer = asyncio.create_task(self._keep_alive(tuple(leases)))
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def release_all(self, leases: Sequence[Lease]) -> None:
        """Release every lease; one that cannot be released is logged and left to expire."""
        for lease in leases:
            try:
                await self.release(lease)
            except RateLimitBackendError as exc:
                logger.warning(
                    "relaypoint ratelimit: lease of %s not released (%s); it expires in %ss",
                    lease.policy.name,
                    exc,
                    lease.policy.lease_seconds,
                )

    async def _keep_alive(self, leases: tuple[Lease, ...]) -> None:
        period = min(lease.policy.lease_seconds for lease in leases) / 3
        while True:
            await asyncio.sleep(period)
            for lease in leases:
                try:
                    await self.renew(lease)
                except RateLimitBackendError as exc:
                    logger.warning("relaypoint ratelimit: lease renewal failed (%s)", exc)

    def _lease_backend(self) -> LeaseBackend:
        if self._leases is None:
            raise RateLimitConfigurationError(
                f"the {self.backend.name} backend cannot hold concurrency leases"
            )
        return self._leases

    async def _bounded(self, call: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(call, timeout=self.timeout)
        except TimeoutError as exc:
            raise RateLimitBackendError("the concurrency lease call timed out") from exc


def policies_for(
    policies: Iterable[ConcurrencyPolicy], method: str, path: str
) -> list[ConcurrencyPolicy]:
    """The concurrency policies the middleware applies to one request."""
    return [p for p in policies if p.matches(method, path)]
