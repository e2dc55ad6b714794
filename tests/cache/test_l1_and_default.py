"""L1 bounds and eviction, the lazily configured default instance, metrics and the monitor hook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from relaypoint_cache import (
    MISSING,
    Cache,
    CacheConfigurationError,
    cached,
    configure,
    enterprise_cache,
)
from relaypoint_cache.l1 import Entry, L1Store, NamespaceStats, Scope
from relaypoint_core.testing import FakeClock

ROOT = Path(__file__).resolve().parents[2]


def _entry(scope: Scope, size: int = 10, l1_until: float = 100.0) -> Entry:
    return Entry(
        "v",
        scope,
        "k",
        soft=l1_until,
        fresh=l1_until,
        swr=l1_until,
        sie=l1_until,
        l1_until=l1_until,
        delta=0.0,
        size=size,
    )


def test_l1_evicts_unreferenced_entries_first() -> None:
    store = L1Store(max_entries=3, max_bytes=10_000)
    scope = Scope("t", "ns", NamespaceStats("ns"))
    entries = {name: _entry(scope) for name in "abc"}
    for name, entry in entries.items():
        store.put(name, entry, now=0.0)
    entries["a"].ref = True  # recently used: gets a second chance
    store.put("d", _entry(scope), now=0.0)
    assert set(store.data) == {"a", "c", "d"}
    assert store.evictions == 1


def test_l1_respects_the_byte_budget_and_refuses_huge_values() -> None:
    store = L1Store(max_entries=1_000, max_bytes=1_000, max_entry_bytes=400)
    scope = Scope("t", "ns", NamespaceStats("ns"))
    for i in range(10):
        store.put(i, _entry(scope, size=300), now=0.0)
        assert store.bytes <= 1_000
    assert len(store) == 3
    assert store.put("huge", _entry(scope, size=500), now=0.0) is False
    assert "huge" not in store.data


async def test_cache_stays_within_its_l1_bounds() -> None:
    cache = Cache("memory://", l1_max_entries=100, l1_max_bytes=50_000)
    for i in range(1_000):
        await cache.set(f"k{i}", "x" * 100, tenant_id="acme")
    stats = await cache.stats()
    assert stats.l1_entries <= 100
    assert stats.l1_bytes <= 50_000
    assert stats.l1_evictions >= 900
    assert await cache.get("k999", tenant_id="acme") == "x" * 100


async def test_tenant_scopes_are_bounded_without_leaking_entries() -> None:
    from relaypoint_cache.engine import scopes

    cache = Cache("memory://")
    original = scopes.MAX_SCOPES
    scopes.MAX_SCOPES = 5
    try:
        for i in range(10):
            await cache.set("k", i, tenant_id=f"t{i}")
        assert (await cache.stats()).tenant_scopes == 5
        # An entry whose scope was retired is gone, never served under a new scope.
        assert await cache.get("k", MISSING, tenant_id="t0") is MISSING
        assert await cache.get("k", tenant_id="t9") == 9
    finally:
        scopes.MAX_SCOPES = original


def test_import_does_nothing() -> None:
    """Importing the package reads no environment, opens no connection, imports no redis."""
    code = (
        "import os, sys\n"
        "os.environ['REDIS_URL'] = 'redis://127.0.0.1:1/0'\n"
        "import relaypoint_cache\n"
        "assert 'redis' not in sys.modules, 'redis imported at import time'\n"
        "assert not relaypoint_cache.enterprise_cache.configured\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


async def test_default_instance_reads_the_environment_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = Cache(from_env=True)
    monkeypatch.setenv("ENABLE_CACHING", "false")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert await default.set("k", 1) is False
    assert default.url == "memory://"
    other = Cache(from_env=True)
    monkeypatch.setenv("ENABLE_CACHING", "true")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert other.url == "redis://127.0.0.1:6379/0"


async def test_enterprise_cache_and_cached_default_to_l1_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("ENABLE_CACHING", raising=False)
    configure(None, report_to_monitor=False)
    calls = 0

    @cached(ttl=300, namespace="users")
    async def get_user_by_id(user_id: str, tenant_id: str) -> dict[str, str]:
        nonlocal calls
        calls += 1
        return {"id": user_id}

    try:
        await enterprise_cache.set("user:123", {"id": "123"}, ttl=3600, tenant_id="acme")
        assert await enterprise_cache.get("user:123", tenant_id="acme") == {"id": "123"}
        assert await get_user_by_id("1", "acme") == await get_user_by_id("1", "acme")
        assert calls == 1
        assert get_user_by_id.namespace == "users"
    finally:
        configure(None)


async def test_metrics_are_exported_with_bounded_labels() -> None:
    cache = Cache("memory://")
    await cache.set("k", 1, tenant_id="acme", namespace="metrics-test")
    await cache.get("k", tenant_id="acme", namespace="metrics-test")
    await cache.get("missing", tenant_id="acme", namespace="metrics-test")
    hits = REGISTRY.get_sample_value(
        "relaypoint_cache_hits_total", {"level": "l1", "namespace": "metrics-test"}
    )
    misses = REGISTRY.get_sample_value(
        "relaypoint_cache_misses_total", {"namespace": "metrics-test"}
    )
    assert hits is not None
    assert hits >= 1
    assert misses is not None
    assert misses >= 1
    names = {m.name for m in REGISTRY.collect()}
    assert {
        "relaypoint_cache_hits",
        "relaypoint_cache_stale_served",
        "relaypoint_cache_coalesced",
        "relaypoint_cache_lock_waits",
        "relaypoint_cache_early_refreshes",
        "relaypoint_cache_errors",
        "relaypoint_cache_l2_latency_seconds",
    } <= names
    for metric in REGISTRY.collect():
        if metric.name.startswith("relaypoint_cache"):
            for sample in metric.samples:
                assert not {"tenant", "tenant_id", "key"} & set(sample.labels)


async def test_monitor_hook_is_called_when_opted_in(fake_clock: FakeClock) -> None:
    from relaypoint_core.monitoring import performance_monitor

    seen: list[tuple[bool, str | None]] = []
    cache = Cache("memory://", report_to_monitor=True, clock=fake_clock)
    original = performance_monitor.record_cache_access
    performance_monitor.record_cache_access = (  # type: ignore[method-assign]
        lambda hit, *, tenant_id=None: seen.append((hit, tenant_id))
    )
    try:
        await cache.get("k", tenant_id="acme")
        await cache.set("k", 1, tenant_id="acme")
        await cache.get("k", tenant_id="acme")
    finally:
        performance_monitor.record_cache_access = original  # type: ignore[method-assign]
    assert seen == [(False, "acme"), (True, "acme")]


async def test_testing_helpers_drive_ttls_without_sleeping() -> None:
    from relaypoint_cache.testing import CountingFactory, local_cache

    clock = FakeClock()
    cache = local_cache(clock)
    factory = CountingFactory("v")
    assert await cache.get_or_set("k", factory, ttl=10, tenant_id="acme") == "v"
    clock.advance(11)
    assert await cache.get_or_set("k", factory, ttl=10, tenant_id="acme") == "v"
    assert factory.calls == 2


async def test_configure_builds_new_frozen_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache("memory://", default_ttl=10)
    before = cache.settings
    cache.configure(None, l1_ttl=5)
    after = cache.settings
    assert after is not before
    assert (before.l1_ttl, after.l1_ttl, after.default_ttl) == (60.0, 5.0, 10.0)
    assert cache.l1_ttl == 5.0
    with pytest.raises(ValidationError):
        before.l1_ttl = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cache.l1_ttl = 1.0
    with pytest.raises(CacheConfigurationError):
        cache.configure(None, ttl_jitter=1.0)
    assert cache.settings is after  # a refused change leaves the settings as they were

    monkeypatch.setenv("ENABLE_CACHING", "maybe")
    cache.use_environment()
    with pytest.raises(CacheConfigurationError):
        await cache.set("k", 1, tenant_id="acme")
    monkeypatch.setenv("ENABLE_CACHING", "off")
    monkeypatch.setenv("REDIS_URL", "")
    cache.use_environment()
    assert await cache.set("k", 1, tenant_id="acme") is False
    assert cache.url == "memory://"
    assert cache.settings.enabled is False
