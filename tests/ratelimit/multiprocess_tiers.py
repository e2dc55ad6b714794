"""Tiers shared by the multi-process test and its worker processes."""

from __future__ import annotations

from relaypoint_ratelimit import Tier, TierSet, Window

USER_WINDOW = Window(25, 1.0, name="short", buckets=8)
TENANT_WINDOW = Window(1_000, 2.0, name="long", buckets=10)
TIERS = TierSet([Tier("USER", [USER_WINDOW]), Tier("TENANT", [TENANT_WINDOW])])
