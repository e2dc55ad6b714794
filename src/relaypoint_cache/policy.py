"""Per-call freshness options of ``get_or_set`` and ``@cached``, validated once."""

from __future__ import annotations

import math
from dataclasses import dataclass

from relaypoint_cache.errors import CacheConfigurationError

__all__ = ["FreshnessPolicy"]


def _non_negative(name: str, value: float | None) -> None:
    if value is not None and (not isinstance(value, int | float) or value < 0 or math.isnan(value)):
        raise CacheConfigurationError(
            f"{name} must be a non-negative number of seconds, got {value!r}"
        )


@dataclass(frozen=True, slots=True)
class FreshnessPolicy:
    """How long a computed value is fresh, and what may be served around that.

    ``ttl``: seconds the value is fresh (``None``: the cache's ``default_ttl``).
    ``l1_ttl``: the longest an L1 copy is trusted without asking L2 (``None``: the cache's).
    ``stale_while_revalidate``: seconds after expiry during which the stale value is returned at
    once while one background refresh runs (RFC 5861).
    ``stale_if_error``: seconds after expiry during which the stale value is returned if the
    factory raises (RFC 5861).
    ``early_refresh``: XFetch probabilistic refresh before expiry (``None``: the cache's setting).
    ``negative_ttl``: TTL for a ``None`` result (``None``: same as ``ttl``; ``0``: do not cache).
    ``lease``: take a cross-process Redis lease before computing.
    ``tags``: tags of the stored entry (see ``Cache.invalidate_tag``).
    """

    ttl: float | None = None
    l1_ttl: float | None = None
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    early_refresh: bool | None = None
    negative_ttl: float | None = None
    lease: bool = True
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _non_negative("ttl", self.ttl)
        _non_negative("l1_ttl", self.l1_ttl)
        _non_negative("stale_while_revalidate", self.stale_while_revalidate)
        _non_negative("stale_if_error", self.stale_if_error)
        _non_negative("negative_ttl", self.negative_ttl)
        if self.ttl is not None and self.ttl == 0:
            raise CacheConfigurationError("ttl must be positive (use negative_ttl=0 to skip None)")
