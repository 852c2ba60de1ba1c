"""persons and attestation issuers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("idp_issuer", sa.String(length=300), nullable=True),
        sa.Column("idp_subject", sa.String(length=300), nullable=True),
        sa.Column("created_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_persons_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("organization_id", "idp_issuer", "idp_subject",
                            name=op.f("uq_persons_organization_id_idp_issuer_idp_subject")),
    )
    op.create_index(op.f("ix_persons_organization_id"), "persons", ["organization_id"])
    op.create_table(
        "attestation_issuers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jwks_uri", sa.String(length=500), nullable=True),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("nationalities", sa.JSON(), nullable=False),
        sa.Column("assurance_levels", sa.JSON(), nullable=False),
        sa.Column("max_age_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended')",
                           name=op.f("ck_attestation_issuers_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestation_issuers")),
        sa.UniqueConstraint("issuer", name=op.f("uq_attestation_issuers_issuer")),
    )


def downgrade() -> None:
    op.drop_table("attestation_issuers")
    op.drop_index(op.f("ix_persons_organization_id"), table_name="persons")
    op.drop_table("persons")
