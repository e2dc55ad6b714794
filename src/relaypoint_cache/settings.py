"""The cache's configuration: one frozen object holding every option and its default.

``Cache(...)`` and ``Cache.configure(...)`` take these fields as keyword arguments; reconfiguring
builds a new ``CacheSettings`` (``settings.replace(...)``), it never changes one in place. The
default instance reads two environment variables on first use, through pydantic-settings:

- ``REDIS_URL``: the L2 URL (L1 only when unset or empty);
- ``ENABLE_CACHING``: a boolean (``false``/``0``/``no``/``off`` turn caching into a pass-through).

Both are read the way every RelayPoint variable is (`relaypoint_core.environment`).
"""

from __future__ import annotations

import random
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from relaypoint_cache.errors import CacheConfigurationError
from relaypoint_cache.serializers import Serializer
from relaypoint_core.backend_url import parse_backend_url
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.environment import parse_flag, read_settings
from relaypoint_core.keys import DEFAULT_KEY_PREFIX

__all__ = ["CacheEnvironment", "CacheOptions", "CacheSettings"]


class CacheOptions(TypedDict, total=False):
    """The keyword arguments of ``Cache(...)`` and ``Cache.configure(...)`` (see `CacheSettings`)."""

    key_prefix: str
    default_ttl: float
    l1_ttl: float
    l1_max_entries: int
    l1_max_bytes: int
    ttl_jitter: float
    serializer: str | Serializer
    pickle_secret: str | bytes | None
    op_timeout: float
    lease_ttl: float
    lease_wait: float
    version_ttl: float
    early_refresh: bool
    xfetch_beta: float
    circuit_failure_threshold: int
    circuit_reset_timeout: float
    enabled: bool
    clock: Clock
    rng: random.Random | None
    report_to_monitor: bool


class CacheSettings(BaseModel):
    """Every cache option with its default; frozen (build a new one with `replace`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    url: str | None = None
    """``None`` or ``memory://`` for L1 only; ``redis://``, ``rediss://``, ``redis+cluster://``."""
    key_prefix: str = DEFAULT_KEY_PREFIX
    default_ttl: float = Field(300.0, gt=0, strict=True)
    """Seconds a value is fresh by default."""
    l1_ttl: float = Field(60.0, gt=0, strict=True)
    """The longest an L1 copy is trusted without asking L2."""
    l1_max_entries: int = Field(10_000, ge=0, strict=True)
    """L1 entry budget (fixed when the cache is built)."""
    l1_max_bytes: int = Field(64 * 1024 * 1024, gt=0, strict=True)
    """L1 byte budget (fixed when the cache is built)."""
    ttl_jitter: float = Field(0.0, ge=0.0, lt=1.0, strict=True)
    """Fraction of the TTL removed at random, in [0, 1)."""
    serializer: Any = "json"
    """``"json"``, ``"msgpack"``, ``"pickle"`` or a `Serializer`."""
    pickle_secret: str | bytes | None = None
    op_timeout: float = Field(0.25, gt=0, strict=True)
    """The timeout of each L2 call, in seconds."""
    lease_ttl: float = Field(10.0, gt=0, strict=True)
    """How long a computation lease lasts."""
    lease_wait: float = Field(5.0, gt=0, strict=True)
    """How long to wait for another lease holder."""
    version_ttl: float = Field(1.0, gt=0, strict=True)
    """How often namespace versions are re-read from L2."""
    early_refresh: bool = True
    """XFetch probabilistic early refresh."""
    xfetch_beta: float = Field(1.0, ge=0, strict=True)
    """How early XFetch refreshes."""
    circuit_failure_threshold: int = Field(3, gt=0, strict=True)
    circuit_reset_timeout: float = Field(2.0, gt=0, strict=True)
    enabled: bool = True
    """``False`` makes the cache a pass-through to the factory."""
    clock: Clock = system_clock
    rng: random.Random | None = None
    """The jitter's random source (a fresh ``random.Random`` when ``None``)."""
    report_to_monitor: bool = False
    """Report hits and misses to ``relaypoint_core.monitoring.performance_monitor``."""

    @classmethod
    def build(cls, url: str | None = None, **options: Any) -> CacheSettings:
        """Validated settings from keyword options.

        Raises:
            CacheConfigurationError: An option is unknown or its value is out of range.
        """
        try:
            settings = cls.model_validate({**options, "url": url})
        except ValidationError as exc:
            raise CacheConfigurationError(_describe(exc)) from None
        if url is not None:
            parse_backend_url(url, component="cache")
        return settings

    def replace(self, **changes: Any) -> CacheSettings:
        """A new validated settings object with ``changes`` applied (this one is unchanged).

        Raises:
            CacheConfigurationError: An option is unknown or its value is out of range.
        """
        merged = {name: getattr(self, name) for name in type(self).model_fields}
        merged.update(changes)
        url = merged.pop("url")
        return type(self).build(url, **merged)

    def with_environment(self) -> CacheSettings:
        """These settings with ``REDIS_URL`` and ``ENABLE_CACHING`` applied when they are set.

        Raises:
            CacheConfigurationError: A variable does not parse (``ENABLE_CACHING=maybe``).
        """
        env = read_settings(
            CacheEnvironment, what="cache environment", error=CacheConfigurationError
        )
        changes: dict[str, Any] = {}
        if env.enable_caching is False:
            changes["enabled"] = False
        if env.redis_url:
            changes["url"] = env.redis_url
        return self.replace(**changes) if changes else self


class CacheEnvironment(BaseSettings):
    """The environment variables the default instance reads on first use."""

    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore")

    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    enable_caching: Annotated[bool | None, BeforeValidator(parse_flag)] = Field(
        None, validation_alias="ENABLE_CACHING"
    )


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "cache settings"
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown cache option: {where}")
        else:
            parts.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
    return "; ".join(parts)
