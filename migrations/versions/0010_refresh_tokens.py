"""refresh tokens: rotated families, one per sign-in

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:01:09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('refresh_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('family_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=2000), nullable=False),
    sa.Column('resource', sa.String(length=500), nullable=True),
    sa.Column('identity_provider_id', sa.String(length=64), nullable=False),
    sa.Column('auth_time', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('access_jti', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_clients.client_id'], name=op.f('fk_refresh_tokens_client_id_oauth_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_refresh_tokens_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_refresh_tokens'))
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_tokens_family_id'), ['family_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_tokens_person_id'), ['person_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_person_id'))
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_family_id'))
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_expires_at'))

    op.drop_table('refresh_tokens')
