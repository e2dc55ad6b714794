"""The two identities of a tenant, as distinct types so that they are never mixed.

* ``TenantSlug`` is the **public** identity: it appears in URLs (``/api/v1/tenants/acme/...``),
  host names, the ``tid`` claim of tokens, ``Principal.tenant_id``, ``ResolvedTenant.tenant_id``,
  the tenant context, cache namespaces, rate-limit scopes, metrics opt-ins and realtime rooms.
* ``TenantUUID`` is the **internal** row identity: primary and foreign keys in the tenancy tables
  and in an application's own tenant-plane rows. It is never shown to clients as "the tenant".

Both are ``typing.NewType`` over ``str``: free at run time, but mypy refuses a ``TenantUUID``
where a ``TenantSlug`` is expected (and the reverse), which is the point.
"""

from __future__ import annotations

from typing import NewType

__all__ = ["TenantSlug", "TenantUUID"]

TenantSlug = NewType("TenantSlug", str)
"""A tenant's public identifier (``acme``): URLs, tokens, cache and rate-limit scopes."""

TenantUUID = NewType("TenantUUID", str)
"""A tenant's internal row id (a UUID string): database keys only."""
