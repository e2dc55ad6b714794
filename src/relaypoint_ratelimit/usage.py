"""What ``get_usage_stats`` reports: a subject's use of each window, read without counting."""

from __future__ import annotations

from dataclasses import dataclass

from relaypoint_ratelimit.decision import PolicyScope

__all__ = ["UsageStats", "WindowUsage"]


@dataclass(frozen=True, slots=True)
class WindowUsage:
    """Usage of one window: what ``get_usage_stats`` reports per window."""

    name: str
    scope: PolicyScope
    window_seconds: float
    limit: int
    used: int
    remaining: int
    reset_after: float


@dataclass(frozen=True, slots=True)
class UsageStats:
    """A subject's usage per window, read without consuming anything."""

    user_id: str
    tenant_id: str | None
    tier: str | None
    windows: tuple[WindowUsage, ...]
    degraded: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "tenant_id": self.tenant_id,
            "tier": self.tier,
            "degraded": self.degraded,
            "windows": [
                {
                    "name": w.name,
                    "scope": w.scope,
                    "window_seconds": w.window_seconds,
                    "limit": w.limit,
                    "used": w.used,
                    "remaining": w.remaining,
                    "reset": w.reset_after,
                }
                for w in self.windows
            ],
        }
