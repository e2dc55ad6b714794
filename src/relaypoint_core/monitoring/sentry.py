"""Optional Sentry error reporting, switched on by ``SENTRY_DSN``.

``sentry_sdk`` is imported only when a DSN is configured, so the bare install neither needs nor
loads it; with a DSN but without the package, start-up fails with a message naming
``relaypoint[sentry]``. Events are tagged with the current tenant (from
`relaypoint_core.tenant_context`) and Sentry's own defaults decide what personal data is sent (none, unless you opt in
through its options).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from relaypoint_core.config import RelayPointSettings
from relaypoint_core.optional import require_module
from relaypoint_core.tenant_context import current_tenant

__all__ = ["SENTRY_DSN_ENV", "init_sentry", "init_sentry_from_settings", "tenant_tagger"]

SENTRY_DSN_ENV = "SENTRY_DSN"

Event = dict[str, Any]
BeforeSend = Callable[[Event, dict[str, Any]], Event | None]


def tenant_tagger(chained: BeforeSend | None = None) -> BeforeSend:
    """A ``before_send`` hook that tags each event with ``tenant_id``, then calls ``chained``."""

    def before_send(event: Event, hint: dict[str, Any]) -> Event | None:
        tenant = current_tenant()
        if tenant is not None:
            tags = event.setdefault("tags", {})
            if isinstance(tags, dict):
                tags.setdefault("tenant_id", tenant)
        return chained(event, hint) if chained is not None else event

    return before_send


def init_sentry(
    dsn: str | None = None,
    *,
    environment: str | None = None,
    release: str | None = None,
    traces_sample_rate: float = 0.0,
    **options: Any,
) -> bool:
    """Initialise Sentry when ``dsn`` (or ``SENTRY_DSN``) is set; ``False`` when it is not.

    Extra keyword arguments go to ``sentry_sdk.init`` unchanged (``transport``, ``integrations``,
    ...). A ``before_send`` you pass runs after the tenant tag is added.
    """
    dsn = dsn or os.environ.get(SENTRY_DSN_ENV) or None
    if dsn is None:
        return False
    if not 0.0 <= traces_sample_rate <= 1.0:
        raise ValueError(f"traces_sample_rate must be between 0 and 1, got {traces_sample_rate}")
    sentry_sdk = require_module("sentry_sdk", extra="sentry", feature="Sentry error reporting")
    options["before_send"] = tenant_tagger(options.get("before_send"))
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or os.environ.get("ENVIRONMENT") or None,
        release=release,
        traces_sample_rate=traces_sample_rate,
        **options,
    )
    return True


def init_sentry_from_settings(settings: RelayPointSettings, **options: Any) -> bool:
    """`init_sentry` with ``SENTRY_DSN`` and ``ENVIRONMENT`` taken from ``settings``."""
    return init_sentry(settings.SENTRY_DSN, environment=settings.ENVIRONMENT, **options)
