"""Typed errors of relaypoint_cache; all derive from `relaypoint_core.errors.RelayPointError`.

Backend faults never surface as exceptions from cache reads and writes (the cache degrades to L1
plus the factory); these errors are for misuse and for entries that must not be trusted.
"""

from __future__ import annotations

from relaypoint_core.errors import ConfigurationError, RelayPointError

__all__ = [
    "CacheConfigurationError",
    "CacheError",
    "SerializationError",
    "TamperedEntryError",
]


class CacheError(RelayPointError):
    """Base class of the cache's errors."""


class CacheConfigurationError(CacheError, ConfigurationError):
    """A cache option cannot work; the message names the option to fix."""


class SerializationError(CacheError, ValueError):
    """A value cannot be encoded by the configured serializer, or a stored entry cannot be decoded."""


class TamperedEntryError(SerializationError):
    """A signed (pickle) entry failed its HMAC check: it is refused, never unpickled."""
