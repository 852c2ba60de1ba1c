from pathlib import Path

import click
from sqlalchemy import create_engine

from ..base.migrations import current_revision, head_revision, upgrade
from .context import CliContext, emit, json_option, pass_cli


@click.group("db")
def command() -> None:
    """Database schema migrations."""


@command.command("upgrade")
@json_option
@pass_cli
def upgrade_command(cli: CliContext, as_json: bool) -> None:
    """Apply every pending migration."""
    url = cli.settings.database_url
    _ensure_sqlite_folder(url)
    upgrade(url)
    revision = head_revision(url)
    emit(as_json, {"revision": revision}, f"database is at migration {revision}")


@command.command("current")
@json_option
@pass_cli
def current_command(cli: CliContext, as_json: bool) -> None:
    """Show the database's migration and the code's."""
    url = cli.settings.database_url
    engine = create_engine(url)
    current, head = current_revision(engine), head_revision(url)
    engine.dispose()
    emit(as_json, {"current": current, "head": head, "up_to_date": current == head},
         f"database: {current or 'none'}; code: {head}")


def _ensure_sqlite_folder(url: str) -> None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
