"""Imported first by the tenancy modules that need SQLAlchemy, so that a missing extra is reported
as `MissingExtraError` naming the extra of the user's database (``relaypoint[sqlite]`` unless
``DATABASE_URL`` is PostgreSQL), not as a bare ``ModuleNotFoundError``."""

from __future__ import annotations

from relaypoint_core.optional import database_extra, require_module

__all__: list[str] = []

_extra, _alternatives = database_extra()
for _module in ("sqlalchemy", "alembic"):
    require_module(_module, extra=_extra, feature="relaypoint_tenancy", alternatives=_alternatives)
