"""``@cached``: cache an async function's results per tenant, keyed by its arguments.

The key is the function's qualified name plus the ``repr`` of its arguments (keyword arguments
sorted), so arguments should have a faithful ``repr`` (numbers, strings, UUIDs, tuples of those,
pydantic models...). Pass ``key=`` to build keys yourself. The tenant comes from the function's
``tenant_id`` argument when it has one, else from `relaypoint_core.tenant_context.current_tenant`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast

from relaypoint_cache.errors import CacheConfigurationError
from relaypoint_cache.policy import FreshnessPolicy
from relaypoint_core.tenant_context import current_tenant

if TYPE_CHECKING:
    from relaypoint_cache.engine import Cache

__all__ = ["CachedFunction", "cached"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class CachedFunction(Protocol[P, R_co]):
    """What ``@cached`` returns: the function, plus invalidation helpers."""

    namespace: str

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R_co]: ...

    async def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Drop the entry of exactly these arguments (everywhere)."""

    async def invalidate_all(self, *, tenant_id: str | None = None) -> None:
        """Drop every entry of this function for one tenant, in O(1)."""


def cached(
    ttl: float | None = None,
    *,
    namespace: str | None = None,
    cache: Cache | None = None,
    key: Callable[..., str] | None = None,
    tenant_arg: str = "tenant_id",
    l1_ttl: float | None = None,
    stale_while_revalidate: float = 0.0,
    stale_if_error: float = 0.0,
    early_refresh: bool | None = None,
    negative_ttl: float | None = None,
    lease: bool = True,
    tags: Iterable[str] | Callable[..., Iterable[str]] = (),
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]:
    """Cache an ``async def`` function (see the module docstring for how keys are built).

    ``tags``: fixed tags, or a callable receiving the function's arguments and returning the
    entry's tags (``tags=lambda user_id, tenant_id: [f"user:{user_id}"]``).
    """
    policy = FreshnessPolicy(
        ttl=ttl,
        l1_ttl=l1_ttl,
        stale_while_revalidate=stale_while_revalidate,
        stale_if_error=stale_if_error,
        early_refresh=early_refresh,
        negative_ttl=negative_ttl,
        lease=lease,
        tags=() if callable(tags) else tuple(tags),
    )
    tags_of = tags if callable(tags) else None

    def decorate(fn: Callable[P, Awaitable[R]]) -> CachedFunction[P, R]:
        if not inspect.iscoroutinefunction(fn):
            raise CacheConfigurationError(
                f"@cached supports async functions only; {fn!r} is not 'async def'"
            )
        if cache is None:
            from relaypoint_cache.default import enterprise_cache

            target = enterprise_cache
        else:
            target = cache
        name = f"{fn.__module__}.{fn.__qualname__}"
        ns = namespace if namespace is not None else name
        prefix = name + ":"
        params = list(inspect.signature(fn).parameters.values())
        tenant_pos = next(
            (
                i
                for i, p in enumerate(params)
                if p.name == tenant_arg and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ),
            -1,
        )
        custom_key = key

        def tenant_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if tenant_arg in kwargs:
                return kwargs[tenant_arg]
            if 0 <= tenant_pos < len(args):
                return args[tenant_pos]
            return current_tenant()

        def key_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if custom_key is not None:
                return prefix + custom_key(*args, **kwargs)
            if kwargs:
                return prefix + repr(args) + repr(sorted(kwargs.items()))
            return prefix + repr(args)

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            # The hot path mirrors Cache.get: one dict lookup, no await on an L1 hit.
            if tenant_arg in kwargs:
                tenant = kwargs[tenant_arg]
            elif 0 <= tenant_pos < len(args):
                tenant = args[tenant_pos]
            else:
                tenant = current_tenant()
            if custom_key is None:
                skey = prefix + (
                    repr(args) + repr(sorted(kwargs.items())) if kwargs else repr(args)
                )
            else:
                skey = prefix + custom_key(*args, **kwargs)
            hot = target.hot_path
            entry = hot.entries.get((tenant, ns, skey))
            if entry is not None and entry.soft > hot.now() and entry.epoch == entry.scope.epoch:
                entry.ref = True
                entry.stats.hits_l1 += 1
                hook = hot.monitor_hook
                if hook is not None:
                    hook(True, tenant_id=tenant)
                return entry.value
            call_policy = policy
            if tags_of is not None:
                call_policy = dataclasses.replace(policy, tags=tuple(tags_of(*args, **kwargs)))
            return await target.load(
                tenant, ns, skey, functools.partial(fn, *args, **kwargs), call_policy
            )

        async def invalidate(*args: Any, **kwargs: Any) -> bool:
            return await target.delete(
                key_of(args, kwargs), tenant_id=tenant_of(args, kwargs), namespace=ns
            )

        async def invalidate_all(*, tenant_id: str | None = None) -> None:
            await target.invalidate_namespace(ns, tenant_id=tenant_id)

        wrapper_any = cast(Any, wrapper)
        wrapper_any.invalidate = invalidate
        wrapper_any.invalidate_all = invalidate_all
        wrapper_any.namespace = ns
        wrapper_any.cache = target
        return cast(CachedFunction[P, R], wrapper)

    return decorate
