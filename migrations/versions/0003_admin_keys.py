"""admin keys: named admins' API keys for the admin REST API

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_admin_keys_key_hash")),
    )
    op.create_index(op.f("ix_admin_keys_name"), "admin_keys", ["name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_admin_keys_name"), table_name="admin_keys")
    op.drop_table("admin_keys")
