"""``AuthService``: login, refresh with rotation and reuse detection, logout, token verification.

Access tokens are short-lived (30 minutes by default) and verified without a store round trip
unless ``check_access_revocation=True``, repeat ones from a cache (``verified_token_cache_size``).
Refresh tokens belong to a family rotated on each refresh; reuse detection and the refresh grace
window (``refresh_grace`` seconds, 10 by default) live in `relaypoint_core.auth.refresh`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from relaypoint_core.audit import AuditAction, AuditLog, AuditOutcome, LoggingAuditLog, make_event
from relaypoint_core.auth.credentials import CredentialVerifier, TokenPair
from relaypoint_core.auth.errors import (
    AuthorizationError,
    InvalidCredentialsError,
    TokenInvalidError,
    TokenRevokedError,
)
from relaypoint_core.auth.keys import KeyRing
from relaypoint_core.auth.passwords import hash_password, needs_rehash, verify_password
from relaypoint_core.auth.refresh import roles_claim, rotate_refresh_token
from relaypoint_core.auth.sessions import SessionManager
from relaypoint_core.auth.signing import key_ring_from_settings
from relaypoint_core.auth.store import SessionInfo, TokenStore
from relaypoint_core.auth.stores import create_token_store
from relaypoint_core.auth.tokens import ACCESS, REFRESH, TokenCodec, new_token_id
from relaypoint_core.auth.users import UserDirectory, UserRecord
from relaypoint_core.auth.verified_cache import DEFAULT_VERIFIED_TOKEN_CACHE_SIZE
from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.config import RelayPointSettings
from relaypoint_core.errors import ConfigurationError
from relaypoint_core.keys import DEFAULT_KEY_PREFIX
from relaypoint_core.monitoring.monitor import PerformanceMonitor, performance_monitor
from relaypoint_core.rbac.checker import Decision, PermissionChecker
from relaypoint_core.request_state import Principal

__all__ = ["AuthService", "CredentialVerifier", "TokenPair"]

logger = logging.getLogger("relaypoint.auth")

DEFAULT_ACCESS_TTL = 30 * 60
DEFAULT_REFRESH_TTL = 14 * 24 * 3600
DEFAULT_REFRESH_GRACE = 10.0

_default_checker = PermissionChecker()


class AuthService:
    """Issues and verifies tokens for users found through a `UserDirectory`."""

    def __init__(
        self,
        *,
        keys: KeyRing,
        users: UserDirectory | None = None,
        store: TokenStore | None = None,
        audit: AuditLog | None = None,
        clock: Clock = system_clock,
        issuer: str = "relaypoint",
        audience: str = "relaypoint-api",
        access_ttl: float = DEFAULT_ACCESS_TTL,
        refresh_ttl: float = DEFAULT_REFRESH_TTL,
        leeway: float = 10.0,
        check_access_revocation: bool = False,
        checker: PermissionChecker | None = None,
        monitor: PerformanceMonitor | None = None,
        refresh_grace: float = DEFAULT_REFRESH_GRACE,
        enforce_not_before: bool = True,
        credential_verifiers: Iterable[CredentialVerifier] = (),
        verified_token_cache_size: int = DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
    ) -> None:
        if not 0 < access_ttl <= 24 * 3600:
            raise ConfigurationError("access_ttl must be between 1 second and 24 hours")
        if not access_ttl < refresh_ttl <= 366 * 24 * 3600:
            raise ConfigurationError("refresh_ttl must be longer than access_ttl and <= 1 year")
        size = verified_token_cache_size
        self.codec = TokenCodec(
            keys, issuer=issuer, audience=audience, leeway=leeway, clock=clock, cache_size=size
        )
        self.users = users
        self.store: TokenStore = store if store is not None else create_token_store(clock=clock)
        self.audit: AuditLog = audit if audit is not None else LoggingAuditLog()
        self.clock = clock
        self.access_ttl = int(access_ttl)
        self.refresh_ttl = int(refresh_ttl)
        self.check_access_revocation = check_access_revocation
        self.checker = checker or _default_checker
        self.monitor = monitor  # None: the process-wide performance_monitor
        if not 0 <= refresh_grace <= 300:
            raise ConfigurationError("refresh_grace must be between 0 and 300 seconds")
        self.refresh_grace = float(refresh_grace)
        self.enforce_not_before = enforce_not_before
        self.sessions = SessionManager(
            self.store,
            clock=clock,
            record=self._record,
            not_before_ttl=self.access_ttl + self.codec.leeway + 60,
        )
        self._verifiers: list[CredentialVerifier] = list(credential_verifiers)
        self._owned: list[CredentialVerifier] = []

    @classmethod
    def from_settings(
        cls,
        settings: RelayPointSettings,
        *,
        users: UserDirectory | None = None,
        keys: KeyRing | None = None,
        store_url: str | None = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        **options: Any,
    ) -> AuthService:
        """Build from ``SECRET_KEY``, ``ACCESS_TOKEN_EXPIRE_MINUTES``, ``REFRESH_TOKEN_EXPIRE_DAYS``,
        ``JWT_ISSUER``, ``JWT_AUDIENCE``, ``JWT_ALGORITHM`` / ``JWT_PRIVATE_KEY``,
        ``REFRESH_TOKEN_REUSE_GRACE_SECONDS`` and ``REDIS_URL`` (memory when unset)."""
        if keys is None:
            keys = key_ring_from_settings(settings)
        clock: Clock = options.pop("clock", system_clock)
        return cls(
            keys=keys,
            users=users,
            store=create_token_store(
                store_url if store_url is not None else settings.REDIS_URL,
                key_prefix=key_prefix,
                clock=clock,
            ),
            clock=clock,
            issuer=settings.JWT_ISSUER,
            audience=settings.JWT_AUDIENCE,
            access_ttl=settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
            refresh_ttl=settings.REFRESH_TOKEN_EXPIRE_DAYS * 24 * 3600,
            refresh_grace=options.pop(
                "refresh_grace", float(settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS)
            ),
            **options,
        )

    @property
    def keys(self) -> KeyRing:
        return self.codec.keys

    def rotate_keys(self, ring: KeyRing) -> None:
        """Switch to a new key ring at run time (see `KeyRing.rotated`)."""
        self.codec.keys = ring

    # --- passwords --------------------------------------------------------------------------------

    @staticmethod
    def hash_password(password: str) -> str:
        return hash_password(password)

    @staticmethod
    def verify_password(password_hash: str | None, password: str) -> bool:
        return verify_password(password_hash, password)

    # --- permissions ------------------------------------------------------------------------------

    @staticmethod
    def validate_permissions(user_roles: Iterable[str], required_permission: str) -> bool:
        """Whether any of ``user_roles`` (granted in the context at hand) holds the permission."""
        return _default_checker.has_permission(tuple(user_roles), required_permission)

    async def authorize(
        self,
        principal: Principal,
        permission: str,
        *,
        tenant_id: str | None = None,
        target: str | None = None,
    ) -> Decision:
        """Allow ``principal`` to do ``permission`` in ``tenant_id`` (default: its own tenant),
        or record the denial in the audit log and raise `AuthorizationError`."""
        where = principal.tenant_id if tenant_id is None else tenant_id
        decision = self.checker.explain_principal(principal, permission, tenant_id=where)
        if decision.allowed:
            return decision
        await self._record(
            AuditAction.PERMISSION_DENIED,
            AuditOutcome.DENIED,
            actor=principal.user_id,
            tenant_id=where,
            target=target,
            permission=str(permission),
            reason=decision.reason,
        )
        raise AuthorizationError(f"permission {str(permission)!r} required")

    # --- tokens ---------------------------------------------------------------------------------

    async def _record(
        self,
        action: str,
        outcome: str,
        *,
        actor: str | None,
        tenant_id: str | None,
        target: str | None = None,
        **details: Any,
    ) -> None:
        event = make_event(
            action,
            outcome,
            actor=actor,
            tenant_id=tenant_id,
            target=target,
            clock=self.clock,
            **details,
        )
        try:
            await self.audit.record(event)
        except Exception:  # an audit sink failing must not turn a login into a 500
            logger.exception("audit sink failed to record %s", action)

    async def issue_tokens(
        self, user: UserRecord, *, client: Mapping[str, str] | None = None
    ) -> TokenPair:
        """A new token pair starting a new refresh family (after any successful authentication).

        Args:
            user: who signed in.
            client: hints shown in the session list (e.g. ``user_agent``, ``ip``).
        """
        family_id = new_token_id()
        refresh_id = new_token_id()
        await self.store.create_family(
            user.tenant_id,
            family_id,
            token_id=refresh_id,
            ttl=self.refresh_ttl + 60,
            user_id=user.user_id,
            client=client,
        )
        return self._pair(user.user_id, user.tenant_id, user.roles, family_id, refresh_id)

    def _pair(
        self,
        user_id: str,
        tenant_id: str | None,
        roles: Iterable[str],
        family_id: str,
        refresh_id: str,
    ) -> TokenPair:
        base = {"sub": user_id, "tid": tenant_id, "roles": list(roles), "fam": family_id}
        access, _ = self.codec.encode(base, token_type=ACCESS, ttl=self.access_ttl)
        refresh, _ = self.codec.encode(
            {**base, "jti": refresh_id}, token_type=REFRESH, ttl=self.refresh_ttl
        )
        return TokenPair(access, refresh, self.access_ttl, self.refresh_ttl)

    async def login(
        self,
        email: str,
        password: str,
        *,
        tenant_id: str | None = None,
        client: Mapping[str, str] | None = None,
    ) -> TokenPair:
        """Check credentials against the user directory and start a session.

        Unknown email, wrong password and inactive user all raise the same
        `InvalidCredentialsError` and cost one password verification each.
        """
        if self.users is None:
            raise ConfigurationError("AuthService.login needs a UserDirectory (users=...)")
        user = await self.users.get_by_email(email, tenant_id=tenant_id)
        password_ok = verify_password(user.password_hash if user else None, password)
        if user is None or not password_ok or not user.is_active:
            reason = (
                "unknown_user"
                if user is None
                else ("bad_password" if not password_ok else "inactive_user")
            )
            await self._record(
                AuditAction.LOGIN,
                AuditOutcome.FAILURE,
                actor=user.user_id if user else None,
                tenant_id=tenant_id,
                target=email,
                reason=reason,
            )
            raise InvalidCredentialsError()
        pair = await self.issue_tokens(user, client=client)
        await self._record(
            AuditAction.LOGIN,
            AuditOutcome.SUCCESS,
            actor=user.user_id,
            tenant_id=user.tenant_id,
            target=email,
            password_needs_rehash=bool(user.password_hash and needs_rehash(user.password_hash)),
        )
        (self.monitor or performance_monitor).record_user_login(user.plan_tier)
        return pair

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate ``refresh_token`` into a new pair (same family); see
        `relaypoint_core.auth.refresh.rotate_refresh_token` for the reuse and grace rules."""
        return await rotate_refresh_token(
            refresh_token,
            codec=self.codec,
            store=self.store,
            users=self.users,
            make_pair=self._pair,
            record=self._record,
            refresh_ttl=self.refresh_ttl,
            grace=self.refresh_grace,
        )

    async def logout(self, refresh_token: str, *, access_token: str | None = None) -> None:
        """End the session: revoke the refresh family (and deny ``access_token`` if given)."""
        claims = self.codec.decode(refresh_token, token_type=REFRESH)
        tenant_id: str | None = claims.get("tid")
        family_id = claims.get("fam")
        if isinstance(family_id, str):
            await self.store.revoke_family(tenant_id, family_id)
        if access_token is not None:
            try:
                access = self.codec.decode(access_token, token_type=ACCESS)
            except TokenInvalidError:
                access = None
            if access is not None and access["sub"] == claims["sub"]:
                remaining = float(access["exp"]) - self.clock.time() + self.codec.leeway
                await self.store.revoke_token(tenant_id, access["jti"], ttl=remaining)
        await self._record(
            AuditAction.LOGOUT,
            AuditOutcome.SUCCESS,
            actor=claims["sub"],
            tenant_id=tenant_id,
            family=family_id,
        )

    def decode_access_token(self, token: str) -> Principal:
        """Verify signature and claims (no store round trip) and return the caller."""
        claims = self.codec.decode(token, token_type=ACCESS)
        # Positional (user_id, tenant_id, roles, token_id, claims): this runs on every request.
        return Principal(
            claims["sub"], claims.get("tid"), roles_claim(claims), claims["jti"], claims
        )

    async def verify_access_token(self, token: str) -> Principal:
        """`decode_access_token`, plus the user's not-before time (log out everywhere; cached,
        no round trip in the steady state) and a revocation check when configured."""
        principal = self.decode_access_token(token)
        if self.enforce_not_before and await self.sessions.issued_too_early(principal):
            raise TokenRevokedError("this session was signed out everywhere; sign in again")
        if self.check_access_revocation:
            family = principal.claims.get("fam")
            if await self.store.is_revoked(
                principal.tenant_id,
                principal.claims["jti"],
                family if isinstance(family, str) else None,
            ):
                raise TokenRevokedError("this access token was revoked")
        return principal

    # --- sessions and other credentials ----------------------------------------------------------

    async def list_sessions(self, principal: Principal) -> list[SessionInfo]:
        """The caller's live sessions (refresh families), oldest first."""
        return await self.sessions.list(principal.tenant_id, principal.user_id)

    async def revoke_session(self, principal: Principal, family_id: str) -> bool:
        """Revoke one of the caller's sessions; False when it is not theirs or already gone."""
        return await self.sessions.revoke(principal, family_id)

    async def logout_all(self, principal: Principal) -> int:
        """Revoke every session of the caller and refuse their access tokens issued until now."""
        return await self.sessions.revoke_all(principal.tenant_id, principal.user_id)

    def add_credential_verifier(self, verifier: CredentialVerifier, *, owned: bool = True) -> None:
        """Accept another kind of credential (e.g. API keys) in `verify_credential`; an
        ``owned`` verifier with an ``aclose()`` is closed by `aclose`."""
        self._verifiers.append(verifier)
        if owned:
            self._owned.append(verifier)

    async def verify_credential(self, credential: str) -> Principal:
        """Verify any credential this service accepts (an access JWT, or what a registered
        verifier such as `relaypoint_core.auth.api_keys.ApiKeyService` claims by its prefix)
        and return the caller. The one entry point for HTTP, WebSocket and Socket.IO.

        Raises:
            AuthenticationError: the credential is malformed, expired, revoked or unknown.
            BackendUnavailableError: a store needed to decide could not be reached.
        """
        for verifier in self._verifiers:
            if verifier.claims(credential):
                return await verifier.verify(credential)
        return await self.verify_access_token(credential)

    async def aclose(self) -> None:
        for verifier in self._owned:
            close = getattr(verifier, "aclose", None)
            if close is not None:
                await close()
        self._owned.clear()
        await self.store.aclose()
