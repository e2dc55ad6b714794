"""Local quota leasing on the in-process backend: the same grant and return as the Redis scripts.

One process has nothing to gain from leasing its own memory; this exists so that several
limiters sharing one ``MemoryBackend`` (processes, in tests driven by a fake clock) behave
exactly as they would on Redis. Both calls are synchronous inside, so each is atomic under asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relaypoint_ratelimit.backends.base import (
    ADMITTED,
    BackendRequest,
    BackendResult,
    CounterSpec,
    QuotaGrant,
    QuotaRequest,
    QuotaReturn,
    SettleRequest,
    SettleResult,
)

__all__ = ["MemoryQuota"]


class MemoryQuota:
    """``lease_quota`` and ``return_quota`` (part of ``MemoryBackend``)."""

    if TYPE_CHECKING:

        def apply_now(self, request: BackendRequest) -> BackendResult: ...

        def settle_now(self, request: SettleRequest) -> SettleResult: ...

        def _holders(self, key: str, now: int) -> dict[str, int]: ...

    async def lease_quota(self, request: QuotaRequest) -> QuotaGrant:
        check = request.check
        if request.give_back > 0:
            back = tuple(
                (s.key, s.window_us, s.bucket_us, index)
                for s, index in zip(check.counters, request.back_indexes, strict=True)
            )
            self._give_back(request.give_back, back)
        looked = self.apply_now(
            BackendRequest(check.counters, False, check.tier_key, check.expected_tier)
        )
        if looked.status != ADMITTED:
            return QuotaGrant(looked, 0, 0)
        now, values, specs = looked.now_us, looked.values, check.counters
        holders = self._holders(request.holders_key, now)
        held = len(holders) + (request.token not in holders)
        room = min(spec.limit - values[3 * i] - spec.cost for i, spec in enumerate(specs))
        slice_ = max(0, min(request.max_slice, room // (request.spread * held)))
        charge = tuple(
            CounterSpec(s.key, s.window_us, s.bucket_us, s.limit, s.cost + slice_) for s in specs
        )
        counted = self.apply_now(BackendRequest(charge))
        valid = min((counted.now_us // s.bucket_us + 1) * s.bucket_us for s in specs) - now
        if slice_ > 0:
            holders[request.token] = counted.now_us + valid
        elif request.give_back > 0:
            holders.pop(request.token, None)
        return QuotaGrant(counted, slice_, valid)

    async def return_quota(self, request: QuotaReturn) -> None:
        self._holders(request.holders_key, 0).pop(request.token, None)
        self._give_back(request.units, request.counters)

    def _give_back(self, units: int, counters: tuple[tuple[str, int, int, int], ...]) -> None:
        if units > 0:
            refund = tuple((k, w, b, 1, index) for k, w, b, index in counters)
            self.settle_now(SettleRequest(refund, refund=units))
