"""The one set of validators of the tenancy package: slugs and the SQL identifiers derived from
them, names, email addresses, domain names and role names.

Runs before any SQL is built. A slug is ``[a-z0-9]`` words joined by single hyphens, starting with a
letter, 2-48 characters; schema and database names derive from it injectively (``-`` -> ``_``,
and a slug can never contain ``_``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from relaypoint_core.rbac.roles import Role
from relaypoint_tenancy.errors import DomainError, InvalidSlugError, TenancyError

__all__ = [
    "DOMAIN_PATTERN",
    "EMAIL_MAX_LENGTH",
    "EMAIL_PATTERN",
    "RESERVED_NAMES",
    "SLUG_MAX_LENGTH",
    "SLUG_PATTERN",
    "clean_domain",
    "clean_email",
    "clean_name",
    "clean_roles",
    "database_name_for",
    "is_email",
    "quote_identifier",
    "schema_name_for",
    "validate_identifier",
    "validate_slug",
]

SLUG_MAX_LENGTH = 48
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
IDENTIFIER_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
POSTGRES_IDENTIFIER_MAX = 63

EMAIL_MAX_LENGTH = 254
# One pattern for every address (users, admins, branding's support email). Deliberately
# conservative: an RFC 5322 dot-atom local part (no spaces, quotes, angle brackets or control
# characters) and a dotted domain ending in a letter-only top-level label.
EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
DOMAIN_PATTERN = re.compile(r"(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_ROLE_NAMES = frozenset(role.value for role in Role)

# Names a tenant may never take: PostgreSQL's own schemas and databases, and host labels or path
# words the platform itself uses (a tenant called "www" or "api" would shadow them).
RESERVED_NAMES = frozenset(
    {
        "public",
        "information_schema",
        "pg_catalog",
        "pg_toast",
        "postgres",
        "template0",
        "template1",
        "default",
        "tenant",
        "tenants",
        "admin",
        "api",
        "app",
        "auth",
        "www",
        "mail",
        "static",
        "assets",
        "docs",
        "health",
        "metrics",
        "status",
        "system",
        "root",
        "null",
        "none",
        "relaypoint",
    }
)


def _is_reserved(name: str) -> bool:
    lowered = name.lower()
    normalised = lowered.replace("-", "_")
    return (
        lowered in RESERVED_NAMES
        or normalised in RESERVED_NAMES
        or normalised.startswith("pg_")
        or normalised == "pg"
    )


def validate_slug(slug: object) -> str:
    """Return ``slug`` if it is a valid tenant slug, else raise `InvalidSlugError`."""
    if not isinstance(slug, str):
        raise InvalidSlugError(f"tenant slug must be a string, got {type(slug).__name__}")
    if _is_reserved(slug):
        raise InvalidSlugError(f"tenant slug {slug!r} is reserved; choose another slug")
    if not 2 <= len(slug) <= SLUG_MAX_LENGTH or SLUG_PATTERN.fullmatch(slug) is None:
        raise InvalidSlugError(
            f"tenant slug {slug!r} is not allowed: use 2-{SLUG_MAX_LENGTH} characters, lowercase "
            "ASCII letters and digits in words joined by single hyphens, starting with a letter "
            "(for example 'acme-corp')"
        )
    return slug


def validate_identifier(name: object, *, what: str = "identifier") -> str:
    """Return ``name`` if it is a safe, non-reserved PostgreSQL identifier (schema, database, role)."""
    if not isinstance(name, str):
        raise InvalidSlugError(f"{what} must be a string, got {type(name).__name__}")
    if _is_reserved(name):
        raise InvalidSlugError(f"{what} {name!r} is reserved by PostgreSQL or the platform")
    if len(name) > POSTGRES_IDENTIFIER_MAX or IDENTIFIER_PATTERN.fullmatch(name) is None:
        raise InvalidSlugError(
            f"{what} {name!r} is not allowed: use at most {POSTGRES_IDENTIFIER_MAX} characters of "
            "lowercase ASCII letters, digits and underscores, not starting with a digit"
        )
    return name


def schema_name_for(slug: str, *, prefix: str = "tenant_") -> str:
    """The PostgreSQL schema that holds ``slug``'s tables."""
    return validate_identifier(prefix + validate_slug(slug).replace("-", "_"), what="schema name")


def database_name_for(slug: str, *, prefix: str = "rp_tenant_") -> str:
    """The database that holds ``slug``'s tables under the database-per-tenant strategy."""
    return validate_identifier(prefix + validate_slug(slug).replace("-", "_"), what="database name")


def quote_identifier(name: str, *, what: str = "identifier") -> str:
    """Double-quote a validated identifier for the few statements that cannot bind it (DDL)."""
    return '"' + validate_identifier(name, what=what) + '"'


def is_email(value: object) -> bool:
    """Whether ``value`` is an email address by `EMAIL_PATTERN` (local part at most 64 chars)."""
    if not isinstance(value, str) or len(value) > EMAIL_MAX_LENGTH:
        return False
    local, _, _ = value.partition("@")
    return len(local) <= 64 and EMAIL_PATTERN.fullmatch(value) is not None


def clean_email(email: object) -> str:
    """``email`` stripped and lower-cased; raises `TenancyError` when it is not an address."""
    if not isinstance(email, str) or not is_email(email.strip()):
        raise TenancyError(f"{email!r} is not a valid email address")
    return email.strip().lower()


def clean_name(name: object, *, what: str, max_length: int = 200) -> str:
    """``name`` stripped; raises `TenancyError` when empty, too long or with control characters."""
    if not isinstance(name, str) or not name.strip():
        raise TenancyError(f"{what} must be a non-empty string")
    cleaned = name.strip()
    if len(cleaned) > max_length or any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise TenancyError(
            f"{what} must be at most {max_length} characters without control characters"
        )
    return cleaned


def clean_domain(domain: object) -> str:
    """``domain`` lower-cased without a trailing dot; raises `DomainError` when not a host name."""
    if not isinstance(domain, str):
        raise DomainError("domain must be a string")
    cleaned = domain.strip().lower().rstrip(".")
    if DOMAIN_PATTERN.fullmatch(cleaned) is None:
        raise DomainError(f"{domain!r} is not a valid domain name (e.g. 'app.acme.com')")
    return cleaned


def clean_roles(roles: Iterable[object]) -> list[str]:
    """The distinct role names, sorted; raises `TenancyError` naming any unknown role."""
    names = sorted({str(role) for role in roles})
    unknown = [name for name in names if name not in _ROLE_NAMES]
    if unknown:
        raise TenancyError(f"unknown role(s) {unknown}; choose from {sorted(_ROLE_NAMES)}")
    return names
