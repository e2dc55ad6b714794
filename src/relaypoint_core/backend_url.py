"""Parsing the backend URLs that choose a storage implementation (``memory://``, ``redis://`` ...)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from relaypoint_core.errors import ConfigurationError

__all__ = ["MEMORY_SCHEMES", "REDIS_SCHEMES", "BackendURL", "parse_backend_url"]

MEMORY_SCHEMES = frozenset({"memory"})
REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+cluster", "rediss+cluster", "unix"})


@dataclass(frozen=True, slots=True)
class BackendURL:
    """A validated backend URL; ``kind`` is ``"memory"`` or ``"redis"``."""

    url: str
    scheme: str
    kind: str

    @property
    def is_cluster(self) -> bool:
        return self.scheme.endswith("+cluster")

    def redis_py_url(self) -> str:
        """The URL as redis-py understands it (``redis+cluster://`` becomes ``redis://``)."""
        if self.is_cluster:
            return self.scheme.removesuffix("+cluster") + self.url[len(self.scheme) :]
        return self.url


def parse_backend_url(url: str | None, *, component: str) -> BackendURL:
    """Validate ``url`` for ``component``; ``None`` or ``""`` means the in-memory backend."""
    if not url:
        return BackendURL("memory://", "memory", "memory")
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"{component}: backend URL {url!r} is not a URL; use memory://, redis://host:6379/0, "
            "rediss://... or redis+cluster://host:port"
        )
    scheme = urlsplit(url).scheme.lower()
    if scheme in MEMORY_SCHEMES:
        return BackendURL(url, scheme, "memory")
    if scheme in REDIS_SCHEMES:
        return BackendURL(url, scheme, "redis")
    raise ConfigurationError(
        f"{component}: unsupported backend scheme {scheme!r} in {url!r}; supported: "
        + ", ".join(sorted(MEMORY_SCHEMES | REDIS_SCHEMES))
    )
