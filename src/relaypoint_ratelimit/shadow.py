"""Shadow (dry-run) mode: policies evaluated and counted, never refusing.

A shadow counter is checked and counted in the same backend call as the enforced ones; when it
would have refused, the request passes anyway, the counter is left as an enforced policy would
have left it (the refused cost is not counted), ``relaypoint_ratelimit_would_limit_total`` counts
it, and one log line marks each change of a subject between "would limit" and "would admit".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from relaypoint_ratelimit.decision import PolicySet
from relaypoint_ratelimit.metrics import RateLimitMetrics

__all__ = ["ShadowLog"]

logger = logging.getLogger("relaypoint.ratelimit.shadow")

_MAX_STATES = 100_000


class ShadowLog:
    """Counts would-limit decisions of shadow policies and logs their state changes."""

    __slots__ = ("_limiting", "metrics")

    def __init__(self, metrics: RateLimitMetrics) -> None:
        self.metrics = metrics
        # (subject, policy name) currently in the "would limit" state; absent means admitting.
        self._limiting: set[tuple[object, str]] = set()

    def observe(
        self, subject: object, statics: PolicySet, shadows: Sequence[int], values: Sequence[int]
    ) -> None:
        """Record the backend's answer for the shadow counters of one check.

        Args:
            subject: What identifies the checked subject and policy set (the limiter's plan key).
            statics: The plan's policies.
            shadows: Positions of the shadow policies among them.
            values: The backend's values (used, oldest bucket, retry time per policy).
        """
        for i in shadows:
            static = statics[i]
            would = values[3 * i + 2] != 0
            key = (subject, static[0])
            if would:
                self.metrics.would_limit(static[0], static[2] or "other")
                if key not in self._limiting:
                    if len(self._limiting) >= _MAX_STATES:
                        self._limiting.clear()
                    self._limiting.add(key)
                    logger.info(
                        "relaypoint ratelimit: shadow policy %s would limit %s (limit %d)",
                        static[0],
                        _describe(subject),
                        static[4],
                    )
            elif key in self._limiting:
                self._limiting.discard(key)
                logger.info(
                    "relaypoint ratelimit: shadow policy %s admits %s again",
                    static[0],
                    _describe(subject),
                )

    def limiting(self, subject: object, policy: str) -> bool:
        """Whether ``policy`` is currently in the would-limit state for ``subject``."""
        return (subject, policy) in self._limiting


def _describe(subject: object) -> str:
    fields = subject[0] if isinstance(subject, tuple) and isinstance(subject[0], tuple) else subject
    if isinstance(fields, tuple) and len(fields) == 5:
        user, tenant = fields[0], fields[1]
        return f"user {user!s}" + (f" of tenant {tenant!s}" if tenant else "")
    return repr(subject)
