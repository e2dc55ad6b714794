"""Windows, tiers and route policies: the declarative side of rate limiting.

A ``Window`` is "at most ``limit`` units of cost in any ``seconds``-long interval". A
``Tier`` is a named set of windows (the seed's FREE tier is 60/minute, 1000/hour and
10000/day). A ``TierSet`` orders tiers from lowest to highest, which is what the upgrade
prompt of a 429 response walks. A ``RoutePolicy`` adds windows for one route or group of
routes on top of the user's and tenant's tiers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from relaypoint_ratelimit.errors import RateLimitConfigurationError, UnknownTierError

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_TIERS",
    "RoutePolicy",
    "Tier",
    "TierSet",
    "Window",
    "default_buckets",
    "parse_windows",
]

DEFAULT_BUCKETS = 60
"""Sub-buckets of a window up to an hour long: a minute window resets to the second, an hour
window to the minute. Longer windows get one bucket per 15 minutes (96 for a day)."""

_LONG_WINDOW_BUCKET_SECONDS = 900

MAX_BUCKETS = 1_000
_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3_600,
    "hour": 3_600,
    "hours": 3_600,
    "d": 86_400,
    "day": 86_400,
    "days": 86_400,
}
_UNIT_NAMES = {1: "second", 60: "minute", 3_600: "hour", 86_400: "day"}
_WINDOW_TEXT = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d*)\s*([a-zA-Z]+)\s*$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def default_buckets(seconds: float) -> int:
    """The bucket count a window of ``seconds`` gets when none is given.

    The bucket length is how much later than the exact sliding-window answer a reset or a
    ``Retry-After`` can be: at most 1 s on a minute window, 1 min on an hour, 15 min on a day.

    Args:
        seconds: The window's length.

    Returns:
        ``DEFAULT_BUCKETS`` up to an hour, else one bucket per 15 minutes (at most ``MAX_BUCKETS``).
    """
    if seconds <= 3_600:
        return DEFAULT_BUCKETS
    return min(MAX_BUCKETS, max(DEFAULT_BUCKETS, math.ceil(seconds / _LONG_WINDOW_BUCKET_SECONDS)))


def _default_window_name(seconds: float) -> str:
    if seconds in _UNIT_NAMES:
        return _UNIT_NAMES[int(seconds)]
    # Fixed-point, not "g": 12 days written "1.0368e+06s" would not be a valid window name.
    return format(seconds, ".6f").rstrip("0").rstrip(".") + "s"


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` units of cost admitted in any interval of ``seconds`` seconds.

    ``buckets`` trades precision for memory: the window is tracked as that many sub-buckets, so a
    key stores at most ``buckets + 1`` counters whatever the limit, a refusal happens only when
    ``limit`` was reached within the last ``seconds * (1 + 1/buckets)``, and a reset or retry time
    is at most one bucket (``precision``) later than the exact sliding-window answer. ``0`` (the
    default) picks the count from the length (see ``default_buckets``).
    """

    limit: int
    seconds: float
    name: str = ""
    buckets: int = 0
    window_us: int = field(init=False, repr=False, compare=False)
    bucket_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise RateLimitConfigurationError(
                f"window limit must be a positive integer, got {self.limit!r}"
            )
        if not isinstance(self.seconds, int | float) or not math.isfinite(self.seconds):
            raise RateLimitConfigurationError(
                f"window length must be a number, got {self.seconds!r}"
            )
        if isinstance(self.buckets, bool) or not isinstance(self.buckets, int):
            raise RateLimitConfigurationError(f"buckets must be an integer, got {self.buckets!r}")
        if self.buckets == 0 and isinstance(self.seconds, int | float) and self.seconds > 0:
            tiny = max(1, round(self.seconds * 1_000_000))  # a microsecond per bucket at least
            object.__setattr__(self, "buckets", min(default_buckets(self.seconds), tiny))
        if not 1 <= self.buckets <= MAX_BUCKETS:
            raise RateLimitConfigurationError(f"buckets must be between 1 and {MAX_BUCKETS}")
        window_us = round(self.seconds * 1_000_000)
        if window_us < self.buckets or self.seconds > 366 * 86_400:
            raise RateLimitConfigurationError(
                f"window length {self.seconds!r}s is out of range: use at least one microsecond "
                "per bucket and at most a year"
            )
        name = self.name or _default_window_name(self.seconds)
        if not _NAME.match(name):
            raise RateLimitConfigurationError(
                f"window name {name!r} must be 1-64 letters, digits, '_', '.' or '-'"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "window_us", window_us)
        object.__setattr__(self, "bucket_us", -(-window_us // self.buckets))

    @classmethod
    def parse(cls, text: str, *, name: str = "", buckets: int = 0) -> Window:
        """``"60/minute"``, ``"1000 per hour"``, ``"10/30s"`` -> a ``Window``."""
        match = _WINDOW_TEXT.match(text)
        unit = _UNIT_SECONDS.get(match.group(3).lower()) if match else None
        if match is None or unit is None:
            raise RateLimitConfigurationError(
                f"cannot read rate limit {text!r}; write it like '60/minute', '1000 per hour' or "
                "'10/30s' (units: second, minute, hour, day)"
            )
        multiple = int(match.group(2)) if match.group(2) else 1
        if multiple < 1:
            raise RateLimitConfigurationError(f"window length in {text!r} must be positive")
        seconds = multiple * unit
        default_name = _default_window_name(seconds)
        return cls(int(match.group(1)), seconds, name or default_name, buckets)

    @property
    def precision(self) -> float:
        """Seconds a reset or retry time can exceed the exact sliding-window answer (one bucket)."""
        return self.bucket_us / 1_000_000

    @property
    def storage_id(self) -> str:
        """The part of a storage key that identifies this window's bucket layout."""
        return f"w{self.window_us}b{self.bucket_us}"

    def describe(self) -> str:
        return f"{self.limit} per {_default_window_name(self.seconds)}"


def parse_windows(spec: str | Window | Iterable[str | Window]) -> tuple[Window, ...]:
    """Windows from ``"60/minute; 1000/hour"``, a ``Window``, or an iterable of either."""
    if isinstance(spec, Window):
        items: list[str | Window] = [spec]
    elif isinstance(spec, str):
        items = [part for part in re.split(r"[;,]", spec) if part.strip()]
    else:
        items = list(spec)
    windows = tuple(item if isinstance(item, Window) else Window.parse(item) for item in items)
    if not windows:
        raise RateLimitConfigurationError("a rate-limit policy needs at least one window")
    names = [w.name for w in windows]
    if len(set(names)) != len(names):
        raise RateLimitConfigurationError(f"window names must be distinct, got {names}")
    layouts = [w.storage_id for w in windows]
    if len(set(layouts)) != len(layouts):
        raise RateLimitConfigurationError(
            f"two windows share a length and bucket count ({layouts}); merge them into one"
        )
    return windows


@dataclass(frozen=True, slots=True)
class Tier:
    """A named plan level and the windows that bound one subject (a user or a whole tenant)."""

    name: str
    windows: tuple[Window, ...]

    def __init__(self, name: str, windows: str | Window | Iterable[str | Window]) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise RateLimitConfigurationError(
                f"tier name {name!r} must be 1-64 letters, digits, '_', '.' or '-'"
            )
        object.__setattr__(self, "name", name.upper())
        object.__setattr__(self, "windows", parse_windows(windows))

    def describe(self) -> str:
        return ", ".join(w.describe() for w in self.windows)


class TierSet:
    """Tiers ordered from lowest to highest; names are case-insensitive (stored upper-case)."""

    __slots__ = ("_order", "_tiers")

    def __init__(self, tiers: Iterable[Tier]) -> None:
        self._order: tuple[Tier, ...] = tuple(tiers)
        if not self._order:
            raise RateLimitConfigurationError("a TierSet needs at least one tier")
        self._tiers = {tier.name: tier for tier in self._order}
        if len(self._tiers) != len(self._order):
            raise RateLimitConfigurationError("tier names must be unique (case-insensitively)")

    @classmethod
    def from_mapping(
        cls, tiers: Sequence[tuple[str, str | Iterable[str | Window]]] | dict[str, str]
    ) -> TierSet:
        """``{"FREE": "60/minute;1000/hour", "PRO": [...]}`` in ascending order."""
        items = tiers.items() if isinstance(tiers, dict) else tiers
        return cls(Tier(name, windows) for name, windows in items)

    def get(self, name: str) -> Tier:
        tier = self._tiers.get(name.upper()) if isinstance(name, str) else None
        if tier is None:
            raise UnknownTierError(str(name), self.names)
        return tier

    def normalise(self, name: str) -> str:
        """The canonical (upper-case) name of a configured tier, or ``UnknownTierError``."""
        return self.get(name).name

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self._tiers

    def __iter__(self) -> Iterator[Tier]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    @property
    def names(self) -> list[str]:
        return [tier.name for tier in self._order]

    def next_above(self, name: str) -> Tier | None:
        """The tier one step up from ``name`` (the upgrade prompt), or ``None`` at the top."""
        position = self._order.index(self.get(name))
        return self._order[position + 1] if position + 1 < len(self._order) else None

    def all_windows(self) -> tuple[Window, ...]:
        """Every distinct window layout of every tier (what ``reset`` has to clear)."""
        seen: dict[str, Window] = {}
        for tier in self._order:
            for window in tier.windows:
                seen.setdefault(window.storage_id, window)
        return tuple(seen.values())


DEFAULT_TIERS = TierSet(
    [
        Tier("FREE", "60/minute; 1000/hour; 10000/day"),
        Tier("STARTER", "300/minute; 10000/hour; 100000/day"),
        Tier("PROFESSIONAL", "1000/minute; 50000/hour; 500000/day"),
        Tier("ENTERPRISE", "5000/minute; 200000/hour; 2000000/day"),
    ]
)
"""The seed's four tiers, lowest first."""

RouteScope = Literal["user", "tenant"]


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """Extra windows for a route or route group, counted per user (default) or per tenant.

    ``name`` is the group's storage and metrics name (keep it a bounded, static string).
    ``path_prefixes`` lets the ASGI middleware match it before routing; the FastAPI dependency
    attaches it to a route explicitly. ``cost`` is what one request of this group consumes in
    every window that applies (user, tenant and route alike); with ``settle`` it is the estimate
    reserved before the handler runs, replaced by the cost the handler reports (see
    ``relaypoint_ratelimit.report_cost``). A ``shadow`` policy is evaluated and counted but never
    refuses (dry run).
    """

    name: str
    windows: tuple[Window, ...]
    per: RouteScope = "user"
    path_prefixes: tuple[str, ...] = ()
    methods: frozenset[str] | None = None
    cost: int = 1
    shadow: bool = False
    settle: bool = False

    def __init__(
        self,
        name: str,
        windows: str | Window | Iterable[str | Window],
        *,
        per: RouteScope = "user",
        path_prefixes: Iterable[str] = (),
        methods: Iterable[str] | None = None,
        cost: int = 1,
        shadow: bool = False,
        settle: bool = False,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise RateLimitConfigurationError(
                f"route policy name {name!r} must be 1-64 letters, digits, '_', '.' or '-'"
            )
        if per not in ("user", "tenant"):
            raise RateLimitConfigurationError(
                f"route policy per= must be 'user' or 'tenant', not {per!r}"
            )
        if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
            raise RateLimitConfigurationError(
                f"route policy cost must be a positive integer, not {cost!r}"
            )
        prefixes = tuple(path_prefixes)
        if any(not p.startswith("/") for p in prefixes):
            raise RateLimitConfigurationError(f"path prefixes must start with '/': {prefixes}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "windows", parse_windows(windows))
        object.__setattr__(self, "per", per)
        object.__setattr__(self, "path_prefixes", prefixes)
        object.__setattr__(
            self, "methods", None if methods is None else frozenset(m.upper() for m in methods)
        )
        object.__setattr__(self, "cost", cost)
        object.__setattr__(self, "shadow", bool(shadow))
        object.__setattr__(self, "settle", bool(settle))

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return any(
            path == prefix or path.startswith(prefix.rstrip("/") + "/")
            for prefix in self.path_prefixes
        )
