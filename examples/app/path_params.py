"""The ``{tenant_id}`` path segment declared for OpenAPI, with the constraint the server enforces.

Tenant resolution reads the segment in middleware, before any route runs, so no handler takes it
as an argument; without this dependency FastAPI would leave the parameter undeclared and the
document invalid. The value is a tenant's slug or its id, as ``relaypoint_tenancy`` accepts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from fastapi.params import Depends as DependsParam

from relaypoint_tenancy.validation import SLUG_MAX_LENGTH

__all__ = ["TENANT_ID_PATTERN", "TENANT_IN_PATH", "tenant_path_parameter"]

TENANT_ID_PATTERN = (
    r"^(?:[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


async def tenant_path_parameter(
    tenant_id: Annotated[
        str,
        Path(
            min_length=2,
            max_length=max(SLUG_MAX_LENGTH, 36),
            pattern=TENANT_ID_PATTERN,
            description="the tenant's slug (or its id)",
            examples=["acme"],
        ),
    ],
) -> None:
    """Declares ``tenant_id``; the tenancy middleware has already resolved and checked it."""


TENANT_IN_PATH: list[DependsParam] = [Depends(tenant_path_parameter)]
