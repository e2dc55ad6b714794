"""Where cache entries live in Redis, and which names are allowed: pure functions, no I/O.

Every part a user supplies (tenant id, namespace, key, tag) is escaped before it joins a key, so no
combination of them can produce another scope's key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from relaypoint_cache.errors import CacheConfigurationError
from relaypoint_core.keys import KeyScheme, escape_glob, escape_key_part

__all__ = [
    "DEFAULT_NAMESPACE",
    "NAME_PATTERN",
    "check_tags",
    "fence_key",
    "glob_regex",
    "l2_key",
    "lease_key",
    "redis_glob",
    "side_key",
    "version_key",
    "versioned_base",
]

DEFAULT_NAMESPACE = "default"

NAME_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
"""Namespaces and tags: 1-200 printable characters."""


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` any run, ``?`` one character; everything else literal (as documented)."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def redis_glob(pattern: str) -> str:
    """The SCAN MATCH glob for a user pattern over escaped keys: literals escaped, wildcards kept."""
    out = []
    literal: list[str] = []
    for char in pattern:
        if char in "*?":
            out.append(escape_glob(escape_key_part("".join(literal))))
            literal.clear()
            out.append(char)
        else:
            literal.append(char)
    out.append(escape_glob(escape_key_part("".join(literal))))
    return "".join(out)


def versioned_base(tenant_prefix: str, version: str, namespace: str) -> str:
    """Where one tenant namespace's values live: ``rp:cache:{t==acme}:<gen>.<nsver>:<ns>:``.

    ``tenant_prefix`` comes from `KeyScheme.tenant_prefix` (escaped, hash-tagged); the
    namespace is escaped here, and the user key is escaped when appended, so no tenant id,
    namespace or key can produce another scope's key.
    """
    return tenant_prefix + version + ":" + escape_key_part(namespace) + ":"


def l2_key(scheme: KeyScheme, tenant: str | None, namespace: str, key: str, version: str) -> str:
    """The Redis key of one entry (see `versioned_base`)."""
    return versioned_base(scheme.tenant_prefix(tenant), version, namespace) + escape_key_part(key)


def version_key(tenant_prefix: str) -> str:
    """The hash of one tenant's version counters (generation, namespaces, tags)."""
    return tenant_prefix + "!v"


def fence_key(tenant_prefix: str) -> str:
    """The counter that hands out one tenant's lease fencing tokens."""
    return tenant_prefix + "!f"


def side_key(base: str, kind: str) -> str:
    """A helper key beside a versioned base, same hash tag: ``rp:cache:{t==x}:!<kind>:<ver>:<ns>:``."""
    scope_base, _, versioned = base.rpartition("}:")
    return scope_base + "}:!" + kind + ":" + versioned


def lease_key(base: str, key: str) -> str:
    """The lease of one entry's computation, beside its versioned base."""
    return side_key(base, "l") + escape_key_part(key)


def check_tags(tags: Iterable[str]) -> None:
    for tag in tags:
        if not isinstance(tag, str) or not NAME_PATTERN.match(tag):
            raise CacheConfigurationError(
                f"tag {tag!r} is not allowed: use 1-200 printable characters"
            )
