"""device authorizations (RFC 8628)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:18:22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('device_authorizations',
    sa.Column('device_code_hash', sa.String(length=64), nullable=False),
    sa.Column('user_code', sa.String(length=16), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=True),
    sa.Column('interval', sa.Integer(), nullable=False),
    sa.Column('last_polled_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_clients.client_id'], name=op.f('fk_device_authorizations_client_id_oauth_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_device_authorizations_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_code_hash', name=op.f('pk_device_authorizations')),
    sa.UniqueConstraint('user_code', name=op.f('uq_device_authorizations_user_code'))
    )
    with op.batch_alter_table('device_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_authorizations_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('device_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_authorizations_expires_at'))

    op.drop_table('device_authorizations')
