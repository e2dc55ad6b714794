"""Lazy import of optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from relaypoint_core.config import configured_database_url
from relaypoint_core.errors import MissingExtraError

__all__ = ["database_extra", "require_module"]


def require_module(
    module: str, *, extra: str, feature: str, alternatives: tuple[str, ...] = ()
) -> ModuleType:
    """Import ``module`` or raise `MissingExtraError` naming ``relaypoint[extra]``.

    Args:
        module: The module to import.
        extra: The extra that installs it for this user.
        feature: What needs it (for the message).
        alternatives: Other extras that install it too (named after ``extra``).

    Returns:
        The imported module.

    Raises:
        MissingExtraError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra, feature, alternatives=alternatives) from exc


def database_extra(url: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The extra a database user needs: ``sqlite`` unless the URL is PostgreSQL.

    Args:
        url: A database URL; ``None`` reads ``DATABASE_URL`` from the environment (see
            `relaypoint_core.config.configured_database_url`; unset means the SQLite default).

    Returns:
        ``(extra, alternatives)`` for `require_module`.
    """
    url = configured_database_url() if url is None else url
    if url.startswith(("postgresql", "postgres:")):
        return "postgres", ("sqlite",)
    return "sqlite", ("postgres",)
