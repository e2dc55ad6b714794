"""Prometheus metrics of every live cache, collected at scrape time from plain counters.

The hot path only increments integer attributes; this collector turns them into
``relaypoint_cache_*`` families when Prometheus scrapes. Labels are bounded: ``level`` (``l1``,
``l2``), ``namespace`` (the first ``MAX_NAMESPACE_LABELS`` namespaces seen; later ones are
reported as ``other``) and ``kind`` for errors. Tenant ids and keys are never labels.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

from relaypoint_cache.stats import CacheStats

__all__ = ["MAX_NAMESPACE_LABELS", "MetricsSource", "observe_l2_latency", "register_cache"]


class MetricsSource(Protocol):
    """What the collector reads from a cache at scrape time (`Cache` is one)."""

    def snapshot(self) -> CacheStats: ...


MAX_NAMESPACE_LABELS = 50
_OTHER = "other"

_caches: weakref.WeakSet[MetricsSource] = weakref.WeakSet()
_lock = threading.Lock()
_registered = False
_latency: Any = None
_label_names: dict[str, str] = {}


def _namespace_label(namespace: str) -> str:
    label = _label_names.get(namespace)
    if label is None:
        label = namespace if len(_label_names) < MAX_NAMESPACE_LABELS else _OTHER
        _label_names[namespace] = label
    return label


class _CacheCollector:
    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        hits = CounterMetricFamily(
            "relaypoint_cache_hits", "Cache hits by level", labels=["level", "namespace"]
        )
        simple = {
            "misses": "Lookups that found no usable value (the factory ran or a default returned)",
            "stale_served": "Stale values served (stale-while-revalidate or stale-if-error)",
            "early_refreshes": "Background refreshes started before expiry (XFetch) or for stale values",
            "coalesced": "Callers that waited for another caller's computation (single-flight)",
            "lock_waits": "Times a process waited on another process's Redis lease",
        }
        families = {
            name: CounterMetricFamily(f"relaypoint_cache_{name}", doc, labels=["namespace"])
            for name, doc in simple.items()
        }
        errors = CounterMetricFamily(
            "relaypoint_cache_errors", "Cache faults absorbed by the fault policy", labels=["kind"]
        )
        entries = GaugeMetricFamily("relaypoint_cache_l1_entries", "Entries held in L1")
        l1_bytes = GaugeMetricFamily("relaypoint_cache_l1_bytes", "Estimated bytes held in L1")
        totals: dict[tuple[str, str], dict[str, int]] = {}
        error_totals: dict[str, int] = {}
        entry_count = 0
        byte_count = 0
        with _lock:
            caches = list(_caches)
        for cache in caches:
            snapshot = cache.snapshot()
            entry_count += snapshot.l1_entries
            byte_count += snapshot.l1_bytes
            for kind, count in snapshot.errors.items():
                error_totals[kind] = error_totals.get(kind, 0) + count
            for name, stats in snapshot.namespaces.items():
                label = _namespace_label(name)
                bucket = totals.setdefault(("ns", label), {})
                for field in ("hits_l1", "hits_l2", *simple):
                    bucket[field] = bucket.get(field, 0) + getattr(stats, field)
        for (_, label), bucket in sorted(totals.items()):
            hits.add_metric(["l1", label], bucket["hits_l1"])
            hits.add_metric(["l2", label], bucket["hits_l2"])
            for name, family in families.items():
                family.add_metric([label], bucket[name])
        if not totals:
            # A cache nobody has read yet still reports its hits and misses, at zero, so the hit
            # rate (a key metric) has series from start-up.
            hits.add_metric(["l1", ""], 0)
            hits.add_metric(["l2", ""], 0)
            for family in families.values():
                family.add_metric([""], 0)
        for kind, count in sorted(error_totals.items()):
            errors.add_metric([kind], count)
        entries.add_metric([], entry_count)
        l1_bytes.add_metric([], byte_count)
        yield hits
        yield from families.values()
        yield errors
        yield entries
        yield l1_bytes

    def describe(self) -> Iterator[Any]:
        return iter(())


def register_cache(cache: MetricsSource) -> None:
    """Include ``cache`` in the process's metrics (registers the collector once)."""
    global _registered, _latency
    with _lock:
        _caches.add(cache)
        if _registered:
            return
        _registered = True
    from prometheus_client import REGISTRY, Histogram

    REGISTRY.register(_CacheCollector())
    _latency = Histogram(
        "relaypoint_cache_l2_latency_seconds",
        "Latency of L2 (Redis) cache operations",
        ["op"],
        buckets=(0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    )


_latency_children: dict[str, Any] = {}


def observe_l2_latency(op: str, seconds: float) -> None:
    child = _latency_children.get(op)
    if child is None:
        if _latency is None:
            return
        child = _latency_children[op] = _latency.labels(op)
    child.observe(seconds)
