"""The tenancy data model (SQLAlchemy 2.0, typed).

Two planes:

* the **control plane** (``ControlBase``): tenants, their domains, usage counters and a user index,
  always in the control database's default schema;
* the **tenant plane** (``TenantBase``): users, role assignments and audit events. Its tables are
  declared in the placeholder schema `TENANT_SCHEMA`, which every session maps with
  ``schema_translate_map`` to the tenant's schema (schema-per-tenant) or to the default schema
  (shared tables, database-per-tenant). Every tenant-plane row carries ``tenant_id`` whatever the
  strategy, so the automatic filter and row-level security work the same way everywhere.

Your own tenant-owned models inherit `TenantBase` and `TenantScoped`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

__all__ = [
    "TENANT_SCHEMA",
    "AuditEvent",
    "ControlBase",
    "LoginIndex",
    "RoleAssignment",
    "Tenant",
    "TenantBase",
    "TenantDomain",
    "TenantScoped",
    "UsageCounter",
    "User",
    "UserIndex",
]

TENANT_SCHEMA = "__rp_tenant__"
"""Placeholder schema of tenant-plane tables; sessions translate it to the real location."""

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ControlBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class TenantBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING, schema=TENANT_SCHEMA)


class TenantScoped:
    """Mixin for tenant-owned rows: filtered by ``tenant_id`` on every ORM query of a tenant session."""

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(String(36), index=True, nullable=False)


# --- control plane ------------------------------------------------------------------------------


class Tenant(ControlBase):
    __tablename__ = "rp_tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    plan_tier: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    trial_ends_at: Mapped[datetime | None] = mapped_column(DateTime())
    grace_ends_at: Mapped[datetime | None] = mapped_column(DateTime())
    quota_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    branding: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    isolation: Mapped[str] = mapped_column(String(20))
    data_location: Mapped[str | None] = mapped_column(String(63))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    updated_at: Mapped[datetime] = mapped_column(DateTime())


class TenantDomain(ControlBase):
    __tablename__ = "rp_tenant_domains"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rp_tenants.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verification_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    verified_at: Mapped[datetime | None] = mapped_column(DateTime())


class UsageCounter(ControlBase):
    __tablename__ = "rp_usage_counters"

    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rp_tenants.id", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class UserIndex(ControlBase):
    """Which tenant a user id lives in, so a token's subject finds its row in one lookup."""

    __tablename__ = "rp_user_index"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rp_tenants.id", ondelete="CASCADE"), index=True
    )


class LoginIndex(ControlBase):
    """Which tenants an email signs in to, so a login that names no tenant costs one lookup.

    Platform-wide by design (it is the one place that knows an email across tenants); it holds
    no password and no name. An email in several tenants has one row per tenant.
    """

    __tablename__ = "rp_login_index"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rp_tenants.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# --- tenant plane -------------------------------------------------------------------------------


class User(TenantScoped, TenantBase):
    __tablename__ = "rp_users"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime())


class RoleAssignment(TenantScoped, TenantBase):
    __tablename__ = "rp_role_assignments"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rp_users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime())


class AuditEvent(TenantScoped, TenantBase):
    __tablename__ = "rp_audit_events"
    __table_args__ = (Index("ix_rp_audit_events_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime())
