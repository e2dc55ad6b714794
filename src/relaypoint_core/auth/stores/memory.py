"""In-process token store: exact and atomic within one event loop, lost on restart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from relaypoint_core.auth.store import Rotation, RotationOutcome, SessionInfo, TokenStore
from relaypoint_core.clock import Clock, system_clock

__all__ = ["MemoryTokenStore"]

_SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Family:
    current: str
    revoked: bool
    expires_at: float
    user_id: str | None = None
    created_at: float = 0.0
    last_used_at: float = 0.0
    client: dict[str, str] = field(default_factory=dict)
    previous: str | None = None
    grace_until: float = 0.0
    replay: bytes | None = None


class MemoryTokenStore(TokenStore):
    """Families and revocations in dicts, expired by the injected clock.

    Every method runs without awaiting in between, so in one event loop each call is atomic.
    State is per process: with several app instances use the Redis store.
    """

    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self._families: dict[tuple[str | None, str], _Family] = {}
        self._revoked: dict[tuple[str | None, str], float] = {}
        self._users: dict[tuple[str | None, str], set[str]] = {}
        self._not_before: dict[tuple[str | None, str], tuple[float, float]] = {}
        self._epoch = 0
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
        for key in [k for k, (_, until) in self._not_before.items() if until <= now]:
            del self._not_before[key]
        for key, families in list(self._users.items()):
            families.intersection_update(f for f in families if (key[0], f) in self._families)
            if not families:
                del self._users[key]

    def _family(self, tenant_id: str | None, family_id: str) -> _Family | None:
        family = self._families.get((tenant_id, family_id))
        if family is not None and family.expires_at <= self._clock.time():
            del self._families[(tenant_id, family_id)]
            return None
        return family

    @property
    def size(self) -> int:
        """Entries currently held (expired ones may linger until the next sweep)."""
        return len(self._families) + len(self._revoked) + len(self._not_before)

    async def create_family(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        token_id: str,
        ttl: float,
        user_id: str | None = None,
        client: Mapping[str, str] | None = None,
    ) -> None:
        self._sweep()
        now = self._clock.time()
        self._families[(tenant_id, family_id)] = _Family(
            token_id, False, now + ttl, user_id, now, now, dict(client or {})
        )
        if user_id is not None:
            self._users.setdefault((tenant_id, user_id), set()).add(family_id)

    async def rotate_with_grace(
        self,
        tenant_id: str | None,
        family_id: str,
        *,
        presented_token_id: str,
        new_token_id: str,
        ttl: float,
        grace: float,
        replay: bytes,
        user_id: str | None = None,
    ) -> Rotation:
        family = self._family(tenant_id, family_id)
        if family is None:
            return Rotation(RotationOutcome.UNKNOWN)
        if family.revoked:
            return Rotation(RotationOutcome.REVOKED)
        now = self._clock.time()
        if family.current != presented_token_id:
            if presented_token_id == family.previous and now < family.grace_until:
                return Rotation(RotationOutcome.GRACE, family.replay)
            family.revoked = True
            return Rotation(RotationOutcome.REUSED)
        family.previous = presented_token_id if grace > 0 else None
        family.grace_until = now + grace
        family.replay = replay if grace > 0 else None
        family.current = new_token_id
        family.last_used_at = now
        family.expires_at = now + ttl
        return Rotation(RotationOutcome.ROTATED)

    async def revoke_family(self, tenant_id: str | None, family_id: str) -> bool:
        family = self._family(tenant_id, family_id)
        if family is None:
            return False
        family.revoked = True
        family.replay = None
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

    async def list_sessions(self, tenant_id: str | None, user_id: str) -> list[SessionInfo]:
        sessions = []
        for family_id in sorted(self._users.get((tenant_id, user_id), ())):
            family = self._family(tenant_id, family_id)
            if family is None or family.revoked:
                continue
            sessions.append(
                SessionInfo(
                    family_id, user_id, family.created_at, family.last_used_at, dict(family.client)
                )
            )
        return sorted(sessions, key=lambda s: (s.created_at, s.family_id))

    async def revoke_user(
        self, tenant_id: str | None, user_id: str, *, not_before: float, ttl: float
    ) -> int:
        self._sweep()
        revoked = 0
        for family_id in self._users.pop((tenant_id, user_id), set()):
            family = self._family(tenant_id, family_id)
            if family is not None and not family.revoked:
                family.revoked = True
                family.replay = None
                revoked += 1
        key = (tenant_id, user_id)
        previous = self._not_before.get(key, (0.0, 0.0))[0]
        self._not_before[key] = (max(previous, not_before), self._clock.time() + ttl)
        self._epoch += 1
        return revoked

    async def not_before(self, tenant_id: str | None, user_id: str) -> float | None:
        entry = self._not_before.get((tenant_id, user_id))
        if entry is None or entry[1] <= self._clock.time():
            return None
        return entry[0]

    async def epoch(self) -> int:
        return self._epoch

    async def aclose(self) -> None:
        return None
