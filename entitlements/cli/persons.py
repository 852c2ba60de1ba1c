import click

from ..base.pages import every
from ..persons import service as persons
from ..persons.schemas import PersonSchema
from .context import CliContext, emit, json_option, pass_cli


@click.group("persons")
def command() -> None:
    """People acting for organizations."""


@command.command("create")
@click.option("--org", "org_id", required=True)
@click.option("--idp-issuer", default=None, help="The organization's identity provider.")
@click.option("--idp-subject", default=None, help="The person's subject at that provider.")
@json_option
@pass_cli
def create_command(cli: CliContext, org_id: str, idp_issuer: str | None,
                   idp_subject: str | None, as_json: bool) -> None:
    """Create a person of an organization."""
    with cli.transaction() as session:
        person = persons.create(session, cli.actor(), org_id, idp_issuer=idp_issuer,
                                idp_subject=idp_subject)
        session.flush()
        data = PersonSchema().dump(person)
    emit(as_json, data, f"created person {data['id']}")


@command.command("list")
@click.option("--org", "org_id", required=True)
@json_option
@pass_cli
def list_command(cli: CliContext, org_id: str, as_json: bool) -> None:
    """An organization's persons."""
    with cli.transaction() as session:
        data = PersonSchema(many=True).dump(every(persons.list_for, session, org_id))
    human = "\n".join(f"{p['id']}  {p['idp_issuer'] or '-'} {p['idp_subject'] or ''}"
                      for p in data) or "no persons"
    emit(as_json, data, human)
