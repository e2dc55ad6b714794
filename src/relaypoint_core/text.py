"""Text every store can hold: the one rule for input on its way to SQL, Redis keys or logs.

PostgreSQL refuses a NUL character in ``text`` (``CharacterNotInRepertoireError``) and no UTF-8
store can hold a lone surrogate (``"\\ud800"``, which JSON happily decodes), so such input must
be refused where it arrives (a 422) instead of failing deep inside a driver (a 500). Identifiers
that become keys get a stricter rule: a short run of ``[A-Za-z0-9_-]``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from relaypoint_core.errors import RelayPointError

__all__ = [
    "MAX_ID_LENGTH",
    "InvalidTextError",
    "StorableStr",
    "check_storable",
    "is_safe_id",
    "is_storable",
]

MAX_ID_LENGTH = 64
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")


class InvalidTextError(RelayPointError, ValueError):
    """Input contains a NUL character or a lone surrogate, which no store can hold (HTTP 422)."""

    http_status = 422
    problem_title = "Invalid input"
    problem_slug = "invalid-text"
    expose_detail = True


def is_storable(value: str) -> bool:
    """Whether ``value`` has no NUL character and is valid UTF-8 (no lone surrogates).

    Args:
        value: The text to check.

    Returns:
        ``True`` if PostgreSQL, SQLite and Redis can all store ``value`` as it is.
    """
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_storable(value: str) -> str:
    """``value`` unchanged if `is_storable`, else `InvalidTextError`.

    Args:
        value: The text to check.

    Returns:
        ``value``.

    Raises:
        InvalidTextError: ``value`` contains a NUL character or a lone surrogate. The message
            does not repeat the input.
    """
    if not is_storable(value):
        raise InvalidTextError("text must not contain NUL characters or lone surrogates")
    return value


StorableStr = Annotated[str, AfterValidator(check_storable)]
"""A pydantic ``str`` field that refuses what no store can hold (422 in a FastAPI body)."""


def is_safe_id(value: object, *, max_length: int = MAX_ID_LENGTH) -> bool:
    """Whether ``value`` is an identifier safe to use in a key, a query and an error message.

    Args:
        value: Candidate identifier (e.g. a path segment naming a row).
        max_length: Longest accepted identifier.

    Returns:
        ``True`` for 1 to ``max_length`` characters of ``[A-Za-z0-9_-]``.
    """
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and _SAFE_ID.fullmatch(value) is not None
    )
