"""Alembic migrations: they match the models, seed the catalog, and gate start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from entitlements.app import create_app
from entitlements.audit.models import AuditStream
from entitlements.audit.service import GENESIS_HASH, MAIN_STREAM
from entitlements.base.db import Database
from entitlements.base.errors import DatabaseNotReady
from entitlements.base.migrations import (
    alembic_config,
    current_revision,
    head_revision,
    require_current_schema,
    upgrade,
)
from entitlements.base.settings import load_settings
from entitlements.models import Base
from entitlements.policy.models import PolicyActivation, PolicyVersion

HEAD = "0018"
AHEAD = f"{int(HEAD) + 1:04d}"


def test_head_revision():
    assert head_revision("sqlite://") == HEAD


def test_migrated_schema_matches_the_models(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrated_database_is_current(db, db_url):
    assert current_revision(db.engine) == HEAD
    require_current_schema(db.engine, db_url)


def test_seed_rows(db):
    with db.sessions() as session:
        first = session.get(PolicyVersion, 1)
        activation = session.scalars(select(PolicyActivation)).one()
        head = session.get(AuditStream, MAIN_STREAM)
    assert sorted(first.document["tiers"]) == ["early-access", "public", "restricted"]
    assert {t["status"] for t in first.document["tiers"].values()} == {"allowlist_only"}
    assert (activation.version, activation.activate_at.year) == (1, 1970)
    assert (head.seq, head.hash) == (0, GENESIS_HASH)


def test_append_only_triggers_are_installed(db):
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
        "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                      "AND tgrelid = 'audit_events'::regclass",
    }[db.engine.dialect.name]
    with db.engine.connect() as connection:
        names = connection.execute(text(query)).scalars().all()
    expected = {"sqlite": ["audit_events_no_delete", "audit_events_no_update"],
                "postgresql": ["audit_events_append_only"]}[db.engine.dialect.name]
    assert names == expected


def _empty(path: Path) -> None:
    path.touch()


def _stamped(revision: str):
    def make(path: Path) -> None:
        engine = create_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) "
                                    "NOT NULL PRIMARY KEY)"))
            connection.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
        engine.dispose()

    return make


def _migrated_then_restamped(revision: str):
    def make(path: Path) -> None:
        upgrade(f"sqlite:///{path}")
        engine = create_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :r"),
                               {"r": revision})
        engine.dispose()

    return make


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(lambda p: None, "has no schema", id="no-file"),
    pytest.param(_empty, "has no schema", id="empty-file"),
    pytest.param(_stamped("0000"), f"at migration 0000 but the code expects {HEAD}",
                 id="older-revision"),
    pytest.param(_stamped("9f1c2e3d4b5a"),
                 f"at migration 9f1c2e3d4b5a but the code expects {HEAD}", id="unknown-revision"),
    pytest.param(_migrated_then_restamped(AHEAD),
                 f"at migration {AHEAD} but the code expects {HEAD}", id="ahead-of-the-code"),
])
def test_require_current_schema_refuses(tmp_path, make, expected):
    path = tmp_path / "db.sqlite3"
    make(path)
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    try:
        with pytest.raises(DatabaseNotReady) as raised:
            require_current_schema(engine, url)
    finally:
        engine.dispose()
    assert expected in raised.value.message
    assert "entitlements db upgrade" in raised.value.message


def test_create_app_refuses_an_unmigrated_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    settings = load_settings({}, database_url=url, keys_dir=str(tmp_path / "keys"))
    db = Database(url)
    try:
        with pytest.raises(DatabaseNotReady, match="entitlements db upgrade"):
            create_app(settings, db=db)
    finally:
        db.dispose()
    assert not (tmp_path / "keys").exists(), "no key is made for a database it will not serve"


def test_upgrade_is_idempotent_and_downgrade_undoes_everything(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == ["alembic_version"]
        assert current_revision(engine) is None
        with engine.connect() as connection:
            triggers = connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).all()
        assert triggers == []
        upgrade(url)
        assert current_revision(engine) == HEAD
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


def test_admins_who_had_keys_become_owners_and_keep_their_keys(tmp_path):
    """Keys were all-powerful before roles: their admins become owners, the keys act as
    owners, and an unknown name gets no admin."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url, "0013")
    engine = create_engine(url)
    with engine.begin() as connection:
        for key_id, name, at in [("adm_1", "alice", "2026-01-02 00:00:00"),
                                 ("adm_2", "alice", "2026-01-01 00:00:00"),
                                 ("adm_3", "bob", "2026-02-01 00:00:00")]:
            connection.execute(text(
                "INSERT INTO admin_keys (id, name, key_hash, created_at) VALUES "
                "(:id, :name, :hash, :at)"), {"id": key_id, "name": name, "hash": key_id,
                                               "at": at})
    upgrade(url)
    try:
        with engine.connect() as connection:
            admins = connection.execute(text(
                "SELECT name, roles, status, created_at FROM admins ORDER BY name")).all()
            keys = connection.execute(text("SELECT id, roles FROM admin_keys ORDER BY id")).all()
        assert [(a.name, a.roles, a.status) for a in admins] == [
            ("alice", '["owner"]', "active"), ("bob", '["owner"]', "active")]
        assert admins[0].created_at.startswith("2026-01-01")
        assert [k.roles for k in keys] == ['["owner"]'] * 3
    finally:
        engine.dispose()
