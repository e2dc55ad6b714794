"""Refresh-token rotation: one family per session, reuse detection, and the grace window.

Each refresh rotates the family's current token. Presenting an already-rotated token revokes the
whole family (someone else holds a copy) and is recorded as a security event, except within the
grace window: a concurrent or retried refresh of the token rotated moments ago gets the same new
pair again (sealed with the presented token, see `relaypoint_core.auth.grace`).
`AuthService.refresh` is the public entry point; this module does the work.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from relaypoint_core.audit import AuditAction, AuditOutcome
from relaypoint_core.auth.credentials import TokenPair
from relaypoint_core.auth.errors import TokenInvalidError, TokenReuseError, TokenRevokedError
from relaypoint_core.auth.grace import open_replay, seal_replay
from relaypoint_core.auth.store import RotationOutcome, TokenStore
from relaypoint_core.auth.tokens import REFRESH, TokenCodec, new_token_id
from relaypoint_core.auth.users import UserDirectory

__all__ = ["PairMaker", "Recorder", "roles_claim", "rotate_refresh_token"]

logger = logging.getLogger("relaypoint.auth")

PairMaker = Callable[[str, str | None, Iterable[str], str, str], TokenPair]
"""Builds a pair from (user id, tenant id, roles, family id, refresh token id)."""

_SEQUENCES = (list, tuple)  # a tuple, not ``list | tuple``: no union built per call


Recorder = Callable[..., Awaitable[None]]
"""Records an audit event: ``(action, outcome, *, actor, tenant_id, **details)``."""


def roles_claim(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``roles`` claim of verified ``claims``.

    Raises:
        TokenInvalidError: the claim is not a list of strings.
    """
    roles = claims.get("roles", ())
    if isinstance(roles, _SEQUENCES):
        checked = tuple(roles)
        # A plain loop, not all() over a generator: this runs on every request.
        for role in checked:
            if not isinstance(role, str):
                break
        else:
            return checked
    raise TokenInvalidError("token roles claim is not a list of strings")


async def rotate_refresh_token(
    refresh_token: str,
    *,
    codec: TokenCodec,
    store: TokenStore,
    users: UserDirectory | None,
    make_pair: PairMaker,
    record: Recorder,
    refresh_ttl: int,
    grace: float,
) -> TokenPair:
    """Rotate ``refresh_token`` into a new pair of the same family.

    Args:
        refresh_token: the refresh JWT presented.
        codec: verifies the token.
        store: holds the families.
        users: when given, the user must still exist, be active and belong to the token's
            tenant; their current roles go into the new pair.
        make_pair: signs the new pair.
        record: the audit recorder.
        refresh_ttl: lifetime of the new refresh token, in seconds.
        grace: the reuse grace window in seconds (0 turns it off).

    Returns:
        The new pair, or within the grace window the pair the presented token was rotated into.

    Raises:
        TokenInvalidError: the token is malformed, expired or has no family.
        TokenReuseError: an already-rotated token was presented (the family is now revoked).
        TokenRevokedError: the session was signed out, expired, or its user is gone or inactive.
    """
    claims = codec.decode(refresh_token, token_type=REFRESH)
    user_id: str = claims["sub"]
    tenant_id: str | None = claims.get("tid")
    family_id = claims.get("fam")
    if not isinstance(family_id, str):
        raise TokenInvalidError("refresh token has no family")
    roles: Iterable[str] = roles_claim(claims)
    if users is not None:
        user = await users.get_by_id(user_id)
        if user is None or not user.is_active or user.tenant_id != tenant_id:
            await store.revoke_family(tenant_id, family_id)
            await record(
                AuditAction.REFRESH,
                AuditOutcome.FAILURE,
                actor=user_id,
                tenant_id=tenant_id,
                family=family_id,
                reason="user_gone_or_inactive",
            )
            raise TokenRevokedError("the user of this session no longer exists or is inactive")
        roles = user.roles  # role changes take effect at the next refresh
    new_refresh_id = new_token_id()
    pair = make_pair(user_id, tenant_id, roles, family_id, new_refresh_id)
    rotation = await store.rotate_with_grace(
        tenant_id,
        family_id,
        presented_token_id=claims["jti"],
        new_token_id=new_refresh_id,
        ttl=refresh_ttl + 60,
        grace=grace,
        replay=seal_replay(refresh_token, pair.to_dict()) if grace else b"",
        user_id=user_id,
    )
    outcome = rotation.outcome
    if outcome is RotationOutcome.GRACE and rotation.replay is not None:
        # A concurrent or retried refresh of the token rotated moments ago: same pair.
        return TokenPair.from_dict(open_replay(refresh_token, rotation.replay))
    if outcome is RotationOutcome.REUSED:
        logger.warning(
            "refresh token reuse detected: family %s of user %s in tenant %s revoked",
            family_id,
            user_id,
            tenant_id,
        )
        await record(
            AuditAction.REFRESH_REUSE,
            AuditOutcome.SECURITY_EVENT,
            actor=user_id,
            tenant_id=tenant_id,
            family=family_id,
            token_id=claims["jti"],
        )
        raise TokenReuseError(
            "this refresh token was already used; the session is revoked, sign in again"
        )
    if outcome is not RotationOutcome.ROTATED:
        raise TokenRevokedError("this session was signed out or has expired; sign in again")
    return pair
