"""control plane: tenants, domains, usage counters, user index

Revision ID: c0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rp_tenants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(48), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("plan_tier", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("trial_ends_at", sa.DateTime(), nullable=True),
        sa.Column("grace_ends_at", sa.DateTime(), nullable=True),
        sa.Column("quota_overrides", sa.JSON(), nullable=False),
        sa.Column("branding", sa.JSON(), nullable=False),
        sa.Column("isolation", sa.String(20), nullable=False),
        sa.Column("data_location", sa.String(63), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("slug", name="uq_rp_tenants_slug"),
    )
    op.create_index("ix_rp_tenants_status", "rp_tenants", ["status"])
    op.create_table(
        "rp_tenant_domains",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("rp_tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verification_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("domain", name="uq_rp_tenant_domains_domain"),
    )
    op.create_index("ix_rp_tenant_domains_tenant_id", "rp_tenant_domains", ["tenant_id"])
    op.create_table(
        "rp_usage_counters",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("rp_tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("resource", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("used", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "rp_user_index",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("rp_tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_rp_user_index_tenant_id", "rp_user_index", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("rp_user_index")
    op.drop_table("rp_usage_counters")
    op.drop_table("rp_tenant_domains")
    op.drop_table("rp_tenants")
