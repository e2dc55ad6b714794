"""What the engine's parts read at run time, derived from one frozen `CacheSettings`.

`EngineSettings` is immutable: ``Cache.configure`` builds a new one and swaps it into the
`SettingsCell` every part holds, so a reconfiguration reaches all of them at once and nothing is
ever half-updated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, Protocol, TypeVar, overload

from relaypoint_cache.serializers import Serializer, make_serializer
from relaypoint_cache.settings import CacheSettings
from relaypoint_core.circuit import CircuitBreaker
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.keys import KeyScheme

__all__ = ["EngineSettings", "SettingView", "SettingsCell"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The run-time form of `CacheSettings`: built serializer, breaker, clock reading, channel."""

    config: CacheSettings
    scheme: KeyScheme
    serializer: Serializer
    breaker: CircuitBreaker
    clock: Clock
    now: Callable[[], float]
    """The clock's monotonic reading (``time.monotonic`` itself for the system clock)."""
    rng: random.Random
    channel: str
    url: str | None
    has_l2: bool
    enabled: bool
    default_ttl: float
    l1_ttl: float
    ttl_jitter: float
    early_refresh: bool
    xfetch_beta: float
    op_timeout: float
    version_ttl: float
    lease_ttl: float
    lease_wait: float

    @classmethod
    def of(cls, config: CacheSettings) -> EngineSettings:
        """Build the run-time settings (a new breaker and serializer) from ``config``."""
        serializer = config.serializer
        if isinstance(serializer, str):
            serializer = make_serializer(serializer, pickle_secret=config.pickle_secret)
        clock = config.clock
        scheme = KeyScheme("cache", config.key_prefix)
        return cls(
            config=config,
            scheme=scheme,
            serializer=serializer,
            breaker=CircuitBreaker(
                "cache",
                failure_threshold=config.circuit_failure_threshold,
                reset_timeout=config.circuit_reset_timeout,
                clock=clock,
            ),
            clock=clock,
            # The system clock's method only wraps time.monotonic: skip the extra call.
            now=time.monotonic if clock is system_clock else clock.monotonic,
            rng=config.rng or random.Random(),  # noqa: S311 - jitter, not secrets
            channel=scheme.component_prefix() + "_inv",
            url=config.url,
            has_l2=config.url is not None and not config.url.startswith("memory"),
            enabled=config.enabled,
            default_ttl=config.default_ttl,
            l1_ttl=config.l1_ttl,
            ttl_jitter=config.ttl_jitter,
            early_refresh=config.early_refresh,
            xfetch_beta=config.xfetch_beta,
            op_timeout=config.op_timeout,
            version_ttl=config.version_ttl,
            lease_ttl=config.lease_ttl,
            lease_wait=config.lease_wait,
        )


class SettingsCell:
    """The one reference to the current `EngineSettings` that every part of a cache shares."""

    __slots__ = ("current",)

    def __init__(self, current: EngineSettings) -> None:
        self.current = current


class _HasSettings(Protocol):
    @property
    def settings(self) -> CacheSettings: ...


class SettingView(Generic[T]):
    """A read-only attribute of the facade showing the public setting of the same name."""

    def __init__(self, doc: str | None = None) -> None:
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> SettingView[T]: ...

    @overload
    def __get__(self, obj: _HasSettings, owner: type | None = None) -> T: ...

    def __get__(self, obj: _HasSettings | None, owner: type | None = None) -> T | SettingView[T]:
        if obj is None:
            return self
        value: T = getattr(obj.settings, self.name)
        return value

    def __set__(self, obj: _HasSettings, value: Any) -> NoReturn:
        raise AttributeError(f"{self.name} is read-only: change it with configure()")
