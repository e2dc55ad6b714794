"""Token store backends, chosen by URL: ``memory://``, ``redis://``, ``rediss://``, ``redis+cluster://``."""

from __future__ import annotations

from relaypoint_core.auth.store import TokenStore
from relaypoint_core.auth.stores.memory import MemoryTokenStore
from relaypoint_core.backend_url import parse_backend_url
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.keys import DEFAULT_KEY_PREFIX

__all__ = ["MemoryTokenStore", "create_token_store"]


def create_token_store(
    url: str | None = None,
    *,
    key_prefix: str = DEFAULT_KEY_PREFIX,
    clock: Clock = system_clock,
) -> TokenStore:
    """The token store for ``url`` (``None``/``memory://``: in-process; Redis needs the extra)."""
    parsed = parse_backend_url(url, component="auth")
    if parsed.kind == "memory":
        return MemoryTokenStore(clock=clock)
    from relaypoint_core.auth.stores.redis import RedisTokenStore

    return RedisTokenStore.from_url(parsed.url, key_prefix=key_prefix, clock=clock)
