import click

from ..base.pages import every
from ..resources import service as resources
from ..resources.schemas import ResourceServerSchema
from .context import CliContext, emit, json_option, pass_cli


@click.group("resources")
def command() -> None:
    """Model gateways: the audiences a token may name (RFC 8707 resource)."""


@command.command("add")
@click.argument("identifier")
@click.option("--name", default="", help="A label.")
@click.option("--default", "is_default", is_flag=True,
              help="Use it when a token request names no resource.")
@json_option
@pass_cli
def add_command(cli: CliContext, identifier: str, name: str, is_default: bool,
                as_json: bool) -> None:
    """Register a gateway by its absolute URI."""
    with cli.transaction() as session:
        resource = resources.register(session, cli.actor(), identifier, name or identifier,
                                      default=is_default)
        data = ResourceServerSchema().dump(resource)
    emit(as_json, data, f"registered resource {identifier}")


@command.command("list")
@json_option
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Every registered gateway."""
    with cli.transaction() as session:
        data = ResourceServerSchema(many=True).dump(every(resources.list_all, session))
    human = "\n".join(f"{r['identifier']}{'  (default)' if r['is_default'] else ''}"
                      for r in data) or "no resources"
    emit(as_json, data, human)
