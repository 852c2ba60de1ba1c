"""Console forms sent once: each form's one-time nonce, recorded when it is sent, so a
double click or a resubmission does its work once

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'console_form_uses',
        sa.Column('session_hash', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('used_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['session_hash'], ['console_sessions.id_hash'],
                                name=op.f('fk_console_form_uses_session_hash_console_sessions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('session_hash', 'nonce', name=op.f('pk_console_form_uses')))


def downgrade() -> None:
    op.drop_table('console_form_uses')
