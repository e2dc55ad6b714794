"""Alembic environment of the tenant stream (see relaypoint_tenancy.migrations.env_common)."""

from relaypoint_tenancy.migrations.env_common import run

run("tenant")
