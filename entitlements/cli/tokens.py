import click

from ..operations import tokens
from .context import CliContext, emit, json_option, pass_cli


@click.group("tokens")
def command() -> None:
    """Issued tokens."""


@command.command("revoke")
@click.option("--org", "organization_id")
@click.option("--client", "client_id")
@click.option("--person", "person_id")
@click.option("--tier")
@click.option("--reason", required=True)
@json_option
@pass_cli
def revoke_command(cli: CliContext, organization_id: str | None, client_id: str | None,
                   person_id: str | None, tier: str | None, reason: str, as_json: bool) -> None:
    """Revoke every live token of an organization, a client, a person or a tier (filters
    combine); gateways polling the status lists see it within seconds."""
    with cli.transaction() as session:
        count = tokens.revoke_matching(session, cli.actor(), reason=reason,
                                       organization_id=organization_id, client_id=client_id,
                                       person_id=person_id, tier=tier)
    emit(as_json, {"revoked": count}, f"{count} token(s) revoked" if count else
         "no live token matches those filters; nothing revoked")
