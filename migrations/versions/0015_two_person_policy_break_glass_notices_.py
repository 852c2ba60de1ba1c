"""Two-person control on policy changes (requests waiting for a second admin; who
approved an activation), break-glass kill switches and their lapse, the notice outbox, jobs
with progress, exported reports, malicious-activity reports and signed audit checkpoints

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 01:26:30.626363
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_KINDS = "kind IN ('activate', 'rollback', 'reimpose')"
NEW_KINDS = "kind IN ('activate', 'rollback', 'reimpose', 'break_glass', 'lapse')"


def upgrade() -> None:
    with op.batch_alter_table('policy_activations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_by', sa.String(length=200), nullable=True))
        batch_op.drop_constraint(op.f('ck_policy_activations_kind'), type_='check')
        batch_op.create_check_constraint('kind', NEW_KINDS)

    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tips', sa.JSON(), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    sa.UniqueConstraint('period', name=op.f('uq_audit_checkpoints_period'))
    )
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoints_at'), ['at'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_jobs_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_created_at', ['created_at'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=500), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_subject_id'), ['subject_id'], unique=False)

    op.create_table('policy_change_requests',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.CheckConstraint("action IN ('activate', 'schedule', 'rollback', 'reimpose', 'allowlist')", name=op.f('ck_policy_change_requests_action')),
    sa.CheckConstraint("state IN ('pending', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_policy_change_requests_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_change_requests'))
    )
    with op.batch_alter_table('policy_change_requests', schema=None) as batch_op:
        batch_op.create_index('ix_policy_change_requests_state', ['state', 'requested_at'], unique=False)

    op.create_table('abuse_reports',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('observed_from', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('observed_until', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('flagged_by', sa.String(length=200), nullable=False),
    sa.Column('flagged_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.Column('signed', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_abuse_reports_state')),
    sa.CheckConstraint("subject_kind IN ('organization', 'client', 'person')", name=op.f('ck_abuse_reports_subject_kind')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_abuse_reports_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_abuse_reports'))
    )
    with op.batch_alter_table('abuse_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_abuse_reports_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_abuse_reports_state', ['state', 'flagged_at'], unique=False)

    op.create_table('report_exports',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('events', sa.Integer(), nullable=True),
    sa.Column('manifest', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_report_exports_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_exports'))
    )
    with op.batch_alter_table('report_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_exports_created_at'), ['created_at'], unique=False)

    op.create_table('break_glass',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('broken_by', sa.String(length=200), nullable=False),
    sa.Column('broken_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('previous_version', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('lapse_activation_id', sa.Integer(), nullable=False),
    sa.Column('deadline', entitlements.base.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', entitlements.base.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'confirmed', 'reverted', 'superseded')", name=op.f('ck_break_glass_state')),
    sa.ForeignKeyConstraint(['lapse_activation_id'], ['policy_activations.id'], name=op.f('fk_break_glass_lapse_activation_id_policy_activations')),
    sa.ForeignKeyConstraint(['previous_version'], ['policy_versions.version'], name=op.f('fk_break_glass_previous_version_policy_versions')),
    sa.ForeignKeyConstraint(['version'], ['policy_versions.version'], name=op.f('fk_break_glass_version_policy_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_break_glass'))
    )
    with op.batch_alter_table('break_glass', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_break_glass_deadline'), ['deadline'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('policy_activations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_policy_activations_kind'), type_='check')
        batch_op.create_check_constraint('kind', OLD_KINDS)
        batch_op.drop_column('approved_by')

    with op.batch_alter_table('break_glass', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_break_glass_deadline'))

    op.drop_table('break_glass')
    with op.batch_alter_table('report_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_exports_created_at'))

    op.drop_table('report_exports')
    with op.batch_alter_table('abuse_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_abuse_reports_state')
        batch_op.drop_index(batch_op.f('ix_abuse_reports_organization_id'))

    op.drop_table('abuse_reports')
    with op.batch_alter_table('policy_change_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_change_requests_state')

    op.drop_table('policy_change_requests')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_subject_id'))
        batch_op.drop_index(batch_op.f('ix_notices_next_attempt_at'))

    op.drop_table('notices')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_created_at')

    op.drop_table('jobs')
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoints_at'))

    op.drop_table('audit_checkpoints')
