"""browser sign-in: authorization requests and codes, consents, sign-in sessions; clients
for browser flows (grant types, redirect URIs, public clients, PAR); providers for sign-in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:19:08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTH_METHODS = ("auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt'"
                "{})")


def upgrade() -> None:
    op.create_table('authorization_requests',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('upstream_state_hash', sa.String(length=64), nullable=True),
    sa.Column('upstream_nonce', sa.String(length=64), nullable=True),
    sa.Column('upstream_verifier', sa.String(length=128), nullable=True),
    sa.Column('identity_provider_id', sa.String(length=64), nullable=True),
    sa.Column('session_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorization_requests')),
    sa.UniqueConstraint('upstream_state_hash', name=op.f('uq_authorization_requests_upstream_state_hash'))
    )
    with op.batch_alter_table('authorization_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorization_requests_expires_at'), ['expires_at'], unique=False)

    op.create_table('authorization_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('issued_jtis', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_authorization_codes_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_authorization_codes'))
    )
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorization_codes_expires_at'), ['expires_at'], unique=False)

    op.create_table('consents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=2000), nullable=False),
    sa.Column('granted_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_clients.client_id'], name=op.f('fk_consents_client_id_oauth_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_consents_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents')),
    sa.UniqueConstraint('person_id', 'client_id', 'scope', name=op.f('uq_consents_person_id_client_id_scope'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_person_id'), ['person_id'], unique=False)

    op.create_table('signin_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('identity_provider_id', sa.String(length=64), nullable=False),
    sa.Column('auth_time', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acr', sa.String(length=200), nullable=True),
    sa.Column('amr', sa.JSON(), nullable=True),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_signin_sessions_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_signin_sessions'))
    )
    with op.batch_alter_table('signin_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signin_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_signin_sessions_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('identity_providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('client_secret_sealed', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('authorization_endpoint', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('token_endpoint', sa.String(length=500), nullable=True))

    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grant_types', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('redirect_uris', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('require_par', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.drop_constraint(op.f('ck_oauth_clients_auth_method'), type_='check')
        batch_op.create_check_constraint(op.f('ck_oauth_clients_auth_method'), AUTH_METHODS.format(", 'none'"))



def downgrade() -> None:
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_oauth_clients_auth_method'), type_='check')
        batch_op.create_check_constraint(op.f('ck_oauth_clients_auth_method'), AUTH_METHODS.format(''))
        batch_op.drop_column('require_par')
        batch_op.drop_column('redirect_uris')
        batch_op.drop_column('grant_types')

    with op.batch_alter_table('identity_providers', schema=None) as batch_op:
        batch_op.drop_column('token_endpoint')
        batch_op.drop_column('authorization_endpoint')
        batch_op.drop_column('client_secret_sealed')
        batch_op.drop_column('client_id')

    with op.batch_alter_table('signin_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signin_sessions_person_id'))
        batch_op.drop_index(batch_op.f('ix_signin_sessions_expires_at'))

    op.drop_table('signin_sessions')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_person_id'))

    op.drop_table('consents')
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorization_codes_expires_at'))

    op.drop_table('authorization_codes')
    with op.batch_alter_table('authorization_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorization_requests_expires_at'))

    op.drop_table('authorization_requests')
