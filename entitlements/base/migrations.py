"""Run Alembic migrations and tell whether a database is at the code's head revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from .errors import DatabaseNotReady

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current_schema(engine: Engine, url: str) -> None:
    """Refuse to serve a database that is unmigrated or behind (or ahead of) the code."""
    current, head = current_revision(engine), head_revision(url)
    if current == head:
        return
    if current is None:
        raise DatabaseNotReady("the database has no schema; run: entitlements db upgrade")
    raise DatabaseNotReady(
        f"the database is at migration {current} but the code expects {head}; "
        "run: entitlements db upgrade"
    )
