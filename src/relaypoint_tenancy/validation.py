"""Validation of every identifier that ends up in SQL as an identifier (slugs, schemas, databases).

Runs before any SQL is built. A slug is ``[a-z0-9]`` words joined by single hyphens, starting with a
letter, 2-48 characters; schema and database names derive from it injectively (``-`` -> ``_``,
and a slug can never contain ``_``).
"""

from __future__ import annotations

import re

from relaypoint_tenancy.errors import InvalidSlugError

__all__ = [
    "RESERVED_NAMES",
    "SLUG_MAX_LENGTH",
    "SLUG_PATTERN",
    "database_name_for",
    "quote_identifier",
    "schema_name_for",
    "validate_identifier",
    "validate_slug",
]

SLUG_MAX_LENGTH = 48
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
IDENTIFIER_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
POSTGRES_IDENTIFIER_MAX = 63

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
