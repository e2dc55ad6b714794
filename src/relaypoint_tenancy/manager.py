"""``TenantManager``: the control-plane API (create, plans, domains, branding, quotas, GDPR).

Every mutating method is one unit of work on the session you pass: it commits on success and
rolls back on any failure. ``create_tenant`` also undoes isolation resources that live outside the
transaction (a tenant database), so a failure half-way leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from relaypoint_core.auth.passwords import hash_password
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.monitoring import performance_monitor
from relaypoint_core.rbac.roles import Role
from relaypoint_core.text import is_safe_id
from relaypoint_tenancy.branding import BrandingConfig, validate_branding
from relaypoint_tenancy.errors import (
    DomainError,
    TenancyConfigurationError,
    TenancyError,
    TenantExistsError,
    TenantNotFoundError,
)
from relaypoint_tenancy.install_hint import not_installed
from relaypoint_tenancy.models import (
    AuditEvent,
    LoginIndex,
    RoleAssignment,
    Tenant,
    TenantDomain,
    UsageCounter,
    User,
    UserIndex,
)
from relaypoint_tenancy.plans import DEFAULT_PLAN_CATALOG, PlanCatalog, PlanTier, TenantStatus
from relaypoint_tenancy.quotas import QuotaService
from relaypoint_tenancy.records import DomainInfo, TenantInfo, TransitionReport, UsageInfo
from relaypoint_tenancy.strategies import (
    IsolationStrategy,
    TenantPlane,
    TenantRef,
    default_strategy,
)
from relaypoint_tenancy.trials import run_due_transitions, utc_now
from relaypoint_tenancy.validation import validate_slug

__all__ = ["StepHook", "TenantManager"]

logger = logging.getLogger("relaypoint.tenancy")

StepHook = Callable[[str, TenantRef], Awaitable[None]]
"""Called after each ``create_tenant`` step (``tenant_row``, ``isolation``, ``admin_user``)."""

_users = cast(Table, User.__table__)
_roles = cast(Table, RoleAssignment.__table__)
_audit = cast(Table, AuditEvent.__table__)
_EMAIL = re.compile(r"[^@\s\"<>]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?")
_DOMAIN = re.compile(r"(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_ROLE_NAMES = {role.value for role in Role}


def _clean_name(name: object, *, what: str, max_length: int = 200) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TenancyError(f"{what} must be a non-empty string")
    cleaned = name.strip()
    if len(cleaned) > max_length or any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise TenancyError(
            f"{what} must be at most {max_length} characters without control characters"
        )
    return cleaned


def _clean_email(email: object) -> str:
    if not isinstance(email, str) or _EMAIL.fullmatch(email.strip()) is None:
        raise TenancyError(f"{email!r} is not a valid email address")
    return email.strip().lower()


def _clean_domain(domain: object) -> str:
    if not isinstance(domain, str):
        raise DomainError("domain must be a string")
    cleaned = domain.strip().lower().rstrip(".")
    if _DOMAIN.fullmatch(cleaned) is None:
        raise DomainError(f"{domain!r} is not a valid domain name (e.g. 'app.acme.com')")
    return cleaned


def _clean_roles(roles: Iterable[str | Role]) -> list[str]:
    names = sorted({str(role) for role in roles})
    unknown = [name for name in names if name not in _ROLE_NAMES]
    if unknown:
        raise TenancyError(f"unknown role(s) {unknown}; choose from {sorted(_ROLE_NAMES)}")
    return names


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    return value


class TenantManager:
    """Manage tenants through ``db_session`` (an `AsyncSession` on the control database).

    ``strategy`` defaults to schema-per-tenant on PostgreSQL and shared tables on SQLite; pass the
    application's configured strategy to share its engine cache.
    """

    def __init__(
        self,
        db_session: AsyncSession,
        *,
        strategy: IsolationStrategy | None = None,
        catalog: PlanCatalog = DEFAULT_PLAN_CATALOG,
        clock: Clock = system_clock,
        actor: str = "system",
        on_step: StepHook | None = None,
    ) -> None:
        self.session = db_session
        if strategy is None:
            bind = db_session.bind
            if not isinstance(bind, AsyncEngine):
                raise TenancyConfigurationError(
                    "TenantManager needs a session bound to an AsyncEngine, or an explicit strategy"
                )
            strategy = default_strategy(bind)
        self.strategy = strategy
        self.catalog = catalog
        self.clock = clock
        self.actor = actor
        self._on_step = on_step
        self.quotas = QuotaService(db_session, catalog=catalog, clock=clock)

    # --- plumbing -------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return utc_now(self.clock)

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[None]:
        try:
            yield
            await self.session.commit()
        except BaseException as exc:
            await self.session.rollback()
            hint = not_installed(exc)
            if hint is not None:
                raise hint from exc
            raise

    async def _find(self, tenant_id: str, *, for_update: bool = False) -> Tenant | None:
        if not isinstance(tenant_id, str) or not tenant_id:
            raise TenantNotFoundError(str(tenant_id))
        if not is_safe_id(tenant_id):  # slugs and ids both fit; NUL would be a 500 on PostgreSQL
            return None
        statement = select(Tenant).where(or_(Tenant.slug == tenant_id, Tenant.id == tenant_id))
        if for_update:
            statement = statement.with_for_update()
        try:
            return (await self.session.execute(statement)).scalar_one_or_none()
        except DBAPIError as exc:
            hint = not_installed(exc)
            if hint is None:
                raise
            await self.session.rollback()
            raise hint from exc

    async def _load(self, tenant_id: str, *, for_update: bool = False) -> Tenant:
        row = await self._find(tenant_id, for_update=for_update)
        if row is None:
            raise TenantNotFoundError(tenant_id if is_safe_id(tenant_id) else "(invalid id)")
        return row

    @staticmethod
    def _ref(row: Tenant) -> TenantRef:
        return TenantRef(row.id, row.slug, row.data_location)

    async def _audit(
        self, plane: TenantPlane, tenant: Tenant, action: str, detail: Mapping[str, Any]
    ) -> None:
        await plane.execute(
            insert(_audit).values(
                tenant_id=tenant.id,
                actor=self.actor,
                action=action,
                detail=dict(detail),
                created_at=self._now(),
            )
        )

    async def _insert_user(
        self,
        plane: TenantPlane,
        tenant: Tenant,
        *,
        email: str,
        name: str,
        password_hash: str | None,
        roles: Iterable[str],
        now: datetime,
    ) -> str:
        """Write a user and its role grants to the tenant plane and index it; returns its id."""
        user_id = str(uuid.uuid4())
        await plane.execute(
            insert(_users).values(
                id=user_id,
                tenant_id=tenant.id,
                email=email,
                name=name,
                password_hash=password_hash,
                status="active",
                created_at=now,
            )
        )
        for role in roles:
            await plane.execute(
                insert(_roles).values(
                    user_id=user_id, tenant_id=tenant.id, role=role, created_at=now
                )
            )
        self.session.add(UserIndex(user_id=user_id, tenant_id=tenant.id))
        self.session.add(LoginIndex(email=email.strip().lower(), tenant_id=tenant.id))
        return user_id

    async def _audit_only(self, tenant: Tenant, action: str, detail: Mapping[str, Any]) -> None:
        conn = await self.session.connection()
        async with self.strategy.tenant_plane(conn, self._ref(tenant)) as plane:
            await self._audit(plane, tenant, action, detail)

    async def _step(self, name: str, ref: TenantRef) -> None:
        if self._on_step is not None:
            await self._on_step(name, ref)

    # --- lifecycle ------------------------------------------------------------------------------

    async def install(self) -> None:
        """Create or upgrade the control-plane tables (and shared tenant tables); idempotent."""
        async with self._unit():
            await self.strategy.install(await self.session.connection())

    async def create_tenant(
        self,
        *,
        name: str,
        slug: str,
        plan_tier: PlanTier | str = PlanTier.FREE,
        admin_email: str,
        admin_name: str,
        admin_password: str | None = None,
        start_trial: bool = True,
    ) -> TenantInfo:
        """Create the tenant, its isolation resources and its ``tenant_admin``, all or nothing."""
        slug = validate_slug(slug)
        name = _clean_name(name, what="tenant name")
        admin_name = _clean_name(admin_name, what="admin name")
        email = _clean_email(admin_email)
        tier = PlanTier(plan_tier)
        password_hash = hash_password(admin_password) if admin_password else None
        limits = self.catalog.limits(tier)
        now = self._now()
        trial = start_trial and limits.trial_days > 0
        row = Tenant(
            id=str(uuid.uuid4()),
            slug=slug,
            name=name,
            plan_tier=tier.value,
            status=(TenantStatus.TRIAL if trial else TenantStatus.ACTIVE).value,
            trial_ends_at=now + timedelta(days=limits.trial_days) if trial else None,
            grace_ends_at=None,
            quota_overrides={},
            branding={},
            isolation=self.strategy.kind,
            data_location=self.strategy.location_for(slug),
            created_at=now,
            updated_at=now,
        )
        ref = self._ref(row)
        provisioned = False
        try:
            async with self._unit():
                if await self._find(slug) is not None:
                    raise TenantExistsError(f"a tenant with slug {slug!r} already exists")
                self.session.add(row)
                try:
                    await self.session.flush()
                except IntegrityError:
                    raise TenantExistsError(f"a tenant with slug {slug!r} already exists") from None
                await self._step("tenant_row", ref)
                conn = await self.session.connection()
                provisioned = True
                await self.strategy.provision(conn, ref)
                await self._step("isolation", ref)
                async with self.strategy.tenant_plane(conn, ref) as plane:
                    await self._insert_user(
                        plane,
                        row,
                        email=email,
                        name=admin_name,
                        password_hash=password_hash,
                        roles=[Role.TENANT_ADMIN.value],
                        now=now,
                    )
                    await self._audit(
                        plane, row, "tenant.created", {"plan_tier": tier.value, "admin": email}
                    )
                await self.quotas.consume(row, "users", 1)
                await self._step("admin_user", ref)
                info = TenantInfo.from_row(row)
        except BaseException:
            if provisioned:
                try:
                    await self.strategy.undo_provision(ref)
                except Exception:
                    logger.exception("could not undo provisioning of tenant %s", slug)
            raise
        logger.info("tenant %s created (%s, %s)", slug, tier.value, self.strategy.kind)
        performance_monitor.record_user_registered(tier.value)  # its first user, the admin
        return info

    async def get_tenant(self, tenant_id: str) -> TenantInfo:
        """The tenant with this slug or id; raises `TenantNotFoundError`."""
        async with self._unit():
            return TenantInfo.from_row(await self._load(tenant_id))

    async def find_tenant(self, tenant_id: str) -> TenantInfo | None:
        async with self._unit():
            row = await self._find(tenant_id)
            return None if row is None else TenantInfo.from_row(row)

    async def tenant_ref(self, tenant_id: str) -> TenantRef:
        return (await self.get_tenant(tenant_id)).ref

    async def list_tenants(
        self, *, status: TenantStatus | str | None = None, limit: int = 100, offset: int = 0
    ) -> list[TenantInfo]:
        statement = select(Tenant).order_by(Tenant.slug).limit(limit).offset(offset)
        if status is not None:
            statement = statement.where(Tenant.status == TenantStatus(status).value)
        async with self._unit():
            rows = (await self.session.execute(statement)).scalars().all()
            return [TenantInfo.from_row(row) for row in rows]

    async def change_plan(self, tenant_id: str, plan_tier: PlanTier | str) -> TenantInfo:
        """Move to ``plan_tier``; choosing a plan ends a trial or grace period (-> active).

        A downgrade restarts this month's counters of monthly resources (API calls): what was
        used under the higher plan is not charged to the lower one, which would otherwise lock
        the tenant out until the month ends. Standing resources (users, workflows) are kept;
        above the new limits, only adding more is refused. Who may upgrade is decided before
        this call (`PlanChangePolicy`).
        """
        tier = PlanTier(plan_tier)
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            previous = row.plan_tier
            restarted: dict[str, int] = {}
            if tier.rank < PlanTier(previous).rank:
                restarted = await self.quotas.restart_monthly_usage(row)
            row.plan_tier = tier.value
            if row.status in (TenantStatus.TRIAL.value, TenantStatus.GRACE.value):
                row.status = TenantStatus.ACTIVE.value
                row.trial_ends_at = None
                row.grace_ends_at = None
            row.updated_at = self._now()
            detail: dict[str, Any] = {"from": previous, "to": tier.value}
            if restarted:
                detail["usage_under_previous_plan"] = restarted
            await self._audit_only(row, "tenant.plan_changed", detail)
            await self.session.flush()
            return TenantInfo.from_row(row)

    async def suspend_tenant(self, tenant_id: str, *, reason: str | None = None) -> TenantInfo:
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            row.status = TenantStatus.SUSPENDED.value
            row.updated_at = self._now()
            await self._audit_only(row, "tenant.suspended", {"reason": reason})
            await self.session.flush()
            return TenantInfo.from_row(row)

    async def reactivate_tenant(self, tenant_id: str) -> TenantInfo:
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            row.status = TenantStatus.ACTIVE.value
            row.grace_ends_at = None
            row.trial_ends_at = None
            row.updated_at = self._now()
            await self._audit_only(row, "tenant.reactivated", {})
            await self.session.flush()
            return TenantInfo.from_row(row)

    async def run_due_transitions(self) -> TransitionReport:
        """Trial expiry -> grace -> suspended for every due tenant (call from a scheduler)."""
        return await run_due_transitions(self.session, clock=self.clock, catalog=self.catalog)

    # --- domains --------------------------------------------------------------------------------

    async def add_domain(self, tenant_id: str, domain: str) -> DomainInfo:
        """Claim ``domain`` for the tenant (unverified); publish ``txt_record`` then verify."""
        name = _clean_domain(domain)
        async with self._unit():
            row = await self._load(tenant_id)
            existing = (
                await self.session.execute(select(TenantDomain).where(TenantDomain.domain == name))
            ).scalar_one_or_none()
            if existing is not None:
                raise DomainError(f"domain {name!r} is already claimed")
            record = TenantDomain(
                id=str(uuid.uuid4()),
                tenant_id=row.id,
                domain=name,
                verified=False,
                verification_token=secrets.token_hex(16),
                created_at=self._now(),
                verified_at=None,
            )
            self.session.add(record)
            try:
                await self.session.flush()
            except IntegrityError:
                raise DomainError(f"domain {name!r} is already claimed") from None
            await self._audit_only(row, "domain.added", {"domain": name})
            return DomainInfo.from_row(record)

    async def _domain(self, row: Tenant, domain: str) -> TenantDomain:
        name = _clean_domain(domain)
        record = (
            await self.session.execute(
                select(TenantDomain).where(
                    TenantDomain.domain == name, TenantDomain.tenant_id == row.id
                )
            )
        ).scalar_one_or_none()
        if record is None:
            raise DomainError(f"domain {name!r} is not registered for tenant {row.slug!r}")
        return record

    async def verify_domain(self, tenant_id: str, domain: str, *, token: str) -> DomainInfo:
        """Mark ``domain`` verified when ``token`` (found in its DNS TXT record) matches."""
        async with self._unit():
            row = await self._load(tenant_id)
            record = await self._domain(row, domain)
            if not secrets.compare_digest(record.verification_token, str(token)):
                raise DomainError(f"verification token for {record.domain!r} does not match")
            record.verified = True
            record.verified_at = self._now()
            await self._audit_only(row, "domain.verified", {"domain": record.domain})
            await self.session.flush()
            return DomainInfo.from_row(record)

    async def remove_domain(self, tenant_id: str, domain: str) -> None:
        async with self._unit():
            row = await self._load(tenant_id)
            record = await self._domain(row, domain)
            await self.session.delete(record)
            await self._audit_only(row, "domain.removed", {"domain": record.domain})

    async def list_domains(self, tenant_id: str) -> list[DomainInfo]:
        async with self._unit():
            row = await self._load(tenant_id)
            records = (
                await self.session.execute(
                    select(TenantDomain)
                    .where(TenantDomain.tenant_id == row.id)
                    .order_by(TenantDomain.domain)
                )
            ).scalars()
            return [DomainInfo.from_row(record) for record in records]

    # --- branding -------------------------------------------------------------------------------

    async def update_branding(
        self, tenant_id: str, branding_config: Mapping[str, Any]
    ) -> BrandingConfig:
        """Merge ``branding_config`` into the tenant's branding (``None`` removes a key)."""
        patch = validate_branding(branding_config)
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            merged = dict(row.branding or {})
            for key in patch.model_fields_set:
                value = getattr(patch, key)
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            result = validate_branding(merged)
            row.branding = result.model_dump(exclude_none=True)
            row.updated_at = self._now()
            await self._audit_only(
                row, "branding.updated", {"keys": sorted(patch.model_fields_set)}
            )
            await self.session.flush()
            return result

    async def get_branding(self, tenant_id: str) -> BrandingConfig:
        return validate_branding((await self.get_tenant(tenant_id)).branding)

    # --- users ----------------------------------------------------------------------------------

    async def create_user(
        self,
        tenant_id: str,
        *,
        email: str,
        name: str,
        password: str | None = None,
        roles: Iterable[str | Role] = (Role.USER,),
    ) -> str:
        """Add a user to the tenant (counts against the ``users`` quota); returns its id."""
        address = _clean_email(email)
        display = _clean_name(name, what="user name")
        role_names = _clean_roles(roles)
        password_hash = hash_password(password) if password else None
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            await self.quotas.consume(row, "users", 1)
            conn = await self.session.connection()
            async with self.strategy.tenant_plane(conn, self._ref(row)) as plane:
                taken = (
                    await plane.execute(
                        select(func.count())
                        .select_from(_users)
                        .where(_users.c.tenant_id == row.id, _users.c.email == address)
                    )
                ).scalar_one()
                if taken:
                    raise TenancyError(f"user {address!r} already exists in tenant {row.slug!r}")
                user_id = await self._insert_user(
                    plane,
                    row,
                    email=address,
                    name=display,
                    password_hash=password_hash,
                    roles=role_names,
                    now=self._now(),
                )
                await self._audit(plane, row, "user.created", {"user_id": user_id})
        performance_monitor.record_user_registered(str(row.plan_tier))
        return user_id

    async def set_password(self, tenant_id: str, user_id: str, password: str) -> None:
        """Set (or reset) a user's password; stored as an Argon2id hash."""
        password_hash = hash_password(password)
        async with self._unit():
            row = await self._load(tenant_id)
            conn = await self.session.connection()
            async with self.strategy.tenant_plane(conn, self._ref(row)) as plane:
                result = await plane.execute(
                    update(_users)
                    .where(_users.c.id == user_id, _users.c.tenant_id == row.id)
                    .values(password_hash=password_hash)
                )
                if not getattr(result, "rowcount", 0):
                    raise TenancyError(f"user {user_id!r} is not a member of {row.slug!r}")
                await self._audit(plane, row, "user.password_set", {"user_id": user_id})

    async def assign_role(self, tenant_id: str, user_id: str, role: str | Role) -> None:
        (name,) = _clean_roles([role])
        async with self._unit():
            row = await self._load(tenant_id)
            conn = await self.session.connection()
            async with self.strategy.tenant_plane(conn, self._ref(row)) as plane:
                found = (
                    await plane.execute(
                        select(func.count())
                        .select_from(_users)
                        .where(_users.c.id == user_id, _users.c.tenant_id == row.id)
                    )
                ).scalar_one()
                if not found:
                    raise TenancyError(f"user {user_id!r} is not a member of {row.slug!r}")
                present = (
                    await plane.execute(
                        select(func.count())
                        .select_from(_roles)
                        .where(_roles.c.user_id == user_id, _roles.c.role == name)
                    )
                ).scalar_one()
                if not present:
                    await plane.execute(
                        insert(_roles).values(
                            user_id=user_id, tenant_id=row.id, role=name, created_at=self._now()
                        )
                    )
                    await self._audit(
                        plane, row, "role.assigned", {"user_id": user_id, "role": name}
                    )

    async def list_users(self, tenant_id: str) -> list[dict[str, Any]]:
        """Users of the tenant with their roles (no password hashes)."""
        async with self._unit():
            row = await self._load(tenant_id)
            conn = await self.session.connection()
            async with self.strategy.tenant_plane(conn, self._ref(row)) as plane:
                return await self._users_with_roles(plane, row)

    async def _users_with_roles(self, plane: TenantPlane, row: Tenant) -> list[dict[str, Any]]:
        users = (
            await plane.execute(
                select(
                    _users.c.id,
                    _users.c.email,
                    _users.c.name,
                    _users.c.status,
                    _users.c.created_at,
                )
                .where(_users.c.tenant_id == row.id)
                .order_by(_users.c.email)
            )
        ).all()
        roles = (
            await plane.execute(
                select(_roles.c.user_id, _roles.c.role).where(_roles.c.tenant_id == row.id)
            )
        ).all()
        by_user: dict[str, list[str]] = {}
        role_rows: list[Any] = list(roles)
        for role_row in role_rows:
            by_user.setdefault(role_row[0], []).append(role_row[1])
        return [
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "status": user.status,
                "created_at": _jsonable(user.created_at),
                "roles": sorted(by_user.get(user.id, [])),
            }
            for user in users
        ]

    # --- quotas ---------------------------------------------------------------------------------

    async def consume_quota(self, tenant_id: str, resource: str, amount: int = 1) -> int:
        """Atomically count ``amount`` of ``resource``; raises `QuotaExceeded` at the limit."""
        async with self._unit():
            return await self.quotas.consume(await self._load(tenant_id), resource, amount)

    async def release_quota(self, tenant_id: str, resource: str, amount: int = 1) -> None:
        async with self._unit():
            await self.quotas.release(await self._load(tenant_id), resource, amount)

    async def get_usage(self, tenant_id: str) -> dict[str, UsageInfo]:
        async with self._unit():
            return await self.quotas.usage(await self._load(tenant_id))

    async def set_quota_override(
        self, tenant_id: str, resource: str, limit: int | None
    ) -> TenantInfo:
        """Give this tenant its own limit for ``resource`` (``None`` = unlimited)."""
        if limit is not None and limit < 0:
            raise TenancyError("a quota limit cannot be negative")
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            row.quota_overrides = {**(row.quota_overrides or {}), resource: limit}
            row.updated_at = self._now()
            await self._audit_only(row, "quota.override", {"resource": resource, "limit": limit})
            await self.session.flush()
            return TenantInfo.from_row(row)

    async def clear_quota_override(self, tenant_id: str, resource: str) -> TenantInfo:
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            overrides = dict(row.quota_overrides or {})
            overrides.pop(resource, None)
            row.quota_overrides = overrides
            row.updated_at = self._now()
            await self.session.flush()
            return TenantInfo.from_row(row)

    # --- GDPR -----------------------------------------------------------------------------------

    async def export_tenant_data(self, tenant_id: str) -> dict[str, Any]:
        """Everything stored about the tenant, as JSON-ready data (password hashes excluded)."""
        async with self._unit():
            row = await self._load(tenant_id)
            domains = (
                await self.session.execute(
                    select(TenantDomain)
                    .where(TenantDomain.tenant_id == row.id)
                    .order_by(TenantDomain.domain)
                )
            ).scalars()
            counters = (
                await self.session.execute(
                    select(UsageCounter)
                    .where(UsageCounter.tenant_id == row.id)
                    .order_by(UsageCounter.resource, UsageCounter.period)
                )
            ).scalars()
            conn = await self.session.connection()
            async with self.strategy.tenant_plane(conn, self._ref(row)) as plane:
                users = await self._users_with_roles(plane, row)
                events = (
                    await plane.execute(
                        select(_audit).where(_audit.c.tenant_id == row.id).order_by(_audit.c.id)
                    )
                ).all()
            info = TenantInfo.from_row(row)
            return {
                "format": "relaypoint.tenant-export/1",
                "exported_at": _jsonable(self._now()),
                "tenant": {
                    "id": info.id,
                    "slug": info.slug,
                    "name": info.name,
                    "plan_tier": info.plan_tier.value,
                    "status": info.status.value,
                    "isolation": info.isolation,
                    "trial_ends_at": _jsonable(info.trial_ends_at),
                    "grace_ends_at": _jsonable(info.grace_ends_at),
                    "created_at": _jsonable(info.created_at),
                    "quota_overrides": info.quota_overrides,
                    "branding": info.branding,
                },
                "domains": [
                    {
                        "domain": d.domain,
                        "verified": d.verified,
                        "created_at": _jsonable(d.created_at),
                        "verified_at": _jsonable(d.verified_at),
                    }
                    for d in domains
                ],
                "usage": [
                    {"resource": c.resource, "period": c.period, "used": c.used} for c in counters
                ],
                "users": users,
                "audit_events": [
                    {
                        "id": e.id,
                        "actor": e.actor,
                        "action": e.action,
                        "detail": e.detail,
                        "created_at": _jsonable(e.created_at),
                    }
                    for e in events
                ],
            }

    async def export_tenant_json(self, tenant_id: str) -> str:
        return json.dumps(await self.export_tenant_data(tenant_id), indent=2, sort_keys=True)

    async def delete_tenant(self, tenant_id: str) -> None:
        """Delete the tenant and every row, schema or database it owns (GDPR erasure)."""
        transactional = self.strategy.kind != "database"
        async with self._unit():
            row = await self._load(tenant_id, for_update=True)
            ref = self._ref(row)
            conn = await self.session.connection()
            if transactional:
                await self.strategy.deprovision(conn, ref)
            for model in (UserIndex, LoginIndex, UsageCounter, TenantDomain):
                await self.session.execute(delete(model).where(model.tenant_id == row.id))
            await self.session.execute(delete(Tenant).where(Tenant.id == row.id))
        if not transactional:
            await self.strategy.deprovision(conn, ref)
        logger.info("tenant %s deleted with all its data", ref.slug)
