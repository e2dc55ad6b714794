"""`RealtimeServer`: tenant-aware Socket.IO on python-socketio's ASGI engine.

One server per app instance. It authenticates every connection through a
`ConnectionAuthenticator`, puts it in the rooms of its verified principal, enforces the credential
for the life of the connection (a `LeaseTracker` swept every `sweep_interval` seconds), checks a
permission and a `MessageLimiter` for every inbound event, and fans emissions out to the other
instances through Redis when given a URL. python-socketio is imported when the server is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from relaypoint_core.clock import Clock, system_clock
from relaypoint_core.message_limits import MessageLimiter
from relaypoint_core.optional import require_module
from relaypoint_core.rbac.checker import PermissionChecker
from relaypoint_core.realtime.admission import Admission, TenantVerifier
from relaypoint_core.realtime.credentials import ConnectionAuthenticator, expires_at
from relaypoint_core.realtime.errors import ConnectionRefused, RealtimeConfigurationError
from relaypoint_core.realtime.lifetime import Lease, LeaseTracker, Notice
from relaypoint_core.realtime.metrics import RealtimeMetrics, default_realtime_metrics
from relaypoint_core.realtime.rooms import TenantChannel
from relaypoint_core.realtime.session import Connection, EventHandler, InboundDispatcher

__all__ = ["REFRESH_EVENT", "RealtimeServer"]

logger = logging.getLogger("relaypoint.realtime")

REFRESH_EVENT = "auth.refresh"
_FEATURE = "Real-time (Socket.IO)"


def _origin_check(extra: frozenset[str]) -> Callable[[str | None, Mapping[str, Any]], bool]:
    """Same origin always, plus `extra` (python-socketio takes a list *instead of* same origin)."""

    def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if origin is None or "*" in extra or origin in extra:
            return True
        return origin == f"{environ.get('wsgi.url_scheme')}://{environ.get('HTTP_HOST')}"

    return allowed


@dataclass(frozen=True, slots=True)
class _Registered:
    handler: EventHandler
    permission: str | None


class RealtimeServer:
    """Socket.IO for multi-tenant apps, authenticated for the life of each connection.

    Args:
        authenticator: Verifies the credential of each connection and answers revocations.
        redis_url: `redis://` URL shared by every instance; `None` keeps emissions on this one.
        channel: Pub/sub channel name (one per app; instances of one app share it).
        message_limiter: Counts every inbound message; refused ones get `message.refused`.
        checker: The RBAC checker for per-event permissions.
        tenant_verifier: Optional check that the principal's tenant exists and is active.
        clock: Wall-clock time for `exp` and graces; monotonic time for the fan-out circuit.
        expiry_grace: Seconds an expired connection may still send `auth.refresh`.
        revocation_grace: Seconds a revoked connection may still send `auth.refresh`.
        sweep_interval: Seconds between expiry and revocation sweeps.
        metrics: Where to count; the process-wide `relaypoint_realtime_*` metrics by default.
        cors_allowed_origins: Origins allowed to connect besides the server's own (`"*"`: any).
        socketio_path: The path the ASGI app answers under (`/socket.io`).
        limiter_failure: `"open"` handles a message when the limiter fails, `"closed"` refuses it.

    Raises:
        MissingExtraError: python-socketio (`relaypoint[realtime]`) is not installed.
        RealtimeConfigurationError: An interval, grace or policy makes no sense.
    """

    def __init__(
        self,
        authenticator: ConnectionAuthenticator,
        *,
        redis_url: str | None = None,
        channel: str = "relaypoint-realtime",
        message_limiter: MessageLimiter | None = None,
        checker: PermissionChecker | None = None,
        tenant_verifier: TenantVerifier | None = None,
        clock: Clock = system_clock,
        expiry_grace: float = 10.0,
        revocation_grace: float = 0.3,
        sweep_interval: float = 0.25,
        metrics: RealtimeMetrics | None = None,
        cors_allowed_origins: Sequence[str] = (),
        socketio_path: str = "socket.io",
        limiter_failure: Literal["open", "closed"] = "open",
    ) -> None:
        if sweep_interval <= 0:
            raise RealtimeConfigurationError("sweep_interval must be positive")
        if limiter_failure not in ("open", "closed"):
            raise RealtimeConfigurationError("limiter_failure must be 'open' or 'closed'")
        self._socketio = require_module("socketio", extra="realtime", feature=_FEATURE)
        self.authenticator = authenticator
        self.metrics = metrics if metrics is not None else default_realtime_metrics()
        self.clock = clock
        self.sweep_interval = float(sweep_interval)
        self.socketio_path = socketio_path
        self._leases = LeaseTracker(
            clock=clock, expiry_grace=expiry_grace, revocation_grace=revocation_grace
        )
        self._admission = Admission(authenticator, tenant_verifier)
        self._handlers: dict[str, _Registered] = {}
        self._dispatch = InboundDispatcher(
            checker=checker or PermissionChecker(),
            limiter=message_limiter,
            limiter_failure=limiter_failure,
            metrics=self.metrics,
            refuse=self._send_refusal,
        )
        self._manager: Any = None
        if redis_url is not None:
            require_module("redis.asyncio", extra="redis", feature=f"{_FEATURE} across instances")
            from relaypoint_core.realtime.fanout import ResilientRedisManager

            self._manager = ResilientRedisManager(
                redis_url, channel=channel, metrics=self.metrics, clock=clock
            )
        options: dict[str, Any] = {"async_mode": "asgi", "logger": False, "engineio_logger": False}
        if self._manager is not None:
            options["client_manager"] = self._manager
        options["cors_allowed_origins"] = _origin_check(frozenset(cors_allowed_origins))
        self._sio: Any = self._socketio.AsyncServer(**options)
        self._sio.on("connect", self._on_connect)
        self._sio.on("disconnect", self._on_disconnect)
        self._sio.on("*", self._on_event)
        self._ending: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    # --- public API -----------------------------------------------------------------------------

    def on(self, event: str, *, permission: str | None) -> Callable[[EventHandler], EventHandler]:
        """Register the handler of inbound `event`, allowed to callers holding `permission`.

        The handler is `async def handler(connection, data) -> ack`; its return value is the
        acknowledgement the client receives when it asked for one.

        Args:
            event: The event name clients send.
            permission: The RBAC permission required (`None`: any authenticated connection;
                say so explicitly, there is no default).

        Returns:
            A decorator that registers and returns the handler.

        Raises:
            RealtimeConfigurationError: The event name is reserved or already registered.
        """
        if event in ("connect", "disconnect", "message", REFRESH_EVENT) or not event:
            raise RealtimeConfigurationError(f"{event!r} is reserved and cannot be handled")
        if event in self._handlers:
            raise RealtimeConfigurationError(f"a handler for {event!r} is already registered")

        def register(handler: EventHandler) -> EventHandler:
            self._handlers[event] = _Registered(
                handler, None if permission is None else str(permission)
            )
            return handler

        return register

    def tenant(self, tenant_id: str) -> TenantChannel:
        """The emission API of one tenant: it can reach that tenant's rooms and no others."""
        return TenantChannel(self._send_room, tenant_id)

    def current_tenant(self) -> TenantChannel:
        """The emission API of the tenant bound to this context.

        Raises:
            NoTenantError: No tenant is bound to this context.
        """
        return TenantChannel.current(self._send_room)

    @property
    def connection_count(self) -> int:
        """Connections open on this instance."""
        return len(self._leases)

    @property
    def fanout_backlog(self) -> int:
        """Emissions waiting to be published to the other instances (Redis unreachable)."""
        return int(self._manager.backlog) if self._manager is not None else 0

    def asgi_app(self, other_app: Any = None) -> Any:
        """The ASGI app serving Socket.IO under `/<socketio_path>` (mount it there).

        Args:
            other_app: An ASGI app to serve every other path (python-socketio's wrapper).
        """
        return self._socketio.ASGIApp(
            self._sio, other_asgi_app=other_app, socketio_path=self.socketio_path
        )

    async def start(self) -> None:
        """Start the sweeps and the Redis subscriber (idempotent; connecting also starts them)."""
        if not self._sio.manager_initialized:
            self._sio.manager_initialized = True
            self._sio.manager.initialize()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="realtime sweep")

    async def stop(self) -> None:
        """Stop the sweeps, engine.io's ping task and the fan-out; connections are left to the server.

        python-socketio asks for ``shutdown()`` before the web server stops: it ends engine.io's
        ping-timeout task by setting its event. Left to be cancelled instead, that task can miss
        the cancellation (Python 3.11's ``wait_for`` turns a cancellation that meets its timeout
        into a ``TimeoutError``, which the task's loop retries), and whatever waits for every
        task, an ``asyncio.Runner`` closing, then waits for ever.
        """
        if getattr(self._sio.eio, "service_task_handle", None) is not None:
            await self._sio.shutdown()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        thread = getattr(self._sio.manager, "thread", None)
        if isinstance(thread, asyncio.Task):
            thread.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await thread
        if self._manager is not None:
            await self._manager.aclose()

    async def sweep(self) -> None:
        """One expiry and revocation pass (the loop calls it; tests call it with a fake clock)."""
        expired = self._leases.expire_due()
        revoked = await self._leases.revoke_due(self.authenticator)
        if revoked.revocation_check_failed:
            self.metrics.backend_error("revocation_check")
        for notice in (*expired.notices, *revoked.notices):
            await self._notify(notice)
        for lease in expired.disconnect:
            await self._end(lease)
        if self._manager is not None:
            await self._manager.flush()

    async def revoke_connections(self, predicate: Callable[[Lease], bool]) -> int:
        """Start the revocation grace now of every connection whose lease matches `predicate`.

        For an app that learns of a revocation first-hand (a key deleted, a user removed) and
        does not want to wait for the next sweep.

        Returns:
            How many connections were told `auth.revoked`.
        """
        notices = [
            notice
            for lease in self._leases.leases()
            if predicate(lease)
            for notice in (self._leases.revoke(lease.sid),)
            if notice is not None
        ]
        for notice in notices:
            await self._notify(notice)
        return len(notices)

    # --- Socket.IO handlers ---------------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        if self._task is None:
            await self.start()
        try:
            principal, tenant, credential = await self._admission.admit(auth, environ)
        except ConnectionRefused as refused:
            self.metrics.attempt(refused.code)
            raise self._socketio.exceptions.ConnectionRefusedError(
                refused.message, refused.to_payload()
            ) from None
        rooms = self._admission.rooms(principal)
        for room in rooms:
            await self._sio.enter_room(sid, room)
        self._leases.add(sid, principal, tenant=tenant, rooms=rooms, credential=credential)
        self.metrics.attempt("accepted")
        self.metrics.connections.inc()

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        ending = self._ending.pop(sid, "client")
        if self._leases.remove(sid) is not None:
            self.metrics.connections.dec()
            self.metrics.disconnect(ending)

    async def _on_event(self, event: str, sid: str, *args: Any) -> Any:
        data = args[0] if args else None
        lease = self._leases.get(sid)
        if lease is None:  # the connection is ending
            return None
        if event == REFRESH_EVENT:
            label = self.metrics.event_label(event, True)
            return await self._dispatch.run(
                lease, event, label, data, permission=None, handler=self._refresh, always=True
            )
        registered = self._handlers.get(event)
        label = self.metrics.event_label(event, registered is not None)
        return await self._dispatch.run(
            lease,
            event,
            label,
            data,
            permission=None if registered is None else registered.permission,
            handler=None if registered is None else self._connection_handler(registered.handler),
        )

    def _connection_handler(self, handler: EventHandler) -> Callable[[Lease, Any], Awaitable[Any]]:
        async def call(lease: Lease, data: Any) -> Any:
            tenant_id = lease.principal.tenant_id
            assert tenant_id is not None  # admission refuses principals without a tenant
            connection = Connection(
                sid=lease.sid,
                principal=lease.principal,
                tenant=lease.tenant,
                channel=self.tenant(tenant_id),
                reply=self._send_sid,
            )
            return await handler(connection, data)

        return call

    async def _refresh(self, lease: Lease, data: Any) -> dict[str, Any]:
        principal, credential = await self._admission.reauthenticate(lease.principal, data)
        rooms = self._admission.rooms(principal)
        for room in lease.rooms - rooms:
            await self._sio.leave_room(lease.sid, room)
        for room in rooms - lease.rooms:
            await self._sio.enter_room(lease.sid, room)
        self._leases.renew(lease.sid, principal, rooms=rooms, credential=credential)
        return {"ok": True, "expires_at": expires_at(principal)}

    # --- sending --------------------------------------------------------------------------------

    async def _send_room(self, room: str, event: str, data: Any, target: str) -> None:
        self.metrics.message_out(target)
        await self._sio.emit(event, data, to=room)

    async def _send_sid(self, sid: str, event: str, data: Any) -> None:
        # The connection is on this instance: no need to publish to the others.
        self.metrics.message_out("connection")
        await self._sio.emit(event, data, to=sid, ignore_queue=True)

    async def _send_refusal(self, sid: str, payload: dict[str, Any]) -> None:
        await self._send_sid(sid, "message.refused", payload)

    async def _notify(self, notice: Notice) -> None:
        await self._send_sid(notice.sid, notice.event, notice.payload())

    async def _end(self, lease: Lease) -> None:
        self.metrics.connections.dec()
        self.metrics.disconnect(lease.state.value)
        self._ending[lease.sid] = lease.state.value
        try:
            await self._sio.disconnect(lease.sid, ignore_queue=True)
        finally:
            self._ending.pop(lease.sid, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:  # one failed pass must not end enforcement for every connection
                logger.exception("realtime sweep failed; the next one runs as scheduled")
