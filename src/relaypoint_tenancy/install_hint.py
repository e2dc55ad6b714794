"""Turns "the tenancy tables do not exist" into an error that says how to create them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from relaypoint_tenancy.errors import TenancyConfigurationError

__all__ = ["NOT_INSTALLED_HINT", "explain_missing_tables", "not_installed"]

NOT_INSTALLED_HINT = (
    "the tenancy tables are not installed in this database: run `await Tenancy.install()` "
    "(or `await TenantManager(session).install()`) at start-up, or "
    "`python -m relaypoint_tenancy migrate` once per deployment"
)
_MISSING_TABLE = ("no such table", "does not exist", "undefinedtable", "undefined table")


def not_installed(error: BaseException) -> TenancyConfigurationError | None:
    """The configuration error to raise instead of ``error``, when a control table is missing.

    Args:
        error: An exception raised by a database call.

    Returns:
        The error to raise, or ``None`` when ``error`` is about something else.
    """
    if not isinstance(error, DBAPIError):
        return None
    text = str(error).lower()
    if "rp_" not in text or not any(marker in text for marker in _MISSING_TABLE):
        return None
    return TenancyConfigurationError(NOT_INSTALLED_HINT)


@contextmanager
def explain_missing_tables() -> Iterator[None]:
    """Re-raise a missing-control-table failure of the block as `not_installed`'s error.

    Raises:
        TenancyConfigurationError: The block failed because a tenancy table is missing.
    """
    try:
        yield
    except DBAPIError as exc:
        hint = not_installed(exc)
        if hint is not None:
            raise hint from exc
        raise
