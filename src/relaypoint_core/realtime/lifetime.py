"""Credentials hold for the life of a connection: the lease engine behind expiry and revocation.

Every connection holds a `Lease` on the principal it authenticated as. A sweep (run by the server
every `sweep_interval` seconds, or called directly in tests with a fake clock) finds leases whose
credential expired or was revoked, puts them in a grace period (the client is told and may send
`auth.refresh` with a new credential), and returns the connections whose grace ran out, to be
disconnected. Revocation is asked once per distinct token/family in a sweep, not per connection.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.errors import BackendUnavailableError, ConfigurationError
from relaypoint_core.realtime.credentials import ConnectionAuthenticator, expires_at
from relaypoint_core.request_state import Principal, ResolvedTenant

__all__ = ["Lease", "LeaseState", "LeaseTracker", "Notice", "SweepResult"]

logger = logging.getLogger("relaypoint.realtime")
_CHECK_BATCH = 32


class LeaseState(enum.Enum):
    ACTIVE = "active"
    EXPIRED = "expired"
    """The credential reached its `exp`; the connection is in its grace period."""
    REVOKED = "revoked"
    """The credential (or its session or key) was revoked; the connection is in its grace."""


@dataclass(slots=True)
class Lease:
    """What one connection is authenticated as, and until when."""

    sid: str
    principal: Principal
    tenant: ResolvedTenant | None = None
    expires_at: float | None = None
    state: LeaseState = LeaseState.ACTIVE
    grace_deadline: float | None = None
    rooms: frozenset[str] = field(default_factory=frozenset)
    credential: str = field(default="", repr=False)

    @property
    def active(self) -> bool:
        return self.state is LeaseState.ACTIVE


@dataclass(frozen=True, slots=True)
class Notice:
    """Tell connection `sid` that its credential ended (`auth.expired` / `auth.revoked`)."""

    sid: str
    state: LeaseState
    grace: float

    @property
    def event(self) -> str:
        return f"auth.{self.state.value}"

    def payload(self) -> dict[str, object]:
        return {
            "reason": self.state.value,
            "grace_seconds": self.grace,
            "message": (
                f"your credential {'expired' if self.state is LeaseState.EXPIRED else 'was revoked'}"
                f"; send 'auth.refresh' with {{'token': ...}} within {self.grace:g} s or be "
                "disconnected"
            ),
        }


@dataclass(frozen=True, slots=True)
class SweepResult:
    notices: tuple[Notice, ...] = ()
    disconnect: tuple[Lease, ...] = ()
    revocation_check_failed: bool = False


def _revocation_key(principal: Principal) -> tuple[str | None, str | None, str | None]:
    family = principal.claims.get("fam")
    return (principal.tenant_id, principal.token_id, family if isinstance(family, str) else None)


class LeaseTracker:
    """The leases of one server instance.

    Args:
        clock: Source of wall-clock time (`exp` is wall-clock).
        expiry_grace: Seconds an expired connection may still send `auth.refresh`.
        revocation_grace: Seconds a revoked connection may still send `auth.refresh` (keep it
            short: a revoked session must lose its socket promptly).

    Raises:
        ConfigurationError: A grace is negative.
    """

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        expiry_grace: float = 10.0,
        revocation_grace: float = 0.3,
    ) -> None:
        if expiry_grace < 0 or revocation_grace < 0:
            raise ConfigurationError("realtime grace periods cannot be negative")
        self.clock = clock
        self.expiry_grace = float(expiry_grace)
        self.revocation_grace = float(revocation_grace)
        self._leases: dict[str, Lease] = {}
        self._store_down = False

    def __len__(self) -> int:
        return len(self._leases)

    def __contains__(self, sid: object) -> bool:
        return sid in self._leases

    def get(self, sid: str) -> Lease | None:
        return self._leases.get(sid)

    def leases(self) -> Iterable[Lease]:
        return tuple(self._leases.values())

    def add(
        self,
        sid: str,
        principal: Principal,
        *,
        tenant: ResolvedTenant | None = None,
        rooms: frozenset[str] = frozenset(),
        credential: str = "",
    ) -> Lease:
        lease = Lease(
            sid, principal, tenant, expires_at(principal), rooms=rooms, credential=credential
        )
        self._leases[sid] = lease
        return lease

    def remove(self, sid: str) -> Lease | None:
        return self._leases.pop(sid, None)

    def renew(
        self, sid: str, principal: Principal, *, rooms: frozenset[str], credential: str = ""
    ) -> Lease | None:
        """Replace the lease's principal after a successful `auth.refresh`; back to active."""
        lease = self._leases.get(sid)
        if lease is None:
            return None
        lease.principal = principal
        lease.expires_at = expires_at(principal)
        lease.state = LeaseState.ACTIVE
        lease.grace_deadline = None
        lease.rooms = rooms
        lease.credential = credential
        return lease

    def _start_grace(self, lease: Lease, state: LeaseState, now: float) -> Notice:
        grace = self.expiry_grace if state is LeaseState.EXPIRED else self.revocation_grace
        lease.state = state
        lease.grace_deadline = now + grace
        return Notice(lease.sid, state, grace)

    def expire_due(self) -> SweepResult:
        """Start the grace of every lease past `exp`; hand back those whose grace is over."""
        now = self.clock.time()
        notices: list[Notice] = []
        gone: list[Lease] = []
        for lease in tuple(self._leases.values()):
            if lease.active and lease.expires_at is not None and lease.expires_at <= now:
                notices.append(self._start_grace(lease, LeaseState.EXPIRED, now))
            if (
                not lease.active
                and lease.grace_deadline is not None
                and lease.grace_deadline <= now
            ):
                gone.append(lease)
                del self._leases[lease.sid]
        return SweepResult(tuple(notices), tuple(gone))

    async def revoke_due(self, authenticator: ConnectionAuthenticator) -> SweepResult:
        """Ask `authenticator` once per distinct credential whether it was revoked.

        A revocation store that cannot be reached keeps every connection as it is (fail open, as
        for HTTP requests that verify without the store); the state change is logged once.
        """
        groups: dict[tuple[str | None, str | None, str | None], list[Lease]] = {}
        for lease in self._leases.values():
            if lease.active:
                groups.setdefault(_revocation_key(lease.principal), []).append(lease)
        if not groups:
            return SweepResult()
        members = list(groups.values())
        answers: list[bool | BaseException] = []
        # In batches: a thousand families must not open a thousand store connections at once.
        for start in range(0, len(members), _CHECK_BATCH):
            answers += await asyncio.gather(
                *(
                    authenticator.is_revoked(group[0].principal, group[0].credential)
                    for group in members[start : start + _CHECK_BATCH]
                ),
                return_exceptions=True,
            )
        failed = any(isinstance(a, BaseException) for a in answers)
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(
                answer, BackendUnavailableError | OSError | TimeoutError
            ):
                logger.error("realtime revocation check failed", exc_info=answer)
        self._note_store_state(failed)
        now = self.clock.time()
        notices = [
            self._start_grace(lease, LeaseState.REVOKED, now)
            for group, answer in zip(members, answers, strict=True)
            if answer is True
            for lease in group
            if lease.active
        ]
        return SweepResult(tuple(notices), (), failed)

    def revoke(self, sid: str) -> Notice | None:
        """Start the revocation grace of one connection now (for a push from the app)."""
        lease = self._leases.get(sid)
        if lease is None or not lease.active:
            return None
        return self._start_grace(lease, LeaseState.REVOKED, self.clock.time())

    def _note_store_state(self, failed: bool) -> None:
        if failed and not self._store_down:
            logger.warning(
                "realtime: the revocation store cannot be reached; connections stay open until "
                "it answers again (revocations are enforced once it does)"
            )
        elif not failed and self._store_down:
            logger.warning("realtime: the revocation store answers again")
        self._store_down = failed
