"""FastAPI/Starlette rendering of ``relaypoint_core.http_errors``: one call, every error.

::

    app = FastAPI()
    install_problem_handlers(app)

After it, every ``RelayPointError`` of every package answers with its own status as
``application/problem+json``; ``HTTPException`` and request validation errors are problems too
(their text through ``safe_text``, the submitted input never echoed); known backend outages
(SQLAlchemy, Redis connection errors) answer 503 with ``Retry-After``; anything else answers a
bare 500 with an ``incident`` id that is logged with the traceback. The application registers no
error class by hand. ``install_auth`` keeps its own, more specific handlers for authentication
errors (RFC 6750 challenges with ``error_description``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from relaypoint_core.errors import MissingExtraError, RelayPointError

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.responses import Response
except ImportError as _missing:
    raise MissingExtraError("fastapi", "fastapi", "relaypoint_core.fastapi_problems") from _missing
from relaypoint_core.http_errors import problem_for, problem_type, safe_text
from relaypoint_core.problem import PROBLEM_CONTENT_TYPE, encode_problem, problem_body

__all__ = [
    "http_problem_response",
    "install_problem_handlers",
    "problem_response",
    "validation_problems",
]

logger = logging.getLogger("relaypoint.errors")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
}
_HTTP_SLUG = {404: "not-found", 405: "method-not-allowed", 422: "invalid-input"}


def problem_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    """A problem+json response.

    Args:
        status: The HTTP status.
        body: The problem object.
        headers: Extra response headers.

    Returns:
        The response.
    """
    return Response(
        encode_problem(body),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_CONTENT_TYPE,
    )


def http_problem_response(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """The problem+json answer of a plain HTTP error, as the installed handlers render an
    ``HTTPException``: a standard title and problem type for ``status``.

    Use it where a route answers an error itself (a 404 for a name it looked up) instead of
    raising; ``detail`` goes through `safe_text`, so it may quote what the client sent.

    Args:
        status: The HTTP status (4xx).
        detail: What went wrong; the status's title when ``None``.
        headers: Extra response headers.

    Returns:
        The response.
    """
    title = _TITLES.get(status, "Error")
    body = problem_body(
        status,
        title=title,
        detail=title if detail is None else safe_text(detail),
        type_=problem_type(_HTTP_SLUG.get(status, "http-error")),
    )
    return problem_response(status, body, headers)


def validation_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Location, message and type of each validation error; never the submitted input.

    Args:
        errors: ``RequestValidationError.errors()``.

    Returns:
        The ``errors`` member of a 422 problem.
    """
    return [
        {
            "loc": [safe_text(part, limit=64) for part in err.get("loc", ())],
            "msg": safe_text(err.get("msg", "")),
            "type": safe_text(err.get("type", ""), limit=64),
        }
        for err in errors
    ]


async def _relaypoint_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RelayPointError) or exc.http_status >= 500:
        return await _unexpected(request, exc)
    problem = problem_for(exc)
    return problem_response(problem.status, problem.body, problem.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return http_problem_response(exc.status_code, detail, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    body = problem_body(
        422,
        title="Invalid input",
        detail="the request is not valid",
        type_=problem_type("invalid-input"),
        extra={"errors": validation_problems(exc.errors())},
    )
    return problem_response(422, body)


async def _unexpected(request: Request, exc: Exception) -> Response:
    incident = uuid.uuid4().hex
    problem = problem_for(exc, extra={"incident": incident})
    if problem.status == 503:
        logger.warning(
            "backend unavailable (%s) on %s %s: %s",
            incident,
            request.method,
            request.url.path,
            exc,
        )
    else:
        logger.error(
            "unhandled error %s on %s %s", incident, request.method, request.url.path, exc_info=exc
        )
    return problem_response(problem.status, problem.body, problem.headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as ``application/problem+json`` (see the module docstring).

    Args:
        app: The FastAPI (or Starlette) application; call before it starts.
    """
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RelayPointError, _relaypoint_error)
    app.add_exception_handler(Exception, _unexpected)
