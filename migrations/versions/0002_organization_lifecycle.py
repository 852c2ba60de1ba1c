"""organization lifecycle: statuses, history, trust requests (two-person rule)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 17:35:00

Replaces the status pair active/suspended with the lifecycle applied, under_review,
verified, suspended, revoked (active organizations become verified), adds the
country of incorporation, the history of changes and pending trust requests.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_STATUSES = "status IN ('applied', 'under_review', 'verified', 'suspended', 'revoked')"
OLD_STATUSES = "status IN ('active', 'suspended')"


def upgrade() -> None:
    with op.batch_alter_table("organizations", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f("ck_organizations_status"), type_="check")
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
    op.execute("UPDATE organizations SET status = 'verified' WHERE status = 'active'")
    with op.batch_alter_table("organizations", recreate="auto") as batch_op:
        batch_op.create_check_constraint("status", NEW_STATUSES)
    op.create_table(
        "organization_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("from_trust", sa.String(length=32), nullable=False),
        sa.Column("to_trust", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_organization_changes_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_changes")),
    )
    op.create_index("ix_organization_changes_org_at", "organization_changes",
                    ["organization_id", "at"])
    op.create_table(
        "trust_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'approved', 'rejected')",
                           name=op.f("ck_trust_requests_state")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_trust_requests_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_requests")),
    )
    op.create_index(op.f("ix_trust_requests_organization_id"), "trust_requests",
                    ["organization_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_trust_requests_organization_id"), table_name="trust_requests")
    op.drop_table("trust_requests")
    op.drop_index("ix_organization_changes_org_at", table_name="organization_changes")
    op.drop_table("organization_changes")
    with op.batch_alter_table("organizations", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f("ck_organizations_status"), type_="check")
        batch_op.drop_column("country")
    op.execute("UPDATE organizations SET status = 'active' WHERE status = 'verified'")
    op.execute("UPDATE organizations SET status = 'suspended' "
               "WHERE status NOT IN ('active', 'suspended')")
    with op.batch_alter_table("organizations", recreate="auto") as batch_op:
        batch_op.create_check_constraint("status", OLD_STATUSES)
