"""The settings the engine's parts share; ``Cache.configure`` rewrites them in place."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Generic, NoReturn, Protocol, TypeVar, overload

from relaypoint_cache.serializers import JsonSerializer, Serializer
from relaypoint_core.circuit import CircuitBreaker
from relaypoint_core.clock import Clock, system_clock

__all__ = ["EngineSettings", "SettingView"]

T = TypeVar("T")


class EngineSettings:
    """One object referenced by every part, so a reconfiguration reaches all of them at once."""

    __slots__ = (
        "breaker",
        "channel",
        "clock",
        "default_ttl",
        "early_refresh",
        "enabled",
        "l1_ttl",
        "lease_ttl",
        "lease_wait",
        "now",
        "op_timeout",
        "rng",
        "serializer",
        "ttl_jitter",
        "url",
        "version_ttl",
        "xfetch_beta",
    )

    def __init__(self) -> None:
        self.enabled = True
        self.default_ttl = 300.0
        self.l1_ttl = 60.0
        self.ttl_jitter = 0.0
        self.early_refresh = True
        self.xfetch_beta = 1.0
        self.rng = random.Random()  # noqa: S311 - jitter, not secrets
        self.url: str | None = None
        """The L2 URL; ``None`` or ``memory://`` for L1 only."""
        self.channel = ""
        self.op_timeout = 0.25
        self.version_ttl = 1.0
        self.lease_ttl = 10.0
        self.lease_wait = 5.0
        self.clock: Clock = system_clock
        self.now: Callable[[], float] = time.monotonic
        """The clock's monotonic reading (``time.monotonic`` itself for the system clock)."""
        self.serializer: Serializer = JsonSerializer()
        self.breaker = CircuitBreaker("cache", clock=system_clock)

    @property
    def has_l2(self) -> bool:
        return self.url is not None and not self.url.startswith("memory")


class _HasSettings(Protocol):
    _settings: EngineSettings


class SettingView(Generic[T]):
    """A read-only attribute of the facade showing the setting of the same name."""

    def __init__(self, doc: str | None = None) -> None:
        self.__doc__ = doc
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> SettingView[T]: ...

    @overload
    def __get__(self, obj: _HasSettings, owner: type | None = None) -> T: ...

    def __get__(self, obj: _HasSettings | None, owner: type | None = None) -> T | SettingView[T]:
        if obj is None:
            return self
        value: T = getattr(obj._settings, self._name)
        return value

    def __set__(self, obj: _HasSettings, value: T) -> NoReturn:
        raise AttributeError(f"{self._name} is read-only: change it with configure()")
