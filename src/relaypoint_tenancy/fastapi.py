"""FastAPI dependencies over what `TenantResolutionMiddleware` leaves in the scope.

The only module of the package that imports FastAPI.
"""

from __future__ import annotations

from relaypoint_tenancy import _sql  # noqa: F401  - first: names the database extra when missing

# isort: split

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from relaypoint_core.errors import MissingExtraError

try:
    from fastapi import Depends, Request
except ImportError as _missing:
    raise MissingExtraError("fastapi", "fastapi", "relaypoint_tenancy.fastapi") from _missing
from sqlalchemy.ext.asyncio import AsyncSession

from relaypoint_core.fastapi import ProblemHTTPException
from relaypoint_core.request_state import ResolvedTenant, get_scope_principal, get_scope_tenant
from relaypoint_tenancy.asgi import TENANT_RECORD_STATE_KEY, TenantRequiredError, problem_fields
from relaypoint_tenancy.errors import TenancyError, TenantMismatchError, TenantNotFoundError
from relaypoint_tenancy.records import TenantInfo
from relaypoint_tenancy.resolution import TenantRecord, TenantResolver
from relaypoint_tenancy.strategies import IsolationStrategy

if TYPE_CHECKING:
    from relaypoint_tenancy.service import Tenancy

__all__ = [
    "CurrentTenant",
    "current_tenant_info",
    "get_resolved_tenant",
    "resolve_tenant",
    "tenant_session",
]


def get_resolved_tenant(request: Request) -> ResolvedTenant:
    """The tenant the middleware resolved; 400 when the request named none."""
    tenant = get_scope_tenant(request.scope)
    if tenant is None:
        raise _problem(
            TenantRequiredError(
                "this endpoint needs a tenant: send X-Tenant-ID or use the tenant's host name"
            )
        )
    return tenant


def _problem(error: TenancyError) -> ProblemHTTPException:
    """The same problem+json the middleware sends, as an exception FastAPI renders once
    `relaypoint_core.fastapi.install_problem_handler` (or ``install_auth``) ran."""
    status, fields = problem_fields(error)
    return ProblemHTTPException(status, **fields)


CurrentTenant = Annotated[ResolvedTenant, Depends(get_resolved_tenant)]


def resolve_tenant(resolver: TenantResolver) -> Callable[[Request], object]:
    """A dependency that resolves the tenant itself (for apps that do not use the middleware)."""

    async def dependency(request: Request) -> TenantRecord:
        state = request.scope.get("state") or {}
        record = state.get(TENANT_RECORD_STATE_KEY)
        if isinstance(record, TenantRecord):
            return record
        try:
            found = await resolver.resolve(request.scope)
        except TenancyError as error:
            raise _problem(error) from None
        if found is None:
            raise _problem(TenantRequiredError("this endpoint needs a tenant"))
        return found

    return dependency


def tenant_session(
    strategy: IsolationStrategy,
) -> Callable[[Request], AsyncIterator[AsyncSession]]:
    """A dependency yielding an ORM session bound to the request's tenant."""

    async def dependency(request: Request) -> AsyncIterator[AsyncSession]:
        state = request.scope.get("state") or {}
        record = state.get(TENANT_RECORD_STATE_KEY)
        if not isinstance(record, TenantRecord):
            raise _problem(TenantRequiredError("this endpoint needs a tenant"))
        async with strategy.session(record.ref) as session:
            yield session

    return dependency


def current_tenant_info(
    tenancy: Tenancy | Callable[[Request], Tenancy],
) -> Callable[[Request], Awaitable[TenantInfo]]:
    """A dependency returning the request's tenant as a full ``TenantInfo`` snapshot.

    It reads the tenant the middleware resolved (400 when none), takes its snapshot from the
    tenancy's bounded cache (404 when it was deleted meanwhile) and refuses a caller whose token
    belongs to another tenant (403), whatever the middleware order, so a route can never serve
    one tenant's data to another's token.

    Args:
        tenancy: The application's ``Tenancy``, or a callable returning it for a request.

    Returns:
        The dependency.
    """

    async def dependency(request: Request) -> TenantInfo:
        scope = request.scope
        resolved = get_scope_tenant(scope)
        if resolved is None:
            resolved = get_resolved_tenant(request)  # raises the 400
        directory = (tenancy(request) if callable(tenancy) else tenancy).tenants
        # The snapshot straight from the cache when it holds one (no coroutine), else a lookup.
        info = directory.peek(resolved.tenant_id)
        if info is None:
            info = await directory.get(resolved.tenant_id)
            if info is None:
                raise _problem(TenantNotFoundError(resolved.tenant_id))
        principal = get_scope_principal(scope)
        if principal is not None and principal.tenant_id != info.slug:
            raise _problem(TenantMismatchError(str(principal.tenant_id), info.slug))
        return info

    return dependency
