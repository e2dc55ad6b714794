"""relaypoint_cache: an in-process L1 and a Redis L2 with stampede protection and coherent invalidation.

The seed's API::

    from relaypoint_cache import enterprise_cache, cached

    await enterprise_cache.set("user:123", user_data, ttl=3600, tenant_id="acme")
    user = await enterprise_cache.get("user:123", tenant_id="acme")
    user = await enterprise_cache.get_or_set(
        key=f"user:{user_id}", factory_func=lambda: fetch_user(user_id), ttl=3600, tenant_id="acme"
    )
    await enterprise_cache.invalidate_pattern("user:*", tenant_id="acme")

    @cached(ttl=300, namespace="users")
    async def get_user_by_id(user_id: str, tenant_id: str) -> User: ...

See ``docs/cache.md`` for levels, consistency, stampede options, faults and metrics.
"""

from __future__ import annotations

from relaypoint_cache.decorator import CachedFunction, cached
from relaypoint_cache.default import configure, enterprise_cache
from relaypoint_cache.engine import DEFAULT_NAMESPACE, MISSING, Cache
from relaypoint_cache.errors import (
    CacheConfigurationError,
    CacheError,
    SerializationError,
    TamperedEntryError,
)
from relaypoint_cache.policy import FreshnessPolicy
from relaypoint_cache.serializers import (
    JsonSerializer,
    MsgpackSerializer,
    Serializer,
    SignedPickleSerializer,
    register_model,
)
from relaypoint_cache.settings import CacheSettings
from relaypoint_cache.stats import CacheStats, NamespaceSnapshot

__all__ = [
    "DEFAULT_NAMESPACE",
    "MISSING",
    "Cache",
    "CacheConfigurationError",
    "CacheError",
    "CacheSettings",
    "CacheStats",
    "CachedFunction",
    "FreshnessPolicy",
    "JsonSerializer",
    "MsgpackSerializer",
    "NamespaceSnapshot",
    "SerializationError",
    "Serializer",
    "SignedPickleSerializer",
    "TamperedEntryError",
    "cached",
    "configure",
    "enterprise_cache",
    "register_model",
]
