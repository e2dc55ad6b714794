"""tenant plane: users, role assignments, audit events

Revision ID: t0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relaypoint_tenancy.migrations import target_schema

revision = "t0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = target_schema()
    users = f"{schema}.rp_users" if schema else "rp_users"
    op.create_table(
        "rp_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "email", name="uq_rp_users_tenant_id_email"),
        schema=schema,
    )
    op.create_index("ix_rp_users_tenant_id", "rp_users", ["tenant_id"], schema=schema)
    op.create_table(
        "rp_role_assignments",
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey(f"{users}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        schema=schema,
    )
    op.create_index(
        "ix_rp_role_assignments_tenant_id", "rp_role_assignments", ["tenant_id"], schema=schema
    )
    op.create_table(
        "rp_audit_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("actor", sa.String(320), nullable=True),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        schema=schema,
    )
    op.create_index(
        "ix_rp_audit_events_tenant_created",
        "rp_audit_events",
        ["tenant_id", "created_at"],
        schema=schema,
    )


def downgrade() -> None:
    schema = target_schema()
    op.drop_table("rp_audit_events", schema=schema)
    op.drop_table("rp_role_assignments", schema=schema)
    op.drop_table("rp_users", schema=schema)
