"""One mapping from every ``RelayPointError`` (of every package) to an RFC 9457 problem.

Each error class carries its own HTTP status, title and docs anchor as class attributes (see
``relaypoint_core.errors``), so a sibling package registers its mapping just by defining its
errors; core imports none of them. ``problem_for(exc)`` turns any exception into a
``Problem``; the framework adapters (``relaypoint_core.fastapi_problems``) only render it.

What a problem may contain (the rule every adapter follows):

* ``detail`` is the exception's message only when its class sets ``expose_detail``; otherwise
  it is the class's generic title. Configuration and backend errors never expose their message
  (it can name hosts, URLs or settings); unexpected exceptions never do (a 500 carries an
  ``incident`` id to find the logged traceback).
* An exposed message is passed through ``safe_text``: control characters and the markup
  characters ``< > & " `` ` are dropped, whitespace is collapsed and the text is cut to 300
  characters. A message that quotes client input (an unknown tenant slug, a field name) can
  therefore never carry markup or a script back to a browser that renders it.
* Validation errors list only ``loc``, ``msg`` and ``type``, each through ``safe_text``;
  the submitted input is never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relaypoint_core.errors import RelayPointError
from relaypoint_core.problem import problem_body

__all__ = [
    "ERRORS_DOCS_URL",
    "Problem",
    "problem_for",
    "problem_type",
    "register_problem",
    "safe_text",
]

ERRORS_DOCS_URL = "https://docs.relaypoint.ai/errors/"
_MAX_TEXT = 300
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f<>&\"`\u2028\u2029]")
_SPACES = re.compile(r"\s+")


def safe_text(text: object, *, limit: int = _MAX_TEXT) -> str:
    """``text`` made safe to return to a client (see the module docstring).

    Args:
        text: Any value; it is converted with ``str``.
        limit: The maximum length of the result.

    Returns:
        The cleaned text.
    """
    cleaned = _SPACES.sub(" ", _UNSAFE.sub(" ", str(text))).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def problem_type(slug: str) -> str:
    """The problem ``type`` URL for an errors-page anchor.

    Args:
        slug: The heading anchor on the errors docs page.

    Returns:
        The absolute URL.
    """
    return ERRORS_DOCS_URL + "#" + slug


@dataclass(frozen=True, slots=True)
class Problem:
    """A ready problem response: status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Spec:
    status: int
    title: str
    slug: str


# Exceptions of third-party libraries that mean "a backend is down", matched by module and name
# so that core imports none of them.
_FOREIGN: dict[tuple[str, str], _Spec] = {}
_UNAVAILABLE = _Spec(503, "Service unavailable", "backend-unavailable")
for _name in ("OperationalError", "InterfaceError", "TimeoutError", "DisconnectionError"):
    _FOREIGN[("sqlalchemy.exc", _name)] = _UNAVAILABLE
for _name in ("ConnectionError", "TimeoutError"):
    _FOREIGN[("redis.exceptions", _name)] = _UNAVAILABLE
_INTERNAL = _Spec(500, "Internal server error", "internal-error")


def register_problem(
    error: type[BaseException], *, status: int, title: str, slug: str = "internal-error"
) -> None:
    """Map an exception class that is not a ``RelayPointError`` (a third-party one) to a status.

    Args:
        error: The exception class (subclasses match too).
        status: The HTTP status to answer with.
        title: The problem title.
        slug: The errors-page anchor for the problem ``type``.
    """
    _FOREIGN[(error.__module__, error.__qualname__)] = _Spec(status, title, slug)


def _foreign(exc: BaseException) -> _Spec | None:
    for klass in type(exc).__mro__:
        spec = _FOREIGN.get((klass.__module__, klass.__qualname__))
        if spec is not None:
            return spec
    return None


def _headers(status: int) -> dict[str, str]:
    if status == 401:
        return {"WWW-Authenticate": 'Bearer realm="relaypoint"'}
    if status == 503:
        return {"Retry-After": "5"}
    return {}


def problem_for(exc: BaseException, *, extra: Mapping[str, Any] | None = None) -> Problem:
    """The problem that answers ``exc``.

    Args:
        exc: Any exception; RelayPoint errors use their class attributes, a few known
            third-party backend errors answer 503, anything else answers 500.
        extra: Extension members to add (e.g. ``incident`` for a 500).

    Returns:
        The status, body and headers to send.
    """
    if isinstance(exc, RelayPointError):
        spec = _Spec(exc.http_status, exc.problem_title, exc.problem_slug)
        detail = safe_text(exc) if exc.expose_detail and str(exc) else spec.title
    else:
        spec = _foreign(exc) or _INTERNAL
        detail = (
            "a backend is temporarily unavailable; retry shortly"
            if spec.status == 503
            else "an unexpected error occurred; it has been logged"
            if spec.status == 500
            else spec.title
        )
    body = problem_body(
        spec.status, title=spec.title, detail=detail, type_=problem_type(spec.slug), extra=extra
    )
    return Problem(spec.status, body, _headers(spec.status))
