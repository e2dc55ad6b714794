"""control plane: primary and foreign keys named by the models' naming convention

c0001 and c0002 left primary and foreign keys to the database's default names (``rp_tenants_pkey``,
``rp_tenant_domains_tenant_id_fkey`` on PostgreSQL), which differ from the names the models
declare (``pk_rp_tenants``, ``fk_rp_tenant_domains_tenant_id_rp_tenants``). PostgreSQL renames
them in place. SQLite cannot rename a constraint without rebuilding its table, and unnamed
SQLite constraints carry no name to drift, so SQLite databases are left as they are.

Revision ID: c0003
Revises: c0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None

# table -> ((default name, convention name), ...)
RENAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "rp_tenants": (("rp_tenants_pkey", "pk_rp_tenants"),),
    "rp_tenant_domains": (
        ("rp_tenant_domains_pkey", "pk_rp_tenant_domains"),
        ("rp_tenant_domains_tenant_id_fkey", "fk_rp_tenant_domains_tenant_id_rp_tenants"),
    ),
    "rp_usage_counters": (
        ("rp_usage_counters_pkey", "pk_rp_usage_counters"),
        ("rp_usage_counters_tenant_id_fkey", "fk_rp_usage_counters_tenant_id_rp_tenants"),
    ),
    "rp_user_index": (
        ("rp_user_index_pkey", "pk_rp_user_index"),
        ("rp_user_index_tenant_id_fkey", "fk_rp_user_index_tenant_id_rp_tenants"),
    ),
    "rp_login_index": (
        ("rp_login_index_pkey", "pk_rp_login_index"),
        ("rp_login_index_tenant_id_fkey", "fk_rp_login_index_tenant_id_rp_tenants"),
    ),
}


def _rename(old_to_new: bool) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table, pairs in RENAMES.items():
        for default, convention in pairs:
            old, new = (default, convention) if old_to_new else (convention, default)
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")


def upgrade() -> None:
    _rename(old_to_new=True)


def downgrade() -> None:
    _rename(old_to_new=False)
