"""attestation nonces and verified attestations (facts only)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attestation_nonces",
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_attestation_nonces")),
    )
    op.create_index(op.f("ix_attestation_nonces_expires_at"), "attestation_nonces",
                    ["expires_at"])
    op.create_table(
        "verified_attestations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=200), nullable=False),
        sa.Column("nationalities", sa.JSON(), nullable=False),
        sa.Column("assurance_level", sa.String(length=16), nullable=False),
        sa.Column("verified_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issuer_id"], ["attestation_issuers.id"],
                                name=op.f("fk_verified_attestations_issuer_id_attestation_issuers")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"],
                                name=op.f("fk_verified_attestations_person_id_persons"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verified_attestations")),
        sa.UniqueConstraint("issuer_id", "credential_id",
                            name=op.f("uq_verified_attestations_issuer_id_credential_id")),
    )
    op.create_index(op.f("ix_verified_attestations_person_id"), "verified_attestations",
                    ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_verified_attestations_person_id"), table_name="verified_attestations")
    op.drop_table("verified_attestations")
    op.drop_index(op.f("ix_attestation_nonces_expires_at"), table_name="attestation_nonces")
    op.drop_table("attestation_nonces")
