"""How the app documents its problem+json answers in OpenAPI, and its routes' own 404s.

Rendering every error is the SDK's job (``relaypoint_core.fastapi_problems.install_problem_handlers``
maps each ``RelayPointError`` of every package by its class attributes); nothing is registered here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from relaypoint_core.http_errors import problem_type, safe_text
from relaypoint_core.problem import PROBLEM_CONTENT_TYPE, problem_body

__all__ = ["PROBLEM_JSON", "PROBLEM_SCHEMA", "problem_response", "problem_responses"]

PROBLEM_JSON = PROBLEM_CONTENT_TYPE

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["status"],
}

_DESCRIPTIONS = {
    400: "the request names no tenant, or an invalid one",
    401: "missing, invalid, expired or revoked token (WWW-Authenticate: Bearer)",
    403: "missing permission, a token of another tenant, a suspended tenant or an exhausted quota",
    404: "no such tenant or resource",
    409: "conflicts with existing data",
    422: "invalid input",
    429: "rate limited: see Retry-After and the RateLimit headers",
    503: "a backend is unavailable (fail-closed rate limiting, token store)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses answered as problem+json."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, _TITLES.get(status, "error")),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A route's own problem answer (its text through ``safe_text``: it may quote a path)."""
    body = problem_body(
        status,
        title=title or _TITLES.get(status, "Error"),
        detail=safe_text(detail),
        type_=problem_type("not-found" if status == 404 else "http-error"),
    )
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )
