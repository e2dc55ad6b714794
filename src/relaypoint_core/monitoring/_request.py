"""The request the metrics middleware is measuring, visible to decorators running inside it."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["RequestMeasurement", "current_measurement"]


class RequestMeasurement:
    """Mutable per-request notes; ``route`` set by ``@track_api_metrics`` overrides the router's."""

    __slots__ = ("route",)

    def __init__(self) -> None:
        self.route: str | None = None


current_measurement: ContextVar[RequestMeasurement | None] = ContextVar(
    "relaypoint_metrics_request", default=None
)
