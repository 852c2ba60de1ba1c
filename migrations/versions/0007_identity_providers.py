"""organization identity providers and exchanged subject tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 18:34:42
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("used_subject_tokens",
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("expires_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_used_subject_tokens"))
    )
    with op.batch_alter_table("used_subject_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_subject_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table("identity_providers",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("organization_id", sa.String(length=64), nullable=False),
    sa.Column("issuer", sa.String(length=300), nullable=False),
    sa.Column("audiences", sa.JSON(), nullable=False),
    sa.Column("jwks", sa.JSON(), nullable=True),
    sa.Column("jwks_uri", sa.String(length=500), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("created_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column("updated_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_identity_providers_status")),
    sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_identity_providers_organization_id_organizations"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_providers")),
    sa.UniqueConstraint("issuer", name=op.f("uq_identity_providers_issuer"))
    )
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_providers_organization_id"), ["organization_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_providers_organization_id"))

    op.drop_table("identity_providers")
    with op.batch_alter_table("used_subject_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_subject_tokens_expires_at"))

    op.drop_table("used_subject_tokens")
