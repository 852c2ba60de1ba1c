"""presentation requests (OpenID for Verifiable Presentations)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 20:41:45
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('presentation_requests',
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('state', name=op.f('pk_presentation_requests'))
    )
    with op.batch_alter_table('presentation_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_presentation_requests_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_presentation_requests_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('presentation_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_presentation_requests_request_id'))
        batch_op.drop_index(batch_op.f('ix_presentation_requests_expires_at'))

    op.drop_table('presentation_requests')
