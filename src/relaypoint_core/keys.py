"""The one Redis key scheme every RelayPoint component uses.

A key is ``<prefix><component>:{t=<tenant>}:<part>:<part>...``. The ``{...}`` hash tag puts every
key of one tenant scope in the same Redis Cluster slot, so one Lua script can touch them all.
Tenant ids and key parts are escaped so that no input can forge a separator, a hash tag or a glob
character and reach into another tenant's keys: ``:``, ``{``, ``}``, ``*``, ``?``, ``[``, ``]``,
``\\``, ``%`` and whitespace/control characters become ``%XX`` (UTF-8 bytes), an injective map.
"""

from __future__ import annotations

import re

from relaypoint_core.errors import ConfigurationError

__all__ = ["DEFAULT_KEY_PREFIX", "KeyScheme", "escape_glob", "escape_key_part"]

DEFAULT_KEY_PREFIX = "rp:"

_UNSAFE = re.compile(r"[:{}*?\[\]\\%\s\x00-\x1f\x7f]")
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{0,64}:?$")


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group(0).encode("utf-8"))


# Key parts repeat (tenant ids, namespaces, cache keys, rate-limit identities), and escaping one
# is a regex substitution with a callback on every Redis call; a bounded memo answers the
# repeats with one dict lookup. Only short parts are kept, and the memo is emptied when full, so
# hostile input can neither grow it nor make it slower than no memo at all.
_ESCAPED: dict[str, str] = {}
_ESCAPED_MAX_ENTRIES = 4096
_ESCAPED_MAX_LENGTH = 256


def escape_key_part(part: str) -> str:
    """Escape one key component so it cannot contain a separator, hash tag or glob character.

    Args:
        part: any string (a tenant id, a user key, a cache key).

    Returns:
        ``part`` with every unsafe character replaced by ``%XX`` (its UTF-8 bytes).
    """
    escaped = _ESCAPED.get(part)
    if escaped is None:
        escaped = _UNSAFE.sub(_percent, part)
        if len(part) <= _ESCAPED_MAX_LENGTH:
            if len(_ESCAPED) >= _ESCAPED_MAX_ENTRIES:
                _ESCAPED.clear()
            _ESCAPED[part] = escaped
    return escaped


def escape_glob(literal: str) -> str:
    """Escape a literal (already key-escaped) string for use inside a Redis ``SCAN MATCH`` glob."""
    return _GLOB_SPECIAL.sub(r"\\\1", literal)


class KeyScheme:
    """Builds keys for one component (``"rl"``, ``"cache"``, ``"auth"``) under a common prefix."""

    __slots__ = ("_base", "component", "prefix")

    def __init__(self, component: str, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        if not _PREFIX_PATTERN.match(prefix):
            raise ConfigurationError(
                f"key prefix {prefix!r} is not allowed: use up to 64 letters, digits, '_', '.', "
                "'-', optionally ending in ':'"
            )
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,15}", component):
            raise ConfigurationError(f"component name {component!r} must be short lowercase")
        self.prefix = prefix
        self.component = component
        self._base = f"{prefix}{component}:"

    def tenant_tag(self, tenant_id: str | None) -> str:
        """The hash tag of a tenant scope; ``None`` is the platform scope ``{t=_}``."""
        if tenant_id is None:
            return "{t=_}"
        # '=' prefix keeps a tenant literally called "_" apart from the platform scope.
        return "{t==" + escape_key_part(tenant_id) + "}"

    def tenant_prefix(self, tenant_id: str | None) -> str:
        """Everything before the parts: ``rp:cache:{t==acme}:``."""
        return f"{self._base}{self.tenant_tag(tenant_id)}:"

    def key(self, tenant_id: str | None, *parts: str) -> str:
        """A full key; every part is escaped."""
        return self.tenant_prefix(tenant_id) + ":".join(escape_key_part(p) for p in parts)

    def component_prefix(self) -> str:
        """Every key of this component starts with this (``rp:cache:``)."""
        return self._base
