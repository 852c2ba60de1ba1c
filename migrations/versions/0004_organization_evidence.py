"""organization evidence: domain challenges, LEI records, agreements

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization_evidence",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("challenge", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("kind IN ('domain', 'lei', 'agreement')",
                           name=op.f("ck_organization_evidence_kind")),
        sa.CheckConstraint("status IN ('pending', 'verified', 'failed')",
                           name=op.f("ck_organization_evidence_status")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_organization_evidence_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_evidence")),
    )
    op.create_index(op.f("ix_organization_evidence_organization_id"), "organization_evidence",
                    ["organization_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_organization_evidence_organization_id"),
                  table_name="organization_evidence")
    op.drop_table("organization_evidence")
