"""relaypoint_ratelimit (under construction: its public API lands with its issue)."""

from __future__ import annotations

__all__: list[str] = []
