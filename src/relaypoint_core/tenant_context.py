"""The current tenant of this request or job, held in a `contextvars.ContextVar`.

The tenancy middleware binds it per request; background jobs bind it by hand with
`tenant_scope`. Cache namespaces, rate-limit scopes, metrics and the audit log read it.
Because it is a ContextVar, every asyncio task sees the value of the context it was created in,
and a value bound inside one task never leaks into another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from relaypoint_core.errors import InvalidTenantIdError, NoTenantError

__all__ = [
    "TENANT_ID_PATTERN",
    "current_tenant",
    "get_current_tenant",
    "reset_current_tenant",
    "set_current_tenant",
    "tenant_scope",
    "validate_tenant_id",
]

TENANT_ID_MAX_LENGTH = 128
# Tenant ids are opaque to the SDK but must be printable and bounded; key builders escape them
# anyway, so this only refuses what can never be a sensible identifier.
TENANT_ID_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")

_current_tenant: ContextVar[str | None] = ContextVar("relaypoint_current_tenant", default=None)


def validate_tenant_id(tenant_id: object) -> str:
    """Return ``tenant_id`` if it is a usable tenant identifier, else raise a clear error."""
    if not isinstance(tenant_id, str):
        raise InvalidTenantIdError(f"tenant id must be a string, got {type(tenant_id).__name__}")
    if not TENANT_ID_PATTERN.match(tenant_id) or tenant_id.strip() != tenant_id:
        raise InvalidTenantIdError(
            f"tenant id {tenant_id!r} is not allowed: use 1-{TENANT_ID_MAX_LENGTH} printable "
            "characters without leading or trailing whitespace"
        )
    return tenant_id


def current_tenant() -> str | None:
    """The tenant bound to this context, or ``None`` outside any tenant."""
    return _current_tenant.get()


def get_current_tenant() -> str:
    """The tenant bound to this context; raises `NoTenantError` when there is none."""
    tenant = _current_tenant.get()
    if tenant is None:
        raise NoTenantError(
            "no tenant is bound to this context: run inside the tenancy middleware, or bind one "
            "with `with tenant_scope(tenant_id):` in background jobs"
        )
    return tenant


def set_current_tenant(tenant_id: str | None) -> Token[str | None]:
    """Bind ``tenant_id`` (or clear it with ``None``); returns a token for `reset_current_tenant`."""
    if tenant_id is not None:
        validate_tenant_id(tenant_id)
    return _current_tenant.set(tenant_id)


def reset_current_tenant(token: Token[str | None]) -> None:
    """Restore the tenant that was bound before the matching `set_current_tenant`."""
    _current_tenant.reset(token)


@contextmanager
def tenant_scope(tenant_id: str | None) -> Iterator[str | None]:
    """Bind ``tenant_id`` for the duration of a ``with`` block (sync or async code alike)."""
    token = set_current_tenant(tenant_id)
    try:
        yield tenant_id
    finally:
        _current_tenant.reset(token)
