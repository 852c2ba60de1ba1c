import click

from ..base.pages import every
from ..signin import consents
from ..signin.schemas import ConsentSchema
from .context import CliContext, emit, json_option, pass_cli


@click.group("consents")
def command() -> None:
    """What persons have allowed clients at sign-in."""


@command.command("list")
@click.option("--person", "person_id", default=None, help="Only this person's.")
@click.option("--client", "client_id", default=None, help="Only this client's.")
@json_option
@pass_cli
def list_command(cli: CliContext, person_id: str | None, client_id: str | None,
                 as_json: bool) -> None:
    """Consents in force, oldest first."""
    with cli.transaction() as session:
        data = ConsentSchema(many=True).dump(
            every(consents.list_consents, session, person_id=person_id,
                  client_id=client_id))
    human = "\n".join(f"{c['id']}  {c['person_id']}  {c['client_id']}  {c['scope']}"
                      for c in data) or "no consents match"
    emit(as_json, data, human)


@command.command("withdraw")
@click.argument("consent_id", type=int)
@click.option("--reason", required=True, help="Why, for the audit log.")
@json_option
@pass_cli
def withdraw_command(cli: CliContext, consent_id: int, reason: str, as_json: bool) -> None:
    """Withdraw a consent: the next sign-in asks again."""
    with cli.transaction() as session:
        data = ConsentSchema().dump(consents.withdraw(session, cli.actor(), consent_id, reason))
    emit(as_json, data, f"consent {consent_id} withdrawn")
