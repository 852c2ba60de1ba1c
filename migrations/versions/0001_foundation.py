"""foundation: organizations, clients, tokens, keys, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-27 16:22:33.622804

Seeds the tier catalog (public, restricted, early-access) and the audit log's
main stream, and makes audit_events append-only with triggers on both backends.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_streams',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('opened_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_streams'))
    )
    op.create_table('audit_events',
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['stream'], ['audit_streams.id'], name=op.f('fk_audit_events_stream_audit_streams')),
    sa.PrimaryKeyConstraint('stream', 'seq', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_events_target_at', ['target', 'at'], unique=False)

    op.create_table('organizations',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trust_level', sa.String(length=32), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f('ck_organizations_status')),
    sa.CheckConstraint("trust_level IN ('unverified', 'verified', 'trusted', 'government_partner')", name=op.f('ck_organizations_trust_level')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations')),
    sa.UniqueConstraint('name', name=op.f('uq_organizations_name'))
    )
    op.create_table('resource_servers',
    sa.Column('identifier', sa.String(length=500), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('identifier', name=op.f('pk_resource_servers'))
    )
    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('alg', sa.String(length=16), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('activates_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys'))
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_activates_at'), ['activates_at'], unique=False)

    op.create_table('tiers',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_tiers'))
    )
    op.create_table('used_assertions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('jti', sa.String(length=200), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_used_assertions')),
    sa.UniqueConstraint('client_id', 'jti', name=op.f('uq_used_assertions_client_id_jti'))
    )
    with op.batch_alter_table('used_assertions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_assertions_expires_at'), ['expires_at'], unique=False)

    op.create_table('oauth_clients',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('auth_method', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=128), nullable=True),
    sa.Column('jwks', sa.JSON(), nullable=True),
    sa.Column('jwks_uri', sa.String(length=500), nullable=True),
    sa.Column('default_tiers', sa.JSON(), nullable=True),
    sa.Column('may_introspect', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt')", name=op.f('ck_oauth_clients_auth_method')),
    sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f('ck_oauth_clients_status')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_oauth_clients_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_oauth_clients'))
    )
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_clients_organization_id'), ['organization_id'], unique=False)

    op.create_table('organization_tiers',
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('tier', sa.String(length=64), nullable=False),
    sa.Column('granted_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_tiers_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier'], ['tiers.name'], name=op.f('fk_organization_tiers_tier_tiers')),
    sa.PrimaryKeyConstraint('organization_id', 'tier', name=op.f('pk_organization_tiers'))
    )
    op.create_table('issued_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('audience', sa.String(length=500), nullable=False),
    sa.Column('scope', sa.String(length=1000), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('issued_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['oauth_clients.client_id'], name=op.f('fk_issued_tokens_client_id_oauth_clients')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_issued_tokens_organization_id_organizations')),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_issued_tokens'))
    )
    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_tokens_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_issued_tokens_expires_at', ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_issued_tokens_organization_id'), ['organization_id'], unique=False)

    _seed()
    _make_audit_append_only()


def _seed() -> None:
    now = datetime.now(UTC)
    tiers = sa.table("tiers", sa.column("name", sa.String), sa.column("description", sa.String),
                     sa.column("created_at", entitlements.base.db.UTCDateTime(timezone=True)))
    op.bulk_insert(tiers, [
        {"name": "public", "description": "Models open to every verified partner.",
         "created_at": now},
        {"name": "restricted", "description": "Models with sensitive capabilities.",
         "created_at": now},
        {"name": "early-access", "description": "Models before their public release.",
         "created_at": now},
    ])
    streams = sa.table("audit_streams", sa.column("id", sa.String), sa.column("seq", sa.Integer),
                       sa.column("hash", sa.String),
                       sa.column("opened_at", entitlements.base.db.UTCDateTime(timezone=True)))
    op.bulk_insert(streams, [{"id": "main", "seq": 0, "hash": "0" * 64, "opened_at": now}])


def _make_audit_append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )


def _drop_audit_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")


def downgrade() -> None:
    _drop_audit_triggers()
    with op.batch_alter_table('issued_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issued_tokens_organization_id'))
        batch_op.drop_index('ix_issued_tokens_expires_at')
        batch_op.drop_index(batch_op.f('ix_issued_tokens_client_id'))

    op.drop_table('issued_tokens')
    op.drop_table('organization_tiers')
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_clients_organization_id'))

    op.drop_table('oauth_clients')
    with op.batch_alter_table('used_assertions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_assertions_expires_at'))

    op.drop_table('used_assertions')
    op.drop_table('tiers')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_activates_at'))

    op.drop_table('signing_keys')
    op.drop_table('resource_servers')
    op.drop_table('organizations')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_target_at')
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
    op.drop_table('audit_streams')
