"""Pagination (``limit``/``offset``, default 50) and sparse field selection (``?fields=a,b``)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import HTTPException, Query

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "FIELDS_DESCRIPTION",
    "FIELDS_MAX_LENGTH",
    "MAX_PAGE_SIZE",
    "FieldSelection",
    "PageParams",
    "page_params",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
FIELDS_MAX_LENGTH = 500
FIELDS_DESCRIPTION = "comma-separated fields to return, e.g. id,name,status"


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page (default 50)")
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class FieldSelection:
    """A FastAPI dependency parsing ``?fields=`` against the names a resource really has."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)
        # The schema states what the server accepts ("a, b,,c" yes; "a b", "x" or "" no), so the
        # parameter is declared here, per resource, rather than in the method's own signature.
        # The pattern is documentation only: __call__ enforces it with a message naming the
        # unknown fields, which a bare pattern mismatch could not.
        name = "(?:" + "|".join(re.escape(n) for n in sorted(self.allowed)) + ")"
        self.pattern = rf"^[\s,]*{name}(?:\s*,[\s,]*{name})*[\s,]*$"
        query = Query(
            max_length=FIELDS_MAX_LENGTH,
            description=FIELDS_DESCRIPTION,
            json_schema_extra={"pattern": self.pattern},
        )
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter(
                    "fields",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=None,
                    annotation=Annotated[str | None, query],
                )
            ],
            return_annotation=frozenset[str] | None,
        )

    async def __call__(self, fields: str | None = None) -> frozenset[str] | None:
        if fields is None:
            return None
        names = {name.strip() for name in fields.split(",") if name.strip()}
        unknown = sorted(names - self.allowed)
        if not names or unknown:
            raise HTTPException(
                status_code=422,
                detail=(
                    f"unknown field(s) {', '.join(unknown)}; choose from {', '.join(sorted(self.allowed))}"
                    if unknown
                    else "fields= names no field"
                ),
            )
        return frozenset(names)

    @staticmethod
    def apply(item: dict[str, Any], selected: frozenset[str] | None) -> dict[str, Any]:
        if selected is None:
            return item
        return {name: value for name, value in item.items() if name in selected}
