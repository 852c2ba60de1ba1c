"""policy versions and activations, status lists; the tier grants become policy version 1

The tiers and per-organization grants of the foundation become the first policy version:
each tier open only to the organizations it had been granted to (allowlist_only), active
from the epoch. The tiers and organization_tiers tables are then dropped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 19:05:00
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import entitlements.base.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME = entitlements.base.db.UTCDateTime(timezone=True)
VERIFIED_LEVELS = ["government_partner", "trusted", "verified"]


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_versions")),
    )
    op.create_table(
        "policy_activations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("activate_at", DATETIME, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("cancelled_at", DATETIME, nullable=True),
        sa.CheckConstraint("kind IN ('activate', 'rollback', 'reimpose')",
                           name=op.f("ck_policy_activations_kind")),
        sa.ForeignKeyConstraint(["version"], ["policy_versions.version"],
                                name=op.f("fk_policy_activations_version_policy_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_activations")),
    )
    op.create_index("ix_policy_activations_due", "policy_activations", ["activate_at", "id"])
    op.create_table(
        "status_lists",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
    )
    with op.batch_alter_table("issued_tokens") as batch:
        batch.add_column(sa.Column("status_list_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status_idx", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
        batch.create_index("ix_issued_tokens_status", ["status_list_id", "revoked_at"])
    with op.batch_alter_table("organization_evidence") as batch:
        batch.drop_constraint(op.f("ck_organization_evidence_kind"), type_="check")
        batch.create_check_constraint(
            "kind", "kind IN ('domain', 'lei', 'agreement', 'citizenship')")
    _first_version()
    op.drop_table("organization_tiers")
    op.drop_table("tiers")


def _first_version() -> None:
    connection = op.get_bind()
    tiers = connection.execute(sa.text("SELECT name, description FROM tiers ORDER BY name")).all()
    grants = connection.execute(sa.text(
        "SELECT tier, organization_id FROM organization_tiers ORDER BY organization_id")).all()
    document = {"models": {}, "tiers": {
        name: {"description": description, "status": "allowlist_only",
               "trust_levels": VERIFIED_LEVELS, "citizenship": None, "windows": [],
               "allowlist": [org for tier, org in grants if tier == name],
               "max_token_lifetime": None}
        for name, description in tiers}}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    versions = sa.table("policy_versions", sa.column("version", sa.Integer),
                        sa.column("document", sa.JSON), sa.column("base_version", sa.Integer),
                        sa.column("author", sa.String), sa.column("reason", sa.String),
                        sa.column("diff", sa.JSON), sa.column("digest", sa.String),
                        sa.column("created_at", DATETIME))
    op.bulk_insert(versions, [{
        "version": 1, "document": document, "base_version": None, "author": "migration:0008",
        "reason": "the foundation's tiers and per-organization grants", "diff": [],
        "digest": hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest(),
        "created_at": datetime.now(UTC)}])
    activations = sa.table("policy_activations", sa.column("version", sa.Integer),
                           sa.column("kind", sa.String), sa.column("activate_at", DATETIME),
                           sa.column("created_by", sa.String), sa.column("reason", sa.String),
                           sa.column("created_at", DATETIME))
    op.bulk_insert(activations, [{
        "version": 1, "kind": "activate", "activate_at": epoch, "created_by": "migration:0008",
        "reason": "first policy version", "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    """Back to plain grants: the latest version's tiers, and its allowlists as grants."""
    connection = op.get_bind()
    latest = connection.execute(sa.text(
        "SELECT document FROM policy_versions ORDER BY version DESC LIMIT 1")).scalar()
    document = json.loads(latest) if isinstance(latest, str) else (latest or {"tiers": {}})
    tiers = op.create_table(
        "tiers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tiers")),
    )
    grants = op.create_table(
        "organization_tiers",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("granted_at", DATETIME, nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_organization_tiers_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tier"], ["tiers.name"],
                                name=op.f("fk_organization_tiers_tier_tiers")),
        sa.PrimaryKeyConstraint("organization_id", "tier", name=op.f("pk_organization_tiers")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(tiers, [{"name": name, "description": rule.get("description", ""),
                            "created_at": now} for name, rule in document["tiers"].items()])
    op.bulk_insert(grants, [{"organization_id": org, "tier": name, "granted_at": now,
                             "granted_by": "migration:0008"}
                            for name, rule in document["tiers"].items()
                            for org in rule.get("allowlist", [])])
    with op.batch_alter_table("organization_evidence") as batch:
        batch.drop_constraint(op.f("ck_organization_evidence_kind"), type_="check")
        batch.create_check_constraint("kind", "kind IN ('domain', 'lei', 'agreement')")
    with op.batch_alter_table("issued_tokens") as batch:
        batch.drop_index("ix_issued_tokens_status")
        batch.drop_column("policy_version")
        batch.drop_column("status_idx")
        batch.drop_column("status_list_id")
    op.drop_table("status_lists")
    op.drop_index("ix_policy_activations_due", table_name="policy_activations")
    op.drop_table("policy_activations")
    op.drop_table("policy_versions")
