"""Let health probes and metric scrapes past a host check, and nothing else.

Kubelet probes and Prometheus pod scrapes address a pod by its IP, so their ``Host`` header is
``10.0.3.7:8000``, never the public name a host allow-list (Starlette's ``TrustedHostMiddleware``,
a proxy's ``server_name``) expects. Exempting them inside the guard is easy to get wrong (a prefix
match exempts ``/health/../api``); this wrapper instead holds two paths through the stack: the
guarded one for every request, and the unguarded inner app for ``GET``/``HEAD`` on a few exact
paths. Anything else, including ``POST /metrics`` or ``/health/live/x``, meets the guard::

    app.add_middleware(
        ProbeHostExemption,
        guard=lambda inner: TrustedHostMiddleware(inner, allowed_hosts=["api.example.com"]),
    )

Nothing here imports a web framework.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from relaypoint_core.asgi_types import ASGIApp, Receive, Scope, Send

__all__ = ["DEFAULT_PROBE_PATHS", "ProbeHostExemption"]

DEFAULT_PROBE_PATHS: tuple[str, ...] = ("/health/live", "/health/ready", "/metrics")
_PROBE_METHODS = frozenset({"GET", "HEAD"})


class ProbeHostExemption:
    """ASGI middleware: ``guard(app)`` for every request except probes of ``paths``.

    Args:
        app: The application (or inner middleware stack) the guard protects.
        guard: Builds the guarded app from ``app``, e.g. a host allow-list middleware.
        paths: Exact request paths answered without the guard for ``GET`` and ``HEAD``.

    Raises:
        ValueError: A path does not start with ``/``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Callable[[ASGIApp], ASGIApp],
        paths: Iterable[str] = DEFAULT_PROBE_PATHS,
    ) -> None:
        self.app = app
        self.guarded = guard(app)
        self.paths = frozenset(paths)
        for path in self.paths:
            if not path.startswith("/"):
                raise ValueError(f"probe paths are absolute request paths, got {path!r}")

    def is_probe(self, scope: Scope) -> bool:
        """Whether ``scope`` may skip the guard.

        Args:
            scope: The ASGI connection scope.

        Returns:
            ``True`` for a ``GET``/``HEAD`` HTTP request of exactly one of the exempt paths.
        """
        return (
            scope["type"] == "http"
            and scope.get("method") in _PROBE_METHODS
            and scope.get("path") in self.paths
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.app if self.is_probe(scope) else self.guarded
        await target(scope, receive, send)
