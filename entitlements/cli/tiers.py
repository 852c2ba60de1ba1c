import click

from ..policy import service as policy
from .context import CliContext, emit, json_option, pass_cli


@click.group("tiers")
def command() -> None:
    """The tier catalog."""


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every tier."""
    with cli.transaction() as session:
        data = [{"name": t.name, "description": t.description}
                for t in policy.list_tiers(session)]
    emit(as_json, data, "\n".join(f"{t['name']:14} {t['description']}" for t in data))
