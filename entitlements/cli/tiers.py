import click

from ..policy import service as policy
from .context import CliContext, emit, json_option, pass_cli


@click.group("tiers")
def command() -> None:
    """The tiers of the active policy version."""


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every tier."""
    with cli.transaction() as session:
        data = [{"name": name, "status": rule["status"], "description": rule["description"]}
                for name, rule in policy.list_tiers(session, cli.clock.now())]
    emit(as_json, data, "\n".join(f"{t['name']:14} {t['status']:15} {t['description']}"
                                   for t in data))
