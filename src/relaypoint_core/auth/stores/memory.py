"""In-process token store: exact and atomic within one event loop, lost on restart."""

from __future__ import annotations

from dataclasses import dataclass

from relaypoint_core.auth.store import RotationOutcome
from relaypoint_core.clock import Clock, system_clock

__all__ = ["MemoryTokenStore"]

_SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Family:
    current: str
    revoked: bool
    expires_at: float


class MemoryTokenStore:
    """Families and revocations in dicts, expired by the injected clock.

    Every method runs without awaiting in between, so in one event loop each call is atomic.
    State is per process: with several app instances use the Redis store.
    """

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._families: dict[tuple[str | None, str], _Family] = {}
        self._revoked: dict[tuple[str | None, str], float] = {}
        self._writes = 0

    def _sweep(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY:
            return
        now = self._clock.time()
        for key in [k for k, f in self._families.items() if f.expires_at <= now]:
            del self._families[key]
        for key in [k for k, t in self._revoked.items() if t <= now]:
            del self._revoked[key]

    def _family(self, tenant_id: str | None, family_id: str) -> _Family | None:
        family = self._families.get((tenant_id, family_id))
        if family is not None and family.expires_at <= self._clock.time():
            del self._families[(tenant_id, family_id)]
            return None
        return family

    @property
    def size(self) -> int:
        """Entries currently held (expired ones may linger until the next sweep)."""
        return len(self._families) + len(self._revoked)

    async def create_family(
        self, tenant_id: str | None, family_id: str, *, token_id: str, ttl: float
    ) -> None:
        self._sweep()
        self._families[(tenant_id, family_id)] = _Family(token_id, False, self._clock.time() + ttl)

    async def rotate(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        presented_token_id: str,
        new_token_id: str,
        ttl: float,
    ) -> RotationOutcome:
        family = self._family(tenant_id, family_id)
        if family is None:
            return RotationOutcome.UNKNOWN
        if family.revoked:
            return RotationOutcome.REVOKED
        if family.current != presented_token_id:
            family.revoked = True
            return RotationOutcome.REUSED
        family.current = new_token_id
        family.expires_at = self._clock.time() + ttl
        return RotationOutcome.ROTATED

    async def revoke_family(self, tenant_id: str | None, family_id: str) -> bool:
        family = self._family(tenant_id, family_id)
        if family is None:
            return False
        family.revoked = True
        return True

    async def revoke_token(self, tenant_id: str | None, token_id: str, *, ttl: float) -> None:
        self._sweep()
        if ttl > 0:
            self._revoked[(tenant_id, token_id)] = self._clock.time() + ttl

    async def is_revoked(self, tenant_id: str | None, token_id: str, family_id: str | None) -> bool:
        until = self._revoked.get((tenant_id, token_id))
        if until is not None and until > self._clock.time():
            return True
        if family_id is None:
            return False
        family = self._family(tenant_id, family_id)
        return family is not None and family.revoked

    async def aclose(self) -> None:
        return None
