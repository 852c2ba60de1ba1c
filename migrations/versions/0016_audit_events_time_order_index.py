"""The audit log read in time order by pages (report exports, searches): one index on
(at, stream, seq), the order itself, replaces the index on at alone, so each page is an
index range scan however deep it starts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 02:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_audit_events_at_stream_seq', 'audit_events', ['at', 'stream', 'seq'])
    op.drop_index('ix_audit_events_at', table_name='audit_events')


def downgrade() -> None:
    op.create_index('ix_audit_events_at', 'audit_events', ['at'])
    op.drop_index('ix_audit_events_at_stream_seq', table_name='audit_events')
