"""Which tenant a request addresses: the framework-free resolver behind the middleware.

Sources (order configurable): ``path`` (``/api/v1/tenants/{tenant}/...``), ``header``
(``X-Tenant-ID``), ``subdomain`` (``acme.relaypoint.ai``), ``custom_domain`` (a verified domain)
and ``token`` (the authenticated principal's tenant). The first source that names a tenant decides;
a token naming another tenant is refused. Path, header and token values may be the tenant's slug
or its id. Lookups are cached for ``cache_ttl`` seconds (negative answers for ``negative_ttl``),
so a steady stream of requests costs no query; with ``stale_ttl > 0`` an expired answer is served
for that much longer while one background task looks it up again (`SnapshotCache`), so no
request waits for the database once a tenant has been seen.
"""

from __future__ import annotations

from relaypoint_tenancy import _sql  # noqa: F401  - first: names the extra when SQLAlchemy is missing

# isort: split

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.request_state import ResolvedTenant, get_scope_principal
from relaypoint_core.tenant_ids import TenantSlug, TenantUUID
from relaypoint_core.text import is_safe_id, is_storable
from relaypoint_tenancy.errors import (
    TenancyConfigurationError,
    TenantMismatchError,
    TenantNotFoundError,
    TenantSuspendedError,
)
from relaypoint_tenancy.models import Tenant, TenantDomain
from relaypoint_tenancy.plans import TenantStatus
from relaypoint_tenancy.snapshots import MISS, SnapshotCache
from relaypoint_tenancy.strategies.base import TenantRef
from relaypoint_tenancy.validation import RESERVED_NAMES

__all__ = [
    "DEFAULT_SOURCES",
    "Source",
    "SqlTenantLookup",
    "TenantLookup",
    "TenantRecord",
    "TenantResolver",
]

Source = Literal["path", "header", "subdomain", "custom_domain", "token"]
DEFAULT_SOURCES: tuple[Source, ...] = ("path", "header", "subdomain", "custom_domain", "token")
_KNOWN_SOURCES = set(DEFAULT_SOURCES)
_MAX_KEY = 128
_SUSPENDED = TenantStatus.SUSPENDED.value


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """What resolution needs about a tenant (cached): row ``id``, public ``slug``."""

    id: TenantUUID
    slug: TenantSlug
    plan_tier: str
    status: str
    data_location: str | None = None
    # Built once per cached record rather than once per request (it is immutable too).
    _resolved: ResolvedTenant = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        resolved = ResolvedTenant(tenant_id=self.slug, plan_tier=self.plan_tier, status=self.status)
        object.__setattr__(self, "_resolved", resolved)

    @property
    def ref(self) -> TenantRef:
        return TenantRef(self.id, self.slug, self.data_location)

    def resolved(self) -> ResolvedTenant:
        """The `ResolvedTenant` the middleware leaves in the scope (the same object each call)."""
        return self._resolved

    def matches(self, key: str) -> bool:
        return key in (self.slug, self.id)


class TenantLookup(Protocol):
    async def by_key(self, key: str) -> TenantRecord | None:
        """The tenant whose slug or id is ``key``."""
        ...

    async def by_domain(self, domain: str) -> TenantRecord | None:
        """The tenant owning the *verified* custom ``domain``."""
        ...


_COLUMNS = (Tenant.id, Tenant.slug, Tenant.plan_tier, Tenant.status, Tenant.data_location)


def _record(row: Any) -> TenantRecord:
    tenant_id, slug, plan_tier, status, data_location = row
    return TenantRecord(TenantUUID(tenant_id), TenantSlug(slug), plan_tier, status, data_location)


class SqlTenantLookup:
    """`TenantLookup` over the control-plane tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def by_key(self, key: str) -> TenantRecord | None:
        if not is_safe_id(key):  # slugs and ids both fit; anything else matches no row
            return None
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(*_COLUMNS).where(or_(Tenant.slug == key, Tenant.id == key))
                )
            ).first()
        return None if row is None else _record(row)

    async def by_domain(self, domain: str) -> TenantRecord | None:
        if not 0 < len(domain) <= 253 or not is_storable(domain):
            return None
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(*_COLUMNS)
                    .join(TenantDomain, TenantDomain.tenant_id == Tenant.id)
                    .where(TenantDomain.domain == domain, TenantDomain.verified.is_(True))
                )
            ).first()
        return None if row is None else _record(row)


def _read_headers(scope: MutableMapping[str, Any], name: bytes) -> tuple[str | None, str | None]:
    """The first ``name`` header and the first ``host`` header (decoded, stripped), in one scan."""
    named: str | None = None
    host: str | None = None
    found_named = found_host = False
    for key, value in scope.get("headers") or ():
        lowered = key.lower()
        if lowered == name:
            if found_named:
                continue
            found_named = True
            named = _decoded(value)
        elif lowered == b"host":
            if found_host:
                continue
            found_host = True
            host = _decoded(value)
        else:
            continue
        if found_named and found_host:
            break
    if name == b"host":
        host = named
    return named, host


def _decoded(value: Any) -> str | None:
    try:
        return bytes(value).decode("latin-1").strip()
    except (TypeError, ValueError):
        return None


def _host(scope: MutableMapping[str, Any], header: str | None) -> str | None:
    host = header
    if not host:
        server = scope.get("server")
        host = server[0] if server else None
    if not host:
        return None
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):  # IPv6 literal: never a tenant
        return None
    return host.rsplit(":", 1)[0] if ":" in host else host


class TenantResolver:
    """Resolves a request scope to a `TenantRecord` (or ``None`` when nothing names one).

    Args:
        lookup: Where tenants are looked up (`SqlTenantLookup`).
        sources: The sources tried, in order.
        base_domain: The domain whose subdomains name tenants (needed by ``subdomain``).
        header_name: The header naming a tenant.
        path_prefix: The path prefix followed by a tenant segment.
        cache_ttl: Seconds a found tenant is reused.
        negative_ttl: Seconds an unknown key or domain is remembered.
        cache_size: Most answers kept (found and unknown, each).
        clock: The clock the cache expires by.
        stale_ttl: Seconds after expiry an answer is still served while a background task
            looks it up again; 0 (the default) looks it up on the request.
    """

    def __init__(
        self,
        lookup: TenantLookup,
        *,
        sources: Sequence[Source] = DEFAULT_SOURCES,
        base_domain: str | None = None,
        header_name: str = "X-Tenant-ID",
        path_prefix: str = "/api/v1/tenants/",
        cache_ttl: float = 30.0,
        negative_ttl: float = 5.0,
        cache_size: int = 10_000,
        clock: Clock = system_clock,
        stale_ttl: float = 0.0,
    ) -> None:
        unknown = [s for s in sources if s not in _KNOWN_SOURCES]
        if unknown or not sources:
            raise TenancyConfigurationError(
                f"tenant resolution sources must be a non-empty subset of {sorted(_KNOWN_SOURCES)}"
                f", got unknown {unknown}"
            )
        if "subdomain" in sources and not base_domain:
            raise TenancyConfigurationError(
                "resolving tenants by subdomain needs base_domain (e.g. 'relaypoint.ai')"
            )
        self.lookup = lookup
        self.sources = tuple(sources)
        self.base_domain = base_domain.lower().strip(".") if base_domain else None
        self.header_name = header_name.lower().encode("latin-1")
        self.path_prefix = "/" + path_prefix.strip("/") + "/"
        self._cache: SnapshotCache[tuple[str, str], TenantRecord] = SnapshotCache(
            self._look_up,
            ttl=cache_ttl,
            negative_ttl=negative_ttl,
            stale_ttl=stale_ttl,
            size=cache_size,
            negative_size=cache_size,
            clock=clock,
        )

    @property
    def lookups(self) -> int:
        """How many lookups (queries) this resolver has made."""
        return self._cache.loads

    def invalidate(self) -> None:
        """Forget every cached answer (call after suspending or deleting a tenant)."""
        self._cache.clear()

    async def aclose(self) -> None:
        """Cancel the background lookups still running (before the engine is disposed)."""
        await self._cache.aclose()

    async def _look_up(self, key: tuple[str, str]) -> TenantRecord | None:
        kind, value = key
        if kind == "domain":
            return await self.lookup.by_domain(value)
        return await self.lookup.by_key(value)

    def _host_candidate(self, source: Source, host: str) -> tuple[str, str] | None:
        under_base = self.base_domain is not None and (
            host == self.base_domain or host.endswith("." + self.base_domain)
        )
        if source == "subdomain":
            if not under_base or self.base_domain is None or host == self.base_domain:
                return None
            label = host[: -len(self.base_domain) - 1]
            if "." in label or label in RESERVED_NAMES:
                return None
            return ("key", label)
        if source == "custom_domain" and not under_base:
            return ("domain", host)
        return None

    async def resolve(self, scope: MutableMapping[str, Any]) -> TenantRecord | None:
        """The tenant ``scope`` addresses; raises not-found, mismatch or suspended errors."""
        principal = get_scope_principal(scope)
        token_tenant = principal.tenant_id if principal is not None else None
        record: TenantRecord | None = None
        headers_read = False
        named: str | None = None
        host: str | None = None
        for source in self.sources:
            if source == "token":
                if token_tenant:
                    record = await self._resolve_key(token_tenant)
                    break
                continue
            if source == "path":
                path: str = scope.get("path") or ""
                if not path.startswith(self.path_prefix):
                    continue
                segment = path[len(self.path_prefix) :].split("/", 1)[0]
                if not segment:
                    continue
                record = await self._resolve_key(segment)
                break
            if not headers_read:  # the request's headers are scanned once, for every source
                named, header_host = _read_headers(scope, self.header_name)
                host = _host(scope, header_host)
                headers_read = True
            if source == "header":
                if not named:
                    continue
                record = await self._resolve_key(named)
                break
            if host is None:
                continue
            candidate = self._host_candidate(source, host)
            if candidate is None:
                continue
            if candidate[0] == "domain":
                record = await self._cached(candidate)
                if record is None:
                    continue  # an unknown host is not a tenant (localhost, the bare API host)
                break
            record = await self._resolve_key(candidate[1])
            break
        if record is None:
            return None
        if token_tenant and not record.matches(token_tenant):
            raise TenantMismatchError(token_tenant, record.slug)
        if record.status == _SUSPENDED:
            raise TenantSuspendedError(record.slug)
        return record

    async def _cached(self, key: tuple[str, str]) -> TenantRecord | None:
        answer = self._cache.get_nowait(key)
        if answer is MISS:
            return await self._cache.get(key)
        return answer

    async def _resolve_key(self, value: str) -> TenantRecord:
        key = ("key", value)
        record = self._cache.get_nowait(key)  # only checked keys are ever cached
        if record is MISS:
            if not is_safe_id(value, max_length=_MAX_KEY):  # never looked up, cached nor echoed
                raise TenantNotFoundError("(invalid id)")
            record = await self._cache.get(key)
        if record is None:
            raise TenantNotFoundError(value)
        return record

    @classmethod
    def from_options(cls, lookup: TenantLookup, **options: Any) -> TenantResolver:
        return cls(lookup, **options)


def parse_sources(value: str | Iterable[str]) -> tuple[Source, ...]:
    """``"path,header,token"`` -> a sources tuple (for settings read from the environment)."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(part.strip() for part in parts if part.strip())
    unknown = [n for n in names if n not in _KNOWN_SOURCES]
    if unknown:
        raise TenancyConfigurationError(
            f"unknown tenant resolution source(s) {unknown}; use {sorted(_KNOWN_SOURCES)}"
        )
    return names  # type: ignore[return-value]
