"""Errors as RFC 9457 ``application/problem+json``: no stack traces, a status that fits the cause.

Validation errors become 422 with the offending locations; the SDK's typed errors map to the
status they mean (401, 403, 404, 409, 429, 503); anything unexpected becomes a bare 500 problem
with an id to find the logged traceback, never the traceback itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from relaypoint_core.errors import (
    AuthenticationError,
    AuthorizationError,
    BackendUnavailableError,
    InvalidTenantIdError,
    NoTenantError,
    RelayPointError,
)

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_SCHEMA",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
    "register_error_status",
    "status_for",
]

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("examples.app")

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
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # Only location, message and type: the submitted input (which can be large or secret) is not echoed.
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in errors
    ]


# Status of each SDK error family; the most specific class wins (checked in MRO order).
_STATUS_BY_ERROR: dict[type[BaseException], int] = {
    AuthenticationError: 401,
    AuthorizationError: 403,
    InvalidTenantIdError: 400,
    NoTenantError: 400,
    BackendUnavailableError: 503,
}


def register_error_status(error: type[BaseException], status: int) -> None:
    """Map a package's error class to an HTTP status (used as packages land in the app)."""
    _STATUS_BY_ERROR[error] = status


def status_for(exc: BaseException) -> int | None:
    for klass in type(exc).__mro__:
        if klass in _STATUS_BY_ERROR:
            return _STATUS_BY_ERROR[klass]
    return None


def install_problem_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = (
            exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        )
        return problem_response(exc.status_code, detail, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422, "the request is not valid", errors=_validation_errors(exc.errors())
        )

    async def relaypoint_error(request: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        if status is None:
            return await unexpected_error(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem_response(status, str(exc), headers=headers)

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex
        logger.error(
            "unhandled error %s on %s %s",
            incident,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return problem_response(
            500, "an unexpected error occurred; it has been logged", incident=incident
        )

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            503,
            "the database is temporarily unavailable; retry shortly",
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
    for error in (OperationalError, InterfaceError, SQLAlchemyTimeoutError):
        app.add_exception_handler(error, database_unavailable)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(RelayPointError, relaypoint_error)
    app.add_exception_handler(Exception, unexpected_error)
