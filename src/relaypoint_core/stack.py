"""The canonical middleware order, enforced: a misordered stack fails on its first request.

Outermost first (see the "Middleware order" docs page)::

    metrics -> authentication -> rate_limit -> tenancy -> your routes

* ``metrics`` outermost, so 401s, 404s and 429s answered by inner layers are counted;
* ``authentication`` before the limiter, so limits are per verified user and per verified tenant
  (a limiter outside authentication sees every caller as anonymous: per-user limits, tier from
  plan and ``set_user_tier`` would silently stop applying);
* ``rate_limit`` before tenancy, so a flood of lookups of unknown or foreign tenants (404, 403)
  is throttled too; the limiter needs no tenancy result, it charges the token's verified tenant;
* ``tenancy`` after authentication, so the token's tenant is checked against the tenant that the
  path, header or host names (outside authentication that check could never run).

Each RelayPoint middleware calls ``enter_layer`` on the first ``http`` requests it sees; the
call records the layer in the request's scope and raises ``MiddlewareOrderError`` (a
``ConfigurationError``) when a layer that belongs further *inside* already ran. Layers that are not
installed are simply absent: only the relative order of installed layers is checked. Once a
middleware has seen a correctly ordered request it stops checking (the stack cannot change after
start-up), so the steady state costs nothing; a middleware that found a misordering keeps
refusing every later request with the same error.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Literal

from relaypoint_core.errors import ConfigurationError

__all__ = [
    "CANONICAL_ORDER",
    "STACK_STATE_KEY",
    "Layer",
    "LayerGuard",
    "MiddlewareOrderError",
    "enter_layer",
]

Layer = Literal["metrics", "authentication", "rate_limit", "tenancy"]
CANONICAL_ORDER: tuple[Layer, ...] = ("metrics", "authentication", "rate_limit", "tenancy")
STACK_STATE_KEY = "relaypoint.stack"
_RANK = {layer: rank for rank, layer in enumerate(CANONICAL_ORDER)}
_DOCS = "https://docs.relaypoint.ai/middleware-order/"


class MiddlewareOrderError(ConfigurationError):
    """Two RelayPoint middlewares are installed in the wrong order; the message gives the right one."""

    def __init__(self, layer: Layer, inner: Layer) -> None:
        self.layer = layer
        self.inner = inner
        super().__init__(
            f"middleware order: {layer!r} runs inside {inner!r}, but it must wrap it. "
            f"The canonical order, outermost first, is {' -> '.join(CANONICAL_ORDER)} -> routes "
            f"(with FastAPI/Starlette add_middleware, add the innermost first: tenancy, then "
            f"rate limit, then authentication, then metrics). See {_DOCS}"
        )


def enter_layer(scope: MutableMapping[str, Any], layer: Layer) -> None:
    """Record that ``layer`` is handling this request; refuse a misordered stack.

    Args:
        scope: The ASGI scope of an ``http`` or ``websocket`` request.
        layer: Which RelayPoint layer is calling.

    Raises:
        MiddlewareOrderError: A layer that belongs inside ``layer`` already handled the request.
    """
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    seen: list[Layer] | None = state.get(STACK_STATE_KEY)
    if seen is None:
        state[STACK_STATE_KEY] = [layer]
        return
    rank = _RANK[layer]
    for earlier in seen:
        if _RANK[earlier] > rank:
            raise MiddlewareOrderError(layer, earlier)
    seen.append(layer)


class LayerGuard:
    """Per-middleware helper: checks the order until one request passed, then costs nothing.

    Every request keeps being *recorded* until this middleware saw a well-ordered one, so that the
    inner layers can check themselves against it on the same requests.
    """

    __slots__ = ("checked", "error", "layer")

    def __init__(self, layer: Layer) -> None:
        self.layer: Layer = layer
        self.checked = False
        # Sticky: after the first misordered request the outer layer stops recording, so without
        # this only that one request would fail and the broken stack would then run silently.
        self.error: MiddlewareOrderError | None = None

    def __call__(self, scope: MutableMapping[str, Any]) -> None:
        """Check ``scope`` (first requests only).

        Args:
            scope: The request's ASGI scope.

        Raises:
            MiddlewareOrderError: The stack is misordered.
        """
        if self.error is not None:
            raise self.error
        try:
            enter_layer(scope, self.layer)
        except MiddlewareOrderError as error:
            self.error = error
            raise
        self.checked = True
