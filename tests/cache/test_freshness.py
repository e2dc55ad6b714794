"""TTLs, per-level TTLs, jitter, XFetch early refresh, stale-while-revalidate, stale-if-error and
negative caching, driven by a fake clock on both backends (no sleeps)."""

from __future__ import annotations

import random

import pytest

from relaypoint_cache import MISSING
from relaypoint_cache.testing import CountingFactory
from relaypoint_core.testing import FakeClock
from tests.cache.conftest import BackendCache
from tests.conftest import BackendTarget

pytestmark = pytest.mark.usefixtures("backend")


class FixedRandom(random.Random):
    """``random()`` always returns ``value``: makes jitter and XFetch draws deterministic."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


async def test_ttl_expiry(backend_cache: BackendCache, fake_clock: FakeClock) -> None:
    cache = await backend_cache(clock=fake_clock)
    await cache.set("k", "v", ttl=10, tenant_id="acme")
    fake_clock.advance(9.9)
    assert await cache.get("k", tenant_id="acme") == "v"
    fake_clock.advance(0.2)
    assert await cache.get("k", MISSING, tenant_id="acme") is MISSING


async def test_l1_ttl_bounds_the_local_copy(
    backend: BackendTarget, backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    cache = await backend_cache(clock=fake_clock, l1_ttl=5)
    await cache.set("k", "v", ttl=60, tenant_id="acme")
    await cache.get("k", tenant_id="acme")
    fake_clock.advance(6)
    assert await cache.get("k", tenant_id="acme") == "v"
    stats = (await cache.stats()).namespaces["default"]
    # With Redis the second read left L1 (expired there) and hit L2; L1-only keeps the value.
    assert (stats.hits_l1, stats.hits_l2) == ((1, 1) if backend.is_redis else (2, 0))


async def test_ttl_jitter_shortens_within_the_fraction(
    backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    cache = await backend_cache(clock=fake_clock, ttl_jitter=0.2, rng=FixedRandom(0.5))
    await cache.set("k", "v", ttl=100, tenant_id="acme")  # 100 * (1 - 0.2 * 0.5) = 90
    fake_clock.advance(89)
    assert await cache.get("k", tenant_id="acme") == "v"
    fake_clock.advance(2)
    assert await cache.get("k", MISSING, tenant_id="acme") is MISSING


def _slow_factory(clock: FakeClock, seconds: float) -> CountingFactory:
    factory = CountingFactory("v1")

    def tick() -> None:
        clock.advance(seconds)
        factory.result = f"v{factory.calls}"

    factory.on_call = tick
    return factory


async def test_xfetch_refreshes_expensive_values_early(
    backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    # random() = 1 - e**-10 makes -log(1 - r) = 10: refresh 10 * delta before expiry.
    cache = await backend_cache(clock=fake_clock, rng=FixedRandom(1 - 2.718281828459045**-10))
    factory = _slow_factory(fake_clock, 2.0)  # delta = 2 s, so refresh from 20 s before expiry
    assert await cache.get_or_set("k", factory, ttl=60, tenant_id="acme") == "v1"
    fake_clock.advance(39)
    assert await cache.get_or_set("k", factory, ttl=60, tenant_id="acme") == "v1"
    assert factory.calls == 1
    fake_clock.advance(2)  # 41 s in: inside the early window, value still fresh
    assert await cache.get_or_set("k", factory, ttl=60, tenant_id="acme") == "v1"
    await cache.drain()
    assert factory.calls == 2
    assert await cache.get_or_set("k", factory, ttl=60, tenant_id="acme") == "v2"
    stats = (await cache.stats()).namespaces["default"]
    assert stats.early_refreshes == 1


async def test_xfetch_off_or_unlucky_draw_waits_for_expiry(
    backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    cache = await backend_cache(clock=fake_clock, rng=FixedRandom(0.0))
    factory = _slow_factory(fake_clock, 2.0)
    await cache.get_or_set("k", factory, ttl=60, tenant_id="acme")
    fake_clock.advance(59)
    assert await cache.get_or_set("k", factory, ttl=60, tenant_id="acme") == "v1"
    await cache.drain()
    assert factory.calls == 1


async def test_early_refresh_can_be_switched_off_per_call(
    backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    cache = await backend_cache(clock=fake_clock, rng=FixedRandom(1 - 2.718281828459045**-10))
    factory = _slow_factory(fake_clock, 2.0)
    await cache.get_or_set("k", factory, ttl=60, tenant_id="acme", early_refresh=False)
    fake_clock.advance(55)
    assert (
        await cache.get_or_set("k", factory, ttl=60, tenant_id="acme", early_refresh=False) == "v1"
    )
    await cache.drain()
    assert factory.calls == 1


async def test_stale_while_revalidate_serves_stale_and_refreshes_once(
    backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    cache = await backend_cache(clock=fake_clock, early_refresh=False)
    factory = CountingFactory("v1")
    options = {"ttl": 10, "stale_while_revalidate": 30, "tenant_id": "acme"}
    await cache.get_or_set("k", factory, **options)
    fake_clock.advance(15)
    factory.result = "v2"
    assert await cache.get_or_set("k", factory, **options) == "v1"
    assert await cache.get_or_set("k", factory, **options) == "v1"
    await cache.drain()
    assert factory.calls == 2
    assert await cache.get_or_set("k", factory, **options) == "v2"
    # Past the window the caller waits for a fresh value.
    fake_clock.advance(50)
    factory.result = "v3"
    assert await cache.get_or_set("k", factory, **options) == "v3"
    # A plain get never returns a stale value.
    fake_clock.advance(15)
    assert await cache.get("k", MISSING, tenant_id="acme") is MISSING


async def test_stale_if_error_serves_stale_only_when_the_factory_fails(
    backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    cache = await backend_cache(clock=fake_clock, early_refresh=False)
    factory = CountingFactory("v1")
    options = {"ttl": 10, "stale_if_error": 60, "tenant_id": "acme"}
    await cache.get_or_set("k", factory, **options)
    fake_clock.advance(20)
    factory.error = ConnectionError("origin down")
    assert await cache.get_or_set("k", factory, **options) == "v1"
    factory.error = None
    factory.result = "v2"
    assert await cache.get_or_set("k", factory, **options) == "v2"
    fake_clock.advance(80)
    factory.error = ConnectionError("origin down")
    with pytest.raises(ConnectionError):
        await cache.get_or_set("k", factory, **options)


async def test_negative_caching_has_its_own_ttl(
    backend_cache: BackendCache, fake_clock: FakeClock
) -> None:
    cache = await backend_cache(clock=fake_clock)
    factory = CountingFactory(None)
    await cache.get_or_set("k", factory, ttl=60, negative_ttl=5, tenant_id="acme")
    fake_clock.advance(4)
    assert await cache.get_or_set("k", factory, ttl=60, negative_ttl=5, tenant_id="acme") is None
    assert factory.calls == 1
    fake_clock.advance(2)
    factory.result = "found"
    assert await cache.get_or_set("k", factory, ttl=60, negative_ttl=5, tenant_id="acme") == "found"
    fake_clock.advance(30)
    assert await cache.get("k", tenant_id="acme") == "found"
    never = CountingFactory(None)
    await cache.get_or_set("n", never, negative_ttl=0, tenant_id="acme")
    await cache.get_or_set("n", never, negative_ttl=0, tenant_id="acme")
    assert never.calls == 2
