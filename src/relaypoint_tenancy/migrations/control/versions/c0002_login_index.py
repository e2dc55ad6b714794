"""control plane: platform-wide login index (email -> tenants) for email-only sign-in

Revision ID: c0002
Revises: c0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rp_login_index",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("rp_tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_rp_login_index_tenant_id", "rp_login_index", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("rp_login_index")
