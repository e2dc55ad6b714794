"""The ``{tenant_id}`` path segment declared for OpenAPI, with the constraint the server enforces.

Tenant resolution reads the segment in middleware, before any route runs, so no handler takes it
as an argument; without this dependency FastAPI would leave the parameter undeclared and the
document invalid. The value is a tenant's slug or its id, as ``relaypoint_tenancy`` accepts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path
from fastapi.params import Depends as DependsParam

from relaypoint_tenancy.validation import SLUG_MAX_LENGTH

__all__ = [
    "TENANT_ID_PATTERN",
    "TENANT_IN_PATH",
    "declare_tenant_path_parameters",
    "tenant_path_parameter",
]

TENANT_ID_MAX_LENGTH = max(SLUG_MAX_LENGTH, 36)  # a slug, or a UUID's 36 characters
TENANT_ID_PATTERN = (
    r"^(?:[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


async def tenant_path_parameter(
    tenant_id: Annotated[
        str,
        Path(
            min_length=2,
            max_length=TENANT_ID_MAX_LENGTH,
            pattern=TENANT_ID_PATTERN,
            description="the tenant's slug (or its id)",
            examples=["acme"],
        ),
    ],
) -> None:
    """Declares ``tenant_id``; the tenancy middleware has already resolved and checked it."""


TENANT_IN_PATH: list[DependsParam] = [Depends(tenant_path_parameter)]


def declare_tenant_path_parameters(app: FastAPI) -> None:
    """Declare ``tenant_id`` in the document on every operation whose path has it, whoever wrote
    the route: a router that forgets ``TENANT_IN_PATH`` cannot make the document invalid.

    Args:
        app: The application, once every router is included.
    """
    build = app.openapi
    parameter: dict[str, Any] = {
        "name": "tenant_id",
        "in": "path",
        "required": True,
        "description": "the tenant's slug (or its id)",
        "schema": {
            "type": "string",
            "minLength": 2,
            "maxLength": TENANT_ID_MAX_LENGTH,
            "pattern": TENANT_ID_PATTERN,
        },
    }

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        if fresh:
            for path, item in document.get("paths", {}).items():
                if "{tenant_id}" not in path:
                    continue
                for operation in item.values():
                    declared = operation.setdefault("parameters", [])
                    if not any(
                        p.get("name") == "tenant_id" and p.get("in") == "path" for p in declared
                    ):
                        declared.insert(0, dict(parameter))
        return document

    app.openapi = openapi  # type: ignore[method-assign]
