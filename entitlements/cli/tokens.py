import click

from ..operations import tokens
from .context import CliContext, emit, json_option, pass_cli
from .progress import progress


@click.group("tokens")
def command() -> None:
    """Issued tokens."""


@command.command("revoke")
@click.option("--org", "organization_id")
@click.option("--client", "client_id")
@click.option("--person", "person_id")
@click.option("--tier")
@click.option("--reason", default=None, help="Why, for the audit log (not with --preview).")
@click.option("--preview", is_flag=True, help="Only count the live tokens it would revoke.")
@json_option
@pass_cli
def revoke_command(cli: CliContext, organization_id: str | None, client_id: str | None,
                   person_id: str | None, tier: str | None, reason: str | None, preview: bool,
                   as_json: bool) -> None:
    """Revoke every live token of an organization, a client, a person or a tier (filters
    combine), a thousand at a time with a progress bar; gateways polling the status lists
    see it within seconds."""
    named = {"organization_id": organization_id, "client_id": client_id,
             "person_id": person_id, "tier": tier}
    if preview:
        with cli.transaction() as session:
            live = tokens.preview(session, cli.actor(), **named)
        return emit(as_json, {"live": live}, f"{live} live token(s) match; --reason to revoke")
    if not reason:
        raise click.UsageError("give --reason (or --preview to count first)")
    with progress("revoking", as_json) as tracker:
        count = tokens.revoke_tracked(cli.db, cli.actor(), reason=reason, tracker=tracker,
                                      **named)["revoked"]
    emit(as_json, {"revoked": count}, f"{count} token(s) revoked" if count else
         "no live token matches those filters; nothing revoked")
