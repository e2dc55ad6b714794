"""Framework-free HTTP middlewares every API puts in front of its routes.

* `SecurityHeadersMiddleware`: a strict Content-Security-Policy and the usual hardening headers
  on every response, HSTS only over HTTPS, ``Cache-Control: no-store`` on API paths;
* `GZipMiddleware`: gzip for clients that accept it, above a size, never for event streams.

Both are pure ASGI (no Starlette import) and precompute what they add, so a request pays a
header scan and a list extension, not a header-object construction per layer.
"""

from __future__ import annotations

from relaypoint_core.http.compression import GZipMiddleware, accepts_gzip
from relaypoint_core.http.security_headers import (
    DEFAULT_CSP,
    DEFAULT_HSTS,
    HARDENING_HEADERS,
    SecurityHeadersMiddleware,
)

__all__ = [
    "DEFAULT_CSP",
    "DEFAULT_HSTS",
    "HARDENING_HEADERS",
    "GZipMiddleware",
    "SecurityHeadersMiddleware",
    "accepts_gzip",
]
