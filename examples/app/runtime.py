"""Everything the app runs on, built once from the configuration and shared by the routes.

``build_runtime`` chooses the backends: the database from ``DATABASE_URL`` (embedded SQLite by
default, PostgreSQL with ``postgresql+asyncpg://``), and for rate limits, the L2 cache and the
token store either Redis (``REDIS_URL``) or in-process memory. :meth:`Runtime.describe` is what
start-up prints.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.requests import HTTPConnection, Request

from examples.app.domain import APP_TENANT_TABLES
from examples.app.metering import ApiCallMeter
from examples.app.settings import AppConfig
from relaypoint_cache import Cache
from relaypoint_core.audit import FanOutAuditLog, LoggingAuditLog
from relaypoint_core.auth.service import AuthService
from relaypoint_core.monitoring import PerformanceMonitor, performance_monitor
from relaypoint_core.monitoring import track_workflow_execution as _track_workflow
from relaypoint_core.monitoring.db_pool import track_sqlalchemy_pool
from relaypoint_core.realtime import RealtimeServer
from relaypoint_core.redis_client import create_redis_client
from relaypoint_ratelimit import EnterpriseRateLimiter, decision_of
from relaypoint_tenancy import Tenancy, TenancySettings, TenantAuditLog, TenantInfo
from relaypoint_tenancy.strategies import default_strategy

__all__ = ["Runtime", "build_runtime", "get_runtime", "mount_rate_limiter", "use_runtime"]

logger = logging.getLogger("examples.app")
ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
T = TypeVar("T")
TENANT_STALE_TTL = 60.0


def _redact(url: str) -> str:
    """``scheme://user:***@host/db``: never print a password at start-up."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}" if ":" in credentials else url


@dataclass
class Runtime:
    config: AppConfig
    engine: AsyncEngine
    tenants: Tenancy
    auth: AuthService
    cache: Cache
    monitor: PerformanceMonitor
    meter: ApiCallMeter
    limiter: EnterpriseRateLimiter | None = None
    realtime: RealtimeServer | None = None  # set by examples.app.realtime.install_realtime
    notes: list[str] = field(default_factory=list)
    _redis: Any = None

    # --- start-up -------------------------------------------------------------------------------

    def describe(self) -> list[str]:
        settings = self.config.settings
        redis = self.config.redis_url
        database_kind = (
            "PostgreSQL" if self.engine.dialect.name == "postgresql" else "embedded SQLite"
        )
        lines = [
            f"database:      {_redact(settings.DATABASE_URL)} ({database_kind}, "
            f"{self.tenants.strategy.kind} isolation)",
            "rate limiting: "
            + (
                "off (ENABLE_RATE_LIMITING=false)"
                if not settings.ENABLE_RATE_LIMITING
                else (f"{_redact(redis)} (Redis)" if redis else "memory:// (in-process)")
            ),
            "cache:         "
            + (
                "off (ENABLE_CACHING=false)"
                if not settings.ENABLE_CACHING
                else (f"L1 + {_redact(redis)} (Redis L2)" if redis else "memory:// (L1 only)")
            ),
            "tokens:        "
            + (f"{_redact(redis)} (Redis)" if redis else "memory:// (in-process)"),
        ]
        return lines + list(self.config.notes) + self.notes

    async def start(self) -> None:
        await self.tenants.install()
        try:
            track_sqlalchemy_pool(self.engine, monitor=self.monitor)  # feeds the 90%-of-pool alert
        except ValueError:
            logger.info("database pool has no fixed size; pool usage is not published")
        self.monitor.register_health_check("database", self._database_check, timeout=2.0)
        if self.config.redis_url:
            self.monitor.register_health_check("redis", self._redis_check, timeout=2.0)
        if self.limiter is not None:
            await self.limiter.startup()
        if self.realtime is not None:
            await self.realtime.start()  # subscribe to the other instances' emissions now
        # Connect the cache now: its metrics exist from start-up, and with Redis this instance
        # hears other instances' invalidations before it serves its first cached read.
        if not await self.cache.wait_ready(wait=2.0):
            logger.warning("cache invalidation channel not subscribed yet; continuing")
        self.meter.start()

    async def close(self) -> None:
        for name in ("database", "redis"):
            with suppress(KeyError, ValueError, LookupError):
                self.monitor.unregister_health_check(name)
        await self.meter.stop()
        if self.realtime is not None:
            await self.realtime.stop()
        if self.limiter is not None:
            await self.limiter.shutdown()
        await self.cache.close()
        await self.auth.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        await self.tenants.dispose()

    async def _database_check(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def _redis_check(self) -> bool:
        if self._redis is None:
            assert self.config.redis_url is not None
            self._redis = create_redis_client(self.config.redis_url, component="health check")
        return bool(await self._redis.ping())

    # --- helpers for the routes -----------------------------------------------------------------

    async def cached(
        self,
        key: str,
        factory: Callable[[], Awaitable[T]],
        *,
        tenant_id: str,
        namespace: str,
        ttl: float,
    ) -> tuple[T, bool]:
        """``(value, hit)``: the cached value or the factory's; ``hit`` is False when it ran here."""
        if not self.config.settings.ENABLE_CACHING:
            return await factory(), False
        ran = False

        async def load() -> T:
            nonlocal ran
            ran = True
            return await factory()

        value = await self.cache.get_or_set(
            key, load, ttl, tenant_id=tenant_id, namespace=namespace
        )
        return value, not ran

    @asynccontextmanager
    async def track_workflow(self, tenant_slug: str, workflow_id: str) -> AsyncIterator[None]:
        async with _track_workflow(tenant_slug, workflow_id, monitor=self.monitor):
            yield

    async def create_tenant(self, *, actor: str = "system", **fields: Any) -> TenantInfo:
        """A new tenant, with the app's own tables (workflows) where its data lives."""
        tenant = await self.tenants.create_tenant(actor=actor, **fields)
        async with self.tenants.transaction(tenant) as session:
            await session.run_sync(
                lambda sync: APP_TENANT_TABLES[0].metadata.create_all(
                    sync.connection(), tables=APP_TENANT_TABLES
                )
            )
        return tenant

    def rate_limit_state(
        self, scope: MutableMapping[str, Any], tenant: TenantInfo
    ) -> dict[str, Any]:
        """Every window that bounds this caller (user and tenant), as of this very request: the
        limiter's own decision for it, so showing the state costs no extra round trip."""
        decision = decision_of(scope)
        if decision is None:  # rate limiting disabled
            return {"tier": tenant.plan_tier.value, "windows": []}
        return {
            "tier": decision.tier or tenant.plan_tier.value,
            "windows": [
                {
                    "scope": policy.scope,
                    "window": policy.window,
                    "limit": policy.limit,
                    "used": policy.used,
                    "remaining": policy.remaining,
                    "reset_seconds": max(0, math.ceil(policy.reset_after)),
                }
                for policy in decision.policies
            ],
        }


def build_runtime(config: AppConfig) -> Runtime:
    settings = config.settings
    engine_options: dict[str, Any] = {}
    if settings.DATABASE_URL.startswith("postgresql"):
        engine_options = {"pool_size": 20, "max_overflow": 30, "pool_pre_ping": True}
    elif settings.DATABASE_URL.startswith("sqlite"):
        # SQLite allows one writer; wait for the lock instead of failing a concurrent request.
        engine_options = {"connect_args": {"timeout": 30}}
    engine = create_async_engine(settings.DATABASE_URL, **engine_options)
    # Tenant snapshots (directory and resolver) expire after 5 s as before, but a tenant seen in
    # the last minute is refreshed by a background task while requests keep the old snapshot:
    # no request waits for the control plane once its tenant is known.
    tenants = Tenancy(
        engine,
        default_strategy(engine),
        settings=TenancySettings(DATABASE_URL=str(engine.url), cache_stale_ttl=TENANT_STALE_TTL),
    )
    redis = config.redis_url
    auth = AuthService.from_settings(
        settings, users=tenants.user_directory(), key_prefix=config.key_prefix
    )
    auth.audit = FanOutAuditLog([LoggingAuditLog(), TenantAuditLog(tenants)])
    cache = Cache(
        redis or "memory://",
        key_prefix=config.key_prefix,
        enabled=settings.ENABLE_CACHING,
        # Feeds the cache hit rate of performance_monitor.get_performance_report().
        report_to_monitor=True,
    )
    return Runtime(
        config=config,
        engine=engine,
        tenants=tenants,
        auth=auth,
        cache=cache,
        monitor=performance_monitor,
        meter=ApiCallMeter(tenants),
    )


def mount_rate_limiter(runtime: Runtime, app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` in the rate limiter (kept on the runtime for usage stats)."""
    config = runtime.config
    limiter = EnterpriseRateLimiter(
        app,
        config.redis_url,
        # Charged: the verified user and its token's tenant, at the tenant's plan tier; anonymous
        # callers only by client address (never a tenant they merely name).
        plan_tiers=runtime.tenants.plan_tiers(),
        trusted_proxies=config.trusted_proxies,
        anonymous_tier=config.anonymous_tier,
        key_prefix=config.key_prefix,
        # The upgrade call-to-action must work for a throttled tenant (routes_theme.UPGRADE_PATH).
        # Socket.IO's HTTP transport: each inbound message is counted by the message limiter.
        exempt_paths=(
            "/health/live",
            "/health/ready",
            "/health",
            "/metrics",
            f"{config.settings.API_V1_STR}/billing/upgrade",
            "/socket.io/",
        ),
        enabled=config.settings.ENABLE_RATE_LIMITING,
        # Opt-in local quota leasing (docs/ratelimit.md): fewer Redis round trips per request.
        quota_lease=config.quota_lease,
    )
    runtime.limiter = limiter
    return limiter


async def use_runtime(request: Request) -> Runtime:
    """The runtime as a FastAPI dependency (async: sync dependencies cost a thread-pool hop)."""
    return get_runtime(request)


def get_runtime(connection: HTTPConnection) -> Runtime:
    runtime = getattr(connection.app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the app was not started through its lifespan")
    return runtime
