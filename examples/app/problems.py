"""How the app documents its problem+json answers in OpenAPI.

Rendering every error is the SDK's job (``relaypoint_core.fastapi_problems.install_problem_handlers``
maps each ``RelayPointError`` of every package by its class attributes, and a route's own 404 is
``relaypoint_core.fastapi_problems.http_problem_response``); nothing is registered here.
"""

from __future__ import annotations

from typing import Any

from relaypoint_core.problem import PROBLEM_CONTENT_TYPE

__all__ = ["PROBLEM_JSON", "PROBLEM_SCHEMA", "problem_responses"]

PROBLEM_JSON = PROBLEM_CONTENT_TYPE

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
            "description": _DESCRIPTIONS.get(status, "error"),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }
