"""Invalidation: what to drop, here and in every other process.

Each operation drops the L1 copies of this process, changes L2 (a delete, an index walk or an
O(1) version bump) and publishes a notice; `Invalidation.apply_notice` replays the local
part in the other processes. A notice names its origin so a process ignores its own.
"""

from __future__ import annotations

import json
import uuid

from relaypoint_cache.engine.keys import (
    DEFAULT_NAMESPACE,
    glob_regex,
    redis_glob,
    side_key,
    version_key,
)
from relaypoint_cache.engine.l2 import FAILED, L2Access
from relaypoint_cache.engine.scopes import ScopeRegistry
from relaypoint_cache.engine.settings import SettingsCell
from relaypoint_cache.engine.tags import TagRegistry
from relaypoint_cache.l1 import L1Store, Scope
from relaypoint_core.keys import escape_key_part

__all__ = ["Invalidation"]


class Invalidation:
    """The invalidation operations of one cache, and the notices that carry them."""

    def __init__(
        self,
        settings: SettingsCell,
        l1: L1Store,
        l2: L2Access,
        scopes: ScopeRegistry,
        tags: TagRegistry,
    ) -> None:
        self._shared = settings
        self._l1 = l1
        self._l2 = l2
        self._scopes = scopes
        self._tags = tags
        self._origin = uuid.uuid4().hex

    # -- notices ---------------------------------------------------------------------------------
    def notice(self, op: str, scope: Scope, arg: str) -> bytes:
        """``op``: ``k`` key, ``p`` pattern, ``n`` namespace, ``t`` tenant, ``g`` tag."""
        return json.dumps([self._origin, op, scope.tenant, scope.namespace, arg]).encode()

    def apply_notice(self, data: bytes) -> bool:
        """Drop what another process's notice names; ``False`` for a notice we cannot read."""
        try:
            origin, op, tenant, namespace, arg = json.loads(data)
        except (ValueError, TypeError):
            return False
        if origin == self._origin:
            return True
        if op == "k":
            self._l1.remove((tenant, namespace, arg))
        elif op == "p":
            scope = self._scopes.find(tenant, namespace)
            if scope is not None:
                self._drop_pattern_locally(scope, arg)
        elif op == "n":
            scope = self._scopes.find(tenant, namespace)
            if scope is not None:
                scope.invalidate()
        elif op == "t":
            self._scopes.invalidate_tenant(tenant)
        elif op == "g":
            self._tags.invalidate_locally(tenant, arg)
        return True

    # -- operations ------------------------------------------------------------------------------
    async def delete(self, scope: Scope, key: str) -> bool:
        """Remove one key everywhere; ``True`` if it existed here or in L2."""
        existed = self._l1.remove((scope.tenant, scope.namespace, key))
        l2 = self._l2
        base = await l2.versioned_base(scope)
        if base is not None:
            notice = self.notice("k", scope, key)
            result = await l2.call(
                "delete", l2.require().delete, base + escape_key_part(key), notice
            )
            if result is not FAILED:
                existed = existed or bool(result)
        return existed

    async def delete_pattern(self, scope: Scope, pattern: str, scan_count: int) -> int:
        """Remove the keys of one scope matching a glob; the number removed."""
        removed = self._drop_pattern_locally(scope, pattern)
        l2 = self._l2
        base = await l2.versioned_base(scope)
        if base is not None:
            backend = l2.require()
            deleted = await l2.call(
                "index_delete",
                backend.index_delete,
                side_key(base, "i"),
                base,
                redis_glob(pattern),
                scan_count,
                # Many small batches, each a short command: bound the whole walk, not each step.
                limit=self._shared.current.op_timeout * 40,
            )
            await l2.call("publish", backend.publish, self.notice("p", scope, pattern))
            if deleted is not FAILED:
                removed = max(removed, int(deleted))
        return removed

    async def retire_namespace(self, scope: Scope) -> None:
        """Retire every entry of one scope in O(1) (a version bump, no scan)."""
        scope.invalidate()
        backend = self._l2.current()
        if backend is not None:
            await self._l2.call(
                "bump",
                backend.bump,
                version_key(scope.redis_base),
                "n:" + escape_key_part(scope.namespace),
                self.notice("n", scope, ""),
            )
            scope.remote_version = None

    async def retire_tenant(self, tenant: str) -> None:
        """Retire every entry of one tenant, all namespaces, in O(1) (a generation bump)."""
        self._scopes.invalidate_tenant(tenant)
        backend = self._l2.current()
        if backend is not None:
            scope = self._scopes.get(tenant, DEFAULT_NAMESPACE, "")
            await self._l2.call(
                "bump",
                backend.bump,
                version_key(scope.redis_base),
                "g",
                self.notice("t", scope, ""),
            )
            self._scopes.invalidate_tenant(tenant)

    async def retire_tag(self, scope: Scope, tag: str) -> None:
        """Retire every entry of ``scope``'s tenant carrying ``tag`` in O(1) (a version bump)."""
        tenant = scope.tenant
        backend = self._l2.current()
        self._tags.invalidate_locally(tenant, tag)
        if backend is None:
            return  # L1 only: the tag index has dropped every tagged entry
        await self._l2.call(
            "bump",
            backend.bump,
            version_key(scope.redis_base),
            "tg:" + escape_key_part(tag),
            self.notice("g", scope, tag),
        )
        self._tags.invalidate_locally(tenant, tag)

    def _drop_pattern_locally(self, scope: Scope, pattern: str) -> int:
        regex = glob_regex(pattern)
        return self._l1.remove_where(
            lambda e: e.scope is scope and regex.fullmatch(e.skey) is not None
        )
