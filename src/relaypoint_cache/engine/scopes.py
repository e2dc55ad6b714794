"""The registry of scopes (one per tenant namespace): bounded, validated, invalidated together."""

from __future__ import annotations

from collections.abc import Iterator

from relaypoint_cache.engine.keys import NAME_PATTERN
from relaypoint_cache.errors import CacheConfigurationError
from relaypoint_cache.l1 import NamespaceStats, Scope
from relaypoint_core.keys import KeyScheme
from relaypoint_core.tenant_context import validate_tenant_id

__all__ = ["MAX_NAMESPACE_STATS", "MAX_SCOPES", "ScopeRegistry"]

MAX_SCOPES = 50_000
MAX_NAMESPACE_STATS = 1_000


class ScopeRegistry:
    """Scopes by ``(tenant, namespace)``, and the hit counters they share per namespace."""

    __slots__ = ("ns_stats", "scheme", "scopes")

    def __init__(self, scheme: KeyScheme) -> None:
        self.scheme = scheme
        self.scopes: dict[tuple[str | None, str], Scope] = {}
        self.ns_stats: dict[str, NamespaceStats] = {}

    def __len__(self) -> int:
        return len(self.scopes)

    def __iter__(self) -> Iterator[Scope]:
        return iter(list(self.scopes.values()))

    def find(self, tenant: str | None, namespace: str) -> Scope | None:
        """The scope if it exists already (notices never create scopes)."""
        return self.scopes.get((tenant, namespace))

    def get(self, tenant: str | None, namespace: str, key: str) -> Scope:
        """The scope of ``key``, created on first use; raises for a bad tenant, namespace or key."""
        scope = self.scopes.get((tenant, namespace))
        if scope is not None:
            if not isinstance(key, str):
                raise CacheConfigurationError(f"cache keys are strings, got {type(key).__name__}")
            return scope
        if tenant is not None:
            validate_tenant_id(tenant)
        if not isinstance(namespace, str) or not NAME_PATTERN.match(namespace):
            raise CacheConfigurationError(
                f"namespace {namespace!r} is not allowed: use 1-200 printable characters"
            )
        if not isinstance(key, str):
            raise CacheConfigurationError(f"cache keys are strings, got {type(key).__name__}")
        stats = self.ns_stats.get(namespace)
        if stats is None:
            name = namespace if len(self.ns_stats) < MAX_NAMESPACE_STATS else "other"
            stats = self.ns_stats.setdefault(name, NamespaceStats(name))
        scope = Scope(tenant, namespace, stats)
        scope.redis_base = self.scheme.tenant_prefix(tenant)
        if len(self.scopes) >= MAX_SCOPES:
            # Retire the oldest scope; bumping its epoch retires its L1 entries with it.
            _, oldest = next(iter(self.scopes.items()))
            oldest.invalidate()
            del self.scopes[(oldest.tenant, oldest.namespace)]
        self.scopes[(tenant, namespace)] = scope
        return scope

    def use_scheme(self, scheme: KeyScheme) -> None:
        """Adopt a (re)configured key scheme: scopes created earlier move their Redis keys under it
        too, instead of going on writing under the old prefix."""
        self.scheme = scheme
        for scope in self.scopes.values():
            scope.redis_base = scheme.tenant_prefix(scope.tenant)
            scope.base_cache = ("", "")
            scope.invalidate()

    def invalidate_all(self) -> None:
        for scope in self.scopes.values():
            scope.invalidate()

    def invalidate_tenant(self, tenant: str | None) -> None:
        for scope in list(self.scopes.values()):
            if scope.tenant == tenant:
                scope.invalidate()

    def forget_remote_versions(self) -> None:
        """The Redis versions known here belong to a connection that is gone: re-read them."""
        for scope in self.scopes.values():
            scope.remote_version = None
