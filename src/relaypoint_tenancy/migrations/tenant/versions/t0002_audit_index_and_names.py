"""tenant plane: the audit events' tenant_id index, and keys named by the naming convention

``AuditEvent.tenant_id`` is indexed in the model (``ix_rp_audit_events_tenant_id``, from
``TenantScoped``) but t0001 did not create that index. t0001 also left primary and foreign keys to
the database's default names; PostgreSQL renames them to the models' convention names. SQLite
cannot rename a constraint without rebuilding its table, and its unnamed constraints carry no
name to drift, so on SQLite only the index is added.

Revision ID: t0002
Revises: t0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

from relaypoint_tenancy.migrations import target_schema

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None

RENAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "rp_users": (("rp_users_pkey", "pk_rp_users"),),
    "rp_role_assignments": (
        ("rp_role_assignments_pkey", "pk_rp_role_assignments"),
        ("rp_role_assignments_user_id_fkey", "fk_rp_role_assignments_user_id_rp_users"),
    ),
    "rp_audit_events": (("rp_audit_events_pkey", "pk_rp_audit_events"),),
}


def _rename(old_to_new: bool) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    schema = target_schema()
    for table, pairs in RENAMES.items():
        qualified = f'"{schema}".{table}' if schema else table
        for default, convention in pairs:
            old, new = (default, convention) if old_to_new else (convention, default)
            op.execute(f"ALTER TABLE {qualified} RENAME CONSTRAINT {old} TO {new}")


def upgrade() -> None:
    schema = target_schema()
    op.create_index("ix_rp_audit_events_tenant_id", "rp_audit_events", ["tenant_id"], schema=schema)
    _rename(old_to_new=True)


def downgrade() -> None:
    _rename(old_to_new=False)
    op.drop_index("ix_rp_audit_events_tenant_id", "rp_audit_events", schema=target_schema())
