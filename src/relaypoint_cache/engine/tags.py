"""Tags: an O(1) invalidation of every entry carrying one tag, across namespaces.

Each entry records the versions of its tags when it was written; bumping a tag's version in Redis
retires every entry written under the old one. Here we keep the versions read recently and which L1
keys carry each tag, so an invalidation drops them without scanning L1.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from relaypoint_cache.engine.keys import DEFAULT_NAMESPACE, check_tags, version_key
from relaypoint_cache.engine.l2 import FAILED, L2Access
from relaypoint_cache.engine.scopes import ScopeRegistry
from relaypoint_cache.engine.settings import SettingsCell
from relaypoint_cache.envelope import EntryMeta
from relaypoint_cache.l1 import L1Store, Scope
from relaypoint_core.keys import escape_key_part

__all__ = ["MAX_TAG_VERSIONS", "TagRegistry"]

MAX_TAG_VERSIONS = 100_000


class TagRegistry:
    """The tag versions known here and the L1 keys carrying each tag, per tenant."""

    def __init__(
        self, settings: SettingsCell, l1: L1Store, l2: L2Access, scopes: ScopeRegistry
    ) -> None:
        self._shared = settings
        self._l1 = l1
        self._l2 = l2
        self._scopes = scopes
        # (tenant, tag) -> (version, read at)
        self.versions: dict[tuple[str | None, str], tuple[int, float]] = {}
        # (tenant, tag) -> L1 keys of entries carrying the tag
        self.index: dict[tuple[str | None, str], set[Hashable]] = {}

    def clear(self) -> None:
        self.index.clear()
        self.versions.clear()

    def invalidate_locally(self, tenant: str | None, tag: str) -> None:
        for lkey in self.index.pop((tenant, tag), ()):
            self._l1.remove(lkey)
        self.versions.pop((tenant, tag), None)

    def add(self, tenant: str | None, tag: str, lkey: Hashable) -> None:
        """Record that the L1 entry ``lkey`` carries ``tag``."""
        keys = self.index.setdefault((tenant, tag), set())
        keys.add(lkey)
        limit = 2 * max(self._l1.max_entries, 1)
        if len(keys) > limit:
            # Evicted entries leave their keys behind; keep only those still in L1.
            keys.intersection_update(self._l1.data.keys())
        if len(self.index) > limit:
            live = self._l1.data.keys()
            for index_key, members in list(self.index.items()):
                members.intersection_update(live)
                if not members:
                    del self.index[index_key]

    async def read_entry(self, scope: Scope, key: str) -> tuple[EntryMeta, Any, int] | None:
        """The L2 entry of ``key``, unless a tag it carries was invalidated after it was written."""
        found = await self._l2.read(scope, key)
        if found is None:
            return None
        tags = found[0].tags
        if tags and not await self.current(scope.tenant, tags):
            return None
        return found

    async def snapshot(
        self, tenant: str | None, tags: tuple[str, ...]
    ) -> tuple[tuple[str, int], ...] | None:
        """Current versions of ``tags`` (``None`` if Redis cannot tell us)."""
        if not tags:
            return ()
        check_tags(tags)
        versions = await self._version_map(tenant, tags)
        if versions is None:
            return None
        return tuple((tag, versions[tag]) for tag in dict.fromkeys(tags))

    async def current(self, tenant: str | None, pairs: tuple[tuple[str, int], ...]) -> bool:
        """Whether every tag still has the version recorded in ``pairs``."""
        versions = await self._version_map(tenant, tuple(tag for tag, _ in pairs))
        return versions is not None and all(versions[tag] == version for tag, version in pairs)

    async def _version_map(
        self, tenant: str | None, tags: tuple[str, ...]
    ) -> dict[str, int] | None:
        settings = self._shared.current
        now = settings.now()
        known: dict[str, int] = {}
        missing: list[str] = []
        for tag in dict.fromkeys(tags):
            cached = self.versions.get((tenant, tag))
            if cached is not None and now - cached[1] < settings.version_ttl:
                known[tag] = cached[0]
            elif self._l2.current() is None:
                known[tag] = 0  # L1 only: invalidation removes tagged entries physically
            else:
                missing.append(tag)
        if missing:
            backend = self._l2.require()
            scope = self._scopes.get(tenant, DEFAULT_NAMESPACE, "")
            fields = ["tg:" + escape_key_part(tag) for tag in missing]
            versions = await self._l2.call(
                "versions", backend.versions, version_key(scope.redis_base), fields
            )
            if versions is FAILED:
                return None
            if len(self.versions) > MAX_TAG_VERSIONS:
                self.versions.clear()  # a cache of Redis state: re-read on demand
            for tag, version in zip(missing, versions, strict=True):
                self.versions[(tenant, tag)] = (version, now)
                known[tag] = version
        return known
