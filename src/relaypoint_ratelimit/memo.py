"""The refusal memo: a client refused until T is refused locally until T, at no backend cost.

It only ever refuses what the backend would refuse (capacity frees no earlier than T). Resets and
tier changes clear it; a settlement's refund stales the entries of that caller (the refund may
have made room), checked on lookup so that a refund costs no scan.
"""

from __future__ import annotations

from relaypoint_core.clock import Clock
from relaypoint_ratelimit.decision import Decision

__all__ = ["RefusalMemo"]

_MAX_MEMO = 50_000


class RefusalMemo:
    """Remembered refusals by plan key, with the clock reading they were decided at."""

    __slots__ = ("_clock", "_refunds", "entries")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Changed in place only: the limiter's hot path holds this very dict.
        self.entries: dict[object, tuple[float, Decision]] = {}
        # Identity fields -> when a settlement last refunded their counters.
        self._refunds: dict[object, float] = {}

    def store(self, plan_key: object, decision: Decision) -> None:
        """Remember a refusal until its retry time."""
        if decision.retry_after is None or decision.retry_after <= 0:
            return
        entries = self.entries
        now = self._clock.monotonic()
        if len(entries) >= _MAX_MEMO:
            for key in [k for k, (at, d) in entries.items() if at + (d.retry_after or 0) <= now]:
                del entries[key]
            if len(entries) >= _MAX_MEMO:
                entries.clear()
        entries[plan_key] = (now, decision)

    def lookup(self, plan_key: object) -> Decision | None:
        """The remembered refusal of ``plan_key``, aged to now, or ``None`` once it has lapsed."""
        entry = self.entries.get(plan_key)
        if entry is None:
            return None
        decided_at, decision = entry
        if self._refunds:
            fields = (
                plan_key[0]
                if isinstance(plan_key, tuple) and isinstance(plan_key[0], tuple)
                else plan_key
            )
            refunded_at = self._refunds.get(fields)
            if refunded_at is not None and refunded_at >= decided_at:
                del self.entries[plan_key]  # a refund since may have made room
                return None
        elapsed = self._clock.monotonic() - decided_at
        retry = decision.retry_after or 0.0
        if elapsed >= retry or elapsed < 0:
            del self.entries[plan_key]
            return None
        policies = tuple(
            p._replace(
                reset_after=max(0.0, p.reset_after - elapsed),
                retry_after=None if p.retry_after is None else max(0.0, p.retry_after - elapsed),
            )
            for p in decision.policies
        )
        return decision.replace(
            policies=policies,
            source="memo",
            clock_us=decision.clock_us + int(elapsed * 1_000_000),
            retry_after=retry - elapsed,
        )

    def forget(self, plan_key: object) -> None:
        """Drop one entry."""
        self.entries.pop(plan_key, None)

    def refunded(self, fields: object) -> None:
        """Note that the caller with identity ``fields`` got units back: its refusals lapse."""
        if not self.entries:
            return
        if len(self._refunds) >= _MAX_MEMO:
            self._refunds.clear()
        self._refunds[fields] = self._clock.monotonic()

    def clear(self) -> None:
        """Forget every refusal."""
        self.entries.clear()
        self._refunds.clear()
