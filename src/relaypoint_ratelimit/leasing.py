"""Local quota leasing: most checks on a remote backend answered without a round trip.

A process leases a slice of each window's remaining budget for one plan (one kind of request of
one subject): the backend checks the request exactly, and when it fits counts it together with
``s = min(s_max, floor(R / (k * n)))`` more units (``R`` the smallest budget left, ``n`` the
holders of a slice of those windows, ``k`` the spread), all in one script. The process then
admits the next requests of that plan locally until the slice is spent or its bucket ends,
and asks again. Slices shrink as a window fills; at ``s = 0`` every request gets the exact check.

Every admitted request was counted by the backend before it was admitted, so no window ever
admits more than its limit, across any number of processes. What a process leased and did not
use is given back: with its next lease (same call, no extra round trip), by a timer when no
next lease came within ``QUIET_SECONDS`` of its end, and on ``aclose``. Until then it may refuse other processes' requests early: at most ``n * s_max``
units per window. A lease is valid until the earliest end of the buckets it was counted in,
measured from when the lease was *asked for*, so a slow answer only shortens it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import uuid
from typing import TYPE_CHECKING

from relaypoint_core.clock import Clock
from relaypoint_ratelimit.backends import (
    ADMITTED,
    BackendRequest,
    BackendResult,
    QuotaBackend,
    QuotaRequest,
    QuotaReturn,
)
from relaypoint_ratelimit.errors import RateLimitBackendError, RateLimitConfigurationError
from relaypoint_ratelimit.guard import BackendGuard

if TYPE_CHECKING:
    from relaypoint_ratelimit.options import LimiterOptions
    from relaypoint_ratelimit.plans import Plan

__all__ = ["QUIET_SECONDS", "QuotaLeases", "validate_lease_options"]

logger = logging.getLogger("relaypoint.ratelimit")

_new_tuple = tuple.__new__
_MAX_WINDOW_SETS = 50_000
QUIET_SECONDS = 1.0
"""How long after its end an unspent slice waits for the next lease of its windows (which gives
it back in the same call, for free) before a call of its own gives it back."""


def validate_lease_options(fraction: float, spread: int) -> None:
    """Reject a lease fraction outside [0, 0.5] or a spread below 1.

    Raises:
        RateLimitConfigurationError: Either is out of range.
    """
    if not (isinstance(fraction, int | float) and 0 <= fraction <= 0.5):
        raise RateLimitConfigurationError(
            f"quota_lease must be a fraction between 0 (off) and 0.5, not {fraction!r}"
        )
    if type(spread) is not int or spread < 1:
        raise RateLimitConfigurationError(
            f"quota_lease_spread must be a positive integer, not {spread!r}"
        )


class _Lease:
    """One slice: ``left`` units unspent until ``expires`` (injected clock, seconds); ``values``
    the grant's answer (``used`` includes the whole slice), ``now_us`` the backend's clock then."""

    __slots__ = ("expires", "indexes", "left", "now_us", "sent", "values")

    def __init__(
        self,
        left: int,
        sent: float,
        expires: float,
        now_us: int,
        values: list[int],
        indexes: tuple[int, ...],
    ) -> None:
        self.left = left
        self.sent = sent
        self.expires = expires
        self.now_us = now_us
        self.values = values
        self.indexes = indexes


class _PlanQuota:
    """The leasing state of one set of windows in this process: its holder token, largest slice,
    the windows (``specs.counters``: key, window, bucket, limit) and current lease."""

    __slots__ = ("busy", "lease", "max_slice", "specs", "token")

    def __init__(self, token: str, max_slice: int, specs: BackendRequest) -> None:
        self.token = token
        self.max_slice = max_slice
        self.specs = specs
        self.lease: _Lease | None = None
        self.busy = False  # a grant or a return of this plan's slice is in flight


_NOT_LEASED = _PlanQuota("", 0, BackendRequest(()))


class QuotaLeases:
    """The slices one limiter holds, per plan, on a backend that leases quota."""

    def __init__(
        self,
        backend: QuotaBackend,
        guard: BackendGuard,
        *,
        fraction: float,
        spread: int,
        clock: Clock,
        timeout: float,
    ) -> None:
        validate_lease_options(fraction, spread)
        self.backend = backend
        self.guard = guard
        self.fraction = fraction
        self.spread = spread
        self._clock = clock
        self._timeout = timeout
        self._token = uuid.uuid4().hex
        self._plans = itertools.count()
        self._windows: dict[tuple[tuple[str, int], ...], _PlanQuota] = {}
        self._ending: list[tuple[float, int, _PlanQuota, _Lease]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._returns: set[asyncio.Task[None]] = set()
        self.grants = 0
        """Lease calls made (each one round trip; for tests and benchmarks)."""

    @classmethod
    def for_limiter(
        cls, options: LimiterOptions, guard: BackendGuard, *, shared: bool
    ) -> QuotaLeases | None:
        """The leases of a limiter with ``options`` on ``guard``'s backend, or ``None`` when
        leasing is off or pointless: on a backend that cannot lease, or not shared (a memory
        backend the limiter created; ``shared``: it was handed in, other limiters may use it).

        Raises:
            RateLimitConfigurationError: A leasing option is out of range.
        """
        validate_lease_options(options.quota_lease, options.quota_lease_spread)
        backend = guard.backend
        if options.quota_lease == 0 or not isinstance(backend, QuotaBackend):
            return None
        if not (backend.remote or shared):
            return None
        return cls(
            backend,
            guard,
            fraction=options.quota_lease,
            spread=options.quota_lease_spread,
            clock=options.clock,
            timeout=float(options.timeout),
        )

    async def check(self, plan: Plan, request: BackendRequest) -> BackendResult | None:
        """``BackendGuard.call(request)``, answered from the plan's slice when it can be.

        Args:
            plan: The request's plan.
            request: Its consuming backend request.

        Returns:
            The answer (a local admission looks like the backend's answer to the lease call, its
            clock included, ``used`` counting what this process admitted of its slice since), or
            ``None`` when the backend could not be asked.
        """
        quota = plan.quota
        if type(quota) is not _PlanQuota:
            quota = plan.quota = self._quota_of(plan)
        lease = quota.lease
        if lease is not None:
            left = lease.left - request.counters[0].cost
            if left >= 0:
                now = self._clock.monotonic()
                if now < lease.expires:
                    lease.left = left
                    values = lease.values.copy()
                    for i in range(0, len(values), 3):
                        values[i] -= left
                    # Its clock is the lease's: when the backend counted it, in the same bucket.
                    return _new_tuple(BackendResult, (ADMITTED, lease.now_us, values, None))
        if quota.max_slice == 0 or quota.busy:
            return await self.guard.call(request)
        return await self._lease(quota, request)

    def _quota_of(self, plan: Plan) -> _PlanQuota:
        """The leasing state of the plan's windows, shared by every plan counting exactly those
        windows with those limits (the same request at other costs), so that one process never
        refuses itself for a slice it holds under another plan."""
        if plan.shadows:  # a shadow counter may leave a request uncounted: exact checks only
            return _NOT_LEASED
        windows = tuple((c.key, c.limit) for c in plan.consume.counters)
        quota = self._windows.get(windows)
        if quota is None:
            max_slice = int(min(limit for _, limit in windows) * self.fraction)
            if max_slice < 1:
                return _NOT_LEASED
            if len(self._windows) >= _MAX_WINDOW_SETS:
                self._windows.clear()  # their leases still end and go back through `_ending`
            token = f"{self._token}:{next(self._plans)}"
            quota = self._windows[windows] = _PlanQuota(token, max_slice, plan.consume)
        return quota

    async def _lease(self, quota: _PlanQuota, specs: BackendRequest) -> BackendResult | None:
        old, quota.lease = quota.lease, None
        back, indexes = (old.left, old.indexes) if old is not None and old.left > 0 else (0, ())
        if old is not None:
            old.left = 0
        request = QuotaRequest(
            specs,
            specs.counters[0].key + ":q",
            quota.token,
            quota.max_slice,
            self.spread,
            back,
            indexes,
        )
        quota.busy = True
        sent = self._clock.monotonic()
        try:
            grant = await self.guard.run(self.backend.lease_quota, request)
        finally:
            quota.busy = False
        self.grants += 1
        self._sweep()
        if grant is None:
            # Whether the old slice went back is unknown: giving it again could take back units
            # that were admitted, so it stays counted (early refusals, never admissions).
            return None
        result = grant.result
        if result.status != ADMITTED or grant.granted == 0:
            return result
        values = [int(v) for v in result.values]
        now_us = result.now_us
        lease = _Lease(
            grant.granted,
            sent,
            sent + grant.valid_us / 1_000_000,
            now_us,
            values,
            tuple(now_us // c.bucket_us for c in specs.counters),
        )
        quota.lease = lease
        # Given back by the sweep only if no lease of these windows is asked for (which takes
        # it back in the same call) within QUIET_SECONDS of its end.
        due = lease.expires + QUIET_SECONDS
        heapq.heappush(self._ending, (due, next(self._order), quota, lease))
        self._arm()
        reported = values.copy()
        for i in range(0, len(reported), 3):
            reported[i] -= grant.granted
        return BackendResult(ADMITTED, now_us, reported)

    # --- giving back ------------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Give back the unspent units of every lease that ended ``QUIET_SECONDS`` ago and was
        not followed by another (a quiet subject)."""
        now = self._clock.monotonic()
        ending = self._ending
        while ending and ending[0][0] <= now:
            _, _, quota, lease = heapq.heappop(ending)
            if quota.lease is lease:
                quota.lease = None
                if lease.left > 0 and not quota.busy:
                    self._give_back(quota, lease)

    def _arm(self) -> None:
        if not self._ending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer is not None and self._timer_loop is loop:
            return  # armed on this loop (a timer of a loop since replaced never fires)
        delay = max(0.001, self._ending[0][0] - self._clock.monotonic())
        self._timer = loop.call_later(delay, self._fire)
        self._timer_loop = loop

    def _fire(self) -> None:
        self._timer = None
        self._sweep()
        self._arm()

    def _give_back(self, quota: _PlanQuota, lease: _Lease) -> None:
        units, lease.left = lease.left, 0
        counters = tuple(
            (c.key, c.window_us, c.bucket_us, index)
            for c, index in zip(quota.specs.counters, lease.indexes, strict=True)
        )
        request = QuotaReturn(quota.specs.counters[0].key + ":q", quota.token, units, counters)
        quota.busy = True
        task = asyncio.get_running_loop().create_task(self._send_back(quota, request))
        self._returns.add(task)
        task.add_done_callback(self._returns.discard)

    async def _send_back(self, quota: _PlanQuota, request: QuotaReturn) -> None:
        try:
            await asyncio.wait_for(self.backend.return_quota(request), self._timeout * 10)
        except (RateLimitBackendError, TimeoutError) as exc:
            # Harmless: the units stay counted until their bucket leaves the window.
            logger.info("relaypoint ratelimit: a leased slice was not given back (%s)", exc)
        finally:
            quota.busy = False

    def forget(self) -> None:
        """Drop every lease without giving anything back (after a reset deleted counters: giving
        back into a counter that started afresh could take back units admitted since)."""
        for _, _, quota, lease in self._ending:
            if quota.lease is lease:
                quota.lease = None
            lease.left = 0
        self._ending.clear()

    async def aclose(self) -> None:
        """Give back every unspent unit and wait for the backend to have it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ending, self._ending = self._ending, []
        for _, _, quota, lease in ending:
            if quota.lease is lease:
                quota.lease = None
                if lease.left > 0:
                    self._give_back(quota, lease)
        await self.given_back()

    async def given_back(self) -> None:
        """Wait until the give-backs in flight have reached the backend (or failed)."""
        loop = asyncio.get_running_loop()
        # Give-backs started on a loop since closed cannot be waited for here (nor run again).
        while pending := [t for t in self._returns if t.get_loop() is loop and not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
