"""The narrow storage Protocol every rate-limit backend implements, and its request/result types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

__all__ = [
    "ADMITTED",
    "REFUSED",
    "TIER_CHANGED",
    "BackendRequest",
    "BackendResult",
    "CounterSpec",
    "LeaseBackend",
    "LeaseResult",
    "QuotaBackend",
    "QuotaGrant",
    "QuotaRequest",
    "QuotaReturn",
    "RateLimitBackend",
    "SettleRequest",
    "SettleResult",
    "SettlingBackend",
]

ADMITTED = 0
REFUSED = 1
TIER_CHANGED = 2


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One sliding-window counter a request touches; a ``shadow`` counter never refuses (when it
    would, the request passes and that counter alone does not count it)."""

    key: str
    window_us: int
    bucket_us: int
    limit: int
    cost: int
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class BackendRequest:
    """Check (and with ``consume``, count) every counter of one request, all or nothing.

    When ``expected_tier`` is not ``None`` the backend first compares the tier stored under
    ``tier_key`` (``""`` when none is stored) with it and answers ``TIER_CHANGED`` without
    touching anything if they differ, so the limits the caller chose are never stale.

    Plain data: each backend encodes it its own way, once, and keeps that encoding (and any
    per-request scratch state) in its own slot, ``local_state`` for the in-process backend and
    ``remote_state`` for Redis, so a repeated request is not encoded again.
    """

    counters: tuple[CounterSpec, ...]
    consume: bool = True
    tier_key: str | None = None
    expected_tier: str | None = None
    local_state: list[Any] = field(init=False, repr=False, compare=False)
    remote_state: list[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "local_state", [None, (), None])
        object.__setattr__(self, "remote_state", [None, b"", None])

    @property
    def tier_check(self) -> str | None:
        """The key of the stored tier to compare before counting, or ``None``."""
        if self.expected_tier is not None and self.tier_key is not None:
            return self.tier_key
        return None


class BackendResult(NamedTuple):
    """``status`` is ADMITTED, REFUSED or TIER_CHANGED; ``values`` holds per counter, in order,
    ``used`` (after counting when admitted), the oldest live bucket index (-1 if none) and the
    earliest time in µs at which the request's cost fits (0: it fits now; -1: never; on an
    admitted request, non-zero only for a shadow counter that would have refused)."""

    status: int
    now_us: int
    values: Sequence[int]
    stored_tier: str | None = None


@dataclass(frozen=True, slots=True)
class SettleRequest:
    """Correct a reservation counted in bucket ``index`` of each counter, atomically.

    ``refund`` units are taken back from that bucket (if it is still live); ``extra`` units are
    charged now, as far as every counter has room (never past a limit). ``counters`` holds per
    counter ``(key, window_us, bucket_us, limit, index)``.
    """

    counters: tuple[tuple[str, int, int, int, int], ...]
    refund: int = 0
    extra: int = 0


class SettleResult(NamedTuple):
    """The backend clock when it settled and how many of the ``extra`` units it charged."""

    now_us: int
    charged: int


class LeaseResult(NamedTuple):
    """Whether a concurrency lease was granted, the leases held after the call (including this
    one when granted) and, when refused, the µs at which the oldest lease expires at the latest."""

    granted: bool
    in_flight: int
    now_us: int
    expires_us: int = 0


@dataclass(frozen=True, slots=True)
class QuotaRequest:
    """Check one request and lease a slice of every window's remaining budget (local quota
    leasing, see ``relaypoint_ratelimit.leasing``).

    ``check`` is the plan's consuming request (its counters carry the request's cost, and its
    tier check applies). The backend grants ``min(max_slice, floor(R / (spread * n)))`` more
    units, ``R`` the smallest budget left after the request and ``n`` the live holders of
    ``holders_key`` counting ``token``, and counts request and slice together. First it gives
    back ``give_back`` unused units of the holder's previous slice, counted in bucket
    ``back_indexes[i]`` of counter ``i``.
    """

    check: BackendRequest
    holders_key: str
    token: str
    max_slice: int
    spread: int
    give_back: int = 0
    back_indexes: tuple[int, ...] = ()


class QuotaGrant(NamedTuple):
    """The check's answer (``used`` includes the slice when admitted), the units of the slice
    granted (0: none) and for how many µs from the backend's ``now`` it may be spent."""

    result: BackendResult
    granted: int
    valid_us: int


@dataclass(frozen=True, slots=True)
class QuotaReturn:
    """Give back ``units`` of a slice counted in bucket ``index`` of each counter: ``counters``
    holds per counter ``(key, window_us, bucket_us, index)``."""

    holders_key: str
    token: str
    units: int
    counters: tuple[tuple[str, int, int, int], ...]


@runtime_checkable
class RateLimitBackend(Protocol):
    """Where counters and stored user tiers live."""

    name: str
    remote: bool

    async def startup(self) -> None: ...

    async def aclose(self) -> None: ...

    async def apply(self, request: BackendRequest) -> BackendResult: ...

    async def get_tier(self, tier_key: str) -> str | None: ...

    async def set_tier(self, tier_key: str, tier: str | None) -> None: ...

    async def delete(self, keys: Sequence[str]) -> None: ...


@runtime_checkable
class SettlingBackend(RateLimitBackend, Protocol):
    """A backend that can settle reservations (both built-in backends can)."""

    async def settle(self, request: SettleRequest) -> SettleResult: ...


@runtime_checkable
class LeaseBackend(Protocol):
    """A backend that holds concurrency leases (both built-in backends do)."""

    async def acquire_lease(self, key: str, token: str, limit: int, ttl_us: int) -> LeaseResult: ...

    async def renew_lease(self, key: str, token: str, ttl_us: int) -> bool: ...

    async def release_lease(self, key: str, token: str) -> None: ...


@runtime_checkable
class QuotaBackend(Protocol):
    """A backend that leases slices of window budgets (both built-in backends do)."""

    async def lease_quota(self, request: QuotaRequest) -> QuotaGrant: ...

    async def return_quota(self, request: QuotaReturn) -> None: ...
