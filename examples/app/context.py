"""Who is calling and for which tenant, as one dependency of the app's routes (SDK dependencies).

``call_context`` serves the routes that write; ``ReadCall`` is the whole context of a hot read
in **one** dependency: FastAPI solves one node instead of six (principal, permission, tenant,
call context, runtime, ``?fields``), each of which cost a dependency-solving pass per request.
It runs the same SDK checks in the same order, so a caller is refused exactly as before.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security.base import SecurityBase
from pydantic import StringConstraints, TypeAdapter, ValidationError

from examples.app.listing import FIELDS_DESCRIPTION, FIELDS_MAX_LENGTH, FieldSelection
from examples.app.routes_auth import bearer_scheme
from examples.app.runtime import Runtime, get_runtime
from relaypoint_core.fastapi import get_current_principal, require
from relaypoint_core.rbac import Permission
from relaypoint_core.request_state import Principal
from relaypoint_tenancy import TenantInfo
from relaypoint_tenancy.fastapi import current_tenant_info

__all__ = ["CallContext", "ReadCall", "ReadContext", "call_context"]

_tenant = current_tenant_info(lambda request: get_runtime(request).tenants)
_FIELDS: TypeAdapter[str] = TypeAdapter(
    Annotated[str, StringConstraints(max_length=FIELDS_MAX_LENGTH)]
)


@dataclass(frozen=True)
class CallContext:
    principal: Principal
    tenant: TenantInfo


async def call_context(
    request: Request,
    principal: Annotated[Principal, Depends(get_current_principal)],
    tenant: Annotated[TenantInfo, Depends(_tenant)],
) -> CallContext:
    get_runtime(request).meter.count(tenant.id)
    return CallContext(principal=principal, tenant=tenant)


@dataclass(frozen=True, slots=True)
class ReadContext:
    """A read's caller, tenant, runtime and ``?fields`` selection (``None``: every field)."""

    principal: Principal
    tenant: TenantInfo
    runtime: Runtime
    fields: frozenset[str] | None


class ReadCall(SecurityBase):
    """One dependency returning a `ReadContext` once ``permission`` is granted.

    It is also the route's security scheme in the OpenAPI document (the same bearer scheme as
    ``bearer_scheme``), so a route using it needs no separate ``Depends(bearer_scheme)``: one
    dependency fewer for FastAPI to solve on every request of the hottest route.

    Its only parameter is the request: it reads ``?fields`` from the query string itself (the last
    value wins, as FastAPI would pick it), and the route documents the parameter with
    ``openapi_extra=read.openapi_extra`` exactly as ``Depends(selection)`` declared it (same
    description, pattern and ``maxLength``), so the OpenAPI document is unchanged while FastAPI
    has no query parameter to extract and classify on every request. The length is checked here
    rather than by FastAPI, so the answers keep their order: 401, then the tenant's 400/404/403,
    then an unknown field's 422, then the permission's 403, then a too-long ``fields``' 422.

    Args:
        permission: The permission the read needs.
        selection: The ``?fields`` parser of the resource.
    """

    def __init__(self, permission: Permission, selection: FieldSelection) -> None:
        self.model = bearer_scheme.model
        self.scheme_name = bearer_scheme.scheme_name
        self._permit = require(permission)
        self._selection = selection
        self.__signature__ = inspect.Signature(
            [inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)],
            return_annotation=ReadContext,
        )
        schema = {"maxLength": FIELDS_MAX_LENGTH, "type": "string"}
        self.openapi_extra = {
            "parameters": [
                {
                    "description": FIELDS_DESCRIPTION,
                    "in": "query",
                    "name": "fields",
                    "required": False,
                    "schema": {
                        "anyOf": [schema, {"type": "null"}],
                        "description": FIELDS_DESCRIPTION,
                        "pattern": selection.pattern,
                        "title": "Fields",
                    },
                }
            ]
        }

    async def __call__(self, *, request: Request) -> ReadContext:
        fields = request.query_params.get("fields") if request.scope["query_string"] else None
        principal = await get_current_principal(request)
        tenant = await _tenant(request)
        runtime = get_runtime(request)
        runtime.meter.count(tenant.id)
        too_long = fields is not None and len(fields) > FIELDS_MAX_LENGTH
        selected = None if too_long else await self._selection(fields)
        await self._permit(request, principal)
        if too_long:
            try:
                _FIELDS.validate_python(fields)
            except ValidationError as exc:
                raise RequestValidationError(
                    [
                        {**error, "loc": ("query", "fields", *error["loc"])}
                        for error in exc.errors(include_url=False)
                    ]
                ) from None
        return ReadContext(principal, tenant, runtime, selected)
