"""Errors raised by relaypoint_tenancy; each message says what is wrong and what to do."""

from __future__ import annotations

from relaypoint_core.errors import (
    AuthorizationError,
    ConfigurationError,
    ConflictError,
    InvalidTenantIdError,
    RelayPointError,
)

__all__ = [
    "BrandingValidationError",
    "ConcurrentUpdateError",
    "DomainError",
    "InvalidSlugError",
    "MigrationError",
    "PlanChangeDeniedError",
    "QuotaExceeded",
    "TenancyConfigurationError",
    "TenancyError",
    "TenantExistsError",
    "TenantMismatchError",
    "TenantNotFoundError",
    "TenantSuspendedError",
]


class TenancyError(RelayPointError):
    """Base class of every tenancy error."""

    http_status = 400
    problem_title = "Bad tenant request"
    problem_slug = "tenancy-error"
    expose_detail = True


class TenancyConfigurationError(TenancyError, ConfigurationError):
    """The tenancy set-up (strategy, database URL, role) cannot work as configured."""

    http_status = 500
    problem_title = "Server misconfigured"
    problem_slug = "configuration-error"
    expose_detail = False


class InvalidSlugError(TenancyError, InvalidTenantIdError):
    """A tenant slug, schema name or database name failed validation; nothing reached SQL."""

    http_status = 400
    problem_title = "Invalid tenant id"
    problem_slug = "invalid-tenant-id"
    expose_detail = True


class TenantNotFoundError(TenancyError, LookupError):
    """No tenant with this slug or id exists."""

    http_status = 404
    problem_title = "Tenant not found"
    problem_slug = "tenant-not-found"
    expose_detail = True

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(f"tenant {tenant!r} does not exist")


class TenantExistsError(TenancyError):
    """A tenant with this slug already exists; slugs are unique and never reused while in use."""

    http_status = 409
    problem_title = "Tenant exists"
    problem_slug = "tenant-exists"
    expose_detail = True


class TenantSuspendedError(TenancyError):
    """The tenant is suspended: its requests are refused until it is reactivated."""

    http_status = 403
    problem_title = "Tenant suspended"
    problem_slug = "tenant-suspended"
    expose_detail = True

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        super().__init__(
            f"tenant {tenant!r} is suspended; reactivate it (or upgrade its plan) to restore access"
        )


class DomainError(TenancyError):
    """A custom domain is malformed, already claimed, unknown or failed verification."""

    http_status = 400
    problem_title = "Invalid domain"
    problem_slug = "domain-error"
    expose_detail = True


class BrandingValidationError(TenancyError, ValueError):
    """A branding configuration was refused; ``errors`` lists each field and why."""

    http_status = 422
    problem_title = "Invalid branding"
    problem_slug = "invalid-branding"
    expose_detail = True

    def __init__(self, message: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(message)


class QuotaExceeded(TenancyError):
    """Consuming ``requested`` more of ``resource`` would exceed the tenant's ``limit``."""

    http_status = 403
    problem_title = "Quota exceeded"
    problem_slug = "quota-exceeded"
    expose_detail = True

    def __init__(
        self, *, tenant: str, resource: str, limit: int, used: int, requested: int
    ) -> None:
        self.tenant = tenant
        self.resource = resource
        self.limit = limit
        self.used = used
        self.requested = requested
        super().__init__(
            f"quota exceeded for tenant {tenant!r}: {resource} is at {used} of {limit}, "
            f"cannot add {requested}; upgrade the plan or raise the tenant's override"
        )


class MigrationError(TenancyError):
    """Migrating one or more tenants failed; ``failed`` maps tenant slug to the error text."""

    http_status = 500
    problem_title = "Migration failed"
    problem_slug = "migration-failed"
    expose_detail = False

    def __init__(self, message: str, failed: dict[str, str] | None = None) -> None:
        self.failed = dict(failed or {})
        super().__init__(message)


class TenantMismatchError(TenancyError):
    """The caller's token belongs to a different tenant than the one the request addresses."""

    http_status = 403
    problem_title = "Token not valid for this tenant"
    problem_slug = "tenant-mismatch"
    expose_detail = True

    def __init__(self, token_tenant: str, resolved_tenant: str) -> None:
        self.token_tenant = token_tenant
        self.resolved_tenant = resolved_tenant
        super().__init__(
            f"the token was issued for tenant {token_tenant!r} but the request addresses tenant "
            f"{resolved_tenant!r}"
        )


class ConcurrentUpdateError(ConflictError, TenancyError):
    """A versioned write expected ``expected`` but the row is at ``actual``: someone else wrote it
    first. Re-read the row and apply the change again (HTTP 409)."""

    http_status = 409
    problem_title = "Conflict"
    problem_slug = "conflict"
    expose_detail = True

    def __init__(self, *, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the record changed while you edited it (expected version {expected}, it is at "
            f"{actual}); re-read it and apply your change again"
        )


class PlanChangeDeniedError(AuthorizationError, TenancyError):
    """An upgrade was asked for without the role or billing approval it needs (HTTP 403)."""

    http_status = 403
    problem_title = "Plan change not allowed"
    problem_slug = "plan-change-not-allowed"
    expose_detail = True

    def __init__(self, current: str, requested: str) -> None:
        self.current = current
        self.requested = requested
        super().__init__(
            f"upgrading from {current} to {requested} needs a platform administrator or a "
            "completed purchase; downgrades and the current plan can be chosen freely"
        )
