"""Errors raised by `relaypoint_core.monitoring`."""

from __future__ import annotations

from relaypoint_core.errors import ConfigurationError, RelayPointError

__all__ = ["HealthCheckRegistrationError", "InvalidTimeWindowError", "MonitoringConfigurationError"]


class InvalidTimeWindowError(RelayPointError, ValueError):
    """A report's ``time_window`` is not a duration like ``"30s"``, ``"15m"``, ``"1h"`` or ``"1h30m"``."""

    http_status = 400
    problem_title = "Invalid time window"
    problem_slug = "invalid-time-window"
    expose_detail = True


class HealthCheckRegistrationError(RelayPointError, ValueError):
    """A health check was registered with a bad name, a non-callable or a non-positive timeout."""


class MonitoringConfigurationError(ConfigurationError):
    """Monitoring was configured in a way that cannot work (e.g. a missing multiprocess directory)."""
