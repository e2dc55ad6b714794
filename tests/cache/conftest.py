"""Fixtures of the cache tests: caches that are closed after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from relaypoint_cache import Cache
from tests.conftest import BackendTarget

MakeCache = Callable[..., Cache]


@pytest.fixture
async def make_cache() -> AsyncIterator[MakeCache]:
    """Build caches (``make_cache(url, **options)``); every one is closed after the test."""
    made: list[Cache] = []

    def make(url: str | None = None, **options: Any) -> Cache:
        # The shared test machine is loaded: a generous timeout keeps the fault policy (which
        # would silently skip a slow L2 write) out of tests that are about something else.
        options.setdefault("op_timeout", 2.0)
        cache = Cache(url, **options)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()


BackendCache = Callable[..., Awaitable[Cache]]


@pytest.fixture
def backend_cache(backend: BackendTarget, make_cache: MakeCache) -> BackendCache:
    """A cache on the parametrized backend (memory = L1 only, or real Redis under key_prefix),
    already listening for invalidation notices."""

    async def make(**options: Any) -> Cache:
        options.setdefault("key_prefix", backend.key_prefix)
        cache = make_cache(backend.url, **options)
        assert await cache.wait_ready()
        return cache

    return make
