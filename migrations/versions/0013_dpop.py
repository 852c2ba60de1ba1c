"""DPoP (RFC 9449): proofs used once, bound tokens, clients that require proofs, bound
refresh-token families

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:42:29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('used_dpop_proofs',
    sa.Column('replay_key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('replay_key', name=op.f('pk_used_dpop_proofs'))
    )
    with op.batch_alter_table('used_dpop_proofs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_dpop_proofs_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cnf_jkt', sa.String(length=64), nullable=True))

    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_bound_access_tokens', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')

    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_column('dpop_bound_access_tokens')

    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.drop_column('cnf_jkt')

    with op.batch_alter_table('used_dpop_proofs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_dpop_proofs_expires_at'))

    op.drop_table('used_dpop_proofs')
