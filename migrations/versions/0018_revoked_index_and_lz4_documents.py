"""Costs that stay flat as the data grows.

A status list is built from its revoked tokens: a partial index of just those, (list,
index) where revoked, replaces the index on (list, revoked_at) over every token, so building
a list reads as many index entries as it has revocations, with no table read, and issuing a
token writes one index fewer.

A policy version's document (and diff) is compressed with lz4 rather than pglz on
PostgreSQL, where the server has it: a version holds every allowlist whole, and pglz spends
tens of milliseconds on tens of thousands of random organization ids, most of an edit's
time, only to give up.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 05:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REVOKED = sa.text('revoked_at IS NOT NULL')
COMPRESSED = ('document', 'diff')


def upgrade() -> None:
    op.create_index('ix_issued_tokens_revoked', 'issued_tokens', ['status_list_id', 'status_idx'],
                    postgresql_where=REVOKED, sqlite_where=REVOKED)
    op.drop_index('ix_issued_tokens_status', table_name='issued_tokens')
    _compress('lz4')


def downgrade() -> None:
    _compress('pglz')
    op.create_index('ix_issued_tokens_status', 'issued_tokens', ['status_list_id', 'revoked_at'])
    op.drop_index('ix_issued_tokens_revoked', table_name='issued_tokens')


def _compress(method: str) -> None:
    """New values of the policy documents compressed with ``method`` (PostgreSQL built
    with it only; rows already written keep theirs)."""
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql' or not connection.execute(sa.text(
            "SELECT :method = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'"), {'method': method}).scalar():
        return
    columns = ', '.join(f'ALTER COLUMN {name} SET COMPRESSION {method}' for name in COMPRESSED)
    op.execute(f'ALTER TABLE policy_versions {columns}')
